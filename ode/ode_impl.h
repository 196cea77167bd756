/* Private to ode/ and adjoint/ (the two modules share the solver object):
 * the nde_ode structure, its SUNDIALS engines and the helpers that map
 * SUNDIALS outcomes to nde status codes.
 *
 * Engines. An "integration" covers m samples (m = n in joint mode, m = 1 in
 * per-sample mode) and the SUNDIALS objects are sized for m * dim values.
 * They are built at create time for the largest m (joint: max_batch,
 * per-sample: 1); a joint solve with another n rebuilds them once for that
 * n (the only allocation outside create, never on a right-hand-side path).
 *  - cv:    CVODES forward memory (ADAMS/BDF), with CVodeAdjInit and one
 *           backward problem when the adjoint is CHECKPOINT.
 *  - ark:   ARKODE ERK forward memory (DOPRI5/BOSH3).
 *  - cvbs:  CVODES memory of the backsolve system [y, a] (2 m dim values)
 *           with g as a quadrature (np values).
 *  - arkbs: ARKODE memory of the backsolve system [y, a, g].
 *  - fixed-step methods use plain arrays (work, store).
 *
 * Right-hand-side wrappers receive the nde_ode as user data. They count
 * what the solver does not (forward right-hand sides redone in a backward
 * pass), check finiteness and record why a call failed (fail, fail_rc,
 * fail_t, cbmsg), so that the SUNDIALS flag a solver returns can be turned
 * into NDE_ERR_NONFINITE or NDE_ERR_CALLBACK with a useful message. */
#ifndef NDE_ODE_IMPL_H
#define NDE_ODE_IMPL_H

#include <arkode/arkode_arkstep.h>
#include <cvodes/cvodes.h>
#include <cvodes/cvodes_ls.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>
#include <sunnonlinsol/sunnonlinsol_newton.h>

#include "nde/adjoint.h"
#include "ode/field_impl.h"

enum { NDE_PHASE_FORWARD = 0, NDE_PHASE_BACKWARD = 1 };
enum { NDE_FAIL_NONE = 0, NDE_FAIL_NONFINITE = 1, NDE_FAIL_CALLBACK = 2 };

typedef struct nde_cv {
  void *mem;
  N_Vector y, q;           /* state (len) and forward quadrature (nq) or NULL */
  SUNNonlinearSolver nls;
  SUNLinearSolver ls;
  size_t len, nq;
  int quad_init;           /* CVodeQuadInit done */
  /* checkpointed adjoint (forward memory only) */
  int adj;                 /* CVodeAdjInit done */
  int which;               /* backward problem index (CVodeCreateB) */
  int binit;               /* CVodeInitB done (lazily, needs a CVodeF first) */
  N_Vector yB, qB;
  SUNNonlinearSolver nlsB;
  SUNLinearSolver lsB;
} nde_cv;

typedef struct nde_ark {
  void *mem;
  N_Vector y, ysave;       /* output / last accepted state */
  size_t len;
  int dirty;               /* a failed evolve left stale internal state: rebuild
                              before the next use (ARKODE 6.4 keeps the old step
                              size through ARKStepReInit and then rejects a stop
                              time in the other direction) */
} nde_ark;

struct nde_ode {
  nde_field *field;
  nde_ode_options opt;
  double *tout;            /* owned copy of the output times (nout) */
  int nout;
  int max_batch;
  size_t dim, np;
  SUNContext ctx;
  int m;                   /* samples per integration the engines are sized for */
  nde_cv cv, cvbs;
  nde_ark ark, arkbs;

  /* fixed-step methods: steps per output leg, total, stage buffers and the
   * stored stage inputs for DIRECT (nsteps_total * stages * max_batch * dim) */
  long *leg_steps;
  long nsteps_total;
  double *work;            /* 6 * (2 * max_batch * dim + np) values */
  double *store;

  /* right-hand-side wrapper state, reset per integration */
  int phase;
  int fail, fail_rc, nonfinite;
  int nrecover;            /* recoverable failures (non-finite or callback > 0) */
  int fatal;               /* < 0 once the wrappers gave up: every later call
                              returns it at once (see nde_ode_rhs_status) */
  double fail_t;
  long recompute;          /* forward f evaluations during the backward phase */
  long njv_user;           /* user jvp calls (BDF) */
  char cbmsg[384];         /* nde_last_error() of a failing network call */
  char sunmsg[512];        /* last message SUNDIALS reported (never printed) */

  /* recorded forward (nde_adjoint_forward) */
  int recorded, n_rec;
  double *y0_rec;          /* max_batch * dim */
  double *yout_rec;        /* nout * max_batch * dim */
  double *lam;             /* adjoint scratch, 2 * max_batch * dim + np */
  double atol_b_eff;       /* the backward absolute tolerance of the current backward
                              integration (options atol_b, atol_b_rel) */
  double *scratch;         /* nout * max_batch * dim (replayed outputs) */
  int cv_holds;            /* sample whose checkpoints the CVODES memory holds, -1 none */

