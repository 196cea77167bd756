/* Fixed points of maps (f(x) = x) and zeros of vector fields (F(x) = 0) from
 * many starting points with GSL's hybridsj solver (Powell's scaled hybrid
 * method, MINPACK hybrj) using the true Jacobian; roots are deduplicated and
 * classified by the eigenvalues of the Jacobian at the root:
 *   map:   stable if every |lambda| < 1, unstable if every |lambda| > 1,
 *   field: stable if every Re lambda < 0, unstable if every Re lambda > 0,
 *   saddle when both kinds occur, marginal when an eigenvalue is within
 *   marginal_tol of the boundary (then linearization decides nothing).
 * The residual solved is r(x) = f(x) - x (Jacobian J_f - I) for maps and
 * F(x) for fields.
 *
 * GSL's handler: hybridsj reports "no progress" (GSL_ENOPROG, GSL_ENOPROGJ)
 * and a failing user function (GSL_EBADFUNC, which our wrapper also returns
 * for non-finite values) through return codes (checked against GSL 2.7), so
 * failed starts are counted without touching the global handler. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multiroots.h>
#include <stdlib.h>
#include <string.h>

#include "stability/stability_impl.h"

/* Extra iterations after convergence to approach degenerate roots. */
#define POLISH_ITER 100

struct nde_fp_set {
  int n, count, cap, converged, failed;
  double *x, *re, *im; /* cap x n each */
  double *residual, *rho, *max_re, *smin;
  int *cls, *hits;
};

nde_fp_options nde_fp_options_default(void) {
  nde_fp_options o;
  o.mode = NDE_FP_MAP;
  o.nstarts = 64;
  o.lo = -6;
  o.hi = 6;
  o.seed = 1;
  o.max_iter = 200;
  o.tol = 1e-10;
  o.merge_tol = 1e-6;
  o.marginal_tol = 1e-9;
  return o;
}

const char *nde_fp_class_name(int cls) {
  switch (cls) {
  case NDE_FP_STABLE: return "stable";
  case NDE_FP_UNSTABLE: return "unstable";
  case NDE_FP_SADDLE: return "saddle";
  case NDE_FP_MARGINAL: return "marginal";
  default: return "unknown";
  }
}

void nde_fp_set_free(nde_fp_set *s) {
  if (!s) return;
  free(s->x);
  free(s->re);
  free(s->im);
  free(s->residual);
  free(s->rho);
  free(s->max_re);
  free(s->smin);
  free(s->cls);
  free(s->hits);
  free(s);
}

static nde_fp_set *set_alloc(int n, int cap) {
  nde_fp_set *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->n = n;
  s->cap = cap;
  size_t c = (size_t)(cap ? cap : 1), cn = c * (size_t)n;
  s->x = malloc(cn * sizeof(double));
  s->re = malloc(cn * sizeof(double));
  s->im = malloc(cn * sizeof(double));
  s->residual = malloc(c * sizeof(double));
  s->rho = malloc(c * sizeof(double));
  s->max_re = malloc(c * sizeof(double));
  s->smin = malloc(c * sizeof(double));
  s->cls = malloc(c * sizeof(int));
  s->hits = malloc(c * sizeof(int));
  if (!s->x || !s->re || !s->im || !s->residual || !s->rho || !s->max_re || !s->smin || !s->cls ||
      !s->hits) {
    nde_fp_set_free(s);
    return NULL;
  }
  return s;
}

/* The user's function seen by GSL. */
typedef struct solver_ctx {
  int n, mode;
  nde_stab_fn fn;
  void *ctx;
  double *x, *fx, *J; /* n, n, n x n */
  int bad;            /* fn failed or gave a non-finite value during this start */
} solver_ctx;

