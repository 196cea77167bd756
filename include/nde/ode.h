/* nde/ode.h: vector fields, ODE solvers and solver statistics (docs/methods.md
 * section 2; callbacks: docs/conventions.md section 3).
 *
 * A vector field f(t, y; theta) acts on a batch of n samples, each a vector
 * of `dim` doubles (the ODE state is double whatever nde_real is). It is
 * either
 *  - an nde network (nde_field_create_net): the state of one sample has the
 *    network's input shape (the output shape must be the same), time enters
 *    through ConcatConv2d layers, theta is the network's flat parameter
 *    vector; or
 *  - plain C callbacks (nde_field_create_user): f, a vector-Jacobian product
 *    and optionally a Jacobian-vector product over the user's own parameter
 *    vector of `nparam` values, so a scientific code plugs in its own model
 *    and gets gradients without touching nets.
 * Callbacks follow the SUNDIALS convention: return 0 on success, > 0 for a
 * recoverable failure (the solver cuts the step and retries), < 0 for a fatal
 * one.
 *
 * A solver (nde_ode) is created for one field, one set of options and a
 * maximum batch; everything (SUNDIALS context and memory, vectors, linear and
 * nonlinear solvers, conversion buffers, checkpoint storage for fixed steps)
 * is allocated there and reused by every solve. Solves integrate from t0 to
 * T and return the state at each output time t_1 < ... < t_K = T.
 *
 * Gradients through a solve are in nde/adjoint.h.
 *
 * Typical use:
 *   nde_field *f;  nde_field_create_net(net, &f);
 *   nde_ode_options o = nde_ode_options_default();   // Adams, rtol=atol=1e-3, [0, 1]
 *   nde_ode *ode;  nde_ode_create(f, &o, max_batch, &ode);
 *   nde_ode_solve(ode, n, y0, yT);                    // yT: n * dim values
 *   nde_ode_stats fwd; nde_ode_last_stats(ode, &fwd, NULL);
 *   nde_ode_free(ode); nde_field_free(f);
 *
 * THREAD SAFETY. A field and a solver are each used by one thread at a
 * time, and a solver uses its field (a field its networks) in every call:
 * two solvers on one field must not solve at the same time, so give each
 * thread its own field. A solver may pass to another thread between calls
 * (every call returns with nothing of it left pending in the calling
 * thread), and may be freed there. A user field's callbacks are called on
 * the thread that called nde, never on nde's own threads. For a given
 * BLAS thread count (nde/common.h) results do not depend on what other
 * threads do.
 */
#ifndef NDE_ODE_H
#define NDE_ODE_H

#include "nde/common.h"
#include "nde/nets.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Vector fields                                                             */
/* ------------------------------------------------------------------------ */

typedef struct nde_field nde_field;

/* ydot = f(t, y) for n samples; y and ydot hold n * dim values. */
typedef int (*nde_field_rhs_fn)(double t, int n, const double *y, double *ydot, void *user);

/* Vector-Jacobian product at (t, y) with cotangent a (n * dim values):
 *   ja     = (df/dy)^T a        n * dim values, OVERWRITTEN;
 *   gtheta += (df/dtheta)^T a   nparam values, ACCUMULATED (summed over the
 *                               batch); gtheta is NULL when not wanted.
 * Must not assume a preceding rhs call at the same point. */
typedef int (*nde_field_vjp_fn)(double t, int n, const double *y, const double *a, double *ja,
                                double *gtheta, void *user);

/* Jacobian-vector product jv = (df/dy) v at (t, y) (n * dim values each). */
typedef int (*nde_field_jvp_fn)(double t, int n, const double *y, const double *v, double *jv,
                                void *user);

/* A user vector field. For per-sample batches (NDE_BATCH_PER_SAMPLE) and for
 * batch sizes other than the one a user has in mind, f must act on each
 * sample independently (sample i's derivative depends only on sample i). */
typedef struct nde_field_user {
  size_t dim;           /* state values per sample (> 0) */
  size_t nparam;        /* length of the user's parameter vector (may be 0) */
  int max_batch;        /* largest n the callbacks accept (>= 1) */
  nde_field_rhs_fn rhs; /* required */
  nde_field_vjp_fn vjp; /* required for gradients (nde/adjoint.h), else may be NULL */
  nde_field_jvp_fn jvp; /* optional: used by BDF's GMRES instead of a difference quotient */
  void *user;           /* passed to every callback */
} nde_field_user;

/* Wrap a network whose output shape equals its input shape. The network is
 * borrowed (it must outlive the field) and keeps its parameters: the field's
 * theta is nde_net_params(net), nparam = nde_net_num_params(net), the
 * maximum batch is the network's. Conversion buffers between double and
 * nde_real are allocated here. */
