/* Weight parametrizations with spectral bounds (see nde/stability.h for the
 * maths of each kind): creation, dispatch, the plain kind, the guaranteed
 * bounds. Every kind computes W(theta) and its vjp in double and converts at
 * the boundary, with all workspace allocated here. */
#include <stdlib.h>
#include <string.h>

#include "stability/stability_impl.h"

double nde_stab_bounded(double smin, double smax, double p, double *dsdp) {
  double sg = p >= 0 ? 1 / (1 + exp(-p)) : exp(p) / (1 + exp(p));
  if (dsdp) *dsdp = -(smax - smin) * sg * (1 - sg);
  return smax - (smax - smin) * sg;
}

const char *nde_wparam_kind_name(int kind) {
  switch (kind) {
  case NDE_WPARAM_PLAIN: return "plain";
  case NDE_WPARAM_SOFTSVD: return "softsvd";
  case NDE_WPARAM_SPECTRAL: return "spectral";
  case NDE_WPARAM_GERSHGORIN: return "gershgorin";
  case NDE_WPARAM_PF: return "pf";
  default: return "unknown";
  }
}

int nde_wparam_kind_parse(const char *name, int *kind) {
  NDE_CHECK_NULL(name, "nde_wparam_kind_parse");
  NDE_CHECK_NULL(kind, "nde_wparam_kind_parse");
  for (int k = NDE_WPARAM_PLAIN; k <= NDE_WPARAM_PF; k++)
    if (!strcmp(name, nde_wparam_kind_name(k))) {
      *kind = k;
      return NDE_OK;
    }
  return nde_error(
      NDE_ERR_KIND,
      "nde_wparam_kind_parse: '%s' is not one of plain, softsvd, spectral, gershgorin, pf", name);
}

void nde_wparam_free(nde_wparam *w) {
  if (!w) return;
  free(w->Wd);
  free(w->Gd);
  free(w->U);
  free(w->V);
  free(w->dU);
  free(w->dV);
  free(w->s);
  free(w->ds);
  free(w->Ma);
  free(w->Mb);
  free(w->va);
  free(w->vb);
  free(w->vc);
  nde_spectrum_free(w->sp);
  free(w);
}

int nde_wparam_create(int kind, int rows, int cols, double smin, double smax, nde_wparam **out) {
  NDE_CHECK_NULL(out, "nde_wparam_create");
  *out = NULL;
  if (kind < NDE_WPARAM_PLAIN || kind > NDE_WPARAM_PF)
    return nde_error(NDE_ERR_KIND, "nde_wparam_create: unknown parametrization kind %d", kind);
  const char *name = nde_wparam_kind_name(kind);
  if (rows < 1 || cols < 1 || rows > 4096 || cols > 4096)
    return nde_error(NDE_ERR_SHAPE,
                     "nde_wparam_create (%s): %d x %d weight, sizes must be in [1, 4096]", name,
                     rows, cols);
  if (kind != NDE_WPARAM_PLAIN) {
    if (!(isfinite(smin) && isfinite(smax) && smin <= smax))
      return nde_error(NDE_ERR_ARG,
                       "nde_wparam_create (%s): bounds [%g, %g] must be finite with smin <= smax",
                       name, smin, smax);
    if (kind != NDE_WPARAM_GERSHGORIN && smin < 0)
      return nde_error(NDE_ERR_ARG, "nde_wparam_create (%s): smin = %g must be >= 0", name, smin);
    if (kind == NDE_WPARAM_GERSHGORIN && rows != cols)
      return nde_error(
          NDE_ERR_SHAPE,
          "nde_wparam_create (gershgorin): eigenvalue discs need a square weight, got %d x %d",
          rows, cols);
  }
  nde_wparam *w = calloc(1, sizeof *w);
  if (!w) return nde_error(NDE_ERR_NOMEM, "nde_wparam_create: out of memory");
  w->kind = kind;
  w->rows = rows;
  w->cols = cols;
  w->k = rows < cols ? rows : cols;
  w->smin = smin;
  w->smax = smax;
  const size_t r = (size_t)rows, c = (size_t)cols, k = (size_t)w->k, m = r > c ? r : c;
  switch (kind) {
  case NDE_WPARAM_PLAIN: w->nparam = r * c; break;
  case NDE_WPARAM_SOFTSVD: w->nparam = r * k + k * c + k; break;
  case NDE_WPARAM_SPECTRAL: w->nparam = r * r + c * c + k; break;
  case NDE_WPARAM_GERSHGORIN: w->nparam = r * (r - 1); break;
  default: w->nparam = r * c + r; break;
  }
  int ok = (w->Wd = malloc(r * c * sizeof(double))) && (w->Gd = malloc(r * c * sizeof(double))) &&
           (w->U = malloc(r * r * sizeof(double))) && (w->V = malloc(c * c * sizeof(double))) &&
           (w->dU = malloc(r * r * sizeof(double))) && (w->dV = malloc(c * c * sizeof(double))) &&
           (w->s = malloc(m * sizeof(double))) && (w->ds = malloc(m * sizeof(double))) &&
           (w->Ma = malloc(m * m * sizeof(double))) && (w->Mb = malloc(m * m * sizeof(double))) &&
           (w->va = malloc(m * sizeof(double))) && (w->vb = malloc(m * sizeof(double))) &&
           (w->vc = malloc(m * sizeof(double)));
  if (!ok) {
    nde_wparam_free(w);
    return nde_error(NDE_ERR_NOMEM, "nde_wparam_create (%s): out of memory for %d x %d", name, rows,
                     cols);
  }
  if (kind == NDE_WPARAM_SOFTSVD) {
    int rc = nde_spectrum_create((int)m, &w->sp);
    if (rc) {
      nde_wparam_free(w);
      return rc;
    }
  }
  *out = w;
  return NDE_OK;
}

