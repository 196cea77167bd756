/* A plain fixed-point nonlinear solver for CVODES's Adams method.
 *
 * CVODES solves each Adams step's corrector equation ycor = G(ycor) by
 * fixed-point iteration (cvNlsFPFunction is G; it evaluates f once).
 * SUNDIALS's SUNNonlinSol_FixedPoint without acceleration does, per
 * iteration,
 *     yprev = ycor;  gy = G(ycor);  ycor = gy;  delta = ycor - yprev;
 *     convergence test on ||delta||
 * which is three passes over the state besides G and the test. On an
 * ODE-Net batch (295k values, beyond the per-core caches) each pass costs
 * about as much as 3% of an f evaluation, and the forward solve takes
 * ~27 iterations, so this solver computes the same iterates in one fused
 * pass, delta = gy - ycor; ycor = gy (nde_nvec_fp_update).
 *
 * It follows SUNDIALS 6.4's solver in everything CVODES can observe: the
 * type is SUNNONLINEARSOLVER_FIXEDPOINT (so CVODES attaches its
 * fixed-point system function), the iteration index (getcuriter) that
 * CVODES's convergence-rate estimate reads, the per-solve counts of
 * iterations and convergence failures, and the return codes. The test
 * (tests/ode/fixed_point_test.c) checks that solutions and statistics are
 * identical to SUNDIALS's solver. */
#include <stdlib.h>

#include "ode/ode_impl.h"

typedef struct {
  SUNNonlinSolSysFn sys;
  SUNNonlinSolConvTestFn ctest;
  void *ctest_data;
  N_Vector gy, delta;
  int curiter, maxiters;
  long niters, nconvfails; /* of the last solve, as SUNDIALS 6.4 counts */
} fp_content;

#define FP(s) ((fp_content *)(s)->content)

static SUNNonlinearSolver_Type fp_gettype(SUNNonlinearSolver s) {
  (void)s;
  return SUNNONLINEARSOLVER_FIXEDPOINT;
}

static int fp_initialize(SUNNonlinearSolver s) {
  if (!FP(s)->sys || !FP(s)->ctest) return SUN_NLS_MEM_NULL;
  FP(s)->niters = FP(s)->nconvfails = 0;
  return SUN_NLS_SUCCESS;
}

static int fp_solve(SUNNonlinearSolver s, N_Vector y0, N_Vector ycor, N_Vector w, realtype tol,
                    booleantype call_setup, void *mem) {
  fp_content *c = FP(s);
  (void)call_setup;
  if (!mem) return SUN_NLS_MEM_NULL;
  /* ycor holds the initial guess (CVODES's zero correction); y0, the
   * predicted state, is for Newton's setup only (SUNDIALS's fixed-point
   * solver ignores it too). */
  (void)y0;
  c->niters = c->nconvfails = 0;
  for (c->curiter = 0; c->curiter < c->maxiters; c->curiter++) {
    int rc = c->sys(ycor, c->gy, mem);
    if (rc) return rc;
    nde_nvec_fp_update(c->gy, ycor, c->delta);
    c->niters++;
    rc = c->ctest(s, ycor, c->delta, tol, w, c->ctest_data);
    if (rc == SUN_NLS_SUCCESS) return SUN_NLS_SUCCESS;
    if (rc != SUN_NLS_CONTINUE) {
      c->nconvfails++;
      return rc;
    }
  }
  c->nconvfails++;
  return SUN_NLS_CONV_RECVR;
}

static int fp_free(SUNNonlinearSolver s) {
  if (!s) return SUN_NLS_SUCCESS;
  if (s->content) {
    if (FP(s)->gy) N_VDestroy(FP(s)->gy);
    if (FP(s)->delta) N_VDestroy(FP(s)->delta);
    free(s->content);
    s->content = NULL;
  }
  SUNNonlinSolFreeEmpty(s);
  return SUN_NLS_SUCCESS;
}

static int fp_setsysfn(SUNNonlinearSolver s, SUNNonlinSolSysFn f) {
  if (!f) return SUN_NLS_ILL_INPUT;
  FP(s)->sys = f;
  return SUN_NLS_SUCCESS;
}

static int fp_setctestfn(SUNNonlinearSolver s, SUNNonlinSolConvTestFn f, void *data) {
  if (!f) return SUN_NLS_ILL_INPUT;
  FP(s)->ctest = f;
  FP(s)->ctest_data = data;
  return SUN_NLS_SUCCESS;
}

static int fp_setmaxiters(SUNNonlinearSolver s, int maxiters) {
  if (maxiters < 1) return SUN_NLS_ILL_INPUT;
  FP(s)->maxiters = maxiters;
  return SUN_NLS_SUCCESS;
}

static int fp_getnumiters(SUNNonlinearSolver s, long *n) {
  *n = FP(s)->niters;
  return SUN_NLS_SUCCESS;
}

static int fp_getcuriter(SUNNonlinearSolver s, int *iter) {
  *iter = FP(s)->curiter;
  return SUN_NLS_SUCCESS;
}

static int fp_getnumconvfails(SUNNonlinearSolver s, long *n) {
  *n = FP(s)->nconvfails;
  return SUN_NLS_SUCCESS;
}

SUNNonlinearSolver nde_nls_fixed_point(N_Vector tmpl, SUNContext ctx) {
  SUNNonlinearSolver s = SUNNonlinSolNewEmpty(ctx);
  if (!s) return NULL;
  s->ops->gettype = fp_gettype;
  s->ops->initialize = fp_initialize;
  s->ops->solve = fp_solve;
  s->ops->free = fp_free;
  s->ops->setsysfn = fp_setsysfn;
  s->ops->setctestfn = fp_setctestfn;
  s->ops->setmaxiters = fp_setmaxiters;
  s->ops->getnumiters = fp_getnumiters;
  s->ops->getcuriter = fp_getcuriter;
  s->ops->getnumconvfails = fp_getnumconvfails;
  fp_content *c = calloc(1, sizeof *c);
  s->content = c;
  if (c) {
    c->maxiters = 3; /* SUNDIALS's default; CVODES sets its own */
    c->gy = nde_nvec_clone(tmpl);
    c->delta = nde_nvec_clone(tmpl);
  }
  if (!c || !c->gy || !c->delta) {
    fp_free(s);
    return NULL;
  }
  return s;
}
