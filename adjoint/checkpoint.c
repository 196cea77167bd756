/* Checkpointed adjoint with CVODES (docs/methods.md section 3).
 *
 * CVODES integrates the backward problem in the forward time variable t,
 * from T down to t0, and the user supplies yB' = fB(t, y, yB). The adjoint
 * a(t) = dL/dy(t) obeys a' = -(df/dy)^T a, so
 *   fB(t, y, a)  = -(df/dy)^T a,
 * with y(t) from CVODES's checkpoints and interpolant. The parameter
 * gradient is a backward quadrature qB with qB(T) = 0 and
 *   fQB(t, y, a) = -(df/dtheta)^T a,
 * so that qB(t0) = qB(T) - integral_{t0}^{T} fQB dt
 *                = integral_{t0}^{T} (df/dtheta)^T a dt = dL/dtheta.
 * With several output times the backward solve runs leg by leg: at each t_k
 * the adjoint jumps by dL/dy(t_k) (CVodeReInitB with the new a) and the
 * quadrature continues from its current value (CVodeQuadReInitB).
 * Quadratures stay out of the error test unless seminorm is NONE. */
#include <string.h>

#include "adjoint/adjoint_impl.h"

static int cv_fB(sunrealtype t, N_Vector y, N_Vector yB, N_Vector yBdot, void *ud) {
  nde_ode *ode = ud;
  NDE_ODE_GAVE_UP(ode);
  size_t len = (size_t)N_VGetLength(y);
  double *out = N_VGetArrayPointer(yBdot);
  int rc = nde_field_eval_vjp(ode->field, t, (int)(len / ode->dim), N_VGetArrayPointer(y),
                              N_VGetArrayPointer(yB), NULL, out, NULL);
  if (rc == 0)
    for (size_t i = 0; i < len; i++) out[i] = -out[i];
  return nde_ode_rhs_status(ode, rc, t, out, len);
}

static int cv_fQB(sunrealtype t, N_Vector y, N_Vector yB, N_Vector qBdot, void *ud) {
  nde_ode *ode = ud;
  NDE_ODE_GAVE_UP(ode);
  size_t len = (size_t)N_VGetLength(y);
  double *out = N_VGetArrayPointer(qBdot);
  memset(out, 0, ode->np * sizeof *out);
  int rc = nde_field_eval_vjp(ode->field, t, (int)(len / ode->dim), N_VGetArrayPointer(y),
                              N_VGetArrayPointer(yB), NULL, NULL, out);
  if (rc == 0)
    for (size_t i = 0; i < ode->np; i++) out[i] = -out[i];
  return nde_ode_rhs_status(ode, rc, t, out, ode->np);
}

/* First backward pass: CVodeInitB needs a completed CVodeF, so the backward
 * vectors and solvers are made here once and reused (CVodeReInitB) after. */
static int init_backward(nde_ode *ode, nde_cv *cv) {
  const nde_ode_options *o = &ode->opt;
  char fn[48];
  cv->yB = nde_nvec(ode, cv->len);
  if (ode->np) cv->qB = nde_nvec(ode, ode->np);
  if (!cv->yB || (ode->np && !cv->qB))
    return nde_error(NDE_ERR_NOMEM, "checkpoint adjoint: backward vectors");
  int flag = CVodeInitB(cv->mem, cv->which, cv_fB, o->T, cv->yB);
  if (!flag) flag = CVodeSetUserDataB(cv->mem, cv->which, ode);
  if (!flag) flag = CVodeSetMaxNumStepsB(cv->mem, cv->which, o->max_steps);
  if (!flag && o->hmin > 0) flag = CVodeSetMinStepB(cv->mem, cv->which, o->hmin);
  if (!flag && o->hmax > 0) flag = CVodeSetMaxStepB(cv->mem, cv->which, o->hmax);
  if (!flag && ode->np) {
    flag = CVodeQuadInitB(cv->mem, cv->which, cv_fQB, cv->qB);
    /* tolerances: set_backward_tolerances, before every backward solve */
    if (!flag) flag = CVodeSetQuadErrConB(cv->mem, cv->which, o->seminorm == NDE_SEMINORM_NONE);
  }
  if (flag)
    return nde_error(NDE_ERR_SOLVER, "checkpoint adjoint: backward setup failed: %s (%s)",
                     nde_flag_name(0, flag, fn, sizeof fn), ode->sunmsg);
  int rc = nde_cv_attach_solvers(ode, cv->mem, cv->yB, &cv->nlsB, &cv->lsB, 1, cv->which);
  if (rc) return rc;
  cv->binit = 1;
  return NDE_OK;
}

