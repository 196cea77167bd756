/* Jacobians of nde networks by vector-Jacobian products, and the spectral
 * summary of a vector field's Jacobian (see nde/stability.h).
 *
 * Reverse mode gives rows: with y = net(t, x), the vjp for the output
 * cotangent e_i is J^T e_i, the i-th row of J. Because every sample of a
 * batch is processed independently (no BatchNorm in training mode), a
 * batch of B copies of x holds B copies of the same linearization, and one
 * vjp whose cotangent for copy k is e_{r + k} yields rows r .. r + B - 1.
 * The forward is done once: nde_net_vjp only reads the intermediates. The
 * cost is one forward of B samples plus ceil(out / B) vjps of B samples,
 * i.e. about out vjps of one sample, the minimum for an exact dense J by
 * reverse mode. */
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <stdlib.h>
#include <string.h>

#include "stability/stability_impl.h"

int nde_stab_net_jacobian(nde_net *net, double t, const nde_real *x, double *J) {
  NDE_CHECK_NULL(net, "nde_stab_net_jacobian");
  NDE_CHECK_NULL(x, "nde_stab_net_jacobian");
  NDE_CHECK_NULL(J, "nde_stab_net_jacobian");
  const size_t nin = nde_net_in_numel(net), nout = nde_net_out_numel(net);
  const int B = nde_net_max_batch(net);
  const int nb = (size_t)B < nout ? B : (int)nout; /* copies in the batch */
  /* A NaN in x need not reach J (a ReLU maps it to 0, and GroupNorm spreads
   * it over a whole group first), so x is checked itself. */
  for (size_t j = 0; j < nin; j++)
    if (!isfinite((double)x[j]))
      return nde_error(NDE_ERR_NONFINITE, "nde_stab_net_jacobian: x[%zu] = %g is not finite", j,
                       (double)x[j]);
  nde_real *xb = malloc((size_t)nb * nin * sizeof *xb);
  nde_real *dy = calloc((size_t)nb * nout, sizeof *dy);
  nde_real *dx = malloc((size_t)nb * nin * sizeof *dx);
  int rc = NDE_OK;
  if (!xb || !dy || !dx) {
    rc = nde_error(NDE_ERR_NOMEM, "nde_stab_net_jacobian: out of memory for a batch of %d copies",
                   nb);
    goto done;
  }
  for (int k = 0; k < nb; k++) memcpy(xb + (size_t)k * nin, x, nin * sizeof *x);
  if ((rc = nde_net_forward(net, t, nb, xb, NULL))) {
    rc = nde_error_wrap(rc, "nde_stab_net_jacobian: forward of %d copies: ", nb);
    goto done;
  }
  for (size_t r0 = 0; r0 < nout; r0 += (size_t)nb) {
    /* Copy k carries e_{r0 + k}; copies past the last row carry 0 (the vjp
     * must run on the forward's batch size) and their dx is ignored. */
    for (int k = 0; k < nb; k++) {
      nde_real *d = dy + (size_t)k * nout;
      if (r0 > 0) d[r0 - (size_t)nb + (size_t)k] = 0; /* the previous round's 1 */
      if (r0 + (size_t)k < nout) d[r0 + (size_t)k] = 1;
    }
    if ((rc = nde_net_vjp(net, nb, dy, dx, NULL))) {
      rc = nde_error_wrap(rc, "nde_stab_net_jacobian: vjp for rows %zu..: ", r0);
      goto done;
    }
    for (int k = 0; k < nb && r0 + (size_t)k < nout; k++) {
      double *row = J + (r0 + (size_t)k) * nin;
      const nde_real *g = dx + (size_t)k * nin;
      for (size_t j = 0; j < nin; j++) row[j] = (double)g[j];
    }
  }
  if (!nde_stab_all_finite(J, nout * nin))
    rc = nde_error(NDE_ERR_NONFINITE,
                   "nde_stab_net_jacobian: the %zux%zu Jacobian has a non-finite entry (non-finite "
                   "x, parameters or intermediates)",
                   nout, nin);
done:
  free(xb);
  free(dy);
  free(dx);
  return rc;
}

/* Decreasing real part, then decreasing imaginary part (a conjugate pair
 * lists +i first): deterministic for equal real parts. */
typedef struct eig_pair {
  double re, im;
} eig_pair;

static int cmp_eig(const void *pa, const void *pb) {
  const eig_pair *a = pa, *b = pb;
  if (a->re != b->re) return a->re < b->re ? 1 : -1;
  if (a->im != b->im) return a->im < b->im ? 1 : -1;
  return 0;
}

static int cmp_desc(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a < b) - (a > b);
}

/* Checks of N (n x k): finite, orthonormal columns, and J N = 0 relative to
 * ||J||_F (fro). *resid receives ||J N||_F / ||J||_F. */
