/* nde/stability.h: neural networks seen as pointwise-affine (PWA) maps
 * (Drgona et al. 2020; docs/methods.md section 6): the affine form A*(x), b*(x) of an
 * MLP and its true Jacobian, spectra and norms, the stable-activation test,
 * sufficient stability conditions (each with the bound it computed), fixed
 * points of maps and zeros of vector fields with their stability, regions of
 * attraction by simulation, activation-region maps, and stable weight
 * parametrizations with spectral bounds [smin, smax] and gradients.
 *
 * MATHS. For an MLP z_i = W_i h_{i-1} + b_i, h_i = sigma_i(z_i), f(x) = h_L,
 * every activation is written as sigma(z) = Lambda z + sigma(0) 1 with
 *   Lambda = diag(lambda_k),  lambda_k = (sigma(z_k) - sigma(0)) / z_k
 * (sigma'(0) at z_k = 0), so that f(x) = A*(x) x + b*(x) with
 *   A* = Lambda_L W_L ... Lambda_1 W_1,
 *   b* = sum_i (prod_{j>i} Lambda_j W_j)(Lambda_i b_i + sigma_i(0) 1).
 * nde computes both by one recursion over the layers: starting from A = I,
 * b = 0 (h = A x + b holds throughout), a dense layer maps (A, b) to
 * (W A, W b + bias) and an activation to (Lambda A, Lambda b + sigma(0) 1).
 * The true Jacobian J = D_L W_L ... D_1 W_1, D = diag(sigma'(z)), comes from
 * the same sweep. A* equals J inside a ReLU region; for smooth sigma it is a
 * secant, and local stability must use J.
 * Kinks take the left derivative: relu'(0) = 0, selu'(0) = scale alpha (the
 * nets/ layers' convention, as PyTorch).
 *
 * PRECISION. All analysis is done in double. Network parameters are read
 * from a flat nde_real vector with the layout of nde_net (docs/conventions.md section 6), so
 * nde_net_params(net) of a network created from the same specs can be passed
 * directly.
 *
 * GSL. Eigenvalues come from gsl_eigen_nonsymmv, singular values from
 * gsl_linalg_SV_decomp, fixed points from gsl_multiroot_fdfsolver_hybridsj
 * with the true Jacobian. nde never changes GSL's error handler: inputs are
 * checked (finite, sizes) before GSL is called so that GSL's handler is never
 * reached on expected conditions; the root solver reports non-progress and
 * user-function failures through return codes (checked), not the handler.
 *
 * HONESTY OF VERDICTS. The conditions are SUFFICIENT: NDE_STAB_HOLDS means
 * the theorem's premise was verified by a bound valid for all x and its
 * conclusion follows; anything else proves nothing about stability (a
 * network can be stable while every sufficient test here is inconclusive).
 *
 * THREAD SAFETY. nde_pwa, nde_spectrum, nde_wparam and nde_sdense hold
 * workspace: each is used by one thread at a time (nde_pwa_fn uses its
 * nde_pwa). A found nde_fp_set is only read afterwards: threads may read
 * it at once. The activation facts, nde_stab_jacobian_spectrum and the grid
 * helpers keep no state. Callbacks (nde_stab_fn) run on the calling
 * thread. nde_stab_net_jacobian runs the network: it uses it.
 */
#ifndef NDE_STABILITY_H
#define NDE_STABILITY_H

#include <stdint.h>

#include "nde/common.h"
#include "nde/nets.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Activations
 * ====================================================================== */

/* Facts about a pointwise activation kind (NDE_LAYER_RELU, TANH, SOFTPLUS,
 * SIGMOID, IDENTITY, SELU, GELU), exact where a closed form exists. */
typedef struct nde_stab_act {
  int kind;
  const char *name;
  double sigma0;     /* sigma(0) */
  double lipschitz;  /* sup_z |sigma'(z)|: 1, 1, 1, 1/4, 1, scale*alpha (1.7581), 1.1289 (gelu) */
  double lambda_sup; /* sup_z |(sigma(z) - sigma(0)) / z|: bounds every entry of Lambda */
  double ratio_sup;  /* sup_z |sigma(z) / z| (INFINITY when sigma(0) != 0) */
  int stable;        /* "stable activation": ratio_sup <= 1 (relu, tanh, gelu, identity) */
} nde_stab_act;