/* The absolute tolerance follows each backward pass's cotangent
 * (ode->atol_b_eff), so it is set again before every backward solve. */
static int set_backward_tolerances(nde_ode *ode, nde_cv *cv) {
  const nde_ode_options *o = &ode->opt;
  char fn[48];
  int flag = CVodeSStolerancesB(cv->mem, cv->which, o->rtol_b, ode->atol_b_eff);
  if (!flag && ode->np && o->seminorm == NDE_SEMINORM_NONE)
    flag = CVodeQuadSStolerancesB(cv->mem, cv->which, o->rtol_b, ode->atol_b_eff);
  if (flag)
    return nde_error(NDE_ERR_SOLVER, "checkpoint adjoint: backward tolerances failed: %s (%s)",
                     nde_flag_name(0, flag, fn, sizeof fn), ode->sunmsg);
  return NDE_OK;
}

int nde_checkpoint_backward(nde_ode *ode, int i, int m, size_t ostride, const double *dLdy,
                            const double *y0, double *a0, double *g, nde_ode_stats *st) {
  nde_cv *cv = &ode->cv;
  size_t L = cv->len, np = ode->np;
  int K = ode->nout, rc, flag;
  int per = ode->opt.batch_mode == NDE_BATCH_PER_SAMPLE;
  (void)m;
  if (per && ode->cv_holds != i) {
    /* Replay this sample's forward solve to rebuild its checkpoints; a
     * deterministic field gives the identical trajectory. */
    nde_ode_stats fst;
    ode->cv_holds = -1;
    rc = nde_cv_forward(ode, y0, ode->scratch, L, 1, &fst);
    st->nfe_recompute += fst.nfe;
    if (rc) return nde_error_wrap(rc, "checkpoint adjoint replay: ");
    ode->cv_holds = i;
  }
  if (!cv->binit && (rc = init_backward(ode, cv))) return rc;
  if ((rc = set_backward_tolerances(ode, cv))) return rc;
  void *bmem = CVodeGetAdjCVodeBmem(cv->mem, cv->which);
  double *yB = N_VGetArrayPointer(cv->yB);
  memcpy(yB, dLdy + (size_t)(K - 1) * ostride, L * sizeof *yB);
  if (np) N_VConst(0.0, cv->qB);
  nde_ode_reset_fail(ode);
  ode->recompute = 0;
  for (int k = K - 1; k >= 0; k--) {
    double tk = ode->tout[k], tprev = nde_ode_leg_start(ode, k), tret = tk;
    if (k < K - 1) {
      const double *jump = dLdy + (size_t)k * ostride;
      for (size_t j = 0; j < L; j++) yB[j] += jump[j];
    }
    flag = CVodeReInitB(cv->mem, cv->which, tk, cv->yB);
    if (!flag && np) flag = CVodeQuadReInitB(cv->mem, cv->which, cv->qB);
    if (flag) {
      ode->cv_holds = -1;
      return nde_sun_fail(ode, "CVodeReInitB", flag, 0, tk, tprev, "checkpoint adjoint");
    }
    flag = CVodeB(cv->mem, tprev, CV_NORMAL);
    nde_ode_stats leg;
    nde_cv_read_stats(ode, bmem, np > 0, &leg);
    nde_ode_stats_add(st, &leg);
    if (flag < 0) {
      double tcur = tk, hcur = 0;
      CVodeGetCurrentTime(bmem, &tcur);
      CVodeGetCurrentStep(bmem, &hcur);
      st->nfe_recompute += ode->recompute;
      ode->cv_holds = -1;
      return nde_sun_fail_h(ode, "CVodeB", flag, 0, tcur, tprev, hcur, "checkpoint adjoint");
    }
    flag = CVodeGetB(cv->mem, cv->which, &tret, cv->yB);
    if (!flag && np) flag = CVodeGetQuadB(cv->mem, cv->which, &tret, cv->qB);
    if (flag) {
      ode->cv_holds = -1;
      return nde_sun_fail(ode, "CVodeGetB", flag, 0, tret, tprev, "checkpoint adjoint");
    }
  }
  st->nfe_recompute += ode->recompute;
  memcpy(a0, yB, L * sizeof *a0);
  if (np) {
    const double *q = N_VGetArrayPointer(cv->qB);
    for (size_t j = 0; j < np; j++) g[j] += q[j];
  }
  return NDE_OK;
}
