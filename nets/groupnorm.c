/* Group normalization (Wu & He 2018), PyTorch semantics.
 *
 * Per sample i, the C channels are split into G groups of C/G consecutive
 * channels; over the M = (C/G) * H * W values of one group
 *   mu = (1/M) sum x,   var = (1/M) sum (x - mu)^2   (biased),
 *   rstd = 1 / sqrt(var + eps),   xhat = (x - mu) * rstd,
 *   y = gamma_c * xhat + beta_c.
 * Parameters: gamma (C values) then beta (C values); init gamma = 1, beta = 0.
 *
 * vjp, with g = dy * gamma_c over the group (the exact derivative of the
 * normalization, which couples every value of the group):
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
 *   dgamma_c += sum dy * xhat,   dbeta_c += sum dy.
 * mu and rstd are kept from the forward (workspace sized for max_batch);
 * xhat is recomputed from the stored input, which costs one multiply-add per
 * value and saves a full activation buffer. All reductions run in double so
 * the float build keeps the statistics and the couplings accurate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/layer_impl.h"
#include "nets/reduce_impl.h"

typedef struct gn_impl {
  int groups, cpg; /* number of groups, channels per group */
  size_t hw;       /* pixels per channel */
  double *mean;    /* max_batch * groups: statistics of the last forward */
  double *rstd;
  double *acc; /* 2C: dgamma, dbeta accumulated over the batch in double */
} gn_impl;

static void gn_destroy(nde_layer *L) {
  gn_impl *g = L->impl;
  if (!g) return;
  free(g->mean);
  free(g->rstd);
  free(g->acc);
  free(g);
  L->impl = NULL;
}

static int gn_setup(nde_layer *L) {
  const int C = L->in.c, G = L->spec.groups;
  if (G <= 0) return nde_layer_error(L, NDE_ERR_ARG, "groups %d must be >= 1", G);
  if (C % G != 0)
    return nde_layer_error(L, NDE_ERR_ARG, "%d channels are not divisible into %d groups", C, G);
  if (!(L->spec.eps >= 0) || !isfinite(L->spec.eps))
    return nde_layer_error(L, NDE_ERR_ARG, "eps %g must be finite and >= 0", L->spec.eps);
  L->out = L->in;
  L->nparam = 2 * (size_t)C;
  gn_impl *g = calloc(1, sizeof *g);
  if (!g) return nde_layer_error(L, NDE_ERR_NOMEM, "out of memory");
  L->impl = g;
  g->groups = G;
  g->cpg = C / G;
  g->hw = (size_t)L->in.h * L->in.w;
  size_t ns = (size_t)L->max_batch * G;
  g->mean = malloc(ns * sizeof *g->mean);
  g->rstd = malloc(ns * sizeof *g->rstd);
  g->acc = malloc(2 * (size_t)C * sizeof *g->acc);
  if (!g->mean || !g->rstd || !g->acc) {
    gn_destroy(L);
    return nde_layer_error(L, NDE_ERR_NOMEM, "out of memory for batch %d x %d groups", L->max_batch,
                           G);
  }
  return NDE_OK;
}

static int gn_forward(nde_layer *L, const nde_layer_ctx *ctx, double t, int n, const nde_real *x,
                      nde_real *y) {
  gn_impl *g = L->impl;
  const int C = L->in.c, G = g->groups, cpg = g->cpg;
  const size_t hw = g->hw, M = (size_t)cpg * hw;
  const nde_real *gamma = ctx->params + L->param_off, *beta = gamma + C;
  const double eps = L->spec.eps;
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < G; k++) {
      const size_t off = ((size_t)i * C + (size_t)k * cpg) * hw;
      const nde_real *xg = x + off;
      /* Two passes (mean, then squared deviations) avoid the cancellation of
       * E[x^2] - E[x]^2. */
      const double mu = sum4(xg, M) / (double)M;
      const double rstd = 1.0 / sqrt(sqdev4(xg, M, mu) / (double)M + eps);
      g->mean[(size_t)i * G + k] = mu;
      g->rstd[(size_t)i * G + k] = rstd;
      for (int c = 0; c < cpg; c++) {
        const int ch = k * cpg + c;
        /* in nde_real (vector arithmetic): y = (x - mu) a + b */
        const nde_real a = (nde_real)((double)gamma[ch] * rstd), b = beta[ch], m = (nde_real)mu;
        const nde_real *xc = xg + (size_t)c * hw;
        nde_real *yc = y + off + (size_t)c * hw;
        for (size_t p = 0; p < hw; p++) yc[p] = (xc[p] - m) * a + b;
      }
    }
  }
  return NDE_OK;
}

static int gn_vjp(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
                  const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad) {
  gn_impl *g = L->impl;
  const int C = L->in.c, G = g->groups, cpg = g->cpg;
  const size_t hw = g->hw, M = (size_t)cpg * hw;
  const nde_real *gamma = ctx->params + L->param_off;
  double *dgamma = g->acc, *dbeta = g->acc + C;
  memset(g->acc, 0, 2 * (size_t)C * sizeof *g->acc);
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < G; k++) {
      const size_t off = ((size_t)i * C + (size_t)k * cpg) * hw;
      const double mu = g->mean[(size_t)i * G + k], rstd = g->rstd[(size_t)i * G + k];
      /* First pass: sum g, sum g * xhat (for dx) and the per-channel
       * parameter sums. */
      double sg = 0, sgx = 0;
      for (int c = 0; c < cpg; c++) {
        const int ch = k * cpg + c;
        const nde_real *xc = x + off + (size_t)c * hw, *dyc = dy + off + (size_t)c * hw;
        double sdy, sdyx;
        dydev4(dyc, xc, hw, mu, &sdy, &sdyx);
        sdyx *= rstd; /* sum dy * xhat */
        sg += gamma[ch] * sdy;
        sgx += gamma[ch] * sdyx;
        dgamma[ch] += sdyx;
        dbeta[ch] += sdy;
      }
      if (!dx) continue;
      /* dx = rstd (gamma dy - mg - xhat mgx) = a dy + b (x - mu) + c0 per channel. */
      const double mg = sg / (double)M, mgx = sgx / (double)M;
      const double bx = -rstd * rstd * mgx, c0 = -rstd * mg;
      for (int c = 0; c < cpg; c++) {
        const double a = rstd * gamma[k * cpg + c];
        const nde_real *xc = x + off + (size_t)c * hw, *dyc = dy + off + (size_t)c * hw;
        nde_real *dxc = dx + off + (size_t)c * hw;
        const nde_real af = (nde_real)a, bf = (nde_real)bx, cf = (nde_real)c0, m = (nde_real)mu;
        for (size_t p = 0; p < hw; p++) dxc[p] = af * dyc[p] + bf * (xc[p] - m) + cf;
      }
    }
  }
  if (grad)
    for (int c = 0; c < 2 * C; c++) grad[c] += (nde_real)g->acc[c];
  return NDE_OK;
}

static int gn_init(nde_layer *L, nde_real *p, nde_real *s, nde_rng *rng) {
  const int C = L->in.c;
  for (int c = 0; c < C; c++) {
    p[c] = 1;
    p[C + c] = 0;
  }
  return NDE_OK;
}

/* In-place vjp (dx == dy): each group's dy is read completely by the first
 * pass before the second writes that group's dx, entry by entry from the
 * same entry of dy. */
const nde_layer_ops nde_groupnorm_ops = {"groupnorm", gn_setup, gn_forward, gn_vjp,
                                         gn_init,     gn_destroy, NDE_OPS_VJP_INPLACE};