/* NDE_ERR_KIND for a kind that is not a pointwise activation. */
NDE_API int nde_stab_act_info(int kind, nde_stab_act *info);

/* sigma(z), lambda(z) = (sigma(z) - sigma(0)) / z (sigma'(0) at z = 0,
 * evaluated without cancellation) and sigma'(z) in double; any output may
 * be NULL. */
NDE_API int nde_stab_act_eval(int kind, double z, double *sigma, double *lambda, double *dsigma);

/* ======================================================================
 * Pointwise-affine form of an MLP
 * ====================================================================== */

typedef struct nde_pwa nde_pwa;

/* Analysis object for the network made of specs on inputs of nin features:
 * dense layers (with or without bias), pointwise activations and flatten
 * (a no-op on vectors). Any other kind gives NDE_ERR_KIND naming the layer.
 * The parameter layout is that of nde_net_create(nde_shape_vec(nin), ...,
 * specs, nspecs). Workspace is sized here; evaluations never allocate. */
NDE_API int nde_pwa_create(int nin, const nde_layer_spec *specs, int nspecs, nde_pwa **out);
NDE_API void nde_pwa_free(nde_pwa *p);

NDE_API int nde_pwa_in_dim(const nde_pwa *p);
NDE_API int nde_pwa_out_dim(const nde_pwa *p);
NDE_API size_t nde_pwa_num_params(const nde_pwa *p);
/* Total number of activation units (length of a pattern, below). */
NDE_API int nde_pwa_num_units(const nde_pwa *p);
/* 1 when no dense layer has a bias and every activation has sigma(0) = 0,
 * i.e. b*(x) = 0 for all x and f(0) = 0. */
NDE_API int nde_pwa_is_homogeneous(const nde_pwa *p);

/* At the point x (in_dim values), with parameters params: any of
 *   f (out_dim)            the network's output, evaluated layer by layer,
 *   A (out_dim x in_dim)   A*(x), row-major,
 *   b (out_dim)            b*(x),
 *   J (out_dim x in_dim)   the true Jacobian df/dx
 * may be NULL. f = A x + b up to rounding. NDE_ERR_NONFINITE when x, a
 * parameter or an intermediate is not finite. */
NDE_API int nde_pwa_eval(nde_pwa *p, const nde_real *params, const double *x, double *f, double *A,
                         double *b, double *J);

/* Activation pattern at x: on[k] = 1 when the k-th activation unit's input
 * is > 0 (units numbered layer by layer). For ReLU networks the pattern
 * names the linear region containing x. */
NDE_API int nde_pwa_pattern(nde_pwa *p, const nde_real *params, const double *x, unsigned char *on);

/* Smallest |z| over the inputs of kinked units (relu, selu) at x: how far x
 * is from a region boundary in pre-activation units (INFINITY when the
 * network has no kinked unit). Where it is 0, f is not differentiable at x
 * and J is one-sided. */
NDE_API int nde_pwa_kink_margin(nde_pwa *p, const nde_real *params, const double *x,
                                double *margin);

/* Bounds valid for every x, products over the layers of ||W_i||_2 (dense)
 * and a per-activation factor: lambda_bound uses lambda_sup (so
 * ||A*(x)||_2 <= lambda_bound), lip_bound the Lipschitz constant (so f is
 * lip_bound-Lipschitz in the Euclidean norm). Either output may be NULL. */
NDE_API int nde_pwa_bounds(nde_pwa *p, const nde_real *params, double *lambda_bound,
                           double *lip_bound);

/* ======================================================================
 * Spectra and norms
 * ====================================================================== */

typedef struct nde_spectrum nde_spectrum;

/* Workspace for n x n eigenproblems and SVDs of matrices up to n x n. */
NDE_API int nde_spectrum_create(int n, nde_spectrum **out);
NDE_API void nde_spectrum_free(nde_spectrum *s);
NDE_API int nde_spectrum_dim(const nde_spectrum *s);