NDE_API int nde_field_create_net(nde_net *net, nde_field **out);
/* A network field evaluated in parallel: count (1 to 8) networks of one
 * architecture and one max_batch m, all bound to the same parameter vector
 * (nde_net_bind), each with its own activations and scratch. The field's
 * max_batch is count * m; a batch of n samples is cut into up to count
 * contiguous slices (slices of at least 8 samples), each evaluated by its
 * own network on its own thread while BLAS runs single-threaded. Results
 * equal the single network's up to the rounding of the parameter-gradient
 * sum over slices. The networks are borrowed. */
NDE_API int nde_field_create_net_split(nde_net *const *nets, int count, nde_field **out);

/* Copy a user field description (callbacks, sizes, user pointer). */
NDE_API int nde_field_create_user(const nde_field_user *def, nde_field **out);

NDE_API void nde_field_free(nde_field *f);

NDE_API size_t nde_field_dim(const nde_field *f);
NDE_API size_t nde_field_num_params(const nde_field *f);
NDE_API int nde_field_max_batch(const nde_field *f);
/* 1 when the field can give vector-Jacobian products (nets always can). */
NDE_API int nde_field_has_vjp(const nde_field *f);

/* Evaluate the field (n in [1, max_batch]). A callback's positive return is
 * passed through as NDE_ERR_CALLBACK from these direct calls; non-finite
 * output gives NDE_ERR_NONFINITE. */
NDE_API int nde_field_rhs(nde_field *f, double t, int n, const double *y, double *ydot);

/* Vector-Jacobian product as in nde_field_vjp_fn: ja overwritten (may be
 * NULL), gtheta (nparam doubles) accumulated (may be NULL). */
NDE_API int nde_field_vjp(nde_field *f, double t, int n, const double *y, const double *a,
                          double *ja, double *gtheta);

/* ------------------------------------------------------------------------ */
/* Solvers                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum nde_ode_method {
  NDE_ODE_ADAMS = 0, /* CVODES Adams-Moulton, fixed-point nonlinear solver (default) */
  NDE_ODE_BDF,       /* CVODES BDF, Newton + matrix-free GMRES (J v by difference
                        quotient or the user's jvp) */
  NDE_ODE_DOPRI5,    /* ARKODE explicit RK, Dormand-Prince 5(4) (ARKODE_DORMAND_PRINCE_7_4_5) */
  NDE_ODE_BOSH3,     /* ARKODE explicit RK, Bogacki-Shampine 3(2) (ARKODE_BOGACKI_SHAMPINE_4_2_3) */
  NDE_ODE_EULER,     /* fixed-step forward Euler (nde's own stepping) */
  NDE_ODE_RK4        /* fixed-step classical Runge-Kutta 4 (nde's own stepping) */
} nde_ode_method;

/* How a batch of n samples is integrated. */
typedef enum nde_batch_mode {
  NDE_BATCH_JOINT = 0,     /* one system of n * dim values, one step size (torchdiffeq) */
  NDE_BATCH_PER_SAMPLE = 1 /* each sample on its own, with its own steps and statistics */
} nde_batch_mode;

/* Gradient method (nde/adjoint.h). Supported combinations:
 *   method         CHECKPOINT  BACKSOLVE  DIRECT
 *   ADAMS, BDF        yes         yes       no
 *   DOPRI5, BOSH3     no          yes       no
 *   EULER, RK4        no          yes       yes
 * nde_ode_create rejects other combinations with NDE_ERR_ARG. NDE_ADJ_NONE
 * creates a solver that only solves. */
typedef enum nde_adjoint_kind {
  NDE_ADJ_CHECKPOINT = 0, /* CVODES checkpointed adjoint (default) */
  NDE_ADJ_BACKSOLVE,      /* augmented [y, a, g] backward from T (Chen et al. 2018) */
  NDE_ADJ_DIRECT,         /* backprop through fixed-step arithmetic */
  NDE_ADJ_NONE            /* no gradients */
} nde_adjoint_kind;

/* Interpolation of the forward solution between CVODES checkpoints. */
typedef enum nde_interp_kind { NDE_INTERP_HERMITE = 0, NDE_INTERP_POLYNOMIAL = 1 } nde_interp_kind;

/* Which parts of a backward state are kept out of the local error test
 * (Kidger et al. 2021 "seminorm"): the parameter-gradient channels g (for
 * CVODES a quadrature without error control; for ARKODE a zero error
 * weight), and optionally the reconstructed state y of the backsolve. */
