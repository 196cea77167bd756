/* Pointwise activations. Their vjp uses the stored output y where the
 * derivative is a function of it (tanh' = 1 - y^2, sigmoid' = y (1 - y))
 * and the input x otherwise (relu' = 1[x > 0], with relu'(0) = 0;
 * softplus' = sigmoid(x)).
 *
 * Flags (nets/layer_impl.h): every one of these vjps computes dx[i] from
 * dy[i] alone, so it may overwrite dy (NDE_OPS_VJP_INPLACE; not identity
 * and flatten, whose memcpy must not overlap). ReLU may also run in place
 * over its input: relu(x) > 0 exactly when x > 0, so its vjp reads the
 * same mask from y as from x, and the network then stores one buffer for
 * the norm -> ReLU pairs of every block. */
#include <math.h>
#include <string.h>

#include "nets/layer_impl.h"

static int same_shape_setup(nde_layer *L) {
  L->out = L->in;
  return NDE_OK;
}

#define ACT_N(L, n) ((size_t)(n) * nde_shape_numel((L)->in))

/* ReLU runs in place (y == x, dx == dy) inside networks. Both loops are
 * written so that they vectorize: the in-place case through one pointer
 * (a compiler's overlap check would send x == y to its scalar loop), the
 * other with restrict pointers, and the vjp reads dy unconditionally and
 * selects (a conditional load kept GCC 12 to a branchy scalar loop whose
 * mispredictions made relu_vjp ~10% of the ODE-Net stem's time). NaN
 * behaves as before: x NaN gives y = 0 and dx = 0. */
static void relu_inplace(nde_real *v, size_t m) {
  for (size_t i = 0; i < m; i++) v[i] = v[i] > 0 ? v[i] : (nde_real)0;
}

static int relu_fwd(nde_layer *L, const nde_layer_ctx *c, double t, int n, const nde_real *x, nde_real *y) {
  size_t m = ACT_N(L, n);
  if (x == y) {
    relu_inplace(y, m);
    return NDE_OK;
  }
  const nde_real *restrict xs = x;
  nde_real *restrict ys = y;
  for (size_t i = 0; i < m; i++) ys[i] = xs[i] > 0 ? xs[i] : (nde_real)0;
  return NDE_OK;
}
static int relu_vjp(nde_layer *L, const nde_layer_ctx *c, int n, const nde_real *x, const nde_real *y,
                    const nde_real *dy, nde_real *dx, nde_real *g) {
  if (!dx) return NDE_OK;
  size_t m = ACT_N(L, n);
  const nde_real *restrict xs = x;
  if (dx == dy) {
    for (size_t i = 0; i < m; i++) {
      const nde_real d = dx[i];
      dx[i] = xs[i] > 0 ? d : (nde_real)0;
    }
    return NDE_OK;
  }
  const nde_real *restrict ds = dy;
  nde_real *restrict out = dx;
  for (size_t i = 0; i < m; i++) {
    const nde_real d = ds[i];
    out[i] = xs[i] > 0 ? d : (nde_real)0;
  }
  return NDE_OK;
}

static int tanh_fwd(nde_layer *L, const nde_layer_ctx *c, double t, int n, const nde_real *x, nde_real *y) {
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) y[i] = (nde_real)tanh(x[i]);
  return NDE_OK;
}
static int tanh_vjp(nde_layer *L, const nde_layer_ctx *c, int n, const nde_real *x, const nde_real *y,
                    const nde_real *dy, nde_real *dx, nde_real *g) {
  if (!dx) return NDE_OK;
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
  return NDE_OK;
}

/* softplus(x) = log(1 + e^x), evaluated as max(x, 0) + log1p(e^{-|x|}) to avoid overflow. */
static int softplus_fwd(nde_layer *L, const nde_layer_ctx *c, double t, int n, const nde_real *x, nde_real *y) {
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) {
    double v = x[i];
    y[i] = (nde_real)((v > 0 ? v : 0) + log1p(exp(-fabs(v))));
  }
  return NDE_OK;
}
static int softplus_vjp(nde_layer *L, const nde_layer_ctx *c, int n, const nde_real *x, const nde_real *y,
                        const nde_real *dy, nde_real *dx, nde_real *g) {
  if (!dx) return NDE_OK;
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) dx[i] = dy[i] * (nde_real)(1.0 / (1.0 + exp(-(double)x[i])));
  return NDE_OK;
}

static int sigmoid_fwd(nde_layer *L, const nde_layer_ctx *c, double t, int n, const nde_real *x, nde_real *y) {
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) y[i] = (nde_real)(1.0 / (1.0 + exp(-(double)x[i])));
  return NDE_OK;
}
static int sigmoid_vjp(nde_layer *L, const nde_layer_ctx *c, int n, const nde_real *x, const nde_real *y,
                       const nde_real *dy, nde_real *dx, nde_real *g) {
  if (!dx) return NDE_OK;
  size_t m = ACT_N(L, n);
  for (size_t i = 0; i < m; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
  return NDE_OK;
}

/* identity and flatten copy the data; flatten only changes the shape. */
static int copy_fwd(nde_layer *L, const nde_layer_ctx *c, double t, int n, const nde_real *x, nde_real *y) {
  memcpy(y, x, ACT_N(L, n) * sizeof(nde_real));
  return NDE_OK;
}
static int copy_vjp(nde_layer *L, const nde_layer_ctx *c, int n, const nde_real *x, const nde_real *y,
                    const nde_real *dy, nde_real *dx, nde_real *g) {
  if (dx) memcpy(dx, dy, ACT_N(L, n) * sizeof(nde_real));
  return NDE_OK;
}
static int flatten_setup(nde_layer *L) {
  L->out = nde_shape_vec((int)nde_shape_numel(L->in));
  return NDE_OK;
}

const nde_layer_ops nde_relu_ops = {"relu", same_shape_setup, relu_fwd, relu_vjp, NULL, NULL,
                                    NDE_OPS_FWD_INPLACE | NDE_OPS_VJP_INPLACE};
const nde_layer_ops nde_tanh_ops = {"tanh", same_shape_setup, tanh_fwd, tanh_vjp, NULL, NULL,
                                    NDE_OPS_VJP_READS_Y | NDE_OPS_VJP_INPLACE};
const nde_layer_ops nde_softplus_ops = {"softplus", same_shape_setup, softplus_fwd, softplus_vjp,
                                        NULL, NULL, NDE_OPS_VJP_INPLACE};
const nde_layer_ops nde_sigmoid_ops = {"sigmoid", same_shape_setup, sigmoid_fwd, sigmoid_vjp,
                                       NULL, NULL, NDE_OPS_VJP_READS_Y | NDE_OPS_VJP_INPLACE};
const nde_layer_ops nde_identity_ops = {"identity", same_shape_setup, copy_fwd, copy_vjp, NULL, NULL,
                                        0};
const nde_layer_ops nde_flatten_ops = {"flatten", flatten_setup, copy_fwd, copy_vjp, NULL, NULL,
                                       0};
