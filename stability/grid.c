/* Points of a 2-D grid in R^n, orbits of maps, regions of attraction by
 * simulation and activation-region maps over a grid. */
#include <stdlib.h>
#include <string.h>

#include "stability/stability_impl.h"

static int check_grid(const nde_grid2 *g, int n, const char *where) {
  NDE_CHECK_NULL(g, where);
  if (g->nx < 2 || g->ny < 2)
    return nde_error(NDE_ERR_ARG, "%s: grid of %d x %d points, need at least 2 x 2", where, g->nx,
                     g->ny);
  if (!(isfinite(g->x0) && isfinite(g->x1) && isfinite(g->y0) && isfinite(g->y1)))
    return nde_error(NDE_ERR_ARG, "%s: grid ranges must be finite", where);
  int given = (g->origin != NULL) + (g->u != NULL) + (g->v != NULL);
  if (given != 0 && given != 3)
    return nde_error(NDE_ERR_ARG, "%s: give all of origin, u, v or none of them", where);
  if (given == 0 && n != 2)
    return nde_error(NDE_ERR_SHAPE, "%s: a grid without origin/u/v needs n = 2, got n = %d", where,
                     n);
  return NDE_OK;
}

static void grid_point(const nde_grid2 *g, int n, int i, int j, double *x) {
  double a = g->x0 + (g->x1 - g->x0) * j / (g->nx - 1);
  double b = g->y0 + (g->y1 - g->y0) * i / (g->ny - 1);
  if (!g->origin) {
    x[0] = a;
    x[1] = b;
    return;
  }
  for (int k = 0; k < n; k++) x[k] = g->origin[k] + a * g->u[k] + b * g->v[k];
}

int nde_grid2_point(const nde_grid2 *g, int n, int i, int j, double *x) {
  int rc = check_grid(g, n, "nde_grid2_point");
  if (rc) return rc;
  NDE_CHECK_NULL(x, "nde_grid2_point");
  if (i < 0 || i >= g->ny || j < 0 || j >= g->nx)
    return nde_error(NDE_ERR_ARG, "nde_grid2_point: (%d, %d) outside the %d x %d grid", i, j, g->ny,
                     g->nx);
  grid_point(g, n, i, j, x);
  return NDE_OK;
}

int nde_stab_iterate(int n, nde_stab_fn fn, void *ctx, const double *x0, int nsteps, double escape,
                     double *traj, int *done) {
  NDE_CHECK_NULL(fn, "nde_stab_iterate");
  NDE_CHECK_NULL(x0, "nde_stab_iterate");
  NDE_CHECK_NULL(traj, "nde_stab_iterate");
  NDE_CHECK_NULL(done, "nde_stab_iterate");
  if (n < 1 || nsteps < 0 || !(escape > 0))
    return nde_error(NDE_ERR_ARG,
                     "nde_stab_iterate: n = %d >= 1, nsteps = %d >= 0 and escape = %g > 0 required",
                     n, nsteps, escape);
  memcpy(traj, x0, (size_t)n * sizeof(double));
  *done = 0;
  for (int k = 0; k < nsteps; k++) {
    const double *x = traj + (size_t)k * n;
    double *y = traj + (size_t)(k + 1) * n;
    int rc = fn(ctx, x, y, NULL);
    if (rc)
      return nde_error(NDE_ERR_CALLBACK, "nde_stab_iterate: the map failed (%d) at step %d", rc, k);
    if (!nde_stab_all_finite(y, (size_t)n) || nde_stab_norm_inf(y, n) > escape) break;
    *done = k + 1;
  }
  return NDE_OK;
}

nde_roa_options nde_roa_options_default(void) {
  nde_roa_options o = {1000, 1e-10, 1e-5, 1e6};
  return o;
}

/* Index of the listed fixed point within match_tol of x, or UNLISTED. */
static int match(const nde_fp_set *fps, int n, const double *x, double tol) {
  int best = NDE_ROA_UNLISTED;
  double bd = INFINITY;
  int cnt = nde_fp_set_count(fps);
  for (int k = 0; k < cnt; k++) {
    nde_fixed_point fp;
    nde_fp_set_get(fps, k, &fp);
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs(x[i] - fp.x[i]));
    if (d <= tol * (1 + nde_stab_norm_inf(fp.x, n)) && d < bd) {
      bd = d;
      best = k;
    }
  }
  return best;
}

