/* A dense layer over a weight parametrization: y = x W(theta)^T + b with
 * parameters [theta | b]. The forward forms W once per call (into
 * workspace) and keeps x; the vjp pulls dW = dy^T x back through the
 * parametrization: dx = dy W, dtheta += (dW/dtheta)^T (dy^T x), db += sum dy. */
#include <stdlib.h>
#include <string.h>

#include "common/blas_impl.h"
#include "stability/stability_impl.h"

struct nde_sdense {
  nde_wparam *wp;
  int in, out, bias, max_batch, last_n;
  nde_real *W, *dW, *x; /* out x in, out x in, max_batch x in */
};

void nde_sdense_free(nde_sdense *l) {
  if (!l) return;
  nde_wparam_free(l->wp);
  free(l->W);
  free(l->dW);
  free(l->x);
  free(l);
}

int nde_sdense_create(int kind, int in, int out, double smin, double smax, int bias, int max_batch,
                      nde_sdense **out_layer) {
  NDE_CHECK_NULL(out_layer, "nde_sdense_create");
  *out_layer = NULL;
  if (max_batch < 1)
    return nde_error(NDE_ERR_ARG, "nde_sdense_create: max_batch %d must be >= 1", max_batch);
  nde_sdense *l = calloc(1, sizeof *l);
  if (!l) return nde_error(NDE_ERR_NOMEM, "nde_sdense_create: out of memory");
  int rc = nde_wparam_create(kind, out, in, smin, smax, &l->wp);
  if (rc) {
    free(l);
    return nde_error_wrap(rc, "nde_sdense_create: ");
  }
  l->in = in;
  l->out = out;
  l->bias = bias != 0;
  l->max_batch = max_batch;
  l->W = malloc((size_t)in * out * sizeof(nde_real));
  l->dW = malloc((size_t)in * out * sizeof(nde_real));
  l->x = malloc((size_t)max_batch * in * sizeof(nde_real));
  if (!l->W || !l->dW || !l->x) {
    nde_sdense_free(l);
    return nde_error(NDE_ERR_NOMEM, "nde_sdense_create: out of memory for %d x %d, batch %d", out,
                     in, max_batch);
  }
  *out_layer = l;
  return NDE_OK;
}

size_t nde_sdense_num_params(const nde_sdense *l) {
  return l ? nde_wparam_num_params(l->wp) + (l->bias ? (size_t)l->out : 0) : 0;
}

nde_wparam *nde_sdense_wparam(nde_sdense *l) { return l ? l->wp : NULL; }

int nde_sdense_init(nde_sdense *l, nde_real *params, nde_rng *rng) {
  NDE_CHECK_NULL(l, "nde_sdense_init");
  NDE_CHECK_NULL(params, "nde_sdense_init");
  NDE_CHECK_NULL(rng, "nde_sdense_init");
  int rc = nde_wparam_init(l->wp, params, rng);
  if (rc) return rc;
  if (l->bias) {
    nde_real *b = params + nde_wparam_num_params(l->wp);
    double a = 1 / sqrt((double)l->in);
    for (int o = 0; o < l->out; o++) b[o] = (nde_real)nde_rng_uniform_range(rng, -a, a);
  }
  return NDE_OK;
}

int nde_sdense_forward(nde_sdense *l, const nde_real *params, int n, const nde_real *x,
                       nde_real *y) {
  NDE_CHECK_NULL(l, "nde_sdense_forward");
  NDE_CHECK_NULL(params, "nde_sdense_forward");
  NDE_CHECK_NULL(x, "nde_sdense_forward");
  NDE_CHECK_NULL(y, "nde_sdense_forward");
  if (n < 1 || n > l->max_batch)
    return nde_error(NDE_ERR_BATCH, "nde_sdense_forward: batch %d outside [1, %d]", n,
                     l->max_batch);
  int rc = nde_wparam_weight(l->wp, params, l->W);
  if (rc) return nde_error_wrap(rc, "nde_sdense_forward: ");
  memcpy(l->x, x, (size_t)n * l->in * sizeof(nde_real));
  if (l->bias) {
    const nde_real *b = params + nde_wparam_num_params(l->wp);
    for (int i = 0; i < n; i++)
      memcpy(y + (size_t)i * l->out, b, (size_t)l->out * sizeof(nde_real));
  }
  nde_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, l->out, l->in, 1, l->x, l->in, l->W, l->in,
           l->bias ? 1 : 0, y, l->out);
  l->last_n = n;
  return NDE_OK;
}

int nde_sdense_vjp(nde_sdense *l, const nde_real *params, int n, const nde_real *dy, nde_real *dx,
                   nde_real *grad) {
  NDE_CHECK_NULL(l, "nde_sdense_vjp");
  NDE_CHECK_NULL(params, "nde_sdense_vjp");
  NDE_CHECK_NULL(dy, "nde_sdense_vjp");
  if (l->last_n == 0 || n != l->last_n)
    return nde_error(NDE_ERR_STATE, "nde_sdense_vjp: batch %d does not match the last forward (%d)",
                     n, l->last_n);
  if (dx)
    nde_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, l->in, l->out, 1, dy, l->out, l->W,
             l->in, 0, dx, l->in);
  if (grad) {
    nde_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->out, l->in, n, 1, dy, l->out, l->x, l->in,
             0, l->dW, l->in);
    int rc = nde_wparam_vjp(l->wp, params, l->dW, grad);
    if (rc) return nde_error_wrap(rc, "nde_sdense_vjp: ");
    if (l->bias) {
      nde_real *db = grad + nde_wparam_num_params(l->wp);
      for (int i = 0; i < n; i++)
        for (int o = 0; o < l->out; o++) db[o] += dy[(size_t)i * l->out + o];
    }
  }
  return NDE_OK;
}