typedef enum nde_seminorm_kind {
  NDE_SEMINORM_NONE = 0,        /* every component in the error test */
  NDE_SEMINORM_PARAMS = 1,      /* g out of the error test (default) */
  NDE_SEMINORM_PARAMS_STATE = 2 /* g and the backsolve's y out (backsolve with DOPRI5,
                                   BOSH3 only: CVODES's nonlinear solvers need y in the
                                   norm; as PARAMS for the other adjoints) */
} nde_seminorm_kind;

typedef struct nde_ode_options {
  int method;          /* nde_ode_method, NDE_ODE_ADAMS */
  int batch_mode;      /* nde_batch_mode, NDE_BATCH_JOINT */
  double rtol, atol;   /* scalar tolerances of adaptive methods, 1e-3 and 1e-3
                          (finite, >= 0, not both 0) */
  long max_steps;      /* max internal steps per output interval (adaptive) or per
                          solve (fixed), 10000 */
  double h0;           /* first step size, 0: the solver's estimate */
  double hmin;         /* minimum step size, 0: none */
  double hmax;         /* maximum step size, 0: none */
  double fixed_h;      /* EULER/RK4: step size, 0.1; each output interval is cut
                          into ceil(length / fixed_h) equal steps, whose total
                          must not exceed max_steps (NDE_ERR_MAXSTEPS at create) */
  double t0, T;        /* integration interval, 0 and 1 (T > t0) */
  int nout;            /* number of output times, 0: just T */
  const double *tout;  /* nout increasing times in (t0, T], tout[nout-1] == T;
                          copied by nde_ode_create */
  int jtv_dq;          /* BDF: 1 forces the difference-quotient J v even when the
                          field has a jvp, 0 */
  int gmres_maxl;      /* BDF: Krylov dimension, 0: SUNDIALS default (5) */
  int max_nonfinite;   /* recoverable failures (non-finite right-hand sides,
                          callbacks returning > 0) tolerated per integration,
                          each cutting the step, before failing, 20 */
  int adjoint;         /* nde_adjoint_kind, NDE_ADJ_CHECKPOINT */
  int interp;          /* nde_interp_kind for CHECKPOINT, NDE_INTERP_HERMITE */
  long checkpoint_steps; /* CHECKPOINT: steps between checkpoints (CVodeAdjInit Nd), 100 */
  int seminorm;        /* nde_seminorm_kind, NDE_SEMINORM_PARAMS */
  double rtol_b;       /* backward relative tolerance, 0: rtol */
  double atol_b;       /* backward absolute tolerance of the adjoint a (and of the parameter
                          gradient when seminorm is NONE); the backsolve's reconstructed
                          state keeps atol. > 0: this value. 0 (default): adjoint-scaled,
                          atol_b_rel x atol x RMS(dL/dy), see below */
  double atol_b_rel;   /* with atol_b = 0: the backward absolute tolerance is atol_b_rel x
                          atol times the root mean square of the cotangent dL/dy handed to
                          the backward pass (over all output times; per sample in
                          per-sample mode), so the backward error test follows the
                          adjoint's scale, which a batch-mean loss makes about 1/batch per
                          sample, does not change when the loss is scaled, and tightens
                          with atol. 0 (default): 1. A zero cotangent falls back to atol.
                          The ODE-Net models use 100 (nde_model_options_default). See
                          docs/gradient-accuracy.md */
  double nls_coef;     /* ADAMS, BDF: coefficient of the nonlinear solver's convergence test
                          (CVodeSetNonlinConvCoef: iterate until the correction's weighted
                          norm is below nls_coef times the local error bound), forward
                          solve only; 0: CVODES's 0.1 */
  double eta_fixed_max; /* ADAMS, BDF: the step size is kept unchanged while the error test
                          would let it grow by at most this factor (CVodeSetEtaFixedStepBounds'
                          upper bound; CVODES then grows it only in jumps of more than this),
                          forward solve only; > 1, or 0: CVODES's 1.5 */
} nde_ode_options;

/* The defaults documented above. */
NDE_API nde_ode_options nde_ode_options_default(void);

/* Names used by the CLI and logs: "adams", "bdf", "dopri5", "bosh3",
 * "euler", "rk4"; "checkpoint", "backsolve", "direct", "none". */
NDE_API const char *nde_ode_method_name(int method);
NDE_API int nde_ode_method_parse(const char *name, int *method);
NDE_API const char *nde_adjoint_kind_name(int kind);
NDE_API int nde_adjoint_kind_parse(const char *name, int *kind);

/* Statistics of integrations, as the solver counts them (docs/methods.md
 * section 2). For
 * a forward solve: nfe counts f. For a backward pass: nfe counts the
 * backward right-hand side (CHECKPOINT: the adjoint fB; BACKSOLVE: the
 * augmented system, one f and one vjp each; DIRECT: vjps), nfe_quad the
 * parameter quadrature evaluated separately, nfe_recompute the forward
 * right-hand sides re-evaluated during the backward pass (CVODES
 * re-integrates between checkpoints). nfe_ls counts right-hand sides spent
 * by BDF's difference-quotient J v. NFE-B is nfe + nfe_quad. */
