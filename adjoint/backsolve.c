/* Backsolve adjoint (Chen et al. 2018): integrate the augmented system
 *   y' = f(t, y),  a' = -(df/dy)^T a,  g' = -(df/dtheta)^T a
 * from T down to t0, starting at [y(T), dL/dy(T), 0], so that
 * g(t0) = integral_{t0}^{T} (df/dtheta)^T a dt = dL/dtheta and a(t0) = dL/dy(t0).
 * y is reconstructed backward instead of stored; at each earlier output
 * time it is reset to the forward value and a jumps by dL/dy(t_k).
 * When the forward flow contracts, the backward reconstruction of y expands
 * errors, which is why it must be measured against the checkpointed
 * adjoint (docs/methods.md section 3).
 *
 * Engines: CVODES on [y, a] with g as a quadrature (out of the error test
 * unless seminorm is NONE); ARKODE and the fixed-step methods on [y, a, g]
 * (ARKODE's error weights exclude g, and optionally y, through
 * ARKStepWFtolerances). Excluding y is refused for CVODES: its nonlinear
 * solvers measure convergence in the same weighted norm, and a y the norm
 * cannot see diverges (observed: NaN within a step with BDF). */
#include <math.h>
#include <string.h>

#include "adjoint/adjoint_impl.h"

/* Error weights of the backward system z = [y (L), a (L), g (rest)]: the
 * usual 1 / (rtol_b |z_i| + atol_i) on the components in the error test and
 * 0 on the others, scaled by sqrt(len / included) so that SUNDIALS's WRMS
 * norm over all len components equals the RMS norm over the included ones.
 * atol_i is the forward atol on the reconstructed state y, whose scale is
 * the forward's, and the adjoint-scaled atol_b_eff on a and g. */
static int bs_ewt(N_Vector z, N_Vector ewt, void *ud) {
  nde_ode *ode = ud;
  size_t len = (size_t)N_VGetLength(z), L = (size_t)ode->m * ode->dim;
  const double *zd = N_VGetArrayPointer(z);
  double *w = N_VGetArrayPointer(ewt);
  int skip_y = ode->opt.seminorm == NDE_SEMINORM_PARAMS_STATE;
  int skip_g = ode->opt.seminorm != NDE_SEMINORM_NONE;
  size_t ylo = skip_y ? L : 0, hi = skip_g ? 2 * L : len;
  double scale = sqrt((double)len / (double)(hi - ylo));
  const double rtol = ode->opt.rtol_b, atol_y = ode->opt.atol, atol_a = ode->atol_b_eff;
  for (size_t i = 0; i < len; i++)
    w[i] = (i >= ylo && i < hi) ? scale / (rtol * fabs(zd[i]) + (i < L ? atol_y : atol_a)) : 0.0;
  return 0;
}

/* The augmented right-hand side on raw arrays; g (if not NULL) receives
 * -(df/dtheta)^T a. One network forward serves f and the vjp. */
static int aug_eval(nde_ode *ode, double t, int m, const double *z, double *zdot, double *g) {
  size_t L = (size_t)m * ode->dim;
  if (g) memset(g, 0, ode->np * sizeof *g);
  int rc = nde_field_eval_vjp(ode->field, t, m, z, z + L, zdot, zdot + L, g);
  if (rc) return nde_ode_rhs_status(ode, rc, t, NULL, 0);
  for (size_t i = L; i < 2 * L; i++) zdot[i] = -zdot[i];
  if (g)
    for (size_t i = 0; i < ode->np; i++) g[i] = -g[i];
  rc = nde_ode_rhs_status(ode, 0, t, zdot, 2 * L);
  if (!rc && g) rc = nde_ode_rhs_status(ode, 0, t, g, ode->np);
  return rc;
}

/* ---- CVODES: [y, a] with the quadrature g ---- */

static int cvbs_rhs(sunrealtype t, N_Vector z, N_Vector zdot, void *ud) {
  nde_ode *ode = ud;
  NDE_ODE_GAVE_UP(ode);
  return aug_eval(ode, t, ode->m, N_VGetArrayPointer(z), N_VGetArrayPointer(zdot), NULL);
}

static int cvbs_quad(sunrealtype t, N_Vector z, N_Vector qdot, void *ud) {
  nde_ode *ode = ud;
  NDE_ODE_GAVE_UP(ode);
  size_t L = (size_t)ode->m * ode->dim;
  const double *zd = N_VGetArrayPointer(z);
  double *q = N_VGetArrayPointer(qdot);
  memset(q, 0, ode->np * sizeof *q);
  int rc = nde_field_eval_vjp(ode->field, t, ode->m, zd, zd + L, NULL, NULL, q);
  if (rc) return nde_ode_rhs_status(ode, rc, t, NULL, 0);
  for (size_t i = 0; i < ode->np; i++) q[i] = -q[i];
  return nde_ode_rhs_status(ode, 0, t, q, ode->np);
}

