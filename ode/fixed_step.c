/* Fixed-step explicit methods, nde's own stepping (no SUNDIALS):
 *   Euler: y+ = y + h f(t, y)
 *   RK4:   k1 = f(t, y), k2 = f(t + h/2, y + h/2 k1), k3 = f(t + h/2, y + h/2 k2),
 *          k4 = f(t + h, y + h k3), y+ = y + h/6 (k1 + 2 k2 + 2 k3 + k4).
 * Each output leg [t_{k-1}, t_k] is cut into equal steps (nde_fixed_leg_steps),
 * so output times are hit exactly. The stage inputs can be stored for the
 * direct adjoint (adjoint/direct.c), which replays this arithmetic in reverse.
 * A fixed step cannot be cut, so any failing or non-finite right-hand side
 * ends the solve. */
#include <string.h>

#include "ode/ode_impl.h"

int nde_rk_stages(int method) { return method == NDE_ODE_RK4 ? 4 : 1; }

static void axpy_to(double *out, const double *y, double a, const double *k, size_t len) {
  for (size_t i = 0; i < len; i++) out[i] = y[i] + a * k[i];
}

int nde_rk_integrate(int method, nde_sys_fn F, void *ctx, size_t len, double ta, double tb,
                     long nsteps, double *y, double *work, double *store) {
  double h = (tb - ta) / (double)nsteps;
  double *k1 = work, *k2 = work + len, *k3 = work + 2 * len, *k4 = work + 3 * len;
  double *yt = work + 4 * len;
  int stages = nde_rk_stages(method), rc;
  for (long j = 0; j < nsteps; j++) {
    /* t from the step index, not by accumulation, so the last step ends at tb. */
    double t = ta + (double)j * h;
    double *st = store ? store + (size_t)j * stages * len : NULL;
    if (method == NDE_ODE_EULER) {
      if (st) memcpy(st, y, len * sizeof *y);
      if ((rc = F(ctx, t, y, k1))) return rc;
      for (size_t i = 0; i < len; i++) y[i] += h * k1[i];
      continue;
    }
    if (st) memcpy(st, y, len * sizeof *y);
    if ((rc = F(ctx, t, y, k1))) return rc;
    axpy_to(yt, y, 0.5 * h, k1, len);
    if (st) memcpy(st + len, yt, len * sizeof *y);
    if ((rc = F(ctx, t + 0.5 * h, yt, k2))) return rc;
    axpy_to(yt, y, 0.5 * h, k2, len);
    if (st) memcpy(st + 2 * len, yt, len * sizeof *y);
    if ((rc = F(ctx, t + 0.5 * h, yt, k3))) return rc;
    axpy_to(yt, y, h, k3, len);
    if (st) memcpy(st + 3 * len, yt, len * sizeof *y);
    if ((rc = F(ctx, t + h, yt, k4))) return rc;
    for (size_t i = 0; i < len; i++) y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
  }
  return 0;
}

typedef struct fixed_ctx {
  nde_ode *ode;
  int m;
  long nfe;
} fixed_ctx;

static int fixed_rhs(void *vctx, double t, const double *y, double *out) {
  fixed_ctx *c = vctx;
  c->nfe++;
  int rc = nde_field_eval(c->ode->field, t, c->m, y, out);
  return nde_ode_rhs_status(c->ode, rc, t, out, (size_t)c->m * c->ode->dim);
}

/* A failed fixed step: the wrapper recorded why. */
int nde_fixed_fail(nde_ode *ode, const char *context) {
  if (ode->fail == NDE_FAIL_NONFINITE)
    return nde_error(NDE_ERR_NONFINITE,
                     "%s (%s): non-finite right-hand side at t = %g (a fixed step cannot be cut; "
                     "try a smaller fixed_h)",
                     context, nde_ode_method_name(ode->opt.method), ode->fail_t);
  return nde_error(NDE_ERR_CALLBACK, "%s (%s): %s returned %d at t = %g%s%s", context,
                   nde_ode_method_name(ode->opt.method),
                   ode->field->kind == NDE_FIELD_NET ? "the network" : "a user callback",
                   ode->fail_rc, ode->fail_t, ode->cbmsg[0] ? ": " : "", ode->cbmsg);
}

int nde_fixed_forward(nde_ode *ode, int m, const double *y0, double *yout, size_t ostride,
                      double *store, nde_ode_stats *st) {
  size_t len = (size_t)m * ode->dim;
  int stages = nde_rk_stages(ode->opt.method);
  fixed_ctx c = {ode, m, 0};
  double *y = ode->work + 5 * len; /* the stepper uses the first 5 len values */
  memcpy(y, y0, len * sizeof *y);
  nde_ode_reset_fail(ode);
  memset(st, 0, sizeof *st);
  st->nsolves = 1;
  for (int k = 0; k < ode->nout; k++) {
    int rc = nde_rk_integrate(ode->opt.method, fixed_rhs, &c, len, nde_ode_leg_start(ode, k),
                              ode->tout[k], ode->leg_steps[k], y, ode->work, store);
    st->nfe = c.nfe;
    if (rc) return nde_fixed_fail(ode, "ode forward");
    st->accepted += ode->leg_steps[k];
    st->steps = st->accepted;
    if (store) store += (size_t)ode->leg_steps[k] * stages * len;
    memcpy(yout + (size_t)k * ostride, y, len * sizeof *y);
  }
  return NDE_OK;
}
