/* Matrix measures and norms of small Jacobians (GSL), and the backward
 * sensitivity norms of H-DNNs (Galimberti et al.): for y_{j+1} = Phi-map of
 * y_j, dy_N / dy_{N-l} = Phi_{N-1} ... Phi_{N-l}; gradients cannot vanish
 * through the network when its norm stays >= 1 (H2 guarantees it: products
 * of symplectic matrices are symplectic and their singular values come in
 * reciprocal pairs), and cannot explode when it stays bounded (CH-NODE). */
#include <gsl/gsl_eigen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hamiltonian/ham_impl.h"

/* lambda_max of the symmetric d x d matrix s (row-major; destroyed). */
static int lambda_max_sym(int d, double *s, double *out) {
  gsl_matrix_view mv = gsl_matrix_view_array(s, (size_t)d, (size_t)d);
  gsl_vector *ev = gsl_vector_alloc((size_t)d);
  gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc((size_t)d);
  if (!ev || !ws) {
    if (ev) gsl_vector_free(ev);
    if (ws) gsl_eigen_symm_free(ws);
    return nde_error(NDE_ERR_NOMEM, "eigenvalues of a %d x %d matrix: out of memory", d, d);
  }
  int st = gsl_eigen_symm(&mv.matrix, ev, ws);
  double mx = -INFINITY;
  for (int k = 0; k < d; k++) mx = fmax(mx, gsl_vector_get(ev, (size_t)k));
  gsl_vector_free(ev);
  gsl_eigen_symm_free(ws);
  if (st) return nde_error(NDE_ERR_NUMERIC, "gsl_eigen_symm failed (status %d)", st);
  *out = mx;
  return NDE_OK;
}

static int check_square(int d, const double *a, const double *res, const char *where) {
  NDE_CHECK_NULL(a, where);
  NDE_CHECK_NULL(res, where);
  if (d < 1 || d > 4096) return nde_error(NDE_ERR_ARG, "%s: order %d outside [1, 4096]", where, d);
  for (size_t i = 0; i < (size_t)d * d; i++)
    if (!isfinite(a[i]))
      return nde_error(NDE_ERR_NONFINITE, "%s: non-finite entry %zu of the matrix", where, i);
  return NDE_OK;
}

int nde_ham_mu2(int d, const double *a, double *mu) {
  int rc = check_square(d, a, mu, "nde_ham_mu2");
  if (rc) return rc;
  double *s = malloc((size_t)d * d * sizeof *s);
  if (!s) return nde_error(NDE_ERR_NOMEM, "nde_ham_mu2: out of memory");
  for (int r = 0; r < d; r++)
    for (int c = 0; c < d; c++) s[r * d + c] = 0.5 * (a[r * d + c] + a[c * d + r]);
  rc = lambda_max_sym(d, s, mu);
  free(s);
  return rc;
}

int nde_ham_norm2(int d, const double *a, double *norm) {
  int rc = check_square(d, a, norm, "nde_ham_norm2");
  if (rc) return rc;
  double *s = malloc((size_t)d * d * sizeof *s);
  if (!s) return nde_error(NDE_ERR_NOMEM, "nde_ham_norm2: out of memory");
  for (int r = 0; r < d; r++)
    for (int c = 0; c < d; c++) {
      double acc = 0;
      for (int k = 0; k < d; k++) acc += a[k * d + r] * a[k * d + c];
      s[r * d + c] = acc;
    }
  double l = 0;
  rc = lambda_max_sym(d, s, &l);
  free(s);
  if (!rc) *norm = sqrt(fmax(l, 0.0));
  return rc;
}

int nde_ham_bsm_norms(int nlayers, int n, int d, const double *phi, double *mean, double *min,
                      double *max) {
  NDE_CHECK_NULL(phi, "nde_ham_bsm_norms");
  if (nlayers < 1 || n < 1 || d < 1 || d > 4096)
    return nde_error(NDE_ERR_ARG,
                     "nde_ham_bsm_norms: nlayers %d, n %d, d %d must be >= 1 (d <= 4096)", nlayers,
                     n, d);
  size_t dd = (size_t)d * d;
  double *p = malloc(dd * sizeof *p), *q = malloc(dd * sizeof *q);
  if (!p || !q) {
    free(p);
    free(q);
    return nde_error(NDE_ERR_NOMEM, "nde_ham_bsm_norms: out of memory");
  }
  for (int l = 0; l < nlayers; l++) {
    if (mean) mean[l] = 0;
    if (min) min[l] = INFINITY;
    if (max) max[l] = -INFINITY;
  }
  int rc = NDE_OK;
  for (int i = 0; i < n && !rc; i++) {
    /* P = Phi_{N-1}; then P = P Phi_{N-l} for l = 2..N. */
    memcpy(p, phi + ((size_t)(nlayers - 1) * n + i) * dd, dd * sizeof *p);
    for (int l = 1; l <= nlayers && !rc; l++) {
      if (l > 1) {
        const double *f = phi + ((size_t)(nlayers - l) * n + i) * dd;
        for (int r = 0; r < d; r++)
          for (int c = 0; c < d; c++) {
            double acc = 0;
            for (int k = 0; k < d; k++) acc += p[r * d + k] * f[k * d + c];
            q[r * d + c] = acc;
          }
        memcpy(p, q, dd * sizeof *p);
      }
      double nrm;
      if ((rc = nde_ham_norm2(d, p, &nrm))) break;
      if (mean) mean[l - 1] += nrm / n;
      if (min) min[l - 1] = fmin(min[l - 1], nrm);
      if (max) max[l - 1] = fmax(max[l - 1], nrm);
    }
  }
  free(p);
  free(q);
  return rc;
}