  /* statistics */
  int last_n, last_nb;
  nde_ode_stats last_f, last_b, tot_f, tot_b;
  nde_ode_stats *samp_f, *samp_b; /* max_batch each */
};

/* ---- SUNDIALS glue (ode/sundials_glue.c) ---- */

/* SUNDIALS error handler for CVODES and ARKODE: stores the message in
 * ode->sunmsg instead of printing; warnings are dropped. */
void nde_sun_errhandler(int code, const char *module, const char *function, char *msg,
                        void *eh_data);

/* Turn a failed SUNDIALS call into an nde error with context: NDE_ERR_MAXSTEPS
 * (TOO_MUCH_WORK), NDE_ERR_STEPSIZE (TOO_MUCH_ACC, ERR_FAILURE: error test
 * failed repeatedly or at |h| = hmin), NDE_ERR_NONFINITE / NDE_ERR_CALLBACK
 * when a wrapper recorded that reason, NDE_ERR_SOLVER otherwise. The message
 * names the call, the flag name, the time reached and the target time. */
int nde_sun_fail(nde_ode *ode, const char *call, int flag, int ark, double t_reached,
                 double t_target, const char *context);
/* Same, also given the solver's current step size, so that a nonlinear
 * convergence failure at |h| = hmin counts as a step-size underflow. */
int nde_sun_fail_h(nde_ode *ode, const char *call, int flag, int ark, double t_reached,
                   double t_target, double hcur, const char *context);

/* Name of a CVODES (ark = 0) or ARKODE (ark = 1) flag in buf. The SUNDIALS
 * *GetReturnFlagName functions return malloc'ed strings; this frees them. */
const char *nde_flag_name(int ark, int flag, char *buf, size_t size);

/* Reset the wrapper failure state before an integration. */
void nde_ode_reset_fail(nde_ode *ode);

/* Wrapper helper: record a field failure (rc != 0) or a non-finite output
 * and return what the solver should see (SUNDIALS convention).
 * Recoverable failures (non-finite values, callbacks returning > 0) are
 * passed on as > 0 so the solver cuts the step, up to opt.max_nonfinite per
 * integration; after that, and after any fatal failure, the integration is
 * given up for good: ode->fatal is set and every later wrapper call returns
 * it without evaluating (check with NDE_ODE_GAVE_UP first). This matters
 * because SUNDIALS 6.4's fixed-point solver treats even a negative return
 * of the right-hand side as a recoverable convergence failure and cuts the
 * step; once every call fails, the step fails repeatedly and CVODES stops. */
int nde_ode_rhs_status(nde_ode *ode, int rc, double t, const double *out, size_t len);

#define NDE_ODE_GAVE_UP(ode)        \
  do {                              \
    if ((ode)->fatal) return (ode)->fatal; \
  } while (0)

/* Allocate a serial vector (zeroed, with the optimized operations of
 * ode/nvector_fast.c), NULL on failure. */
N_Vector nde_nvec(nde_ode *ode, size_t len);
/* Replace v's operation table by optimized kernels (clones inherit it).
 * queue = 1: elementwise operations on long vectors are queued and run
 * together (ode/nvector_fast.c); 0: each runs at once. Same results. */
void nde_nvec_use_fast_ops(N_Vector v, int queue);
void nde_nvec_free(N_Vector *v);
/* A clone of w (same operations, uninitialized data), NULL when the
 * allocation fails; use instead of N_VClone, which crashes then. */
N_Vector nde_nvec_clone(N_Vector w);
/* Fused kernels (ode/nvector_fast.c) for nde's SUNDIALS plug-ins:
 * w = 1 / (rtol |y| + atol), -1 if any denominator is <= 0 (as CVODES's own
 * error weights); and delta = g - y followed by y = g. */
int nde_nvec_ewt(N_Vector y, double rtol, double atol, N_Vector w);
void nde_nvec_fp_update(N_Vector g, N_Vector y, N_Vector delta);
/* Run the operations queued in the calling thread now. Every call that
 * runs a solver ends with it, so that no operation on a solver's vectors is
 * left in a thread's queue when the solver passes to another thread. */
void nde_nvec_flush(void);
/* Tests only: operations queued in the calling thread. */
int nde_nvec_queued(void);
/* Plain fixed-point nonlinear solver (ode/fixed_point.c): SUNDIALS's
 * SUNNonlinSol_FixedPoint without acceleration, iterate for iterate, in
 * two passes over the state per iteration instead of four. */
SUNNonlinearSolver nde_nls_fixed_point(N_Vector tmpl, SUNContext ctx);

