/* nde/hamiltonian.h: Hamiltonian networks and contractive Hamiltonian neural
 * ODEs (CH-NODE; Zakwan, Xu, Ferrari-Trecate 2022; docs/methods.md section 5).
 *
 * A Hamiltonian block acts on n independent samples y in R^nf (sample-major,
 * n * nf doubles) with per-layer parameters theta_j = (K_j, b_j), j = 0..N-1,
 * piecewise constant in time: K(t) = K_j for t in [j h, (j + 1) h). With
 * sigma = tanh, J1 = [[0, -I], [I, 0]] and J2 = (+1 above, -1 below the
 * diagonal), the vector fields of layer j are
 *   R1      f(y) = sigma(K^T y + b)                           (residual baseline)
 *   H1-J1   f(y) = J1 K sigma(K^T y + b)                      (H-DNN, Galimberti et al.)
 *   H1-J2   f(y) = J2 K sigma(K^T y + b)
 *   H2      y = (p, q), H = 1^T log cosh(Kp^T p + bp) + 1^T log cosh(Kq^T q + bq):
 *           f(y) = J1 grad H = (-Kq sigma(Kq^T q + bq), Kp sigma(Kp^T p + bp))
 *   CH-NODE f(y) = (J1 - gamma I)(K sigma(K^T y + b) + kappa^2 y)    (M^T M = kappa^2 I)
 * The discrete networks take N steps of size h: forward Euler
 * y_{j+1} = y_j + h f_j(y_j), except H2, which takes the symplectic
 * (semi-implicit) Euler step p' = p - h Kq sigma(Kq^T q + bq),
 * q' = q + h Kp sigma(Kp^T p' + bp). The continuous block integrates
 * dy/dt = f_{j(t)}(y) over [0, N h] with an nde solver and its adjoint.
 *
 * CONTRACTION (CH-NODE). With c2 = max_j lambda_max(K_j^T K_j) + kappa^2,
 * c1 = kappa^2, alpha = (c2 - c1) / (c2 + c1), the flow is contractive when
 * gamma > gamma_min = alpha / sqrt(1 - alpha^2), at rate
 * rho = c1 (gamma sqrt(1 - alpha^2) - alpha): every matrix measure
 * mu_2(df/dy) <= -rho, so ||y(t) - y'(t)|| <= e^{-rho t} ||y(0) - y'(0)||.
 * Forward Euler with step h keeps that (a contraction of each step) when
 * h <= 2 rho / ((1 + gamma^2) c2^2). With gamma_auto (default) gamma is the
 * reference code's 1 / sqrt(1 - alpha^2 - 1e-6), recomputed by
 * nde_ham_update_gamma from the current K_j (eigenvalues by GSL): call it
 * after every change of the parameters (the classifier below does so before
 * every forward, i.e. after every optimizer step). gamma never receives a
 * gradient: it is a constant of each forward/backward pass.
 *
 * PARAMETERS. One flat double vector of N blocks of nde_ham_layer_num_params
 * values. R1, H1, CH-NODE: [K (nf x nf, row-major: K[r * nf + c] multiplies
 * y_r in unit c of K^T y) | b (nf)]. H2 (m = nf / 2): [Kp (m x m) | Kq (m x m)
 * | bp (m) | bq (m)].
 *
 * Everything is sized at create time for max_batch samples: right-hand
 * sides, vector-Jacobian products, the discrete forward and backward never
 * allocate. Arithmetic is double whatever nde_real is.
 *
 * Typical use (discrete network, exact backprop):
 *   nde_ham_options o = nde_ham_options_default(NDE_HAM_CHNODE);
 *   o.max_batch = n;
 *   nde_ham *ham;  nde_ham_create(&o, &ham);
 *   nde_ham_init(ham, &rng, 1.0, 1.0);          // K, b ~ N(0, 1) as the reference
 *   nde_ham_update_gamma(ham, &info);           // info.gamma, info.rho
 *   nde_ham_forward(ham, n, y0, yN);
 *   nde_ham_backward(ham, dLdyN, dLdy0, g);     // g += dL/dtheta
 * and the continuous block: nde_ham_ode_create(ham, &ode_opts, n, &blk),
 * nde_ham_ode_forward(blk, n, y0, yN, 1), nde_ham_ode_backward(...).
 *
 * THREAD SAFETY. An nde_ham (parameters, gamma, workspace and stored
 * states), the fields and block solvers made on it (which borrow it) and
 * an nde_ham_clf are used by one thread at a time, all on one ham counting
 * as one. The matrix analyses (nde_ham_mu2, ...) and the noise functions
 * (with the caller's nde_rng) keep no state.
 */