int nde_wparam_get_kind(const nde_wparam *w) { return w ? w->kind : -1; }
size_t nde_wparam_num_params(const nde_wparam *w) { return w ? w->nparam : 0; }

static void fill_uniform(nde_real *p, size_t n, double a, nde_rng *rng) {
  for (size_t i = 0; i < n; i++) p[i] = (nde_real)nde_rng_uniform_range(rng, -a, a);
}
static void fill_normal(nde_real *p, size_t n, nde_rng *rng) {
  for (size_t i = 0; i < n; i++) p[i] = (nde_real)nde_rng_normal(rng);
}

int nde_wparam_init(nde_wparam *w, nde_real *theta, nde_rng *rng) {
  NDE_CHECK_NULL(w, "nde_wparam_init");
  NDE_CHECK_NULL(theta, "nde_wparam_init");
  NDE_CHECK_NULL(rng, "nde_wparam_init");
  switch (w->kind) {
  case NDE_WPARAM_PLAIN:
    fill_uniform(theta, w->nparam, 1 / sqrt((double)w->cols), rng);
    return NDE_OK;
  case NDE_WPARAM_SOFTSVD: return nde_wparam_softsvd_init(w, theta, rng);
  case NDE_WPARAM_GERSHGORIN: fill_uniform(theta, w->nparam, 1, rng); return NDE_OK;
  default: fill_normal(theta, w->nparam, rng); return NDE_OK;
  }
}

static int compute(nde_wparam *w, const nde_real *theta) {
  switch (w->kind) {
  case NDE_WPARAM_PLAIN:
    for (size_t i = 0; i < w->nparam; i++) w->Wd[i] = theta[i];
    return NDE_OK;
  case NDE_WPARAM_SOFTSVD: return nde_wparam_softsvd_weight(w, theta);
  case NDE_WPARAM_SPECTRAL: return nde_wparam_spectral_weight(w, theta);
  case NDE_WPARAM_GERSHGORIN: return nde_wparam_gershgorin_weight(w, theta);
  default: return nde_wparam_pf_weight(w, theta);
  }
}

int nde_wparam_weight(nde_wparam *w, const nde_real *theta, nde_real *W) {
  NDE_CHECK_NULL(w, "nde_wparam_weight");
  NDE_CHECK_NULL(theta, "nde_wparam_weight");
  NDE_CHECK_NULL(W, "nde_wparam_weight");
  int rc = compute(w, theta);
  if (rc) return rc;
  const size_t n = (size_t)w->rows * w->cols;
  if (!nde_stab_all_finite(w->Wd, n))
    return nde_error(NDE_ERR_NONFINITE, "nde_wparam_weight (%s): W(theta) is not finite",
                     nde_wparam_kind_name(w->kind));
  for (size_t i = 0; i < n; i++) W[i] = (nde_real)w->Wd[i];
  return NDE_OK;
}

