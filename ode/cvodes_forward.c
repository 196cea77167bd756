/* CVODES forward engine: Adams-Moulton with the fixed-point nonlinear solver
 * (nonstiff; no Jacobian at all, one f per iteration) or BDF with Newton and
 * matrix-free GMRES (J v by difference quotient, or the user's jvp). The
 * memory is created once and re-initialized for every integration
 * (CVodeReInit); with the checkpointed adjoint it carries CVodeAdjInit and
 * one backward problem (adjoint/checkpoint.c sets that one up). */
#include <string.h>

#include "ode/ode_impl.h"

static int cv_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *ud) {
  nde_ode *ode = ud;
  NDE_ODE_GAVE_UP(ode);
  size_t len = (size_t)N_VGetLength(y);
  /* During a backward pass CVODES re-integrates the forward problem between
   * checkpoints; its own counters for that are reset, so count here. */
  if (ode->phase == NDE_PHASE_BACKWARD) ode->recompute++;
  double *out = N_VGetArrayPointer(ydot);
  int rc = nde_field_eval(ode->field, t, (int)(len / ode->dim), N_VGetArrayPointer(y), out);
  return nde_ode_rhs_status(ode, rc, t, out, len);
}

/* J v from the user's jvp (CVLsJacTimesVecFn). */
static int cv_jtimes(N_Vector v, N_Vector Jv, sunrealtype t, N_Vector y, N_Vector fy, void *ud,
                     N_Vector tmp) {
  nde_ode *ode = ud;
  NDE_ODE_GAVE_UP(ode);
  size_t len = (size_t)N_VGetLength(y);
  ode->njv_user++;
  double *out = N_VGetArrayPointer(Jv);
  int rc = nde_field_eval_jvp(ode->field, t, (int)(len / ode->dim), N_VGetArrayPointer(y),
                              N_VGetArrayPointer(v), out);
  return nde_ode_rhs_status(ode, rc, t, out, len);
}

int nde_cv_attach_solvers(nde_ode *ode, void *mem, N_Vector y, SUNNonlinearSolver *nls,
                          SUNLinearSolver *ls, int backward_problem, int which) {
  int flag;
  char fn[48];
  if (ode->opt.method == NDE_ODE_ADAMS) {
    /* Plain fixed-point iteration (no Anderson acceleration, m = 0): the
     * nonstiff choice, evaluating only f. */
    *nls = nde_nls_fixed_point(y, ode->ctx); /* SUNDIALS's iterates, fewer passes */
    if (!*nls) return nde_error(NDE_ERR_NOMEM, "CVODES: creating the fixed-point solver failed");
    flag = backward_problem ? CVodeSetNonlinearSolverB(mem, which, *nls)
                            : CVodeSetNonlinearSolver(mem, *nls);
    if (flag) return nde_error(NDE_ERR_SOLVER, "CVODES: CVodeSetNonlinearSolver%s failed: %s",
                               backward_problem ? "B" : "", nde_flag_name(0, flag, fn, sizeof fn));
    return NDE_OK;
  }
  *nls = SUNNonlinSol_Newton(y, ode->ctx);
  *ls = SUNLinSol_SPGMR(y, SUN_PREC_NONE, ode->opt.gmres_maxl, ode->ctx);
  if (!*nls || !*ls) return nde_error(NDE_ERR_NOMEM, "CVODES: creating Newton/SPGMR failed");
  if (backward_problem) {
    flag = CVodeSetNonlinearSolverB(mem, which, *nls);
    if (!flag) flag = CVodeSetLinearSolverB(mem, which, *ls, NULL);
  } else {
    flag = CVodeSetNonlinearSolver(mem, *nls);
    if (!flag) flag = CVodeSetLinearSolver(mem, *ls, NULL);
    /* Without a jtimes function CVLS uses a difference quotient of f. */
    if (!flag && ode->field->kind == NDE_FIELD_USER && ode->field->user.jvp && !ode->opt.jtv_dq)
      flag = CVodeSetJacTimes(mem, NULL, cv_jtimes);
  }
  if (flag)
    return nde_error(NDE_ERR_SOLVER, "CVODES: attaching Newton/GMRES failed: %s",
                     nde_flag_name(0, flag, fn, sizeof fn));
  return NDE_OK;
}