/* Eigenvalues of the n x n row-major A (not modified): re, im (n each),
 * sorted by decreasing modulus, ties by decreasing real then imaginary part.
 * vre, vim (n x n, row-major, column j the unit eigenvector of eigenvalue j)
 * may be NULL. NDE_ERR_NONFINITE for a non-finite entry, NDE_ERR_NUMERIC
 * if the QR iteration does not converge. */
NDE_API int nde_spectrum_eig(nde_spectrum *s, const double *A, double *re, double *im, double *vre,
                             double *vim);

/* Singular values of the rows x cols row-major A (rows, cols <= n), in
 * decreasing order: sv receives min(rows, cols) values. */
NDE_API int nde_spectrum_svd(nde_spectrum *s, int rows, int cols, const double *A, double *sv);

typedef struct nde_matrix_summary {
  double rho;     /* spectral radius max |lambda| */
  double max_re;  /* largest real part of an eigenvalue */
  double norm2;   /* largest singular value (induced 2-norm) */
  double smin;    /* smallest singular value */
  double fro;     /* Frobenius norm */
  double norm1;   /* max column sum of |a_ij| */
  double norminf; /* max row sum of |a_ij| */
} nde_matrix_summary;

/* All of the above for the n x n matrix A. */
NDE_API int nde_spectrum_summary(nde_spectrum *s, const double *A, nde_matrix_summary *out);

/* ======================================================================
 * Sufficient stability conditions (docs/methods.md section 6)
 * ====================================================================== */

typedef enum nde_stab_verdict {
  NDE_STAB_HOLDS = 1,          /* premise verified: the conclusion follows */
  NDE_STAB_UNDECIDED = 0,      /* the bound is >= 1 and no counter-witness: nothing follows */
  NDE_STAB_FAILS = -1,         /* a witness shows the premise is false (stability may still hold) */
  NDE_STAB_NOT_APPLICABLE = -2 /* the theorem's hypotheses are not met */
} nde_stab_verdict;

NDE_API const char *nde_stab_verdict_name(int verdict); /* "holds", "undecided", "fails", "n/a" */

typedef struct nde_stab_cond {
  int verdict;    /* nde_stab_verdict */
  double bound;   /* the quantity the theorem compares with 1, as computed (an upper bound
                     valid for all x for the global tests; rho(J(x_e)) for the local one) */
  double sampled; /* largest value of the premise's quantity at the sample points (a lower
                     bound on its supremum); NAN without samples */
  int witness;    /* index of the sample attaining `sampled`, -1 if none */
} nde_stab_cond;

/* Global exponential stability of the origin: if b*(x) = 0 for all x (no
 * bias, sigma(0) = 0 everywhere) and sup_x ||A*(x)||_2 < 1, then
 * ||f(x)|| <= c ||x|| with c < 1 and every orbit of x -> f(x) tends to 0.
 * bound = prod_i lambda_sup_i ||W_i||_2 >= sup ||A*||. HOLDS when bound < 1;
 * FAILS when some sample has ||A*(x_s)||_2 >= 1; NOT_APPLICABLE when the
 * network is not homogeneous (bias or sigma(0) != 0). samples: nsamples
 * points (in_dim each), may be NULL. NDE_ERR_SHAPE unless in = out dim. */
NDE_API int nde_stab_global_origin(nde_pwa *p, const nde_real *params, int nsamples,
                                   const double *samples, nde_stab_cond *out);

/* Contraction: if prod_i Lip(sigma_i) ||W_i||_2 < 1 then f is a contraction
 * in the Euclidean norm and has a unique, globally attracting fixed point
 * (Banach). bound = that product. HOLDS when bound < 1; FAILS when some
 * sample where f is differentiable has ||J(x_s)||_2 > 1 (then f is not a
 * Euclidean contraction; another norm may still work). */
NDE_API int nde_stab_contraction(nde_pwa *p, const nde_real *params, int nsamples,
                                 const double *samples, nde_stab_cond *out);