int nde_wparam_vjp(nde_wparam *w, const nde_real *theta, const nde_real *dW, nde_real *dtheta) {
  NDE_CHECK_NULL(w, "nde_wparam_vjp");
  NDE_CHECK_NULL(theta, "nde_wparam_vjp");
  NDE_CHECK_NULL(dW, "nde_wparam_vjp");
  NDE_CHECK_NULL(dtheta, "nde_wparam_vjp");
  const size_t n = (size_t)w->rows * w->cols;
  for (size_t i = 0; i < n; i++) w->Gd[i] = dW[i];
  switch (w->kind) {
  case NDE_WPARAM_PLAIN:
    for (size_t i = 0; i < n; i++) dtheta[i] += dW[i];
    return NDE_OK;
  case NDE_WPARAM_SOFTSVD: return nde_wparam_softsvd_vjp(w, theta, dtheta);
  case NDE_WPARAM_SPECTRAL: return nde_wparam_spectral_vjp(w, theta, dtheta);
  case NDE_WPARAM_GERSHGORIN: return nde_wparam_gershgorin_vjp(w, theta, dtheta);
  default: return nde_wparam_pf_vjp(w, theta, dtheta);
  }
}

int nde_wparam_penalty(nde_wparam *w, const nde_real *theta, double *value, nde_real *dtheta) {
  NDE_CHECK_NULL(w, "nde_wparam_penalty");
  NDE_CHECK_NULL(theta, "nde_wparam_penalty");
  NDE_CHECK_NULL(value, "nde_wparam_penalty");
  if (w->kind != NDE_WPARAM_SOFTSVD) {
    *value = 0;
    return NDE_OK;
  }
  return nde_wparam_softsvd_penalty(w, theta, value, dtheta);
}

int nde_wparam_bounds_at(nde_wparam *w, const nde_real *theta, nde_wparam_bounds *out) {
  NDE_CHECK_NULL(w, "nde_wparam_bounds_at");
  NDE_CHECK_NULL(theta, "nde_wparam_bounds_at");
  NDE_CHECK_NULL(out, "nde_wparam_bounds_at");
  nde_wparam_bounds b = {NDE_WBOUND_NONE, NAN, NAN, NAN, NAN};
  int rc = compute(w, theta);
  if (rc) return rc;
  const int k = w->k;
  double smn = INFINITY, smx = -INFINITY;
  switch (w->kind) {
  case NDE_WPARAM_PLAIN: break;
  case NDE_WPARAM_SOFTSVD: {
    /* sigma_i(U S V) in [min s sigma_min(U) sigma_min(V), max s sigma_max(U) sigma_max(V)]
     * for the k nonzero singular values (products of full-rank factors). */
    double *svU = w->va, *svV = w->vb;
    if ((rc = nde_spectrum_svd(w->sp, w->rows, k, w->U, svU))) return rc;
    if ((rc = nde_spectrum_svd(w->sp, k, w->cols, w->V, svV))) return rc;
    for (int i = 0; i < k; i++) smn = fmin(smn, w->s[i]), smx = fmax(smx, w->s[i]);
    b.kind = NDE_WBOUND_SINGULAR;
    b.lo = smn * svU[k - 1] * svV[k - 1];
    b.hi = smx * svU[0] * svV[0];
    break;
  }
  case NDE_WPARAM_SPECTRAL:
    for (int i = 0; i < k; i++) smn = fmin(smn, w->s[i]), smx = fmax(smx, w->s[i]);
    b.kind = NDE_WBOUND_SINGULAR;
    b.lo = smn;
    b.hi = smx;
    break;
  case NDE_WPARAM_GERSHGORIN:
    b.kind = NDE_WBOUND_DISC;
    b.center = 0.5 * (w->smin + w->smax);
    b.radius = 0.5 * (w->smax - w->smin);
    b.lo = w->smin;
    b.hi = w->smax;
    break;
  default:
    for (int i = 0; i < w->rows; i++) smn = fmin(smn, w->s[i]), smx = fmax(smx, w->s[i]);
    b.kind = NDE_WBOUND_RHO;
    b.lo = smn;
    b.hi = smx;
    break;
  }
  *out = b;
  return NDE_OK;
}