void nde_cv_destroy(nde_cv *cv) {
  if (cv->mem) CVodeFree(&cv->mem); /* also frees the backward problems */
  cv->mem = NULL;
  if (cv->nls) SUNNonlinSolFree(cv->nls);
  if (cv->ls) SUNLinSolFree(cv->ls);
  if (cv->nlsB) SUNNonlinSolFree(cv->nlsB);
  if (cv->lsB) SUNLinSolFree(cv->lsB);
  nde_nvec_free(&cv->y);
  nde_nvec_free(&cv->q);
  nde_nvec_free(&cv->yB);
  nde_nvec_free(&cv->qB);
  memset(cv, 0, sizeof *cv);
}

/* Error weights of the forward problem, w = 1 / (rtol |y| + atol): what
 * CVodeSStolerances gives, in one pass over the state instead of five
 * (CVODES sets them after every step). */
static int cv_ewt(N_Vector y, N_Vector w, void *ud) {
  const nde_ode *ode = ud;
  return nde_nvec_ewt(y, ode->opt.rtol, ode->opt.atol, w);
}

/* Common optional inputs of a CVODES memory. */
static int cv_common_setup(nde_ode *ode, void *mem) {
  const nde_ode_options *o = &ode->opt;
  int flag = CVodeSetUserData(mem, ode);
  if (!flag) flag = CVodeSetMaxNumSteps(mem, o->max_steps);
  if (!flag && o->h0 > 0) flag = CVodeSetInitStep(mem, o->h0);
  if (!flag && o->hmin > 0) flag = CVodeSetMinStep(mem, o->hmin);
  if (!flag && o->hmax > 0) flag = CVodeSetMaxStep(mem, o->hmax);
  if (!flag && o->nls_coef > 0) flag = CVodeSetNonlinConvCoef(mem, o->nls_coef);
  if (!flag && o->eta_fixed_max > 0)
    flag = CVodeSetEtaFixedStepBounds(mem, 0.0, o->eta_fixed_max);
  return flag;
}

int nde_cv_build(nde_ode *ode, nde_cv *cv, size_t len) {
  const nde_ode_options *o = &ode->opt;
  int lmm = o->method == NDE_ODE_BDF ? CV_BDF : CV_ADAMS, flag, rc;
  char fn[48];
  memset(cv, 0, sizeof *cv);
  cv->len = len;
  cv->y = nde_nvec(ode, len);
  if (!cv->y) return nde_error(NDE_ERR_NOMEM, "CVODES: state vector of %zu values", len);
  cv->mem = CVodeCreate(lmm, ode->ctx);
  if (!cv->mem) {
    nde_cv_destroy(cv);
    return nde_error(NDE_ERR_NOMEM, "CVODES: CVodeCreate failed");
  }
  flag = CVodeSetErrHandlerFn(cv->mem, nde_sun_errhandler, ode);
  if (!flag) flag = CVodeInit(cv->mem, cv_rhs, o->t0, cv->y);
  if (!flag) flag = cv_common_setup(ode, cv->mem);
  if (!flag) flag = CVodeWFtolerances(cv->mem, cv_ewt);
  if (flag) {
    rc = nde_error(NDE_ERR_SOLVER, "CVODES setup failed: %s (%s)", nde_flag_name(0, flag, fn, sizeof fn),
                   ode->sunmsg);
    nde_cv_destroy(cv);
    return rc;
  }
  if ((rc = nde_cv_attach_solvers(ode, cv->mem, cv->y, &cv->nls, &cv->ls, 0, 0))) {
    nde_cv_destroy(cv);
    return rc;
  }
  if (o->adjoint == NDE_ADJ_CHECKPOINT) {
    flag = CVodeAdjInit(cv->mem, o->checkpoint_steps,
                        o->interp == NDE_INTERP_POLYNOMIAL ? CV_POLYNOMIAL : CV_HERMITE);
    if (!flag) flag = CVodeCreateB(cv->mem, lmm, &cv->which);
    /* the backward memory reports through our handler too, from the start */
    void *bmem = flag ? NULL : CVodeGetAdjCVodeBmem(cv->mem, cv->which);
    if (!flag && bmem) flag = CVodeSetErrHandlerFn(bmem, nde_sun_errhandler, ode);
    if (flag) {
      rc = nde_error(NDE_ERR_SOLVER, "CVODES adjoint setup failed: %s",
                     nde_flag_name(0, flag, fn, sizeof fn));
      nde_cv_destroy(cv);
      return rc;
    }
    cv->adj = 1;
  }
  return NDE_OK;
}

