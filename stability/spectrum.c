/* Eigenvalues (gsl_eigen_nonsymmv), singular values (gsl_linalg_SV_decomp)
 * and norms of small dense matrices, with workspace allocated once.
 *
 * GSL's error handler is never reached on expected conditions: every input
 * is checked to be finite and of a size the workspace holds before GSL is
 * called (GSL reports size mismatches through the handler), and the SVD is
 * always applied to a matrix with at least as many rows as columns
 * (transposing when needed, which leaves the singular values unchanged). */
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <stdlib.h>
#include <string.h>

#include "stability/stability_impl.h"

struct nde_spectrum {
  int n;
  gsl_eigen_nonsymmv_workspace *ew;
  gsl_matrix *a;            /* n x n copy (destroyed by the eigensolver / SVD) */
  gsl_vector_complex *eval; /* n */
  gsl_matrix_complex *evec; /* n x n */
  gsl_matrix *v;            /* SVD right factor, n x n */
  gsl_vector *sv, *work;    /* n */
  int *perm;                /* n */
  double *re, *im, *svbuf;  /* n each: eig scratch, SVD output of summary */
  double *ore, *oim;        /* n each: summary's eigenvalues */
};

void nde_spectrum_free(nde_spectrum *s) {
  if (!s) return;
  if (s->ew) gsl_eigen_nonsymmv_free(s->ew);
  if (s->a) gsl_matrix_free(s->a);
  if (s->eval) gsl_vector_complex_free(s->eval);
  if (s->evec) gsl_matrix_complex_free(s->evec);
  if (s->v) gsl_matrix_free(s->v);
  if (s->sv) gsl_vector_free(s->sv);
  if (s->work) gsl_vector_free(s->work);
  free(s->perm);
  free(s->re);
  free(s->im);
  free(s->svbuf);
  free(s->ore);
  free(s->oim);
  free(s);
}

int nde_spectrum_create(int n, nde_spectrum **out) {
  NDE_CHECK_NULL(out, "nde_spectrum_create");
  *out = NULL;
  if (n < 1 || n > 4096)
    return nde_error(NDE_ERR_ARG, "nde_spectrum_create: dimension %d outside [1, 4096]", n);
  nde_spectrum *s = calloc(1, sizeof *s);
  if (!s) return nde_error(NDE_ERR_NOMEM, "nde_spectrum_create: out of memory");
  s->n = n;
  size_t un = (size_t)n;
  s->ew = gsl_eigen_nonsymmv_alloc(un);
  s->a = gsl_matrix_alloc(un, un);
  s->eval = gsl_vector_complex_alloc(un);
  s->evec = gsl_matrix_complex_alloc(un, un);
  s->v = gsl_matrix_alloc(un, un);
  s->sv = gsl_vector_alloc(un);
  s->work = gsl_vector_alloc(un);
  s->perm = malloc(un * sizeof(int));
  s->re = malloc(un * sizeof(double));
  s->im = malloc(un * sizeof(double));
  s->svbuf = malloc(un * sizeof(double));
  s->ore = malloc(un * sizeof(double));
  s->oim = malloc(un * sizeof(double));
  if (!s->ew || !s->a || !s->eval || !s->evec || !s->v || !s->sv || !s->work || !s->perm ||
      !s->re || !s->im || !s->svbuf || !s->ore || !s->oim) {
    nde_spectrum_free(s);
    return nde_error(NDE_ERR_NOMEM, "nde_spectrum_create: out of memory for n = %d", n);
  }
  *out = s;
  return NDE_OK;
}

int nde_spectrum_dim(const nde_spectrum *s) { return s ? s->n : 0; }

/* Order: decreasing modulus, then decreasing real part, then decreasing
 * imaginary part (so a conjugate pair lists +i first). Insertion sort: n is
 * small and the order must be deterministic. */
static int before(double ar, double ai, double br, double bi) {
  double ma = hypot(ar, ai), mb = hypot(br, bi);
  double tol = 1e-12 * fmax(ma, mb);
  if (fabs(ma - mb) > tol) return ma > mb;
  if (ar != br) return ar > br;
  return ai > bi;
}