/* Local asymptotic stability of a fixed point x_e: rho(J(x_e)) < 1.
 * NOT_APPLICABLE when ||f(x_e) - x_e||_inf > tol (not a fixed point) or when
 * f may not be differentiable at x_e (kink margin <= 1e-9 (1 + ||x_e||_inf):
 * a computed root that close to a kink may lie on it); otherwise bound = rho,
 * HOLDS if rho < 1, FAILS if rho > 1 (x_e is then unstable), else UNDECIDED. */
NDE_API int nde_stab_local(nde_pwa *p, const nde_real *params, const double *xe, double tol,
                           nde_stab_cond *out);

/* ======================================================================
 * Fixed points of maps and zeros of vector fields
 * ====================================================================== */

/* A map or vector field R^n -> R^n: fx = f(x) and, when J is not NULL, its
 * Jacobian (n x n, row-major). Return 0 on success, nonzero on failure. */
typedef int (*nde_stab_fn)(void *ctx, const double *x, double *fx, double *J);

typedef enum nde_fp_mode {
  NDE_FP_MAP = 0,  /* fixed points f(x) = x; stable when rho(J) < 1 */
  NDE_FP_FIELD = 1 /* equilibria F(x) = 0 of dx/dt = F(x); stable when max Re < 0 */
} nde_fp_mode;

typedef enum nde_fp_class {
  NDE_FP_STABLE = 1,   /* all eigenvalues inside (map: |l| < 1; field: Re l < 0) */
  NDE_FP_UNSTABLE = 2, /* all outside: a repeller */
  NDE_FP_SADDLE = 3,   /* some inside, some outside */
  NDE_FP_MARGINAL = 4  /* some eigenvalue on the boundary (within marginal_tol): linearization
                          decides nothing (also non-isolated points, e.g. rays of a
                          homogeneous ReLU map) */
} nde_fp_class;

NDE_API const char *nde_fp_class_name(int cls); /* "stable", "unstable", "saddle", "marginal" */

typedef struct nde_fp_options {
  int mode;            /* nde_fp_mode (NDE_FP_MAP) */
  int nstarts;         /* random starting points, uniform in [lo, hi]^n (64) */
  double lo, hi;       /* (-6, 6) */
  uint64_t seed;       /* (1) */
  int max_iter;        /* solver iterations per start (200) */
  double tol;          /* converged when ||residual||_inf <= tol (1e-10) */
  double merge_tol;    /* roots with ||x - y||_inf <= merge_tol (1 + ||y||_inf) are one (1e-6) */
  double marginal_tol; /* eigenvalue within this of the boundary is marginal (1e-9) */
} nde_fp_options;

NDE_API nde_fp_options nde_fp_options_default(void);

typedef struct nde_fixed_point {
  const double *x;      /* n values */
  const double *eig_re; /* n eigenvalues of the Jacobian of f (map) or F (field) at x, */
  const double *eig_im; /*   sorted by decreasing modulus */
  double residual;      /* ||f(x) - x||_inf or ||F(x)||_inf */
  double rho;           /* spectral radius of the Jacobian */
  double max_re;        /* largest real part */
  double res_smin;      /* smallest singular value of the residual's Jacobian (near 0: the
                           root is probably not isolated) */
  int cls;              /* nde_fp_class */
  int hits;             /* starting points that converged to it */
} nde_fixed_point;

typedef struct nde_fp_set nde_fp_set;

/* Solve from the nstarts given starting points (n values each; may be NULL
 * with nstarts = 0), then from opt->nstarts random ones. Roots are
 * deduplicated, classified by the Jacobian's spectrum and sorted
 * lexicographically by x. Starts whose iteration fails (no progress, a
 * function failure, no convergence within max_iter) are counted, not fatal.
 * opt NULL means the defaults. */
NDE_API int nde_fp_find(int n, nde_stab_fn fn, void *ctx, const nde_fp_options *opt,
                        const double *starts, int nstarts, nde_fp_set **out);
NDE_API void nde_fp_set_free(nde_fp_set *s);
NDE_API int nde_fp_set_dim(const nde_fp_set *s);
NDE_API int nde_fp_set_count(const nde_fp_set *s);
/* Fixed point i in [0, count); the pointers stay valid until the set is freed. */
NDE_API int nde_fp_set_get(const nde_fp_set *s, int i, nde_fixed_point *fp);
/* Number of starts that converged and that failed. */
NDE_API int nde_fp_set_starts(const nde_fp_set *s, int *converged, int *failed);