int nde_cvbs_build(nde_ode *ode, size_t L) {
  const nde_ode_options *o = &ode->opt;
  nde_cv *cv = &ode->cvbs;
  char fn[48];
  memset(cv, 0, sizeof *cv);
  cv->len = 2 * L;
  cv->nq = ode->np;
  cv->y = nde_nvec(ode, cv->len);
  if (ode->np) cv->q = nde_nvec(ode, ode->np);
  cv->mem = CVodeCreate(o->method == NDE_ODE_BDF ? CV_BDF : CV_ADAMS, ode->ctx);
  if (!cv->y || (ode->np && !cv->q) || !cv->mem) {
    nde_cv_destroy(cv);
    return nde_error(NDE_ERR_NOMEM, "backsolve: CVODES memory for %zu + %zu values", cv->len,
                     ode->np);
  }
  int flag = CVodeSetErrHandlerFn(cv->mem, nde_sun_errhandler, ode);
  if (!flag) flag = CVodeInit(cv->mem, cvbs_rhs, o->T, cv->y);
  /* (seminorm PARAMS_STATE is refused for CVODES by the option check) */
  if (!flag) flag = CVodeWFtolerances(cv->mem, bs_ewt);
  if (!flag) flag = CVodeSetUserData(cv->mem, ode);
  if (!flag) flag = CVodeSetMaxNumSteps(cv->mem, o->max_steps);
  if (!flag && o->hmin > 0) flag = CVodeSetMinStep(cv->mem, o->hmin);
  if (!flag && o->hmax > 0) flag = CVodeSetMaxStep(cv->mem, o->hmax);
  if (!flag && ode->np) {
    flag = CVodeQuadInit(cv->mem, cvbs_quad, cv->q);
    int errcon = o->seminorm == NDE_SEMINORM_NONE;
    if (!flag) flag = CVodeSetQuadErrCon(cv->mem, errcon);
    /* the quadrature's tolerances: set per backward pass (atol_b_eff) */
    cv->quad_init = !flag;
  }
  if (flag) {
    int rc = nde_error(NDE_ERR_SOLVER, "backsolve: CVODES setup failed: %s (%s)",
                       nde_flag_name(0, flag, fn, sizeof fn), ode->sunmsg);
    nde_cv_destroy(cv);
    return rc;
  }
  int rc = nde_cv_attach_solvers(ode, cv->mem, cv->y, &cv->nls, &cv->ls, 0, 0);
  if (rc) nde_cv_destroy(cv);
  return rc;
}

/* ---- ARKODE: [y, a, g] ---- */

static int arkbs_rhs(sunrealtype t, N_Vector z, N_Vector zdot, void *ud) {
  nde_ode *ode = ud;
  NDE_ODE_GAVE_UP(ode);
  size_t L = (size_t)ode->m * ode->dim;
  double *zd = N_VGetArrayPointer(zdot);
  return aug_eval(ode, t, ode->m, N_VGetArrayPointer(z), zd, ode->np ? zd + 2 * L : NULL);
}

int nde_arkbs_build(nde_ode *ode, size_t L) {
  char fn[48];
  int rc = nde_ark_build(ode, &ode->arkbs, 2 * L + ode->np, arkbs_rhs);
  if (rc) return rc;
  void *mem = ode->arkbs.mem;
  int flag = ARKStepWFtolerances(mem, bs_ewt);
  if (flag) {
    rc = nde_error(NDE_ERR_SOLVER, "backsolve: ARKODE tolerances failed: %s",
                   nde_flag_name(1, flag, fn, sizeof fn));
    nde_ark_destroy(&ode->arkbs);
  }
  return rc;
}

/* ---- fixed step: [y, a, g] with the forward grid reversed ---- */

typedef struct fixed_bs {
  nde_ode *ode;
  int m;
  long nfe;
} fixed_bs;

static int fixed_bs_rhs(void *vctx, double t, const double *z, double *zdot) {
  fixed_bs *c = vctx;
  size_t L = (size_t)c->m * c->ode->dim;
  c->nfe++;
  return aug_eval(c->ode, t, c->m, z, zdot, c->ode->np ? zdot + 2 * L : NULL);
}

/* ---- the backward pass ---- */