static int eval(solver_ctx *c, const gsl_vector *xv, gsl_vector *rv, gsl_matrix *Jm) {
  const int n = c->n;
  for (int i = 0; i < n; i++) c->x[i] = gsl_vector_get(xv, (size_t)i);
  int rc = c->fn(c->ctx, c->x, c->fx, Jm ? c->J : NULL);
  if (rc || !nde_stab_all_finite(c->fx, (size_t)n) ||
      (Jm && !nde_stab_all_finite(c->J, (size_t)n * n))) {
    c->bad = 1;
    return GSL_EBADFUNC;
  }
  if (rv)
    for (int i = 0; i < n; i++)
      gsl_vector_set(rv, (size_t)i, c->fx[i] - (c->mode == NDE_FP_MAP ? c->x[i] : 0));
  if (Jm)
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++)
        gsl_matrix_set(Jm, (size_t)i, (size_t)j,
                       c->J[i * n + j] - (c->mode == NDE_FP_MAP && i == j ? 1 : 0));
  return GSL_SUCCESS;
}
static int gsl_f(const gsl_vector *x, void *p, gsl_vector *f) { return eval(p, x, f, NULL); }
static int gsl_df(const gsl_vector *x, void *p, gsl_matrix *J) { return eval(p, x, NULL, J); }
static int gsl_fdf(const gsl_vector *x, void *p, gsl_vector *f, gsl_matrix *J) {
  return eval(p, x, f, J);
}

static int validate(int n, const nde_fp_options *o, int nstarts, const double *starts) {
  if (n < 1 || n > 4096)
    return nde_error(NDE_ERR_ARG, "nde_fp_find: dimension %d outside [1, 4096]", n);
  if (o->mode != NDE_FP_MAP && o->mode != NDE_FP_FIELD)
    return nde_error(NDE_ERR_ARG, "nde_fp_find: mode %d is neither NDE_FP_MAP nor NDE_FP_FIELD",
                     o->mode);
  if (o->nstarts < 0 || nstarts < 0 || (nstarts > 0 && !starts))
    return nde_error(NDE_ERR_ARG, "nde_fp_find: %d given and %d random starts (given array %s)",
                     nstarts, o->nstarts, starts ? "set" : "NULL");
  if (o->nstarts + nstarts < 1) return nde_error(NDE_ERR_ARG, "nde_fp_find: no starting point");
  if (o->nstarts > 0 && !(isfinite(o->lo) && isfinite(o->hi) && o->lo < o->hi))
    return nde_error(NDE_ERR_ARG, "nde_fp_find: start box [%g, %g] is empty or not finite", o->lo,
                     o->hi);
  if (o->max_iter < 1 || !(o->tol > 0) || !(o->merge_tol >= 0) || !(o->marginal_tol >= 0))
    return nde_error(
        NDE_ERR_ARG,
        "nde_fp_find: max_iter %d must be >= 1, tol %g > 0, merge_tol %g and marginal_tol %g >= 0",
        o->max_iter, o->tol, o->merge_tol, o->marginal_tol);
  if (nstarts > 0 && !nde_stab_all_finite(starts, (size_t)nstarts * n))
    return nde_error(NDE_ERR_NONFINITE, "nde_fp_find: a given starting point is not finite");
  return NDE_OK;
}

static int classify(const nde_fp_options *o, int n, const double *re, const double *im) {
  int in = 0, out = 0, on = 0;
  for (int i = 0; i < n; i++) {
    double v = o->mode == NDE_FP_MAP ? hypot(re[i], im[i]) - 1 : re[i];
    if (fabs(v) <= o->marginal_tol)
      on++;
    else if (v < 0)
      in++;
    else
      out++;
  }
  if (on) return NDE_FP_MARGINAL;
  if (in && out) return NDE_FP_SADDLE;
  return out ? NDE_FP_UNSTABLE : NDE_FP_STABLE;
}

/* Record root x (residual res) unless it merges with a known one. */
static int add_root(nde_fp_set *s, solver_ctx *c, nde_spectrum *sp, double *res_jac,
                    const nde_fp_options *o, const double *x) {
  const int n = s->n;
  for (int k = 0; k < s->count; k++) {
    const double *y = s->x + (size_t)k * n;
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs(x[i] - y[i]));
    if (d <= o->merge_tol * (1 + nde_stab_norm_inf(y, n))) {
      s->hits[k]++;
      return NDE_OK;
    }
  }
  int k = s->count;
  double *xs = s->x + (size_t)k * n;
  memcpy(xs, x, (size_t)n * sizeof(double));
  int rc = c->fn(c->ctx, xs, c->fx, c->J);
  if (rc)
    return nde_error(NDE_ERR_CALLBACK,
                     "nde_fp_find: the function failed (%d) at a root it converged to", rc);
  double r = 0;
  for (int i = 0; i < n; i++) r = fmax(r, fabs(c->fx[i] - (o->mode == NDE_FP_MAP ? xs[i] : 0)));
  if ((rc = nde_spectrum_eig(sp, c->J, s->re + (size_t)k * n, s->im + (size_t)k * n, NULL, NULL)))
    return nde_error_wrap(rc, "nde_fp_find: Jacobian at a root: ");
  for (int i = 0; i < n * n; i++)
    res_jac[i] = c->J[i] - (o->mode == NDE_FP_MAP && i % (n + 1) == 0 ? 1 : 0);
  double *sv = c->x; /* scratch: x is not needed after the solve */
  if ((rc = nde_spectrum_svd(sp, n, n, res_jac, sv))) return rc;
  double rho = 0, mre = -INFINITY;
  for (int i = 0; i < n; i++) {
    rho = fmax(rho, hypot(s->re[(size_t)k * n + i], s->im[(size_t)k * n + i]));
    mre = fmax(mre, s->re[(size_t)k * n + i]);
  }
  s->residual[k] = r;
  s->rho[k] = rho;
  s->max_re[k] = mre;
  s->smin[k] = sv[n - 1];
  s->cls[k] = classify(o, n, s->re + (size_t)k * n, s->im + (size_t)k * n);
  s->hits[k] = 1;
  s->count++;
  return NDE_OK;
}

