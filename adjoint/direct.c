/* Direct adjoint: reverse-mode differentiation of the fixed-step arithmetic
 * (ode/fixed_step.c), using the stage inputs stored by the forward pass.
 *
 * Euler, y+ = y + h f(t, y):
 *   ybar = ybar+ + J^T (h ybar+),  g += (df/dtheta)^T (h ybar+).
 * RK4, y+ = y + h/6 k1 + h/3 k2 + h/3 k3 + h/6 k4 with stage inputs
 * Y1 = y, Y2 = y + h/2 k1, Y3 = y + h/2 k2, Y4 = y + h k3:
 *   kbar1 = kbar4 = h/6 ybar+, kbar2 = kbar3 = h/3 ybar+, ybar = ybar+;
 *   stage 4: u = J(Y4)^T kbar4: ybar += u, kbar3 += h u
 *   stage 3: u = J(Y3)^T kbar3: ybar += u, kbar2 += h/2 u
 *   stage 2: u = J(Y2)^T kbar2: ybar += u, kbar1 += h/2 u
 *   stage 1: u = J(Y1)^T kbar1: ybar += u
 *   and g += (df/dtheta)^T kbar_s at every stage.
 * This is the exact gradient of the discrete map (not of the ODE). */
#include <string.h>

#include "adjoint/adjoint_impl.h"

typedef struct direct_ctx {
  nde_ode *ode;
  int m;
  size_t L;
  double *u;
  double *g;
  long nvjp;
} direct_ctx;

/* u = J(t, Y)^T kb, g += (df/dtheta)^T kb. */
static int stage_vjp(direct_ctx *c, double t, const double *Y, const double *kb) {
  c->nvjp++;
  int rc = nde_field_eval_vjp(c->ode->field, t, c->m, Y, kb, NULL, c->u, c->g);
  return nde_ode_rhs_status(c->ode, rc, t, c->u, c->L);
}

int nde_direct_backward(nde_ode *ode, int m, size_t ostride, const double *dLdy,
                        const double *store, double *a0, double *g, nde_ode_stats *st) {
  size_t L = (size_t)m * ode->dim;
  int stages = nde_rk_stages(ode->opt.method), K = ode->nout, rc;
  double *abar = ode->work, *kb1 = abar + L, *kb2 = kb1 + L, *kb3 = kb2 + L, *kb4 = kb3 + L;
  double *acc = kb4 + L;
  direct_ctx c = {ode, m, L, acc + L, g, 0};
  nde_ode_reset_fail(ode);
  memset(abar, 0, L * sizeof *abar);
  /* Stored stages of leg k start after those of legs 0..k-1. */
  const double *leg_store = store + (size_t)ode->nsteps_total * stages * L;
  for (int k = K - 1; k >= 0; k--) {
    long ns = ode->leg_steps[k];
    leg_store -= (size_t)ns * stages * L;
    const double *jump = dLdy + (size_t)k * ostride;
    for (size_t j = 0; j < L; j++) abar[j] += jump[j];
    double ta = nde_ode_leg_start(ode, k), h = (ode->tout[k] - ta) / (double)ns;
    for (long s = ns - 1; s >= 0; s--) {
      /* Same t as the forward stepper: from the index, not accumulated. */
      double t = ta + (double)s * h;
      const double *Y = leg_store + (size_t)s * stages * L;
      if (stages == 1) {
        for (size_t j = 0; j < L; j++) kb1[j] = h * abar[j];
        if ((rc = stage_vjp(&c, t, Y, kb1))) goto fail;
        for (size_t j = 0; j < L; j++) abar[j] += c.u[j];
        continue;
      }
      for (size_t j = 0; j < L; j++) {
        kb1[j] = kb4[j] = h / 6.0 * abar[j];
        kb2[j] = kb3[j] = h / 3.0 * abar[j];
        acc[j] = abar[j];
      }
      if ((rc = stage_vjp(&c, t + h, Y + 3 * L, kb4))) goto fail;
      for (size_t j = 0; j < L; j++) {
        acc[j] += c.u[j];
        kb3[j] += h * c.u[j];
      }
      if ((rc = stage_vjp(&c, t + 0.5 * h, Y + 2 * L, kb3))) goto fail;
      for (size_t j = 0; j < L; j++) {
        acc[j] += c.u[j];
        kb2[j] += 0.5 * h * c.u[j];
      }
      if ((rc = stage_vjp(&c, t + 0.5 * h, Y + L, kb2))) goto fail;
      for (size_t j = 0; j < L; j++) {
        acc[j] += c.u[j];
        kb1[j] += 0.5 * h * c.u[j];
      }
      if ((rc = stage_vjp(&c, t, Y, kb1))) goto fail;
      for (size_t j = 0; j < L; j++) abar[j] = acc[j] + c.u[j];
    }
    st->steps += ns;
    st->accepted += ns;
  }
  st->nfe = c.nvjp;
  st->nsolves = 1;
  memcpy(a0, abar, L * sizeof *a0);
  return NDE_OK;
fail:
  st->nfe = c.nvjp;
  return nde_fixed_fail(ode, "direct adjoint");
}