static int check_null_space(int n, const double *J, int k, const double *N, double fro,
                            double *resid) {
  const size_t un = (size_t)n, uk = (size_t)k;
  if (!nde_stab_all_finite(N, un * uk))
    return nde_error(NDE_ERR_NONFINITE,
                     "nde_stab_jacobian_spectrum: N (%dx%d) has a non-finite entry", n, k);
  for (size_t a = 0; a < uk; a++)
    for (size_t b = 0; b <= a; b++) {
      double d = 0;
      for (size_t i = 0; i < un; i++) d += N[i * uk + a] * N[i * uk + b];
      if (fabs(d - (a == b)) > 1e-8)
        return nde_error(NDE_ERR_ARG,
                         "nde_stab_jacobian_spectrum: the columns of N are not orthonormal "
                         "(column %zu . column %zu = %.3g)",
                         a, b, d);
    }
  double r = 0;
  for (size_t i = 0; i < un; i++)
    for (size_t a = 0; a < uk; a++) {
      double d = 0;
      for (size_t j = 0; j < un; j++) d += J[i * un + j] * N[j * uk + a];
      r += d * d;
    }
  *resid = fro > 0 ? sqrt(r) / fro : sqrt(r);
  if (*resid > 1e-3)
    return nde_error(NDE_ERR_ARG,
                     "nde_stab_jacobian_spectrum: N is not a null space of J (||J N||_F / ||J||_F "
                     "= %.3g > 1e-3)",
                     *resid);
  return NDE_OK;
}

/* Eigenvalues of the symmetric matrix in a (destroyed), decreasing, into v. */
static int symm_eig(gsl_matrix *a, gsl_vector *sv, gsl_eigen_symm_workspace *ws, double *v) {
  int st = gsl_eigen_symm(a, sv, ws);
  if (st != GSL_SUCCESS)
    return nde_error(NDE_ERR_NUMERIC,
                     "nde_stab_jacobian_spectrum: gsl_eigen_symm failed on a symmetric part (%s)",
                     gsl_strerror(st));
  for (size_t i = 0; i < a->size1; i++) v[i] = gsl_vector_get(sv, i);
  qsort(v, a->size1, sizeof *v, cmp_desc);
  return NDE_OK;
}