/* Adapter to use a PWA network as nde_stab_fn: ctx points to this struct.
 * residual = 0: x -> f(x); residual = 1: x -> x + f(x) (a residual block,
 * Jacobian I + J_f). */
typedef struct nde_pwa_fn_ctx {
  nde_pwa *pwa;
  const nde_real *params;
  int residual;
} nde_pwa_fn_ctx;
NDE_API int nde_pwa_fn(void *ctx, const double *x, double *fx, double *J);

/* ======================================================================
 * Grids, trajectories, regions of attraction, region maps
 * ====================================================================== */

/* A 2-D grid of points x = origin + a u + b v, a in [x0, x1] (nx points,
 * column index j), b in [y0, y1] (ny points, row index i); grid values are
 * stored row by row, index i * nx + j. origin, u, v (n values each) may all
 * be NULL when n = 2: the plane itself. */
typedef struct nde_grid2 {
  double x0, x1, y0, y1;
  int nx, ny; /* >= 2 each */
  const double *origin, *u, *v;
} nde_grid2;

/* The point (i, j) of the grid in R^n. */
NDE_API int nde_grid2_point(const nde_grid2 *g, int n, int i, int j, double *x);

/* Iterate x_{k+1} = f(x_k) from x0 for up to nsteps steps, writing
 * x_0..x_k into traj ((nsteps + 1) x n). Stops early when an iterate is not
 * finite or its inf-norm exceeds escape (> 0); *done = the number of steps
 * stored after x_0. */
NDE_API int nde_stab_iterate(int n, nde_stab_fn fn, void *ctx, const double *x0, int nsteps,
                             double escape, double *traj, int *done);

enum {
  NDE_ROA_DIVERGED = -1,  /* ||x||_inf exceeded the escape radius */
  NDE_ROA_UNSETTLED = -2, /* no convergence within max_steps (cycle, slow or chaotic orbit) */
  NDE_ROA_UNLISTED = -3   /* settled at a point that is not in the fixed-point set */
};

typedef struct nde_roa_options {
  int max_steps;    /* (1000) */
  double step_tol;  /* settled when ||x_{k+1} - x_k||_inf <= step_tol (1 + ||x_k||_inf) (1e-10) */
  double match_tol; /* a settled orbit belongs to fixed point y when ||x - y||_inf <=
                       match_tol (1 + ||y||_inf) (1e-5) */
  double escape;    /* diverged when ||x||_inf > escape (1e6) */
} nde_roa_options;

NDE_API nde_roa_options nde_roa_options_default(void);

/* Regions of attraction of the map fn by simulation: label[i * nx + j] is the
 * index in fps of the fixed point the orbit of grid point (i, j) settles at,
 * or one of the NDE_ROA_* codes. steps (may be NULL) receives the number of
 * iterations each orbit took. fps may be NULL (every settled orbit is then
 * UNLISTED). A failing fn is an error (NDE_ERR_CALLBACK). */
NDE_API int nde_roa_grid(int n, nde_stab_fn fn, void *ctx, const nde_fp_set *fps,
                         const nde_grid2 *g, const nde_roa_options *opt, int *label, int *steps);

/* Activation-region map: region[i * nx + j] numbers the distinct activation
 * patterns over the grid in order of first appearance (row by row from 0);
 * *nregions receives their count. */
NDE_API int nde_pwa_region_map(nde_pwa *p, const nde_real *params, const nde_grid2 *g, int *region,
                               int *nregions);

/* ======================================================================
 * Stable weight parametrizations
 * ====================================================================== */