int nde_backsolve_backward(nde_ode *ode, int m, size_t ostride, const double *dLdy,
                           const double *yout, double *a0, double *g, nde_ode_stats *st) {
  const nde_ode_options *o = &ode->opt;
  size_t L = (size_t)m * ode->dim, np = ode->np;
  int K = ode->nout, flag, rc;
  int cvodes = o->method == NDE_ODE_ADAMS || o->method == NDE_ODE_BDF;
  int ark = o->method == NDE_ODE_DOPRI5 || o->method == NDE_ODE_BOSH3;
  double *z, *q = NULL;
  if (cvodes) {
    z = N_VGetArrayPointer(ode->cvbs.y);
    if (np) q = N_VGetArrayPointer(ode->cvbs.q);
  } else if (ark) {
    if (ode->arkbs.dirty) {
      nde_ark_destroy(&ode->arkbs);
      if ((rc = nde_arkbs_build(ode, L))) return rc;
    }
    z = N_VGetArrayPointer(ode->arkbs.y);
    q = z + 2 * L;
  } else {
    z = ode->work + 5 * (2 * L + np); /* the stepper uses the first 5 lengths */
    q = z + 2 * L;
  }
  if (np) memset(q, 0, np * sizeof *q);
  memset(z + L, 0, L * sizeof *z);
  nde_ode_reset_fail(ode);
  fixed_bs fctx = {ode, m, 0};
  for (int k = K - 1; k >= 0; k--) {
    double tk = ode->tout[k], tprev = nde_ode_leg_start(ode, k), tret = tk;
    /* y restarts from the stored forward value; a jumps by dL/dy(t_k). */
    memcpy(z, yout + (size_t)k * ostride, L * sizeof *z);
    const double *jump = dLdy + (size_t)k * ostride;
    for (size_t j = 0; j < L; j++) z[L + j] += jump[j];
    nde_ode_stats leg;
    memset(&leg, 0, sizeof leg);
    if (cvodes) {
      void *mem = ode->cvbs.mem;
      flag = CVodeReInit(mem, tk, ode->cvbs.y);
      if (!flag && np) flag = CVodeQuadReInit(mem, ode->cvbs.q);
      if (!flag && np && o->seminorm == NDE_SEMINORM_NONE)
        flag = CVodeQuadSStolerances(mem, o->rtol_b, ode->atol_b_eff);
      if (!flag) flag = CVodeSetStopTime(mem, tprev);
      if (flag) return nde_sun_fail(ode, "CVodeReInit", flag, 0, tk, tprev, "backsolve adjoint");
      flag = CVode(mem, tprev, ode->cvbs.y, &tret, CV_NORMAL);
      nde_cv_read_stats(ode, mem, np > 0, &leg);
      nde_ode_stats_add(st, &leg);
      if (flag < 0) {
        double hcur = 0;
        CVodeGetCurrentTime(mem, &tret);
        CVodeGetCurrentStep(mem, &hcur);
        return nde_sun_fail_h(ode, "CVode", flag, 0, tret, tprev, hcur, "backsolve adjoint");
      }
      if (np && (flag = CVodeGetQuad(mem, &tret, ode->cvbs.q)))
        return nde_sun_fail(ode, "CVodeGetQuad", flag, 0, tret, tprev, "backsolve adjoint");
    } else if (ark) {
      void *mem = ode->arkbs.mem;
      nde_ode_stats base;
      memset(&base, 0, sizeof base);
      flag = ARKStepReInit(mem, arkbs_rhs, NULL, tk, ode->arkbs.y);
      if (!flag) flag = ARKStepSetInitStep(mem, 0.0);
      if (!flag) flag = ARKStepSetStopTime(mem, tprev);
      if (flag) {
        ode->arkbs.dirty = 1;
        return nde_sun_fail(ode, "ARKStepReInit", flag, 1, tk, tprev, "backsolve adjoint");
      }
      N_VScale(1.0, ode->arkbs.y, ode->arkbs.ysave);
      tret = tk;
      flag = nde_ark_evolve(ode, &ode->arkbs, arkbs_rhs, tprev, tprev, -1.0, &tret, &base);
      nde_ark_read_stats(mem, &leg);
      nde_ode_stats_add(&leg, &base);
      nde_ode_stats_add(st, &leg);
      if (flag < 0) {
        ode->arkbs.dirty = 1;
        ARKStepGetCurrentTime(mem, &tret);
        return nde_sun_fail(ode, "ARKStepEvolve", flag, 1, tret, tprev, "backsolve adjoint");
      }
    } else {
      long before = fctx.nfe;
      rc = nde_rk_integrate(o->method, fixed_bs_rhs, &fctx, 2 * L + np, tk, tprev,
                            ode->leg_steps[k], z, ode->work, NULL);
      leg.nfe = fctx.nfe - before;
      leg.steps = leg.accepted = ode->leg_steps[k];
      leg.nsolves = 1;
      nde_ode_stats_add(st, &leg);
      if (rc) return nde_fixed_fail(ode, "backsolve adjoint");
    }
  }
  memcpy(a0, z + L, L * sizeof *a0);
  for (size_t j = 0; j < np; j++) g[j] += q[j];
  return NDE_OK;
}
