/* RMAN options, alpha schedule, attractor initialization, the workspace and
 * the relu-max assignment kernel (docs/methods.md section 4, nde/rman.h). */
#include <math.h>
#include <stdlib.h>

#include "common/error_impl.h"
#include "rman/rman_impl.h"

nde_rman_options nde_rman_options_default(void) {
  nde_rman_options o;
  o.empty = NDE_RMAN_EMPTY_ZERO;
  o.alpha0 = 1e-4;              /* "We set the scaling factor alpha = 0.0001 */
  o.alpha_step = 1e-4;          /*  and increase it by 0.0001 every epoch" (4.1) */
  o.effective_threshold = 0.01; /* Table 2: effective when ||m||^2 > 0.01 */
  o.solely_threshold = 0.9;     /* 4.3: solely attracted when a_j(x) > 0.9 */
  return o;
}

double nde_rman_alpha(const nde_rman_options *opts, int epoch) {
  nde_rman_options d = nde_rman_options_default();
  if (!opts) opts = &d;
  if (epoch < 0) epoch = 0;
  return opts->alpha0 + opts->alpha_step * (double)epoch;
}

size_t nde_rman_num_params(int c, int h) {
  if (c <= 0 || h <= 0) return 0;
  return (size_t)c * (size_t)h;
}

int nde_rman_init_attractors(int h, int c, nde_real *m, nde_rng *rng) {
  NDE_CHECK_NULL(m, "nde_rman_init_attractors");
  NDE_CHECK_NULL(rng, "nde_rman_init_attractors");
  if (h <= 0 || c <= 0)
    return nde_error(NDE_ERR_ARG, "nde_rman_init_attractors: h = %d and c = %d must be >= 1", h, c);
  size_t k = (size_t)h * (size_t)c;
  for (size_t i = 0; i < k; i++) m[i] = (nde_real)nde_rng_normal(rng);
  return NDE_OK;
}

int rman_check_options(const nde_rman_options *o, const char *where) {
  if (o->empty != NDE_RMAN_EMPTY_ZERO && o->empty != NDE_RMAN_EMPTY_SKIP)
    return nde_error(NDE_ERR_ARG, "%s: empty policy %d is neither NDE_RMAN_EMPTY_ZERO nor _SKIP",
                     where, o->empty);
  if (!isfinite(o->alpha0) || o->alpha0 < 0 || !isfinite(o->alpha_step) || o->alpha_step < 0)
    return nde_error(NDE_ERR_ARG, "%s: alpha0 = %g and alpha_step = %g must be finite and >= 0",
                     where, o->alpha0, o->alpha_step);
  if (!isfinite(o->effective_threshold) || o->effective_threshold < 0)
    return nde_error(NDE_ERR_ARG, "%s: effective_threshold = %g must be finite and >= 0", where,
                     o->effective_threshold);
  if (!(o->solely_threshold > 0 && o->solely_threshold < 1))
    return nde_error(NDE_ERR_ARG, "%s: solely_threshold = %g must lie in (0, 1)", where,
                     o->solely_threshold);
  return NDE_OK;
}

int rman_to_double(const nde_real *src, size_t n, double *dst, const char *where,
                   const char *what) {
  for (size_t i = 0; i < n; i++) {
    double v = (double)src[i];
    if (!isfinite(v))
      return nde_error(NDE_ERR_NONFINITE, "%s: %s[%zu] = %g is not finite", where, what, i, v);
    dst[i] = v;
  }
  return NDE_OK;
}

double rman_assign(int c, int h, const double *m, const double *x, double *s, double *a,
                   double *g) {
  double S = 0;
  for (int j = 0; j < h; j++) {
    const double *mj = m + (size_t)j * c;
    double d = 0;
    for (int k = 0; k < c; k++) d += mj[k] * x[k];
    s[j] = d;
    if (d > 0) S += d; /* relu, with relu'(0) = 0: s_j = 0 counts as inactive */
  }
  for (int k = 0; k < c; k++) g[k] = 0;
  if (!(S > 0)) {
    for (int j = 0; j < h; j++) a[j] = 0;
    return 0;
  }
  for (int j = 0; j < h; j++) {
    a[j] = s[j] > 0 ? s[j] / S : 0;
    if (a[j] == 0) continue;
    const double *mj = m + (size_t)j * c;
    for (int k = 0; k < c; k++) g[k] += a[j] * mj[k];
  }
  return S;
}

int nde_rman_create(int c, int h, const nde_rman_options *opts, nde_rman **out) {
  NDE_CHECK_NULL(out, "nde_rman_create");
  *out = NULL;
  if (c <= 0 || h <= 0)
    return nde_error(NDE_ERR_ARG,
                     "nde_rman_create: c = %d channels and h = %d attractors must be >= 1 "
                     "(a model without RMAN creates none)",
                     c, h);
  nde_rman_options o = opts ? *opts : nde_rman_options_default();
  int rc = rman_check_options(&o, "nde_rman_create");
  if (rc) return rc;
  nde_rman *r = calloc(1, sizeof *r);
  if (!r) return nde_error(NDE_ERR_NOMEM, "nde_rman_create: no memory for the workspace");
  r->c = c;
  r->h = h;
  r->opts = o;
  size_t hc = (size_t)h * (size_t)c;
  r->m = malloc(hc * sizeof *r->m);
  r->dm = malloc(hc * sizeof *r->dm);
  r->x = malloc((size_t)c * sizeof *r->x);
  r->s = malloc((size_t)h * sizeof *r->s);
  r->a = malloc((size_t)h * sizeof *r->a);
  r->g = malloc((size_t)c * sizeof *r->g);
  r->e = malloc((size_t)c * sizeof *r->e);
  r->gx = malloc((size_t)c * sizeof *r->gx);
  if (!r->m || !r->dm || !r->x || !r->s || !r->a || !r->g || !r->e || !r->gx) {
    nde_rman_free(r);
    return nde_error(NDE_ERR_NOMEM, "nde_rman_create: no memory for c = %d, h = %d", c, h);
  }
  *out = r;
  return NDE_OK;
}

void nde_rman_free(nde_rman *r) {
  if (!r) return;
  free(r->m);
  free(r->dm);
  free(r->x);
  free(r->s);
  free(r->a);
  free(r->g);
  free(r->e);
  free(r->gx);
  free(r);
}

const nde_rman_options *nde_rman_get_options(const nde_rman *r) { return r ? &r->opts : NULL; }
int nde_rman_channels(const nde_rman *r) { return r ? r->c : 0; }
int nde_rman_attractors(const nde_rman *r) { return r ? r->h : 0; }