/* W (rows x cols, row-major, as a dense layer's weight: y = W x) as a
 * differentiable function of its own parameters theta, with a guaranteed
 * spectral property; s(p) = smax - (smax - smin) sigmoid(p) maps a free
 * parameter into [smin, smax]. k = min(rows, cols).
 *   PLAIN       W = theta (no guarantee). rows*cols parameters.
 *   SOFTSVD     W = U diag(s) V, U rows x k, V k x cols free, trained with
 *               the orthogonality penalty ||U^T U - I||_F^2 + ||V V^T - I||_F^2
 *               (nde_wparam_penalty). When U, V are orthonormal (as at init)
 *               the singular values are s, in [smin, smax]; in general they
 *               lie in [min s sigma_min(U) sigma_min(V), max s sigma_max(U)
 *               sigma_max(V)] (nde_wparam_bounds computes it).
 *               rows*k + k*cols + k parameters.
 *   SPECTRAL    W = U diag(s) V with U = H(u_1)...H(u_rows), V = H(v_1)...
 *               H(v_cols) products of Householder reflections
 *               H(u) = I - 2 u u^T / (u^T u): exactly orthogonal, so the
 *               singular values are exactly s in [smin, smax] (Zhang et al.
 *               2018). rows^2 + cols^2 + k parameters.
 *   GERSHGORIN  square only: W_ii = c = (smin + smax) / 2 and off-diagonal
 *               W_ij = r w_ij / (sum_{k != i} |w_ik| + 1e-8),
 *               r = (smax - smin) / 2, so every Gershgorin disc lies inside
 *               |z - c| <= r and so do all eigenvalues (real parts in
 *               [smin, smax]). n (n - 1) parameters.
 *   PF          Perron-Frobenius: W_ij = s_i softmax_j(w_i.) >= 0, row sums
 *               s_i = s(q_i) in [smin, smax]; for a square W the spectral
 *               radius lies between the smallest and largest row sum, so in
 *               [smin, smax], and ||W||_inf <= smax. rows*cols + rows
 *               parameters.
 * smin <= smax finite; SOFTSVD, SPECTRAL and PF need smin >= 0. */
typedef enum nde_wparam_kind {
  NDE_WPARAM_PLAIN = 0,
  NDE_WPARAM_SOFTSVD = 1,
  NDE_WPARAM_SPECTRAL = 2,
  NDE_WPARAM_GERSHGORIN = 3,
  NDE_WPARAM_PF = 4
} nde_wparam_kind;

/* "plain", "softsvd", "spectral", "gershgorin", "pf" (and back). */
NDE_API const char *nde_wparam_kind_name(int kind);
NDE_API int nde_wparam_kind_parse(const char *name, int *kind);

typedef struct nde_wparam nde_wparam;

NDE_API int nde_wparam_create(int kind, int rows, int cols, double smin, double smax,
                              nde_wparam **out);
NDE_API void nde_wparam_free(nde_wparam *w);
NDE_API int nde_wparam_get_kind(const nde_wparam *w);
NDE_API size_t nde_wparam_num_params(const nde_wparam *w);

/* Initial theta: PLAIN U(-1/sqrt(cols), 1/sqrt(cols)) (PyTorch's dense
 * default); SOFTSVD orthonormal U, V (Gram-Schmidt of Gaussian matrices) and
 * p ~ N(0, 1); SPECTRAL u, v, p ~ N(0, 1); GERSHGORIN w ~ U(-1, 1); PF
 * w, q ~ N(0, 1). */
NDE_API int nde_wparam_init(nde_wparam *w, nde_real *theta, nde_rng *rng);

/* W(theta) into W (rows x cols). Never allocates. */
NDE_API int nde_wparam_weight(nde_wparam *w, const nde_real *theta, nde_real *W);

/* dtheta += (dW/dtheta)^T dW for a cotangent dW (rows x cols). Never allocates. */
NDE_API int nde_wparam_vjp(nde_wparam *w, const nde_real *theta, const nde_real *dW,
                           nde_real *dtheta);

/* Soft-SVD orthogonality penalty: *value = ||U^T U - I||_F^2 + ||V V^T - I||_F^2
 * and, if dtheta is not NULL, dtheta += its gradient. 0 for the other kinds. */
NDE_API int nde_wparam_penalty(nde_wparam *w, const nde_real *theta, double *value,
                               nde_real *dtheta);