static int lex_less(const double *a, const double *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i] != b[i]) return a[i] < b[i];
  return 0;
}

/* Sort the roots lexicographically by x (selection of a permutation, then
 * applying it through a copy made in the spare capacity... n and count are
 * small, so an in-place swap-based selection sort is simplest). */
static void swap_roots(nde_fp_set *s, int a, int b) {
  const int n = s->n;
  for (int i = 0; i < n; i++) {
    double *p[3] = {s->x, s->re, s->im};
    for (int q = 0; q < 3; q++) {
      double t = p[q][(size_t)a * n + i];
      p[q][(size_t)a * n + i] = p[q][(size_t)b * n + i];
      p[q][(size_t)b * n + i] = t;
    }
  }
  double *d[4] = {s->residual, s->rho, s->max_re, s->smin};
  for (int q = 0; q < 4; q++) {
    double t = d[q][a];
    d[q][a] = d[q][b];
    d[q][b] = t;
  }
  int *e[2] = {s->cls, s->hits};
  for (int q = 0; q < 2; q++) {
    int t = e[q][a];
    e[q][a] = e[q][b];
    e[q][b] = t;
  }
}

int nde_fp_find(int n, nde_stab_fn fn, void *ctx, const nde_fp_options *opt, const double *starts,
                int nstarts, nde_fp_set **out) {
  NDE_CHECK_NULL(out, "nde_fp_find");
  *out = NULL;
  NDE_CHECK_NULL(fn, "nde_fp_find");
  nde_fp_options o = opt ? *opt : nde_fp_options_default();
  int rc = validate(n, &o, nstarts, starts);
  if (rc) return rc;
  const int total = nstarts + o.nstarts;
  nde_fp_set *s = set_alloc(n, total);
  nde_spectrum *sp = NULL;
  gsl_multiroot_fdfsolver *gs =
      gsl_multiroot_fdfsolver_alloc(gsl_multiroot_fdfsolver_hybridsj, (size_t)n);
  gsl_vector *xv = gsl_vector_alloc((size_t)n);
  solver_ctx c = {n,
                  o.mode,
                  fn,
                  ctx,
                  malloc((size_t)n * sizeof(double)),
                  malloc((size_t)n * sizeof(double)),
                  malloc((size_t)n * n * sizeof(double)),
                  0};
  double *x0 = malloc((size_t)n * sizeof(double)), *root = malloc((size_t)n * sizeof(double));
  double *res_jac = malloc((size_t)n * n * sizeof(double));
  if (!s || !gs || !xv || !c.x || !c.fx || !c.J || !x0 || !root || !res_jac) rc = NDE_ERR_NOMEM;
  if (!rc) rc = nde_spectrum_create(n, &sp);
  nde_rng rng;
  nde_rng_seed(&rng, o.seed);
  gsl_multiroot_function_fdf F = {gsl_f, gsl_df, gsl_fdf, (size_t)n, &c};
  for (int t = 0; !rc && t < total; t++) {
    if (t < nstarts)
      memcpy(x0, starts + (size_t)t * n, (size_t)n * sizeof(double));
    else
      for (int i = 0; i < n; i++) x0[i] = nde_rng_uniform_range(&rng, o.lo, o.hi);
    for (int i = 0; i < n; i++) gsl_vector_set(xv, (size_t)i, x0[i]);
    /* A start where fn fails is a failed start; the flag also covers GSL
     * versions whose set() does not pass the function's status on. */
    c.bad = 0;
    int st = gsl_multiroot_fdfsolver_set(gs, &F, xv), ok = 0;
    for (int it = 0; st == GSL_SUCCESS && !c.bad && it <= o.max_iter; it++) {
      const gsl_vector *r = gsl_multiroot_fdfsolver_f(gs);
      double rn = 0;
      for (int i = 0; i < n; i++) rn = fmax(rn, fabs(gsl_vector_get(r, (size_t)i)));
      if (!isfinite(rn)) break;
      if (rn <= o.tol) {
        ok = 1;
        break;
      }
      if (it == o.max_iter) break;
      st = gsl_multiroot_fdfsolver_iterate(gs);
    }
    if (!ok || c.bad) {
      s->failed++;
      continue;
    }
    /* Polish: a residual below tol can still be far from a degenerate root
     * (r = x^3 is 1e-10 at x = 5e-4), so keep iterating while the steps are
     * not negligible, keeping the point of smallest residual. */
    const gsl_vector *xr = gsl_multiroot_fdfsolver_root(gs);
    double best = INFINITY;
    for (int it = 0; it <= POLISH_ITER; it++) {
      const gsl_vector *r = gsl_multiroot_fdfsolver_f(gs);
      double rn = 0;
      for (int i = 0; i < n; i++) rn = fmax(rn, fabs(gsl_vector_get(r, (size_t)i)));
      if (c.bad || !isfinite(rn)) break;
      if (rn < best) {
        best = rn;
        for (int i = 0; i < n; i++) root[i] = gsl_vector_get(xr, (size_t)i);
      }
      if (rn == 0 || it == POLISH_ITER) break;
      if (gsl_multiroot_fdfsolver_iterate(gs) != GSL_SUCCESS) break;
      if (it > 0 &&
          gsl_multiroot_test_delta(gsl_multiroot_fdfsolver_dx(gs), xr, 0, 1e-15) == GSL_SUCCESS)
        break;
    }
    s->converged++;
    rc = add_root(s, &c, sp, res_jac, &o, root);
  }
  if (!rc)
    for (int a = 0; a < s->count; a++) {
      int m = a;
      for (int b = a + 1; b < s->count; b++)
        if (lex_less(s->x + (size_t)b * n, s->x + (size_t)m * n, n)) m = b;
      if (m != a) swap_roots(s, a, m);
    }
  if (gs) gsl_multiroot_fdfsolver_free(gs);
  if (xv) gsl_vector_free(xv);
  free(c.x);
  free(c.fx);
  free(c.J);
  free(x0);
  free(root);
  free(res_jac);
  nde_spectrum_free(sp);
  if (rc) {
    nde_fp_set_free(s);
    return rc == NDE_ERR_NOMEM
               ? nde_error(rc, "nde_fp_find: out of memory (n = %d, %d starts)", n, total)
               : rc;
  }
  *out = s;
  return NDE_OK;
}