int nde_stab_jacobian_spectrum(int n, const double *J, int k, const double *N, double zero_tol,
                               double *re, double *im, double *sym, nde_jac_summary *out) {
  NDE_CHECK_NULL(J, "nde_stab_jacobian_spectrum");
  NDE_CHECK_NULL(out, "nde_stab_jacobian_spectrum");
  memset(out, 0, sizeof *out);
  if (n < 1) return nde_error(NDE_ERR_ARG, "nde_stab_jacobian_spectrum: dimension %d < 1", n);
  if (k < 0 || k >= n)
    return nde_error(NDE_ERR_ARG,
                     "nde_stab_jacobian_spectrum: %d deflated directions outside [0, %d)", k, n);
  if (!(zero_tol >= 0) || !isfinite(zero_tol))
    return nde_error(NDE_ERR_ARG, "nde_stab_jacobian_spectrum: zero_tol %g must be finite and >= 0",
                     zero_tol);
  if (k > 0) NDE_CHECK_NULL(N, "nde_stab_jacobian_spectrum");
  const size_t un = (size_t)n, uk = (size_t)k, m = un - uk;
  if (!nde_stab_all_finite(J, un * un))
    return nde_error(NDE_ERR_NONFINITE,
                     "nde_stab_jacobian_spectrum: the %dx%d Jacobian has a non-finite entry", n, n);
  double fro = 0;
  for (size_t i = 0; i < un * un; i++) fro += J[i] * J[i];
  fro = sqrt(fro);
  double resid = 0;
  int rc;
  if (k > 0 && (rc = check_null_space(n, J, k, N, fro, &resid))) return rc;
  const double c = 4 * fro + 1; /* the shift of the deflated directions */

  gsl_matrix *a = gsl_matrix_alloc(un, un);
  gsl_vector_complex *ev = gsl_vector_complex_alloc(un);
  gsl_vector *sv = gsl_vector_alloc(un);
  gsl_eigen_nonsymm_workspace *wn = gsl_eigen_nonsymm_alloc(un);
  gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(un);
  eig_pair *pairs = malloc(un * sizeof *pairs);
  double *svals = malloc(un * sizeof *svals);
  double *SN = k ? malloc(un * uk * sizeof *SN) : NULL, *T = k ? malloc(un * uk * sizeof *T) : NULL;
  double *NSN = k ? malloc(uk * uk * sizeof *NSN) : NULL;
  rc = NDE_OK;
  if (!a || !ev || !sv || !wn || !ws || !pairs || !svals || (k && (!SN || !T || !NSN))) {
    rc = nde_error(NDE_ERR_NOMEM, "nde_stab_jacobian_spectrum: out of memory for n = %d", n);
    goto done;
  }
  /* J - c N N^T: the deflated directions become eigenvalues -c. */
  for (size_t i = 0; i < un; i++)
    for (size_t j = 0; j < un; j++) {
      double v = J[i * un + j];
      for (size_t q = 0; q < uk; q++) v -= c * N[i * uk + q] * N[j * uk + q];
      gsl_matrix_set(a, i, j, v);
    }
  /* Eigenvalues only (no Schur vectors): the Hessenberg reduction and
   * Francis QR, without the eigenvector back-substitution of nonsymmv. */
  int st = gsl_eigen_nonsymm(a, ev, wn);
  if (st != GSL_SUCCESS) {
    rc =
        nde_error(NDE_ERR_NUMERIC,
                  "nde_stab_jacobian_spectrum: gsl_eigen_nonsymm failed on the %dx%d Jacobian (%s)",
                  n, n, gsl_strerror(st));
    goto done;
  }
  for (size_t i = 0; i < un; i++) {
    gsl_complex z = gsl_vector_complex_get(ev, i);
    pairs[i].re = GSL_REAL(z);
    pairs[i].im = GSL_IMAG(z);
  }
  /* Sorted by decreasing real part, the k shifted ones (near -c < -||J||_F)
   * come last and are dropped. */
  qsort(pairs, un, sizeof *pairs, cmp_eig);
  int nneg = 0, npos = 0, nzero = 0;
  double rho = 0, tr = 0, zmax = 0, nzmin = INFINITY;
  for (size_t i = 0; i < m; i++) {
    const double mod = hypot(pairs[i].re, pairs[i].im);
    if (mod <= zero_tol) {
      nzero++;
      zmax = fmax(zmax, mod);
    } else {
      nneg += pairs[i].re < 0;
      npos += pairs[i].re >= 0;
      nzmin = fmin(nzmin, mod);
    }
    rho = fmax(rho, mod);
    tr += pairs[i].re;
  }
  /* Symmetric part S = (J + J^T) / 2 on the whole space (gsl_eigen_symm
   * reads the lower triangle; filled in full for clarity). */
  for (size_t i = 0; i < un; i++)
    for (size_t j = 0; j < un; j++) gsl_matrix_set(a, i, j, 0.5 * (J[i * un + j] + J[j * un + i]));
  if ((rc = symm_eig(a, sv, ws, svals))) goto done;
  out->mu2_full = svals[0];
  if (k > 0) {
    /* P S P - c N N^T, P = I - N N^T, as S plus rank-k terms:
     *   S - N (S N)^T - (S N) N^T + (N (N^T S N) - c N) N^T,
     * O(n^2 k) with T = N (N^T S N) - c N. */
    memset(SN, 0, un * uk * sizeof *SN);
    for (size_t i = 0; i < un; i++)
      for (size_t j = 0; j < un; j++) {
        const double sij = 0.5 * (J[i * un + j] + J[j * un + i]);
        for (size_t q = 0; q < uk; q++) SN[i * uk + q] += sij * N[j * uk + q];
      }
    for (size_t p = 0; p < uk; p++)
      for (size_t q = 0; q < uk; q++) {
        double v = 0;
        for (size_t i = 0; i < un; i++) v += N[i * uk + p] * SN[i * uk + q];
        NSN[p * uk + q] = v;
      }
    for (size_t i = 0; i < un; i++)
      for (size_t q = 0; q < uk; q++) {
        double v = -c * N[i * uk + q];
        for (size_t p = 0; p < uk; p++) v += N[i * uk + p] * NSN[p * uk + q];
        T[i * uk + q] = v;
      }
    for (size_t i = 0; i < un; i++)
      for (size_t j = 0; j < un; j++) {
        double v = 0.5 * (J[i * un + j] + J[j * un + i]);
        const double *ni = N + i * uk, *nj = N + j * uk, *si = SN + i * uk, *sj = SN + j * uk,
                     *ti = T + i * uk;
        for (size_t q = 0; q < uk; q++) v += (ti[q] - si[q]) * nj[q] - ni[q] * sj[q];
        gsl_matrix_set(a, i, j, v);
      }
    if ((rc = symm_eig(a, sv, ws, svals))) goto done;
  }
  for (size_t i = 0; i < m; i++) {
    if (re) re[i] = pairs[i].re;
    if (im) im[i] = pairs[i].im;
    if (sym) sym[i] = svals[i];
  }
  out->n = (int)m;
  out->k = k;
  out->abscissa = pairs[0].re;
  out->rho = rho;
  out->mu2 = svals[0];
  out->mu2_min = svals[m - 1];
  out->nzero = nzero;
  out->frac_neg = (double)nneg / (double)m;
  out->frac_pos = (double)npos / (double)m;
  out->zero_max = zmax;
  out->nonzero_min = nzmin;
  out->trace = tr;
  out->fro = fro;
  out->null_resid = resid;
done:
  if (a) gsl_matrix_free(a);
  if (ev) gsl_vector_complex_free(ev);
  if (sv) gsl_vector_free(sv);
  if (wn) gsl_eigen_nonsymm_free(wn);
  if (ws) gsl_eigen_symm_free(ws);
  free(pairs);
  free(svals);
  free(SN);
  free(T);
  free(NSN);
  return rc;
}