#ifndef NDE_HAMILTONIAN_H
#define NDE_HAMILTONIAN_H

#include "nde/adjoint.h"
#include "nde/common.h"
#include "nde/nets.h"
#include "nde/ode.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nde_ham_kind {
  NDE_HAM_R1 = 1,    /* residual baseline (any nf) */
  NDE_HAM_H1_J1 = 2, /* H-DNN H1 with J1 (nf even) */
  NDE_HAM_H1_J2 = 3, /* H-DNN H1 with J2 (nf >= 2) */
  NDE_HAM_H2 = 4,    /* separable H-DNN, symplectic Euler (nf even) */
  NDE_HAM_CHNODE = 5 /* contractive Hamiltonian neural ODE (nf even) */
} nde_ham_kind;

/* "r1", "h1-j1", "h1-j2", "h2", "chnode"; "unknown" otherwise. */
NDE_API const char *nde_ham_kind_name(int kind);
NDE_API int nde_ham_kind_parse(const char *name, int *kind);

typedef struct nde_ham_options {
  int kind;       /* nde_ham_kind */
  int nf;         /* state values per sample, 8 */
  int nlayers;    /* N, 8 */
  double h;       /* step size / layer duration, 0.5; the block spans [0, N h] */
  double kappa;   /* CH-NODE: M^T M = kappa^2 I, 0.02 (> 0 with gamma_auto) */
  int gamma_auto; /* CH-NODE: 1 = gamma from c1, c2 (reference formula), 1 */
  double gamma;   /* CH-NODE: gamma when gamma_auto = 0, 0 */
  int max_batch;  /* samples per call, 1 */
} nde_ham_options;

NDE_API nde_ham_options nde_ham_options_default(int kind);

typedef struct nde_ham nde_ham;

/* Checks every option (nf even for the Hamiltonian kinds, N >= 1, h > 0 and
 * finite, kappa >= 0, > 0 with gamma_auto, gamma finite) and allocates the
 * parameters (zero), workspaces and the discrete network's stored states. */
NDE_API int nde_ham_create(const nde_ham_options *o, nde_ham **out);
NDE_API void nde_ham_free(nde_ham *ham);

NDE_API const nde_ham_options *nde_ham_get_options(const nde_ham *ham);
NDE_API size_t nde_ham_num_params(const nde_ham *ham);       /* N * layer params */
NDE_API size_t nde_ham_layer_num_params(const nde_ham *ham); /* nf^2 + nf (H2: nf^2 / 2 + nf) */
/* The parameter vector (owned by ham, valid until nde_ham_free). */
NDE_API double *nde_ham_params(nde_ham *ham);
/* K entries ~ N(0, sk^2), b entries ~ N(0, sb^2), layer by layer, K first;
 * then, for CH-NODE, nde_ham_update_gamma. */
NDE_API int nde_ham_init(nde_ham *ham, nde_rng *rng, double sk, double sb);

/* ---- contraction (CH-NODE) ---- */

