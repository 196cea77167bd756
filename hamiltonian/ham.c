/* The Hamiltonian block object: options, parameters, workspaces, and the
 * checked public entry points of one layer's vector field. */
#include <gsl/gsl_eigen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hamiltonian/ham_impl.h"

static const struct {
  int kind;
  const char *name;
} kinds[] = {{NDE_HAM_R1, "r1"},
             {NDE_HAM_H1_J1, "h1-j1"},
             {NDE_HAM_H1_J2, "h1-j2"},
             {NDE_HAM_H2, "h2"},
             {NDE_HAM_CHNODE, "chnode"}};

const char *nde_ham_kind_name(int kind) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (kinds[i].kind == kind) return kinds[i].name;
  return "unknown";
}

int nde_ham_kind_parse(const char *name, int *kind) {
  NDE_CHECK_NULL(name, "nde_ham_kind_parse");
  NDE_CHECK_NULL(kind, "nde_ham_kind_parse");
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(kinds[i].name, name)) {
      *kind = kinds[i].kind;
      return NDE_OK;
    }
  return nde_error(NDE_ERR_KIND,
                   "unknown Hamiltonian network '%s' (expected r1, h1-j1, h1-j2, h2 or chnode)",
                   name);
}

nde_ham_options nde_ham_options_default(int kind) {
  nde_ham_options o;
  memset(&o, 0, sizeof o);
  o.kind = kind;
  o.nf = 8;
  o.nlayers = 8;
  o.h = 0.5;
  o.kappa = 0.02;
  o.gamma_auto = 1;
  o.gamma = 0;
  o.max_batch = 1;
  return o;
}

static int check_options(const nde_ham_options *o) {
  const char *kn = nde_ham_kind_name(o->kind);
  if (!strcmp(kn, "unknown"))
    return nde_error(NDE_ERR_KIND, "nde_ham_create: unknown kind %d", o->kind);
  if (o->nf < 1 || o->nf > 4096)
    return nde_error(NDE_ERR_ARG, "nde_ham_create (%s): nf = %d outside [1, 4096]", kn, o->nf);
  if ((o->kind == NDE_HAM_H1_J1 || o->kind == NDE_HAM_H2 || o->kind == NDE_HAM_CHNODE) && o->nf % 2)
    return nde_error(NDE_ERR_ARG, "nde_ham_create (%s): nf = %d must be even (y = (p, q))", kn,
                     o->nf);
  if (o->kind == NDE_HAM_H1_J2 && o->nf < 2)
    return nde_error(NDE_ERR_ARG, "nde_ham_create (h1-j2): nf = %d must be >= 2", o->nf);
  if (o->nlayers < 1)
    return nde_error(NDE_ERR_ARG, "nde_ham_create (%s): nlayers = %d must be >= 1", kn, o->nlayers);
  if (!(o->h > 0) || !isfinite(o->h))
    return nde_error(NDE_ERR_ARG, "nde_ham_create (%s): step h = %g must be finite and > 0", kn,
                     o->h);
  if (o->max_batch < 1)
    return nde_error(NDE_ERR_ARG, "nde_ham_create (%s): max_batch = %d must be >= 1", kn,
                     o->max_batch);
  if (o->kind == NDE_HAM_CHNODE) {
    if (!(o->kappa >= 0) || !isfinite(o->kappa))
      return nde_error(NDE_ERR_ARG, "nde_ham_create (chnode): kappa = %g must be finite and >= 0",
                       o->kappa);
    if (o->gamma_auto && o->kappa == 0)
      return nde_error(NDE_ERR_ARG,
                       "nde_ham_create (chnode): gamma_auto needs kappa > 0 (c1 = kappa^2 = 0 "
                       "admits no contracting gamma); set gamma by hand or kappa > 0");
    if (!isfinite(o->gamma))
      return nde_error(NDE_ERR_ARG, "nde_ham_create (chnode): gamma = %g must be finite", o->gamma);
  }
  return NDE_OK;
}

void nde_ham_free(nde_ham *ham) {
  if (!ham) return;
  free(ham->theta);
  free(ham->amat);
  free(ham->ws);
  free(ham->wu);
  free(ham->wv);
  free(ham->wj);
  free(ham->e1);
  free(ham->r1);
  free(ham->ys);
  free(ham->acts);
  free(ham->ctx);
  if (ham->eig_ws) gsl_eigen_symm_free(ham->eig_ws);
  if (ham->eig_ws_m) gsl_eigen_symm_free(ham->eig_ws_m);
  if (ham->eig_m) gsl_matrix_free(ham->eig_m);
  if (ham->eig_v) gsl_vector_free(ham->eig_v);
  free(ham);
}

