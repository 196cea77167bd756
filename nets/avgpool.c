/* Global average pool: y[i, c] = (1 / HW) sum_p x[i, c, p]; vjp spreads dy / HW. */
#include "nets/layer_impl.h"

static int pool_setup(nde_layer *L) {
  L->out = nde_shape_chw(L->in.c, 1, 1);
  return NDE_OK;
}

static int pool_forward(nde_layer *L, const nde_layer_ctx *ctx, double t, int n, const nde_real *x,
                        nde_real *y) {
  const size_t hw = (size_t)L->in.h * L->in.w, rows = (size_t)n * L->in.c;
  for (size_t r = 0; r < rows; r++) {
    const nde_real *xr = x + r * hw;
    double s = 0;
    for (size_t p = 0; p < hw; p++) s += xr[p];
    y[r] = (nde_real)(s / (double)hw);
  }
  return NDE_OK;
}

static int pool_vjp(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
                    const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad) {
  if (!dx) return NDE_OK;
  const size_t hw = (size_t)L->in.h * L->in.w, rows = (size_t)n * L->in.c;
  const nde_real inv = (nde_real)(1.0 / (double)hw);
  for (size_t r = 0; r < rows; r++)
    for (size_t p = 0; p < hw; p++) dx[r * hw + p] = dy[r] * inv;
  return NDE_OK;
}

const nde_layer_ops nde_avgpool_ops = {"avgpool", pool_setup, pool_forward, pool_vjp,
                                       NULL,      NULL,       0};
