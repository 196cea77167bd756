/* 2-D batch normalization (Ioffe & Szegedy 2015), PyTorch BatchNorm2d
 * semantics.
 *
 * Per channel c, over the M = n * H * W values of the batch:
 *   training:   mu = (1/M) sum x,  var = (1/M) sum (x - mu)^2  (biased),
 *               running_mean = (1 - m) running_mean + m mu,
 *               running_var  = (1 - m) running_var  + m var * M / (M - 1)
 *               (the UNBIASED variance enters the running estimate, as in
 *               PyTorch; m = spec.momentum);
 *   evaluation: mu = running_mean, var = running_var.
 *   rstd = 1 / sqrt(var + eps),  xhat = (x - mu) rstd,  y = gamma_c xhat + beta_c.
 * Parameters gamma (C) then beta (C), init 1 and 0. The running statistics
 * are non-trainable state (L->nstate = 2C: mean then variance, init 0 and 1).
 *
 * vjp with g = dy * gamma_c:
 *   training (statistics depend on x):
 *     dx = rstd (g - mean_c(g) - xhat mean_c(g xhat)),
 *   evaluation (affine map): dx = rstd g;
 *   both: dgamma_c += sum dy xhat, dbeta_c += sum dy.
 * The vjp uses the mode and the (mu, rstd) of the last forward, so it is the
 * exact derivative of the map that forward evaluated even if the running
 * statistics or the mode changed in between. Reductions run in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/layer_impl.h"
#include "nets/reduce_impl.h"

typedef struct bn_impl {
  size_t hw;
  double *mean, *rstd; /* C values each: statistics used by the last forward */
  int last_training;   /* mode of the last forward */
} bn_impl;

static void bn_destroy(nde_layer *L) {
  bn_impl *b = L->impl;
  if (!b) return;
  free(b->mean);
  free(b->rstd);
  free(b);
  L->impl = NULL;
}

static int bn_setup(nde_layer *L) {
  const int C = L->in.c;
  if (!(L->spec.eps >= 0) || !isfinite(L->spec.eps))
    return nde_layer_error(L, NDE_ERR_ARG, "eps %g must be finite and >= 0", L->spec.eps);
  if (!(L->spec.momentum >= 0 && L->spec.momentum <= 1))
    return nde_layer_error(L, NDE_ERR_ARG, "momentum %g must lie in [0, 1]", L->spec.momentum);
  L->out = L->in;
  L->nparam = 2 * (size_t)C;
  L->nstate = 2 * (size_t)C;
  bn_impl *b = calloc(1, sizeof *b);
  if (!b) return nde_layer_error(L, NDE_ERR_NOMEM, "out of memory");
  L->impl = b;
  b->hw = (size_t)L->in.h * L->in.w;
  b->mean = malloc((size_t)C * sizeof *b->mean);
  b->rstd = malloc((size_t)C * sizeof *b->rstd);
  if (!b->mean || !b->rstd) {
    bn_destroy(L);
    return nde_layer_error(L, NDE_ERR_NOMEM, "out of memory for %d channels", C);
  }
  return NDE_OK;
}

static int bn_forward(nde_layer *L, const nde_layer_ctx *ctx, double t, int n, const nde_real *x,
                      nde_real *y) {
  bn_impl *b = L->impl;
  const int C = L->in.c;
  const size_t hw = b->hw, M = (size_t)n * hw;
  const nde_real *gamma = ctx->params + L->param_off, *beta = gamma + C;
  nde_real *rmean = ctx->state + L->state_off, *rvar = rmean + C;
  const double eps = L->spec.eps, m = L->spec.momentum;
  if (ctx->training && M < 2)
    return nde_layer_error(L, NDE_ERR_BATCH,
                           "training needs more than 1 value per channel (batch %d x %zu pixels)",
                           n, hw);
  for (int c = 0; c < C; c++) {
    double mu, var;
    if (ctx->training) {
      double s = 0, v = 0;
      for (int i = 0; i < n; i++) s += sum4(x + ((size_t)i * C + c) * hw, hw);
      mu = s / (double)M;
      for (int i = 0; i < n; i++) v += sqdev4(x + ((size_t)i * C + c) * hw, hw, mu);
      var = v / (double)M;
      rmean[c] = (nde_real)((1 - m) * rmean[c] + m * mu);
      rvar[c] = (nde_real)((1 - m) * rvar[c] + m * v / (double)(M - 1));
    } else {
      mu = rmean[c];
      var = rvar[c];
    }
    const double rstd = 1.0 / sqrt(var + eps);
    b->mean[c] = mu;
    b->rstd[c] = rstd;
    const double a = (double)gamma[c] * rstd, bb = beta[c];
    for (int i = 0; i < n; i++) {
      const size_t off = ((size_t)i * C + c) * hw;
      for (size_t p = 0; p < hw; p++) y[off + p] = (nde_real)((x[off + p] - mu) * a + bb);
    }
  }
  b->last_training = ctx->training;
  return NDE_OK;
}

static int bn_vjp(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
                  const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad) {
  bn_impl *b = L->impl;
  const int C = L->in.c;
  const size_t hw = b->hw, M = (size_t)n * hw;
  const nde_real *gamma = ctx->params + L->param_off;
  for (int c = 0; c < C; c++) {
    const double mu = b->mean[c], rstd = b->rstd[c], gam = gamma[c];
    double sdy = 0, sdyx = 0;
    for (int i = 0; i < n; i++) {
      const size_t off = ((size_t)i * C + c) * hw;
      double s1, s2;
      dydev4(dy + off, x + off, hw, mu, &s1, &s2);
      sdy += s1;
      sdyx += s2;
    }
    sdyx *= rstd; /* sum dy * xhat */
    if (grad) {
      grad[c] += (nde_real)sdyx;
      grad[C + c] += (nde_real)sdy;
    }
    if (!dx) continue;
    /* Evaluation mode: mu and rstd are constants, so only the affine part. */
    const double mg = b->last_training ? gam * sdy / (double)M : 0;
    const double mgx = b->last_training ? gam * sdyx / (double)M : 0;
    for (int i = 0; i < n; i++) {
      const size_t off = ((size_t)i * C + c) * hw;
      for (size_t p = 0; p < hw; p++) {
        const double xh = (x[off + p] - mu) * rstd;
        dx[off + p] = (nde_real)(rstd * (gam * dy[off + p] - mg - xh * mgx));
      }
    }
  }
  return NDE_OK;
}

static int bn_init(nde_layer *L, nde_real *p, nde_real *s, nde_rng *rng) {
  const int C = L->in.c;
  for (int c = 0; c < C; c++) {
    p[c] = 1;
    p[C + c] = 0;
    s[c] = 0;
    s[C + c] = 1;
  }
  return NDE_OK;
}

/* In-place vjp (dx == dy): each channel's dy is summed over the batch
 * before that channel's dx is written, entry by entry from the same entry. */
const nde_layer_ops nde_batchnorm_ops = {"batchnorm", bn_setup, bn_forward, bn_vjp,
                                         bn_init,     bn_destroy, NDE_OPS_VJP_INPLACE};