void nde_cv_read_stats(nde_ode *ode, void *mem, int quad, nde_ode_stats *st) {
  long nst = 0, nfe = 0, netf = 0, nni = 0, nncf = 0, nsf = 0;
  CVodeGetNumSteps(mem, &nst);
  CVodeGetNumRhsEvals(mem, &nfe);
  CVodeGetNumErrTestFails(mem, &netf);
  CVodeGetNumNonlinSolvIters(mem, &nni);
  CVodeGetNumNonlinSolvConvFails(mem, &nncf);
  CVodeGetNumStepSolveFails(mem, &nsf);
  memset(st, 0, sizeof *st);
  st->nfe = nfe;
  st->accepted = nst;
  st->rejected = netf;
  st->steps = nst + netf + nsf;
  st->nni = nni;
  st->nncf = nncf;
  st->nsolves = 1;
  if (ode->opt.method == NDE_ODE_BDF) {
    long nfels = 0, njv = 0, nli = 0;
    CVodeGetNumLinRhsEvals(mem, &nfels);
    CVodeGetNumJtimesEvals(mem, &njv);
    CVodeGetNumLinIters(mem, &nli);
    st->nfe_ls = nfels;
    st->njv = njv;
    st->nli = nli;
  }
  if (quad) {
    long nfq = 0;
    CVodeGetQuadNumRhsEvals(mem, &nfq);
    st->nfe_quad = nfq;
  }
}

int nde_cv_forward(nde_ode *ode, const double *y0, double *yout, size_t ostride, int record,
                   nde_ode_stats *st) {
  nde_cv *cv = &ode->cv;
  const nde_ode_options *o = &ode->opt;
  memcpy(N_VGetArrayPointer(cv->y), y0, cv->len * sizeof(double));
  nde_ode_reset_fail(ode);
  int flag = CVodeReInit(cv->mem, o->t0, cv->y);
  /* Forget the checkpoints of the previous forward solve. */
  if (!flag && record) flag = CVodeAdjReInit(cv->mem);
  /* The adjoint's forward recomputation sets CVODES's initial step to the
   * one first used (CVodeSetInitStep inside CVODES); restore the option so
   * every solve takes the same steps from the same data. */
  if (!flag) flag = CVodeSetInitStep(cv->mem, o->h0);
  /* Stop exactly at T: never evaluate the field beyond the interval. */
  if (!flag) flag = CVodeSetStopTime(cv->mem, o->T);
  if (flag)
    return nde_sun_fail(ode, "CVodeReInit", flag, 0, o->t0, o->T, "ode forward");
  for (int k = 0; k < ode->nout; k++) {
    double tret = o->t0;
    int ncheck = 0;
    flag = record ? CVodeF(cv->mem, ode->tout[k], cv->y, &tret, CV_NORMAL, &ncheck)
                  : CVode(cv->mem, ode->tout[k], cv->y, &tret, CV_NORMAL);
    if (flag < 0) {
      double tcur = tret, hcur = 0;
      CVodeGetCurrentTime(cv->mem, &tcur);
      CVodeGetCurrentStep(cv->mem, &hcur);
      nde_cv_read_stats(ode, cv->mem, 0, st);
      return nde_sun_fail_h(ode, record ? "CVodeF" : "CVode", flag, 0, tcur, ode->tout[k], hcur,
                            "ode forward");
    }
    memcpy(yout + (size_t)k * ostride, N_VGetArrayPointer(cv->y), cv->len * sizeof(double));
  }
  /* Read the counters now: a backward pass re-initializes the memory. */
  nde_cv_read_stats(ode, cv->mem, 0, st);
  return NDE_OK;
}
