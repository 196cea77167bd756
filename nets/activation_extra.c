/* SELU and GELU activations (used by the stability analysis grid of
 * docs/methods.md section 6, which compares relu, selu, gelu, tanh, sigmoid and softplus).
 *
 * SELU (Klambauer et al. 2017):
 *   selu(x) = scale x                      for x > 0
 *           = scale alpha (e^x - 1)        for x <= 0,
 *   alpha = 1.6732632423543772..., scale = 1.0507009873554804...;
 *   selu'(x) = scale for x > 0 and scale alpha e^x for x <= 0, so the kink at
 *   0 takes the left branch (scale alpha), as PyTorch's backward does (and as
 *   relu'(0) = 0 does here).
 * GELU (Hendrycks & Gimpel 2016, exact erf form, PyTorch's default):
 *   gelu(x) = x Phi(x) = (x / 2)(1 + erf(x / sqrt 2)),
 *   gelu'(x) = Phi(x) + x phi(x), phi(x) = e^{-x^2/2} / sqrt(2 pi).
 * Both are evaluated in double and stored as nde_real; the vjp uses the
 * stored input x. */
#include <math.h>

#include "nets/layer_impl.h"

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946
#define INV_SQRT2 0.70710678118654752440084436210485
#define INV_SQRT_2PI 0.39894228040143267793994605993438

#define ACT_N(L, n) ((size_t)(n)*nde_shape_numel((L)->in))

static int extra_setup(nde_layer *L) {
  L->out = L->in;
  return NDE_OK;
}

static int selu_fwd(nde_layer *L, const nde_layer_ctx *c, double t, int n, const nde_real *x,
                    nde_real *y) {
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) {
    double v = x[i];
    y[i] = (nde_real)(v > 0 ? SELU_SCALE * v : SELU_SCALE * SELU_ALPHA * expm1(v));
  }
  return NDE_OK;
}

static int selu_vjp(nde_layer *L, const nde_layer_ctx *c, int n, const nde_real *x,
                    const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *g) {
  if (!dx) return NDE_OK;
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) {
    double v = x[i];
    double d = v > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * exp(v);
    dx[i] = (nde_real)(dy[i] * d);
  }
  return NDE_OK;
}

static int gelu_fwd(nde_layer *L, const nde_layer_ctx *c, double t, int n, const nde_real *x,
                    nde_real *y) {
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) {
    double v = x[i];
    y[i] = (nde_real)(0.5 * v * erfc(-v * INV_SQRT2)); /* erfc(-z) = 1 + erf(z), no cancellation */
  }
  return NDE_OK;
}

static int gelu_vjp(nde_layer *L, const nde_layer_ctx *c, int n, const nde_real *x,
                    const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *g) {
  if (!dx) return NDE_OK;
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) {
    double v = x[i];
    double d = 0.5 * erfc(-v * INV_SQRT2) + v * INV_SQRT_2PI * exp(-0.5 * v * v);
    dx[i] = (nde_real)(dy[i] * d);
  }
  return NDE_OK;
}

/* dx[i] depends on dy[i] alone: the vjp may overwrite dy. */
const nde_layer_ops nde_selu_ops = {"selu", extra_setup, selu_fwd, selu_vjp, NULL, NULL,
                                    NDE_OPS_VJP_INPLACE};
const nde_layer_ops nde_gelu_ops = {"gelu", extra_setup, gelu_fwd, gelu_vjp, NULL, NULL,
                                    NDE_OPS_VJP_INPLACE};
