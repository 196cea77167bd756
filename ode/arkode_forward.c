/* ARKODE forward engine: explicit Runge-Kutta through ARKStep (fi = NULL)
 * with the table set explicitly, Dormand-Prince 5(4) (7 stages, FSAL) or
 * Bogacki-Shampine 3(2) (4 stages, FSAL), with ARKODE's adaptive step
 * controller. Created once, re-initialized per integration.
 *
 * ARKODE 6.4's explicit stepper cannot recover from a right-hand side that
 * fails recoverably (it returns ARK_UNREC_RHSFUNC_ERR, "no recovery is
 * possible"), so nde_ark_evolve does what CVODES does by itself: restart
 * from the last accepted state with a quarter of the failed step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ode/ode_impl.h"

int nde_ark_table(int method) {
  return method == NDE_ODE_DOPRI5 ? ARKODE_DORMAND_PRINCE_7_4_5 : ARKODE_BOGACKI_SHAMPINE_4_2_3;
}

static int ark_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *ud) {
  nde_ode *ode = ud;
  NDE_ODE_GAVE_UP(ode);
  size_t len = (size_t)N_VGetLength(y);
  double *out = N_VGetArrayPointer(ydot);
  int rc = nde_field_eval(ode->field, t, (int)(len / ode->dim), N_VGetArrayPointer(y), out);
  return nde_ode_rhs_status(ode, rc, t, out, len);
}

void nde_ark_destroy(nde_ark *ark) {
  if (ark->mem) ARKStepFree(&ark->mem);
  nde_nvec_free(&ark->y);
  nde_nvec_free(&ark->ysave);
  memset(ark, 0, sizeof *ark);
}

int nde_ark_build(nde_ode *ode, nde_ark *ark, size_t len, ARKRhsFn f) {
  const nde_ode_options *o = &ode->opt;
  char fn[48];
  memset(ark, 0, sizeof *ark);
  ark->len = len;
  ark->y = nde_nvec(ode, len);
  ark->ysave = nde_nvec(ode, len);
  if (!ark->y || !ark->ysave) return nde_error(NDE_ERR_NOMEM, "ARKODE: state vector of %zu values", len);
  ark->mem = ARKStepCreate(f ? f : ark_rhs, NULL, o->t0, ark->y, ode->ctx);
  if (!ark->mem) {
    nde_ark_destroy(ark);
    return nde_error(NDE_ERR_NOMEM, "ARKODE: ARKStepCreate failed");
  }
  int flag = ARKStepSetErrHandlerFn(ark->mem, nde_sun_errhandler, ode);
  if (!flag) flag = ARKStepSetUserData(ark->mem, ode);
  /* Explicit only: no implicit table, the requested explicit one. */
  if (!flag) flag = ARKStepSetTableNum(ark->mem, ARKODE_DIRK_NONE, nde_ark_table(o->method));
  if (!flag) flag = ARKStepSStolerances(ark->mem, o->rtol, o->atol);
  if (!flag) flag = ARKStepSetMaxNumSteps(ark->mem, o->max_steps);
  /* Step-size control as torchdiffeq's (and Hairer's) explicit RK codes:
     an I controller h_new = h * 0.9 * err^(-1/(q+1)) with growth <= 10 and
     no error bias. ARKODE's defaults (PID controller, error bias 1.5,
     safety 0.96) are tuned for stiff multirate work and took 4x more steps
     on the ODE-Net at rtol = atol = 1e-3. */
  if (!flag) flag = ARKStepSetAdaptivityMethod(ark->mem, 2, 1, 0, NULL);
  if (!flag) flag = ARKStepSetErrorBias(ark->mem, 1.0);
  if (!flag) flag = ARKStepSetSafetyFactor(ark->mem, 0.9);
  if (!flag) flag = ARKStepSetMaxGrowth(ark->mem, 10.0);
  if (!flag && o->h0 > 0) flag = ARKStepSetInitStep(ark->mem, o->h0);
  if (!flag && o->hmin > 0) flag = ARKStepSetMinStep(ark->mem, o->hmin);
  if (!flag && o->hmax > 0) flag = ARKStepSetMaxStep(ark->mem, o->hmax);
  if (flag) {
    int rc = nde_error(NDE_ERR_SOLVER, "ARKODE setup failed: %s (%s)",
                       nde_flag_name(1, flag, fn, sizeof fn), ode->sunmsg);
    nde_ark_destroy(ark);
    return rc;
  }
  return NDE_OK;
}