int nde_spectrum_eig(nde_spectrum *s, const double *A, double *re, double *im, double *vre,
                     double *vim) {
  NDE_CHECK_NULL(s, "nde_spectrum_eig");
  NDE_CHECK_NULL(A, "nde_spectrum_eig");
  NDE_CHECK_NULL(re, "nde_spectrum_eig");
  NDE_CHECK_NULL(im, "nde_spectrum_eig");
  const int n = s->n;
  if (!nde_stab_all_finite(A, (size_t)n * n))
    return nde_error(NDE_ERR_NONFINITE, "nde_spectrum_eig: the %dx%d matrix has a non-finite entry",
                     n, n);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) gsl_matrix_set(s->a, (size_t)i, (size_t)j, A[i * n + j]);
  int st = gsl_eigen_nonsymmv(s->a, s->eval, s->evec, s->ew);
  if (st != GSL_SUCCESS)
    return nde_error(NDE_ERR_NUMERIC,
                     "nde_spectrum_eig: gsl_eigen_nonsymmv failed on a %dx%d matrix (%s)", n, n,
                     gsl_strerror(st));
  for (int i = 0; i < n; i++) {
    gsl_complex z = gsl_vector_complex_get(s->eval, (size_t)i);
    s->re[i] = GSL_REAL(z);
    s->im[i] = GSL_IMAG(z);
    s->perm[i] = i;
  }
  for (int i = 1; i < n; i++) {
    int p = s->perm[i], j = i;
    while (j > 0 && before(s->re[p], s->im[p], s->re[s->perm[j - 1]], s->im[s->perm[j - 1]])) {
      s->perm[j] = s->perm[j - 1];
      j--;
    }
    s->perm[j] = p;
  }
  for (int i = 0; i < n; i++) {
    re[i] = s->re[s->perm[i]];
    im[i] = s->im[s->perm[i]];
  }
  if (vre || vim)
    for (int r = 0; r < n; r++)
      for (int c = 0; c < n; c++) {
        gsl_complex z = gsl_matrix_complex_get(s->evec, (size_t)r, (size_t)s->perm[c]);
        if (vre) vre[r * n + c] = GSL_REAL(z);
        if (vim) vim[r * n + c] = GSL_IMAG(z);
      }
  return NDE_OK;
}

int nde_spectrum_svd(nde_spectrum *s, int rows, int cols, const double *A, double *sv) {
  NDE_CHECK_NULL(s, "nde_spectrum_svd");
  NDE_CHECK_NULL(A, "nde_spectrum_svd");
  NDE_CHECK_NULL(sv, "nde_spectrum_svd");
  if (rows < 1 || cols < 1 || rows > s->n || cols > s->n)
    return nde_error(NDE_ERR_SHAPE,
                     "nde_spectrum_svd: %dx%d matrix does not fit the %dx%d workspace", rows, cols,
                     s->n, s->n);
  if (!nde_stab_all_finite(A, (size_t)rows * cols))
    return nde_error(NDE_ERR_NONFINITE, "nde_spectrum_svd: the %dx%d matrix has a non-finite entry",
                     rows, cols);
  /* Decompose M (m x k, m >= k): A itself or its transpose. */
  const int tr = rows < cols, m = tr ? cols : rows, k = tr ? rows : cols;
  gsl_matrix_view M = gsl_matrix_submatrix(s->a, 0, 0, (size_t)m, (size_t)k);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) {
      if (tr)
        gsl_matrix_set(&M.matrix, (size_t)j, (size_t)i, A[i * cols + j]);
      else
        gsl_matrix_set(&M.matrix, (size_t)i, (size_t)j, A[i * cols + j]);
    }
  gsl_matrix_view V = gsl_matrix_submatrix(s->v, 0, 0, (size_t)k, (size_t)k);
  gsl_vector_view S = gsl_vector_subvector(s->sv, 0, (size_t)k);
  gsl_vector_view W = gsl_vector_subvector(s->work, 0, (size_t)k);
  int st = gsl_linalg_SV_decomp(&M.matrix, &V.matrix, &S.vector, &W.vector);
  if (st != GSL_SUCCESS)
    return nde_error(NDE_ERR_NUMERIC,
                     "nde_spectrum_svd: gsl_linalg_SV_decomp failed on a %dx%d matrix (%s)", rows,
                     cols, gsl_strerror(st));
  for (int i = 0; i < k; i++) sv[i] = fabs(gsl_vector_get(&S.vector, (size_t)i));
  /* GSL returns them in decreasing order; keep that guaranteed after fabs. */
  for (int i = 1; i < k; i++) {
    double v = sv[i];
    int j = i;
    while (j > 0 && sv[j - 1] < v) {
      sv[j] = sv[j - 1];
      j--;
    }
    sv[j] = v;
  }
  return NDE_OK;
}

int nde_spectrum_summary(nde_spectrum *s, const double *A, nde_matrix_summary *out) {
  NDE_CHECK_NULL(s, "nde_spectrum_summary");
  NDE_CHECK_NULL(A, "nde_spectrum_summary");
  NDE_CHECK_NULL(out, "nde_spectrum_summary");
  const int n = s->n;
  int rc = nde_spectrum_eig(s, A, s->ore, s->oim, NULL, NULL);
  if (rc) return rc;
  double rho = 0, mre = -INFINITY;
  for (int i = 0; i < n; i++) {
    rho = fmax(rho, hypot(s->ore[i], s->oim[i]));
    mre = fmax(mre, s->ore[i]);
  }
  if ((rc = nde_spectrum_svd(s, n, n, A, s->svbuf))) return rc;
  double fro = 0, n1 = 0, ninf = 0;
  for (int i = 0; i < n; i++) {
    double rs = 0, cs = 0;
    for (int j = 0; j < n; j++) {
      fro += A[i * n + j] * A[i * n + j];
      rs += fabs(A[i * n + j]);
      cs += fabs(A[j * n + i]);
    }
    ninf = fmax(ninf, rs);
    n1 = fmax(n1, cs);
  }
  out->rho = rho;
  out->max_re = mre;
  out->norm2 = s->svbuf[0];
  out->smin = s->svbuf[n - 1];
  out->fro = sqrt(fro);
  out->norm1 = n1;
  out->norminf = ninf;
  return NDE_OK;
}
