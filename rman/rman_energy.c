/* RMAN energy E(x) = ||g(x) - x||^2 of a batch and its gradients with respect
 * to the features and the attractors (docs/methods.md section 4, formulas in nde/rman.h).
 *
 * Per sample, with e = g - x, A the active set and t_j = (m_j - g)^T e / S:
 *   grad_x E     = 2 [ sum_{j in A} t_j m_j - e ]
 *   grad_{m_j} E = 2 [ a_j e + t_j x ]          (j in A; zero otherwise,
 *                                                 since a_j = 0 off A)
 * and (m_j - g)^T e = m_j^T e - g^T e, so one pass over the active rows gives
 * both gradients: O(h c) per sample, no allocation. */
#include <math.h>
#include <string.h>

#include "common/error_impl.h"
#include "rman/rman_impl.h"

static int check_call(const nde_rman *r, int n, const nde_real *x, const nde_real *m,
                      const char *where) {
  NDE_CHECK_NULL(r, where);
  NDE_CHECK_NULL(x, where);
  NDE_CHECK_NULL(m, where);
  if (n <= 0) return nde_error(NDE_ERR_BATCH, "%s: batch size n = %d must be >= 1", where, n);
  return NDE_OK;
}

/* Convert m once and validate every x up front, so that a NaN/Inf input is
 * reported before anything is written to the caller's buffers. */
static int load_inputs(nde_rman *r, int n, const nde_real *x, const nde_real *m,
                       const char *where) {
  int rc = rman_to_double(m, (size_t)r->h * r->c, r->m, where, "m");
  if (rc) return rc;
  size_t nx = (size_t)n * r->c;
  for (size_t i = 0; i < nx; i++)
    if (!isfinite((double)x[i]))
      return nde_error(NDE_ERR_NONFINITE, "%s: x[%zu] (sample %zu, channel %zu) = %g is not finite",
                       where, i, i / (size_t)r->c, i % (size_t)r->c, (double)x[i]);
  return NDE_OK;
}

int nde_rman_energy(nde_rman *r, int n, const nde_real *x, const nde_real *m, double alpha,
                    nde_real *dx, nde_real *dm, nde_rman_result *res) {
  static const char *where = "nde_rman_energy";
  int rc = check_call(r, n, x, m, where);
  if (rc) return rc;
  NDE_CHECK_NULL(res, where);
  if (!isfinite(alpha) || alpha < 0)
    return nde_error(NDE_ERR_ARG, "%s: alpha = %g must be finite and >= 0", where, alpha);
  if ((rc = load_inputs(r, n, x, m, where))) return rc;

  const int c = r->c, h = r->h;
  const int skip = r->opts.empty == NDE_RMAN_EMPTY_SKIP;
  const double w = alpha / n; /* d loss / d E_i */
  if (dm) memset(r->dm, 0, (size_t)h * c * sizeof *r->dm);
  double sumE = 0;
  int empty = 0;

  for (int i = 0; i < n; i++) {
    double *xi = r->x, *e = r->e, *gx = r->gx, *g = r->g;
    for (int k = 0; k < c; k++) xi[k] = (double)x[(size_t)i * c + k];
    double S = rman_assign(c, h, r->m, xi, r->s, r->a, g);
    double E = 0;
    if (S == 0) {
      empty++;
      if (skip) continue; /* contributes nothing */
      /* Limit of r_j / (S + eps): a = g = 0, E = ||x||^2, grad_x = 2x, grad_m = 0. */
      for (int k = 0; k < c; k++) {
        E += xi[k] * xi[k];
        gx[k] = 2 * xi[k];
      }
    } else {
      double ge = 0;
      for (int k = 0; k < c; k++) {
        e[k] = g[k] - xi[k];
        E += e[k] * e[k];
        ge += g[k] * e[k];
        gx[k] = -2 * e[k];
      }
      if (dx || dm) {
        for (int j = 0; j < h; j++) {
          if (!(r->s[j] > 0)) continue;
          const double *mj = r->m + (size_t)j * c;
          double me = 0;
          for (int k = 0; k < c; k++) me += mj[k] * e[k];
          double t = (me - ge) / S;
          for (int k = 0; k < c; k++) gx[k] += 2 * t * mj[k];
          if (dm) {
            double *dmj = r->dm + (size_t)j * c;
            double aj = r->a[j];
            for (int k = 0; k < c; k++) dmj[k] += w * 2 * (aj * e[k] + t * xi[k]);
          }
        }
      }
    }
    if (!isfinite(E))
      return nde_error(NDE_ERR_NONFINITE, "%s: energy of sample %d overflowed (E = %g)", where, i,
                       E);
    sumE += E;
    if (!isfinite(sumE))
      return nde_error(NDE_ERR_NONFINITE, "%s: the sum of energies overflowed at sample %d", where,
                       i);
    if (dx) {
      /* Check the row as it will be stored (a float build overflows sooner). */
      for (int k = 0; k < c; k++)
        if (!isfinite((double)(nde_real)(w * gx[k])))
          return nde_error(NDE_ERR_NONFINITE,
                           "%s: gradient of sample %d, channel %d is not finite (%g, S = %g)",
                           where, i, k, w * gx[k], S);
      nde_real *dxi = dx + (size_t)i * c;
      for (int k = 0; k < c; k++) dxi[k] += (nde_real)(w * gx[k]);
    }
  }
  if (!isfinite(w * sumE))
    return nde_error(NDE_ERR_NONFINITE, "%s: loss (alpha/n) sum E = %g x %g is not finite", where,
                     w, sumE);
  if (dm) {
    size_t hc = (size_t)h * c;
    for (size_t q = 0; q < hc; q++)
      if (!isfinite((double)(nde_real)r->dm[q]))
        return nde_error(NDE_ERR_NONFINITE,
                         "%s: gradient of attractor %zu, channel %zu is not finite (%g)", where,
                         q / (size_t)c, q % (size_t)c, r->dm[q]);
    for (size_t q = 0; q < hc; q++) dm[q] += (nde_real)r->dm[q];
  }
  res->mean_energy = sumE / n;
  res->loss = w * sumE;
  res->n_empty = empty;
  return NDE_OK;
}

int nde_rman_attract(nde_rman *r, int n, const nde_real *x, const nde_real *m, double *a, double *g,
                     double *energy) {
  static const char *where = "nde_rman_attract";
  int rc = check_call(r, n, x, m, where);
  if (rc) return rc;
  if ((rc = load_inputs(r, n, x, m, where))) return rc;
  const int c = r->c, h = r->h;
  for (int i = 0; i < n; i++) {
    double *xi = r->x;
    for (int k = 0; k < c; k++) xi[k] = (double)x[(size_t)i * c + k];
    double S = rman_assign(c, h, r->m, xi, r->s, r->a, r->g);
    if (a) memcpy(a + (size_t)i * h, r->a, (size_t)h * sizeof *a);
    if (g) memcpy(g + (size_t)i * c, r->g, (size_t)c * sizeof *g);
    if (energy) {
      double E = 0;
      if (S == 0 && r->opts.empty == NDE_RMAN_EMPTY_SKIP)
        E = 0;
      else
        for (int k = 0; k < c; k++) E += (r->g[k] - xi[k]) * (r->g[k] - xi[k]);
      energy[i] = E;
    }
  }
  return NDE_OK;
}