typedef struct nde_ham_contraction {
  double lambda_max_ktk; /* max_j lambda_max(K_j^T K_j) (H2: of blockdiag(Kp, Kq)) */
  double c1, c2, alpha;  /* as above (kappa = 0 and the non-CH kinds: c1 = 0, alpha = 1) */
  double gamma_min;      /* alpha / sqrt(1 - alpha^2) (Inf when c1 = 0) */
  double gamma;          /* the gamma in force (0 for the other kinds) */
  double rho;            /* c1 (gamma sqrt(1 - alpha^2) - alpha), 0 when c1 = 0;
                            > 0 certifies contraction */
  double h_euler;        /* 2 rho / ((1 + gamma^2) c2^2) when rho > 0, else 0 */
} nde_ham_contraction;

/* Compute the quantities above from the current parameters (GSL symmetric
 * eigenvalues of each K_j^T K_j) and, for CH-NODE with gamma_auto, set
 * gamma = 1 / sqrt(1 - alpha^2 - eps) with eps = 1e-6 (the reference), or
 * eps = (1 - alpha^2) / 2 when 1 - alpha^2 <= 2e-6 so that gamma stays
 * finite and above gamma_min. info may be NULL. */
NDE_API int nde_ham_update_gamma(nde_ham *ham, nde_ham_contraction *info);
/* Fix gamma (CH-NODE only; turns gamma_auto off). */
NDE_API int nde_ham_set_gamma(nde_ham *ham, double gamma);
NDE_API double nde_ham_gamma(const nde_ham *ham);

/* ---- one layer's vector field (layer in [0, N)) on n samples ---- */

/* f = f_layer(y): n * nf values. */
NDE_API int nde_ham_rhs(nde_ham *ham, int layer, int n, const double *y, double *f);
/* ja = (df/dy)^T a (overwritten; may be NULL; must not alias a) and
 * g += (df/dtheta)^T a summed over the samples (the full parameter vector's
 * layout; only layer's block changes; may be NULL). */
NDE_API int nde_ham_vjp(nde_ham *ham, int layer, int n, const double *y, const double *a,
                        double *ja, double *g);
/* jv = (df/dy) v (n * nf values, overwritten). */
NDE_API int nde_ham_jvp(nde_ham *ham, int layer, int n, const double *y, const double *v,
                        double *jv);
/* The Jacobian df/dy of one sample y: nf x nf row-major, jac[r * nf + c] =
 * df_r / dy_c. */
NDE_API int nde_ham_jacobian(nde_ham *ham, int layer, const double *y, double *jac);

/* The vector field as an nde field (nde/ode.h) whose theta is the ham's
 * parameter vector (nparam = nde_ham_num_params, vjp and jvp provided,
 * max_batch the ham's). layer in [0, N): the autonomous field of that layer
 * for every t; NDE_HAM_PIECEWISE: layer floor(t / h) clamped to [0, N - 1],
 * i.e. K(t) piecewise constant over [0, N h]. The field borrows ham. */
#define NDE_HAM_PIECEWISE (-1)
NDE_API int nde_ham_field_create(nde_ham *ham, int layer, nde_field **out);

/* ---- the discrete network ---- */

/* yN = y_N after N steps (Euler, or symplectic Euler for H2) from y0 (n
 * samples; yN may be NULL). Keeps y_0..y_N and the activations for
 * nde_ham_backward and nde_ham_step_jacobians. */
NDE_API int nde_ham_forward(nde_ham *ham, int n, const double *y0, double *yN);
/* Exact backprop through the last forward: dy0 = (dy_N/dy_0)^T dyN
 * (overwritten; may be NULL), g += dL/dtheta (may be NULL). NDE_ERR_STATE
 * without a forward. */
NDE_API int nde_ham_backward(nde_ham *ham, const double *dyN, double *dy0, double *g);
/* State y_j (j in [0, N]) of the last forward: n * nf values owned by ham. */
NDE_API const double *nde_ham_state(const nde_ham *ham, int j);
/* Forward from y0, then the one-step Jacobians Phi_j = dy_{j+1}/dy_j of every
 * sample: phi holds N * n * nf * nf values, Phi_j of sample i at offset
 * (j * n + i) * nf * nf, row-major. */