int nde_ham_create(const nde_ham_options *o, nde_ham **out) {
  NDE_CHECK_NULL(out, "nde_ham_create");
  *out = NULL;
  NDE_CHECK_NULL(o, "nde_ham_create");
  int rc = check_options(o);
  if (rc) return rc;
  nde_ham *ham = calloc(1, sizeof *ham);
  if (!ham) return nde_error(NDE_ERR_NOMEM, "nde_ham_create: out of memory");
  ham->o = *o;
  ham->nf = o->nf;
  ham->m = o->nf / 2;
  size_t nf = (size_t)o->nf, m = (size_t)ham->m, N = (size_t)o->nlayers;
  ham->lp = o->kind == NDE_HAM_H2 ? 2 * m * m + 2 * m : nf * nf + nf;
  ham->np = N * ham->lp;
  ham->gamma = o->kind == NDE_HAM_CHNODE && !o->gamma_auto ? o->gamma : 0.0;
  size_t len = (size_t)o->max_batch * nf;
  ham->theta = calloc(ham->np, sizeof *ham->theta);
  ham->amat = calloc(nf * nf, sizeof *ham->amat);
  ham->ws = malloc(len * sizeof *ham->ws);
  ham->wu = malloc(len * sizeof *ham->wu);
  ham->wv = malloc(len * sizeof *ham->wv);
  ham->wj = malloc(len * sizeof *ham->wj);
  ham->e1 = malloc(nf * sizeof *ham->e1);
  ham->r1 = malloc(nf * sizeof *ham->r1);
  ham->ys = malloc((N + 1) * len * sizeof *ham->ys);
  ham->acts = malloc(N * len * sizeof *ham->acts);
  ham->ctx = malloc((N + 1) * sizeof *ham->ctx);
  ham->eig_ws = gsl_eigen_symm_alloc(nf);
  ham->eig_ws_m = o->kind == NDE_HAM_H2 ? gsl_eigen_symm_alloc(m) : NULL;
  ham->eig_m = gsl_matrix_alloc(nf, nf);
  ham->eig_v = gsl_vector_alloc(nf);
  if (!ham->theta || !ham->amat || !ham->ws || !ham->wu || !ham->wv || !ham->wj || !ham->e1 ||
      !ham->r1 || !ham->ys || !ham->acts || !ham->ctx || !ham->eig_ws ||
      (o->kind == NDE_HAM_H2 && !ham->eig_ws_m) || !ham->eig_m || !ham->eig_v) {
    nde_ham_free(ham);
    return nde_error(NDE_ERR_NOMEM,
                     "nde_ham_create: out of memory (max_batch %d x nf %d, %d layers)",
                     o->max_batch, o->nf, o->nlayers);
  }
  for (size_t j = 0; j <= N; j++) {
    ham->ctx[j].ham = ham;
    ham->ctx[j].layer = j < N ? (int)j : NDE_HAM_PIECEWISE;
  }
  nde_ham_build_amat(ham);
  if (o->kind == NDE_HAM_CHNODE && o->gamma_auto) {
    /* Zero parameters: c2 = kappa^2 = c1, alpha = 0, gamma = 1/sqrt(1 - 1e-6). */
    rc = nde_ham_update_gamma(ham, NULL);
    if (rc) {
      nde_ham_free(ham);
      return rc;
    }
  }
  *out = ham;
  return NDE_OK;
}

const nde_ham_options *nde_ham_get_options(const nde_ham *ham) { return ham ? &ham->o : NULL; }
size_t nde_ham_num_params(const nde_ham *ham) { return ham ? ham->np : 0; }
size_t nde_ham_layer_num_params(const nde_ham *ham) { return ham ? ham->lp : 0; }
double *nde_ham_params(nde_ham *ham) { return ham ? ham->theta : NULL; }
double nde_ham_gamma(const nde_ham *ham) { return ham ? ham->gamma : 0.0; }

int nde_ham_init(nde_ham *ham, nde_rng *rng, double sk, double sb) {
  NDE_CHECK_NULL(ham, "nde_ham_init");
  NDE_CHECK_NULL(rng, "nde_ham_init");
  if (!(sk >= 0) || !(sb >= 0) || !isfinite(sk) || !isfinite(sb))
    return nde_error(NDE_ERR_ARG, "nde_ham_init: scales sk = %g, sb = %g must be finite, >= 0", sk,
                     sb);
  size_t nk = ham->o.kind == NDE_HAM_H2 ? 2 * (size_t)ham->m * ham->m : (size_t)ham->nf * ham->nf;
  for (int j = 0; j < ham->o.nlayers; j++) {
    double *p = nde_ham_layer(ham, j);
    for (size_t i = 0; i < ham->lp; i++) p[i] = (i < nk ? sk : sb) * nde_rng_normal(rng);
  }
  if (ham->o.kind == NDE_HAM_CHNODE) return nde_ham_update_gamma(ham, NULL);
  return NDE_OK;
}