typedef struct nde_ode_stats {
  long nfe;           /* right-hand-side evaluations counted by the solver */
  long nfe_quad;      /* quadrature right-hand-side evaluations */
  long nfe_ls;        /* right-hand sides evaluated by the linear solver (J v DQ) */
  long nfe_recompute; /* forward right-hand sides redone in the backward pass */
  long njv;           /* Jacobian-vector products (user jvp or DQ) */
  long nli;           /* linear (GMRES) iterations */
  long steps;         /* step attempts: accepted + rejected + convergence failures */
  long accepted;      /* accepted steps */
  long rejected;      /* steps rejected by the local error test */
  long nni;           /* nonlinear solver iterations */
  long nncf;          /* nonlinear solver convergence failures */
  long nsolves;       /* integrations summed here (samples x output legs) */
} nde_ode_stats;

typedef struct nde_ode nde_ode;

/* Create a solver for `field` (borrowed: it must outlive the solver) and
 * batches of at most max_batch samples (<= nde_field_max_batch). Options
 * are checked (every real value finite, tolerances >= 0 and not both 0,
 * t0 < T, increasing output times, a fixed-step count within max_steps,
 * supported method/adjoint pair) and copied; opt may be NULL for the
 * defaults. NDE_ERR_NOMEM when the solver's memory
 * (nde_ode_memory_estimate) exceeds nde_memory_available(). */
NDE_API int nde_ode_create(nde_field *field, const nde_ode_options *opt, int max_batch,
                           nde_ode **out);

/* Bytes a solver with these options allocates for fields of dim values per
 * sample and nparams parameters at max_batch (opt NULL: the defaults): nde's
 * buffers and SUNDIALS's vectors as SUNDIALS allocates them (the
 * checkpointed adjoint reserves checkpoint_steps + 1 interpolation points
 * at the first forward solve, of which a solve touches one per step, so the
 * resident part can be much smaller). nde_ode_create refuses a solver whose
 * estimate exceeds nde_memory_available() with NDE_ERR_NOMEM. Options are
 * checked as at create (the field's vjp aside). */
NDE_API int nde_ode_memory_estimate(const nde_ode_options *opt, size_t dim, size_t nparams,
                                    int max_batch, size_t *bytes);
NDE_API void nde_ode_free(nde_ode *ode);

/* The options in force (output times point into the solver's copy). */
NDE_API const nde_ode_options *nde_ode_get_options(const nde_ode *ode);
NDE_API nde_field *nde_ode_field(const nde_ode *ode);
NDE_API int nde_ode_num_outputs(const nde_ode *ode);

/* Solve from y0 (n * dim values) at t0; yout receives the state at every
 * output time: nout * n * dim values, output k of sample i at offset
 * (k * n + i) * dim. Records nothing for a backward pass (see
 * nde_adjoint_forward). In joint mode a batch size n different from the
 * previous solve's rebuilds the SUNDIALS memory for the new length (the
 * only allocation outside create). Errors: NDE_ERR_MAXSTEPS,
 * NDE_ERR_STEPSIZE, NDE_ERR_NONFINITE, NDE_ERR_CALLBACK, NDE_ERR_SOLVER,
 * each with the time reached and the SUNDIALS flag name in nde_last_error. */
NDE_API int nde_ode_solve(nde_ode *ode, int n, const double *y0, double *yout);

/* Statistics of the last forward solve and of the last backward pass
 * (summed over samples in per-sample mode); either pointer may be NULL. */
NDE_API int nde_ode_last_stats(const nde_ode *ode, nde_ode_stats *fwd, nde_ode_stats *bwd);
/* Per-sample statistics of the last solve / backward pass in per-sample mode
 * (i < n of that solve); in joint mode sample i reports the joint figures. */
NDE_API int nde_ode_sample_stats(const nde_ode *ode, int i, nde_ode_stats *fwd, nde_ode_stats *bwd);
/* Cumulative statistics since creation or the last nde_ode_reset_stats
 * (e.g. per epoch). */
NDE_API int nde_ode_total_stats(const nde_ode *ode, nde_ode_stats *fwd, nde_ode_stats *bwd);
NDE_API void nde_ode_reset_stats(nde_ode *ode);

/* a += b, field by field. */
NDE_API void nde_ode_stats_add(nde_ode_stats *a, const nde_ode_stats *b);

#ifdef __cplusplus
}
#endif
#endif