typedef enum nde_wparam_bound_kind {
  NDE_WBOUND_NONE = 0,     /* plain: nothing guaranteed */
  NDE_WBOUND_SINGULAR = 1, /* every singular value in [lo, hi] */
  NDE_WBOUND_DISC = 2,     /* every eigenvalue in the disc |z - center| <= radius */
  NDE_WBOUND_RHO = 3       /* spectral radius in [lo, hi] (square); row sums in [lo, hi] */
} nde_wparam_bound_kind;

typedef struct nde_wparam_bounds {
  int kind;              /* nde_wparam_bound_kind */
  double lo, hi;         /* SINGULAR, RHO; DISC: center -/+ radius */
  double center, radius; /* DISC */
} nde_wparam_bounds;

/* What the construction guarantees for W(theta) (SOFTSVD: computed from the
 * current U, V, s, see above; the others: from smin, smax and theta). */
NDE_API int nde_wparam_bounds_at(nde_wparam *w, const nde_real *theta, nde_wparam_bounds *out);

/* A dense layer y = W(theta) x + b over a parametrization: parameters
 * [theta | b] (b present when bias != 0), batches of at most max_batch,
 * workspace sized at create, forward and vjp never allocate. */
typedef struct nde_sdense nde_sdense;

NDE_API int nde_sdense_create(int kind, int in, int out, double smin, double smax, int bias,
                              int max_batch, nde_sdense **out_layer);
NDE_API void nde_sdense_free(nde_sdense *l);
NDE_API size_t nde_sdense_num_params(const nde_sdense *l);
NDE_API nde_wparam *nde_sdense_wparam(nde_sdense *l);
/* theta by nde_wparam_init, b ~ U(-1/sqrt(in), 1/sqrt(in)). */
NDE_API int nde_sdense_init(nde_sdense *l, nde_real *params, nde_rng *rng);
/* y = x W^T + b for n samples (x: n x in, y: n x out); keeps x for the vjp. */
NDE_API int nde_sdense_forward(nde_sdense *l, const nde_real *params, int n, const nde_real *x,
                               nde_real *y);
/* At the last forward (same n): dx = dy W (overwritten, skipped if NULL) and
 * grad += d(sum dy.y)/dparams (skipped if NULL). */
NDE_API int nde_sdense_vjp(nde_sdense *l, const nde_real *params, int n, const nde_real *dy,
                           nde_real *dx, nde_real *grad);

/* ======================================================================
 * Jacobians of networks and contraction measures of vector fields
 * ====================================================================== */

/* The Jacobian J = d net(t, x) / dx (out x in, row-major, double) of any
 * nde network at one point x (in_numel values) and time t, exact up to
 * rounding, by reverse mode: row i is e_i^T J = (J^T e_i)^T, the input
 * cotangent of nde_net_vjp for the unit output cotangent e_i. The network
 * runs ONCE on B = min(max_batch, out) copies of x; each vjp then seeds B
 * different unit cotangents (one per copy) and yields B rows, so
 * ceil(out / B) vjps give all of J (nde_net_vjp only reads the stored
 * intermediates, so one forward serves them all).
 * The samples of a batch must not interact: BatchNorm must be in evaluation
 * mode. Leaves the network at the forward of the copies (its last forward
 * and output are overwritten). Allocates its scratch (2 B in + B out
 * values) per call: an analysis routine, not a solver path.
 * NDE_ERR_NONFINITE when an entry of J is not finite. */
NDE_API int nde_stab_net_jacobian(nde_net *net, double t, const nde_real *x, double *J);