NDE_API int nde_ham_step_jacobians(nde_ham *ham, int n, const double *y0, double *phi);

/* ---- the continuous block through nde's solvers ---- */

typedef struct nde_ham_ode nde_ham_ode;

/* One nde solver (method, tolerances, adjoint from opt; its t0, T, nout and
 * tout are replaced by [0, h] with one output) that integrates layer after
 * layer: y_{j+1} = y(h) of dy/dt = f_j(y), y(0) = y_j. Each layer is a
 * separate solve, so no step straddles a jump of K(t). The backward pass
 * goes through the layers in reverse, re-solving layer j forward from the
 * stored y_j (one solver's memory instead of N) before its adjoint solve.
 * max_batch <= the ham's. ham is borrowed; opt may be NULL (defaults). */
NDE_API int nde_ham_ode_create(nde_ham *ham, const nde_ode_options *opt, int max_batch,
                               nde_ham_ode **out);
NDE_API void nde_ham_ode_free(nde_ham_ode *blk);
/* yN = y(N h) from y0 (n samples); record = 1 keeps what the backward pass
 * needs (requires an adjoint other than NDE_ADJ_NONE). */
NDE_API int nde_ham_ode_forward(nde_ham_ode *blk, int n, const double *y0, double *yN, int record);
/* dy0 = dL/dy(0) (overwritten; may be NULL), g += dL/dtheta (may be NULL),
 * for the last recorded forward. */
NDE_API int nde_ham_ode_backward(nde_ham_ode *blk, const double *dyN, double *dy0, double *g);
/* Flow Jacobians Phi_j = dy((j+1) h)/dy(j h) of every sample (layout of
 * nde_ham_step_jacobians), row by row from nf adjoint solves per layer. */
NDE_API int nde_ham_ode_layer_jacobians(nde_ham_ode *blk, int n, const double *y0, double *phi);
/* Statistics summed over the layers of the last forward and the last
 * backward (whose nfe_recompute includes the forward re-solves). */
NDE_API int nde_ham_ode_stats(const nde_ham_ode *blk, nde_ode_stats *fwd, nde_ode_stats *bwd);

/* ---- matrix analysis (GSL) ---- */

/* mu_2(A) = lambda_max((A + A^T) / 2) of a d x d row-major matrix. */
NDE_API int nde_ham_mu2(int d, const double *a, double *mu);
/* ||A||_2, the largest singular value (sqrt of lambda_max(A^T A)). */
NDE_API int nde_ham_norm2(int d, const double *a, double *norm);
/* Backward sensitivity norms ||dy_N / dy_{N-l}||_2 = ||Phi_{N-1} ... Phi_{N-l}||_2
 * for l = 1..N from one-step Jacobians in the layout above: mean, min and
 * max over the n samples in mean[l-1], min[l-1], max[l-1] (any may be NULL). */
NDE_API int nde_ham_bsm_norms(int nlayers, int n, int d, const double *phi, double *mean,
                              double *min, double *max);

/* ---- test-time image noise (the reference's skimage random_noise) ---- */

/* x[i] += N(0, variance), then clip to [lo, hi]. */
NDE_API int nde_ham_noise_gaussian(nde_real *x, size_t len, double variance, double lo, double hi,
                                   nde_rng *rng);
/* Each value, with probability amount, becomes hi (salt) or lo (pepper) with
 * equal odds; then every value is clipped to [lo, hi]. */
NDE_API int nde_ham_noise_salt_pepper(nde_real *x, size_t len, double amount, double lo, double hi,
                                      nde_rng *rng);

/* ---- the image classifier of the CH-NODE experiment ---- */

/* x (c x hh x ww) -> conv3x3(c -> nf, pad 1) -> the block on each pixel's
 * nf-vector (n * hh * ww samples sharing K_j, b_j) -> flatten (pixel-major:
 * feature p * nf + k is channel k of pixel p, a fixed permutation of
 * PyTorch's channel-major flatten) -> Linear(hh * ww * nf -> nclasses).
 * Loss = mean softmax cross-entropy + (smooth / 2) sum_{j<N-1}
 * ||theta_{j+1} - theta_j||^2 (K and b of consecutive layers). Parameters:
 * one nde_real vector [conv | block | linear]; the block's part is copied to
 * the ham's double vector (and gamma updated) at every forward. */