/* ---- CVODES forward (ode/cvodes_forward.c) ---- */
int nde_cv_build(nde_ode *ode, nde_cv *cv, size_t len);
void nde_cv_destroy(nde_cv *cv);
/* Integrate m samples from y0 over the output times, writing output k to
 * yout + k * ostride; record = 1 uses CVodeF (checkpoints for the adjoint). */
int nde_cv_forward(nde_ode *ode, const double *y0, double *yout, size_t ostride, int record,
                   nde_ode_stats *st);
void nde_cv_read_stats(nde_ode *ode, void *mem, int quad, nde_ode_stats *st);
/* Linear and nonlinear solvers for a CVODES memory for ode's method. */
int nde_cv_attach_solvers(nde_ode *ode, void *mem, N_Vector y, SUNNonlinearSolver *nls,
                          SUNLinearSolver *ls, int backward_problem, int which);

/* ---- ARKODE forward (ode/arkode_forward.c) ---- */
int nde_ark_build(nde_ode *ode, nde_ark *ark, size_t len, ARKRhsFn f);
void nde_ark_destroy(nde_ark *ark);
int nde_ark_forward(nde_ode *ode, const double *y0, double *yout, size_t ostride,
                    nde_ode_stats *st);
void nde_ark_read_stats(void *mem, nde_ode_stats *st);
/* Advance ark in direction dir (+1 or -1) from its last accepted state
 * (ark->ysave at *tlast, updated) to tout, leaving y(tout) in ark->y and restarting after recoverable
 * right-hand-side failures (see arkode_forward.c); the statistics of the
 * restarted segments are added to *base (the counters restart at zero). */
int nde_ark_evolve(nde_ode *ode, nde_ark *ark, ARKRhsFn f, double tout, double tstop, double dir,
                   double *tlast, nde_ode_stats *base);
int nde_ark_table(int method);

/* ---- fixed-step methods (ode/fixed_step.c) ---- */

/* A right-hand side for the fixed-step stepper: out = F(t, y), SUNDIALS
 * convention for the return code. */
typedef int (*nde_sys_fn)(void *ctx, double t, const double *y, double *out);

int nde_rk_stages(int method); /* 1 for EULER, 4 for RK4 */
/* nsteps equal steps of EULER/RK4 from ta to tb (tb < ta integrates
 * backward) on a system of len values; y is advanced in place. work holds
 * 6 * len values. If store is not NULL, the input of stage s of step j is
 * saved at store + (j * stages + s) * len (for DIRECT). */
int nde_rk_integrate(int method, nde_sys_fn F, void *ctx, size_t len, double ta, double tb,
                     long nsteps, double *y, double *work, double *store);
/* The nde error for a failed fixed-step right-hand side (the wrapper
 * recorded why): NDE_ERR_NONFINITE or NDE_ERR_CALLBACK. */
int nde_fixed_fail(nde_ode *ode, const char *context);
int nde_fixed_forward(nde_ode *ode, int m, const double *y0, double *yout, size_t ostride,
                      double *store, nde_ode_stats *st);

/* ---- solver (ode/solver.c) ---- */
/* Make sure the engines are sized for m samples per integration. */
int nde_ode_ensure_size(nde_ode *ode, int m);
/* Run the forward integrations of a batch (per-sample or joint), fill the
 * statistics; record selects CVodeF / stage storage. */
int nde_ode_forward_batch(nde_ode *ode, int n, const double *y0, double *yout, int record);
/* Start time of output leg k (t0 for k = 0). */
static inline double nde_ode_leg_start(const nde_ode *ode, int k) {
  return k == 0 ? ode->opt.t0 : ode->tout[k - 1];
}
/* Check the options, including the method/adjoint pair and the field's vjp
 * when an adjoint is asked for (ode/options.c). */
int nde_ode_check_options(const nde_ode_options *o, const nde_field *field);
/* The same without a field: every value in range and finite, the fixed-step
 * count within max_steps; where names the caller in messages. */
int nde_ode_check_values(const nde_ode_options *o, const char *where);
/* Steps of each fixed-step leg into steps[nout] and their total (options
 * that passed the checks). */
long nde_fixed_leg_steps(const nde_ode_options *o, const double *tout, int nout, long *steps);
/* The fixed-step count summed over the output legs, in double (any options
 * with finite t0, T, tout and fixed_h > 0). */
double nde_fixed_steps_needed(const nde_ode_options *o);

/* ---- memory (ode/memory.c) ---- */

/* Reserve and release at once the memory the SUNDIALS engines for
 * integrations of L values will clone, so that a build never starts that
 * SUNDIALS could not finish: NDE_ERR_NOMEM naming the method and size. */
int nde_ode_reserve_engines(nde_ode *ode, size_t L);

#endif