int nde_roa_grid(int n, nde_stab_fn fn, void *ctx, const nde_fp_set *fps, const nde_grid2 *g,
                 const nde_roa_options *opt, int *label, int *steps) {
  int rc = check_grid(g, n, "nde_roa_grid");
  if (rc) return rc;
  NDE_CHECK_NULL(fn, "nde_roa_grid");
  NDE_CHECK_NULL(label, "nde_roa_grid");
  nde_roa_options o = opt ? *opt : nde_roa_options_default();
  if (o.max_steps < 1 || !(o.step_tol > 0) || !(o.match_tol >= 0) || !(o.escape > 0))
    return nde_error(NDE_ERR_ARG,
                     "nde_roa_grid: max_steps %d >= 1, step_tol %g > 0, match_tol %g >= 0, escape "
                     "%g > 0 required",
                     o.max_steps, o.step_tol, o.match_tol, o.escape);
  if (fps && nde_fp_set_dim(fps) != n)
    return nde_error(NDE_ERR_SHAPE,
                     "nde_roa_grid: fixed points of dimension %d for a map of dimension %d",
                     nde_fp_set_dim(fps), n);
  double *x = malloc((size_t)n * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  if (!x || !y) {
    free(x);
    free(y);
    return nde_error(NDE_ERR_NOMEM, "nde_roa_grid: out of memory");
  }
  for (int i = 0; !rc && i < g->ny; i++)
    for (int j = 0; !rc && j < g->nx; j++) {
      grid_point(g, n, i, j, x);
      int lab = NDE_ROA_UNSETTLED, k;
      for (k = 0; k < o.max_steps; k++) {
        int frc = fn(ctx, x, y, NULL);
        if (frc) {
          rc = nde_error(NDE_ERR_CALLBACK,
                         "nde_roa_grid: the map failed (%d) on the orbit of grid point (%d, %d)",
                         frc, i, j);
          break;
        }
        if (!nde_stab_all_finite(y, (size_t)n) || nde_stab_norm_inf(y, n) > o.escape) {
          lab = NDE_ROA_DIVERGED;
          k++;
          break;
        }
        double d = 0;
        for (int q = 0; q < n; q++) d = fmax(d, fabs(y[q] - x[q]));
        memcpy(x, y, (size_t)n * sizeof(double));
        if (d <= o.step_tol * (1 + nde_stab_norm_inf(x, n))) {
          lab = fps ? match(fps, n, x, o.match_tol) : NDE_ROA_UNLISTED;
          k++;
          break;
        }
      }
      label[i * g->nx + j] = lab;
      if (steps) steps[i * g->nx + j] = k;
    }
  free(x);
  free(y);
  return rc;
}

/* Patterns are compared exactly; a 64-bit FNV-1a hash of the pattern picks
 * the bucket of an open-addressing table of region representatives. */
static uint64_t fnv1a(const unsigned char *on, int m) {
  uint64_t h = 1469598103934665603ULL;
  for (int k = 0; k < m; k++) {
    h ^= on[k];
    h *= 1099511628211ULL;
  }
  return h;
}

int nde_pwa_region_map(nde_pwa *p, const nde_real *params, const nde_grid2 *g, int *region,
                       int *nregions) {
  NDE_CHECK_NULL(p, "nde_pwa_region_map");
  NDE_CHECK_NULL(params, "nde_pwa_region_map");
  NDE_CHECK_NULL(region, "nde_pwa_region_map");
  NDE_CHECK_NULL(nregions, "nde_pwa_region_map");
  int rc = check_grid(g, p->nin, "nde_pwa_region_map");
  if (rc) return rc;
  const int m = p->nunits > 0 ? p->nunits : 1;
  const size_t npts = (size_t)g->nx * g->ny;
  size_t cap = 16;
  while (cap < 2 * npts) cap *= 2;
  unsigned char *pats = malloc(npts * (size_t)m); /* pattern of each region, by id */
  int *table = malloc(cap * sizeof(int));
  unsigned char *on = calloc((size_t)m, 1);
  double *x = malloc((size_t)p->nin * sizeof(double));
  if (!pats || !table || !on || !x) {
    free(pats);
    free(table);
    free(on);
    free(x);
    return nde_error(NDE_ERR_NOMEM, "nde_pwa_region_map: out of memory for %zu points", npts);
  }
  for (size_t t = 0; t < cap; t++) table[t] = -1;
  int count = 0;
  for (int i = 0; !rc && i < g->ny; i++)
    for (int j = 0; !rc && j < g->nx; j++) {
      grid_point(g, p->nin, i, j, x);
      if ((rc = nde_pwa_pattern(p, params, x, on))) {
        rc = nde_error_wrap(rc, "nde_pwa_region_map: grid point (%d, %d): ", i, j);
        break;
      }
      size_t t = (size_t)(fnv1a(on, p->nunits) & (cap - 1));
      int id = -1;
      while (table[t] >= 0) {
        if (memcmp(pats + (size_t)table[t] * m, on, (size_t)p->nunits) == 0) {
          id = table[t];
          break;
        }
        t = (t + 1) & (cap - 1);
      }
      if (id < 0) {
        id = count++;
        memcpy(pats + (size_t)id * m, on, (size_t)p->nunits);
        table[t] = id;
      }
      region[i * g->nx + j] = id;
    }
  if (!rc) *nregions = count;
  free(pats);
  free(table);
  free(on);
  free(x);
  return rc;
}