int nde_ham_layer_at(const nde_ham *ham, double t) {
  double q = floor(t / ham->o.h);
  if (!(q >= 0)) return 0; /* also NaN */
  if (q >= ham->o.nlayers - 1) return ham->o.nlayers - 1;
  return (int)q;
}

int nde_ham_check_layer(const nde_ham *ham, int layer, const char *where) {
  if (layer < 0 || layer >= ham->o.nlayers)
    return nde_error(NDE_ERR_ARG, "%s: layer %d outside [0, %d)", where, layer, ham->o.nlayers);
  return NDE_OK;
}

int nde_ham_check_batch(const nde_ham *ham, int n, const char *where) {
  if (n < 1 || n > ham->o.max_batch)
    return nde_error(NDE_ERR_BATCH, "%s: batch %d outside [1, %d]", where, n, ham->o.max_batch);
  return NDE_OK;
}

int nde_ham_rhs(nde_ham *ham, int layer, int n, const double *y, double *f) {
  NDE_CHECK_NULL(ham, "nde_ham_rhs");
  NDE_CHECK_NULL(y, "nde_ham_rhs");
  NDE_CHECK_NULL(f, "nde_ham_rhs");
  int rc = nde_ham_check_layer(ham, layer, "nde_ham_rhs");
  if (!rc) rc = nde_ham_check_batch(ham, n, "nde_ham_rhs");
  if (rc) return rc;
  nde_ham_acts(ham, layer, n, y, ham->ws);
  nde_ham_rhs_from_acts(ham, layer, n, y, ham->ws, f);
  return NDE_OK;
}

int nde_ham_vjp(nde_ham *ham, int layer, int n, const double *y, const double *a, double *ja,
                double *g) {
  NDE_CHECK_NULL(ham, "nde_ham_vjp");
  NDE_CHECK_NULL(y, "nde_ham_vjp");
  NDE_CHECK_NULL(a, "nde_ham_vjp");
  int rc = nde_ham_check_layer(ham, layer, "nde_ham_vjp");
  if (!rc) rc = nde_ham_check_batch(ham, n, "nde_ham_vjp");
  if (rc) return rc;
  if (ja && ja == a)
    return nde_error(NDE_ERR_ARG, "nde_ham_vjp: ja must not alias the cotangent a");
  /* Without ja the products still need a target: the scratch wj. */
  double *dst = ja ? ja : ham->wj;
  memset(dst, 0, (size_t)n * ham->nf * sizeof *dst);
  nde_ham_acts(ham, layer, n, y, ham->ws);
  nde_ham_vjp_from_acts(ham, layer, n, y, ham->ws, a, 1.0, dst, g);
  return NDE_OK;
}

int nde_ham_jvp(nde_ham *ham, int layer, int n, const double *y, const double *v, double *jv) {
  NDE_CHECK_NULL(ham, "nde_ham_jvp");
  NDE_CHECK_NULL(y, "nde_ham_jvp");
  NDE_CHECK_NULL(v, "nde_ham_jvp");
  NDE_CHECK_NULL(jv, "nde_ham_jvp");
  int rc = nde_ham_check_layer(ham, layer, "nde_ham_jvp");
  if (!rc) rc = nde_ham_check_batch(ham, n, "nde_ham_jvp");
  if (rc) return rc;
  nde_ham_acts(ham, layer, n, y, ham->ws);
  nde_ham_jvp_from_acts(ham, layer, n, ham->ws, v, jv);
  return NDE_OK;
}

int nde_ham_jacobian(nde_ham *ham, int layer, const double *y, double *jac) {
  NDE_CHECK_NULL(ham, "nde_ham_jacobian");
  NDE_CHECK_NULL(y, "nde_ham_jacobian");
  NDE_CHECK_NULL(jac, "nde_ham_jacobian");
  int rc = nde_ham_check_layer(ham, layer, "nde_ham_jacobian");
  if (rc) return rc;
  int nf = ham->nf;
  /* Column c of df/dy is the jvp with the unit vector e_c. */
  nde_ham_acts(ham, layer, 1, y, ham->ws);
  for (int c = 0; c < nf; c++) {
    memset(ham->e1, 0, (size_t)nf * sizeof *ham->e1);
    ham->e1[c] = 1.0;
    nde_ham_jvp_from_acts(ham, layer, 1, ham->ws, ham->e1, ham->r1);
    for (int r = 0; r < nf; r++) jac[r * nf + c] = ham->r1[r];
  }
  return NDE_OK;
}