int nde_fp_set_dim(const nde_fp_set *s) { return s ? s->n : 0; }
int nde_fp_set_count(const nde_fp_set *s) { return s ? s->count : 0; }

int nde_fp_set_get(const nde_fp_set *s, int i, nde_fixed_point *fp) {
  NDE_CHECK_NULL(s, "nde_fp_set_get");
  NDE_CHECK_NULL(fp, "nde_fp_set_get");
  if (i < 0 || i >= s->count)
    return nde_error(NDE_ERR_ARG, "nde_fp_set_get: index %d outside [0, %d)", i, s->count);
  const size_t o = (size_t)i * s->n;
  fp->x = s->x + o;
  fp->eig_re = s->re + o;
  fp->eig_im = s->im + o;
  fp->residual = s->residual[i];
  fp->rho = s->rho[i];
  fp->max_re = s->max_re[i];
  fp->res_smin = s->smin[i];
  fp->cls = s->cls[i];
  fp->hits = s->hits[i];
  return NDE_OK;
}

int nde_fp_set_starts(const nde_fp_set *s, int *converged, int *failed) {
  NDE_CHECK_NULL(s, "nde_fp_set_starts");
  if (converged) *converged = s->converged;
  if (failed) *failed = s->failed;
  return NDE_OK;
}
