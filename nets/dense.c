/* Dense (fully connected) layer on the flattened input:
 *   y = x W^T + b,   W: out x in (row-major), x: n x in, y: n x out.
 * vjp: dx = dy W, dW += dy^T x, db += sum_rows dy. */
#include <math.h>
#include <string.h>

#include "common/blas_impl.h"
#include "nets/layer_impl.h"

static int dense_setup(nde_layer *L) {
  if (L->spec.out < 1) return nde_layer_error(L, NDE_ERR_ARG, "output features %d must be >= 1", L->spec.out);
  size_t nin = nde_shape_numel(L->in);
  L->out = nde_shape_vec(L->spec.out);
  L->nparam = (size_t)L->spec.out * nin + (L->spec.bias ? (size_t)L->spec.out : 0);
  return NDE_OK;
}

static int dense_forward(nde_layer *L, const nde_layer_ctx *ctx, double t, int n,
                         const nde_real *x, nde_real *y) {
  const int nin = (int)nde_shape_numel(L->in), nout = L->spec.out;
  const nde_real *W = ctx->params + L->param_off;
  if (L->spec.bias) {
    const nde_real *b = W + (size_t)nout * nin;
    for (int i = 0; i < n; i++) memcpy(y + (size_t)i * nout, b, (size_t)nout * sizeof(nde_real));
  }
  nde_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nout, nin, 1, x, nin, W, nin,
           L->spec.bias ? 1 : 0, y, nout);
  return NDE_OK;
}

static int dense_vjp(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
                     const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad) {
  const int nin = (int)nde_shape_numel(L->in), nout = L->spec.out;
  const nde_real *W = ctx->params + L->param_off;
  if (dx)
    nde_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, nin, nout, 1, dy, nout, W, nin, 0, dx,
             nin);
  if (grad) {
    nde_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, nout, nin, n, 1, dy, nout, x, nin, 1, grad,
             nin);
    if (L->spec.bias) {
      nde_real *db = grad + (size_t)nout * nin;
      for (int i = 0; i < n; i++)
        for (int o = 0; o < nout; o++) db[o] += dy[(size_t)i * nout + o];
    }
  }
  return NDE_OK;
}

static int dense_init(nde_layer *L, nde_real *p, nde_real *s, nde_rng *rng) {
  size_t nin = nde_shape_numel(L->in);
  double bound = 1.0 / sqrt((double)nin);
  nde_fill_uniform(p, (size_t)L->spec.out * nin, bound, rng);
  if (L->spec.bias) nde_fill_uniform(p + (size_t)L->spec.out * nin, (size_t)L->spec.out, bound, rng);
  return NDE_OK;
}

const nde_layer_ops nde_dense_ops = {"dense", dense_setup, dense_forward, dense_vjp, dense_init,
                                     NULL,      0};