/* Spectral summary of the Jacobian J of a vector field dx/dt = F(x) at a
 * point, i.e. of the linearized flow dv/dt = J v:
 *   abscissa  alpha(J) = max_i Re lambda_i: v(t) -> 0 for every v(0) iff
 *             alpha < 0 (asymptotic, may grow transiently first);
 *   mu2       the logarithmic norm mu_2(J) = lambda_max((J + J^T) / 2):
 *             ||v(t)||_2 <= e^{mu2 t} ||v(0)||_2, so mu2 < 0 means the flow
 *             contracts in the Euclidean norm at every instant; always
 *             alpha <= mu2 (Re lambda = Re v* J v <= lambda_max of the
 *             symmetric part for a unit eigenvector v), with equality for
 *             normal J;
 *   trace     sum Re lambda_i = div F: the rate d log(volume) / dt.
 *
 * DEFLATION. A field that is invariant along k known directions, F(x + N a)
 * = F(x) to first order (J N = 0, N: n x k with orthonormal columns; e.g. a
 * network whose first layer is a normalization), has k structural zero
 * eigenvalues and v^T S v = 0 on them, so alpha >= 0 and mu2 >= 0 whatever
 * it learned: those directions are neutral, not unstable. With k > 0 the
 * summary describes the flow on the complement instead: with [Q N]
 * orthogonal, J = [Q N] [[Q^T J Q, 0], [N^T J Q, 0]] [Q N]^T is block
 * triangular, so eig(J) = eig(Q^T J Q) and k zeros, and
 *   eigenvalues  of Q^T J Q (n - k): eig(J - c N N^T) without the k
 *                eigenvalues that the shift sends to -c, c = 4 ||J||_F + 1
 *                (|eig(Q^T J Q)| <= ||J||_F < c / 2 keeps them apart);
 *   mu2, mu2_min of Q^T S Q, S = (J + J^T) / 2, from P S P - c N N^T,
 *                P = I - N N^T (no cross terms, so exactly eig(Q^T S Q)
 *                and k values -c);
 *   mu2_full     lambda_max(S) on the whole space (>= mu2 and >= 0).
 * trace is that of Q^T J Q (= tr J - tr N^T J N), fro stays ||J||_F. */
typedef struct nde_jac_summary {
  int n;           /* dimension described: n - k */
  int k;           /* deflated directions */
  double abscissa; /* max Re lambda */
  double rho;      /* spectral radius max |lambda| */
  double mu2;      /* lambda_max of the symmetric part (on the complement when k > 0) */
  double mu2_min;  /* lambda_min of the symmetric part (likewise) */
  double mu2_full; /* lambda_max((J + J^T) / 2) on all of R^n (= mu2 when k = 0) */
  int nzero;       /* eigenvalues with |lambda| <= zero_tol (numerically zero: a network
                      with ReLUs has a large kernel where units are off) */
  double frac_neg; /* fraction of the n - k eigenvalues with Re lambda < 0, |lambda| > zero_tol */
  double frac_pos; /* ... with Re lambda >= 0, |lambda| > zero_tol (1 - frac_neg - nzero / n) */
  double zero_max; /* largest |lambda| counted as zero (0 if none) */
  double nonzero_min; /* smallest |lambda| not counted as zero (INFINITY if none): zero_max and
                         nonzero_min far apart show zero_tol sits in a gap of the spectrum */
  double trace;       /* sum of the n - k eigenvalues */
  double fro;         /* Frobenius norm ||J||_F */
  double null_resid;  /* ||J N||_F / ||J||_F (0 when k = 0) */
} nde_jac_summary;

/* The summary above for the n x n row-major J (not modified), deflating the
 * k orthonormal columns of N (n x k, row-major; k = 0 and N = NULL for
 * none). Eigenvalues by gsl_eigen_nonsymm (Schur form without vectors,
 * O(10 n^3): about a minute at n = 2304), symmetric parts by gsl_eigen_symm
 * (once, twice when k > 0). re, im (n - k each; sorted by decreasing real
 * part, then decreasing imaginary part) and sym (n - k, decreasing) may be
 * NULL. Eigenvalues with |lambda| <= zero_tol (>= 0) are counted apart
 * (nzero) and as neither negative nor positive. Allocates O(n^2) workspace
 * per call. Errors: NDE_ERR_ARG for n < 1, zero_tol < 0 or not finite,
 * k outside [0, n), columns of N not orthonormal (|N^T N - I| > 1e-8) or
 * not a null space (null_resid > 1e-3); NDE_ERR_NONFINITE for a non-finite
 * entry of J or N; NDE_ERR_NUMERIC when the QR iteration does not converge. */
NDE_API int nde_stab_jacobian_spectrum(int n, const double *J, int k, const double *N,
                                       double zero_tol, double *re, double *im, double *sym,
                                       nde_jac_summary *out);
#ifdef __cplusplus
}
#endif
#endif