typedef struct nde_ham_clf_options {
  nde_ham_options ham; /* kind, nf (conv channels), nlayers, h, kappa, gamma; max_batch ignored */
  int continuous;      /* 1: block through nde_ham_ode (adaptive solver + adjoint), 0 */
  nde_ode_options ode; /* continuous: the solver (Adams, rtol = atol = 1e-3, checkpoint adjoint) */
  nde_shape in;        /* (1, 28, 28) */
  int nclasses;        /* 10 */
  int max_batch;       /* images, 100 */
  double smooth;       /* smoothness weight, 3.5e-3 = (N - 1) * 1e-3 * h (the reference's) */
  double init_k, init_b; /* K, b ~ N(0, s^2) at init, 1 and 1 (torch.randn) */
} nde_ham_clf_options;

/* Defaults above; ode: CVODES Adams, rtol = atol = 1e-3, checkpointed adjoint. */
NDE_API nde_ham_clf_options nde_ham_clf_options_default(int kind);

typedef struct nde_ham_clf nde_ham_clf;

NDE_API int nde_ham_clf_create(const nde_ham_clf_options *o, nde_ham_clf **out);
NDE_API void nde_ham_clf_free(nde_ham_clf *clf);
NDE_API const nde_ham_clf_options *nde_ham_clf_get_options(const nde_ham_clf *clf);
NDE_API size_t nde_ham_clf_num_params(const nde_ham_clf *clf);
NDE_API nde_real *nde_ham_clf_params(nde_ham_clf *clf);
NDE_API nde_real *nde_ham_clf_grads(nde_ham_clf *clf);
/* Offset and length of the block's parameters in the flat vector. */
NDE_API int nde_ham_clf_block_slice(const nde_ham_clf *clf, size_t *offset, size_t *count);
/* PyTorch default init of conv and linear, N(0, s^2) K and b. */
NDE_API int nde_ham_clf_init(nde_ham_clf *clf, nde_rng *rng);

typedef struct nde_ham_clf_result {
  double loss;             /* xent + penalty */
  double xent;             /* mean cross-entropy (0 without labels) */
  double penalty;          /* smoothness term */
  int nerr;                /* misclassified samples (0 without labels) */
  nde_ham_contraction con; /* of the parameters this forward used */
  nde_ode_stats fwd;       /* continuous block's solver statistics (zero when discrete) */
} nde_ham_clf_result;

/* Forward of n images (x: n * c * hh * ww). grad = 1 records what
 * nde_ham_clf_backward needs (labels then required). labels may be NULL
 * (logits only). res may be NULL. */
NDE_API int nde_ham_clf_forward(nde_ham_clf *clf, int n, const nde_real *x, const int *labels,
                                int grad, nde_ham_clf_result *res);
/* OVERWRITES the gradient vector with d loss / d theta of the last forward
 * (which had grad = 1). bwd (may be NULL): the continuous block's backward
 * statistics. */
NDE_API int nde_ham_clf_backward(nde_ham_clf *clf, nde_ode_stats *bwd);
/* Logits of the last forward (n x nclasses). */
NDE_API const nde_real *nde_ham_clf_logits(const nde_ham_clf *clf);
/* Block input (the conv output, n * hh * ww samples of nf doubles) of the
 * last forward. */
NDE_API const double *nde_ham_clf_block_input(const nde_ham_clf *clf);
/* The block, and its solver (NULL when discrete). */
NDE_API nde_ham *nde_ham_clf_ham(nde_ham_clf *clf);
NDE_API nde_ham_ode *nde_ham_clf_ode(nde_ham_clf *clf);

#ifdef __cplusplus
}
#endif
#endif
