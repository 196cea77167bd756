#include "support/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double tu_max_rel_err(const double *a, const double *b, size_t n) {
  double scale = 0, worst = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  double floor_ = 1e-3 * scale;
  if (floor_ == 0) floor_ = 1e-30;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(a[i] - b[i]) / fmax(fmax(fabs(a[i]), fabs(b[i])), floor_);
    if (d > worst || isnan(d)) worst = isnan(d) ? INFINITY : d;
  }
  return worst;
}

void tu_fill_normal(nde_real *x, size_t n, double scale, nde_rng *rng) {
  for (size_t i = 0; i < n; i++) x[i] = (nde_real)(scale * nde_rng_normal(rng));
}

/* loss(x, theta) = sum w_i y_i, accumulated in double. */
static int loss_at(nde_net *net, double t, int n, const nde_real *x, const nde_real *w, double *out) {
  int rc = nde_net_forward(net, t, n, x, NULL);
  if (rc) return rc;
  const nde_real *y = nde_net_output(net);
  size_t m = (size_t)n * nde_net_out_numel(net);
  double s = 0;
  for (size_t i = 0; i < m; i++) s += (double)w[i] * y[i];
  *out = s;
  return NDE_OK;
}

int tu_gradcheck_net(nde_net *net, double t, int n, unsigned long seed, double h, double *err_x,
                     double *err_p) {
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  int rc = nde_net_init(net, &rng);
  if (rc) return rc;
  size_t nx = (size_t)n * nde_net_in_numel(net), ny = (size_t)n * nde_net_out_numel(net);
  size_t np = nde_net_num_params(net);
  nde_real *x = malloc(nx * sizeof *x), *w = malloc(ny * sizeof *w), *dx = malloc(nx * sizeof *dx);
  nde_real *g = calloc(np ? np : 1, sizeof *g);
  double *an = malloc((nx > np ? nx : np) * sizeof *an), *fd = malloc((nx > np ? nx : np) * sizeof *fd);
  if (!x || !w || !dx || !g || !an || !fd) {
    rc = NDE_ERR_NOMEM;
    goto done;
  }
  /* Perturb parameters away from their init (e.g. GroupNorm gamma = 1, beta = 0). */
  nde_real *p = nde_net_params(net);
  for (size_t i = 0; i < np; i++) p[i] += (nde_real)(0.1 * nde_rng_normal(&rng));
  tu_fill_normal(x, nx, 1.0, &rng);
  tu_fill_normal(w, ny, 1.0, &rng);

  if ((rc = nde_net_forward(net, t, n, x, NULL))) goto done;
  if ((rc = nde_net_vjp(net, n, w, dx, g))) goto done;

  double lp, lm;
  for (size_t i = 0; i < nx; i++) {
    nde_real keep = x[i];
    x[i] = keep + (nde_real)h;
    if ((rc = loss_at(net, t, n, x, w, &lp))) goto done;
    x[i] = keep - (nde_real)h;
    if ((rc = loss_at(net, t, n, x, w, &lm))) goto done;
    x[i] = keep;
    fd[i] = (lp - lm) / (2 * h);
    an[i] = dx[i];
  }
  *err_x = tu_max_rel_err(an, fd, nx);
  for (size_t i = 0; i < np; i++) {
    nde_real keep = p[i];
    p[i] = keep + (nde_real)h;
    if ((rc = loss_at(net, t, n, x, w, &lp))) goto done;
    p[i] = keep - (nde_real)h;
    if ((rc = loss_at(net, t, n, x, w, &lm))) goto done;
    p[i] = keep;
    fd[i] = (lp - lm) / (2 * h);
    an[i] = g[i];
  }
  *err_p = np ? tu_max_rel_err(an, fd, np) : 0;
done:
  free(x);
  free(w);
  free(dx);
  free(g);
  free(an);
  free(fd);
  return rc;
}