void nde_ark_read_stats(void *mem, nde_ode_stats *st) {
  long nst = 0, natt = 0, netf = 0, nfe = 0, nfi = 0;
  ARKStepGetNumSteps(mem, &nst);
  ARKStepGetNumStepAttempts(mem, &natt);
  ARKStepGetNumErrTestFails(mem, &netf);
  ARKStepGetNumRhsEvals(mem, &nfe, &nfi);
  memset(st, 0, sizeof *st);
  st->nfe = nfe;
  st->accepted = nst;
  st->rejected = netf;
  st->steps = natt;
  st->nsolves = 1;
}

int nde_ark_evolve(nde_ode *ode, nde_ark *ark, ARKRhsFn f, double tout, double tstop, double dir,
                   double *tlast, nde_ode_stats *base) {
  /* One step at a time, keeping the last accepted state (ysave at *tlast),
   * which is where a recovery restarts; outputs between steps come from
   * ARKODE's interpolant, as ARK_NORMAL would give them. */
  /* (the last step may already have passed tout: then only interpolate) */
  int flag = 0;
  long steps = 0;
  while ((tout - *tlast) * dir > 0) {
    double tret = *tlast;
    /* ARK_ONE_STEP does not apply ARKODE's step limit: apply it here, per
     * output interval as ARK_NORMAL would. */
    if (++steps > ode->opt.max_steps) {
      snprintf(ode->sunmsg, sizeof ode->sunmsg,
               "ARKODE ARKStepEvolve: at t = %g, mxstep = %ld steps taken before reaching tout",
               *tlast, ode->opt.max_steps);
      return ARK_TOO_MUCH_WORK;
    }
    flag = ARKStepEvolve(ark->mem, tout, ark->y, &tret, ARK_ONE_STEP);
    if (flag >= 0) {
      *tlast = tret;
      N_VScale(1.0, ark->y, ark->ysave);
      continue;
    }
    if (flag != ARK_UNREC_RHSFUNC_ERR || ode->fatal || ode->fail == NDE_FAIL_NONE) return flag;
    double h = 0;
    ARKStepGetCurrentStep(ark->mem, &h);
    nde_ode_stats seg;
    nde_ark_read_stats(ark->mem, &seg);
    seg.nsolves = 0;
    nde_ode_stats_add(base, &seg);
    ode->sunmsg[0] = '\0';
    flag = ARKStepReInit(ark->mem, f, NULL, *tlast, ark->ysave);
    /* a quarter of the failed step, in the direction of integration (0, no
     * step yet: let ARKODE estimate one) */
    if (!flag) flag = ARKStepSetInitStep(ark->mem, dir * 0.25 * fabs(h));
    if (!flag) flag = ARKStepSetStopTime(ark->mem, tstop);
    if (flag) return flag;
  }
  if (*tlast == tout)
    N_VScale(1.0, ark->ysave, ark->y);
  else
    flag = ARKStepGetDky(ark->mem, tout, 0, ark->y);
  return flag < 0 ? flag : 0;
}

int nde_ark_forward(nde_ode *ode, const double *y0, double *yout, size_t ostride,
                    nde_ode_stats *st) {
  nde_ark *ark = &ode->ark;
  const nde_ode_options *o = &ode->opt;
  if (ark->dirty) {
    size_t len = ark->len;
    nde_ark_destroy(ark);
    int rc = nde_ark_build(ode, ark, len, NULL);
    if (rc) return rc;
  }
  memcpy(N_VGetArrayPointer(ark->y), y0, ark->len * sizeof(double));
  N_VScale(1.0, ark->y, ark->ysave);
  double tlast = o->t0;
  nde_ode_reset_fail(ode);
  nde_ode_stats base;
  memset(&base, 0, sizeof base);
  int flag = ARKStepReInit(ark->mem, ark_rhs, NULL, o->t0, ark->y);
  if (!flag) flag = ARKStepSetInitStep(ark->mem, o->h0); /* undo a recovery's restart step */
  if (!flag) flag = ARKStepSetStopTime(ark->mem, o->T);
  if (flag) {
    ark->dirty = 1;
    return nde_sun_fail(ode, "ARKStepReInit", flag, 1, o->t0, o->T, "ode forward");
  }
  for (int k = 0; k < ode->nout; k++) {
    flag = nde_ark_evolve(ode, ark, ark_rhs, ode->tout[k], o->T, 1.0, &tlast, &base);
    if (flag < 0) {
      double tcur = tlast;
      ark->dirty = 1;
      ARKStepGetCurrentTime(ark->mem, &tcur);
      nde_ark_read_stats(ark->mem, st);
      nde_ode_stats_add(st, &base);
      return nde_sun_fail(ode, "ARKStepEvolve", flag, 1, tcur, ode->tout[k], "ode forward");
    }
    memcpy(yout + (size_t)k * ostride, N_VGetArrayPointer(ark->y), ark->len * sizeof(double));
  }
  nde_ark_read_stats(ark->mem, st);
  nde_ode_stats_add(st, &base);
  return NDE_OK;
}
