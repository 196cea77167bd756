/* Eigenvalues, eigenvectors, singular values and norms against closed forms. */
#include <math.h>

#include "support/testutil.h"

START_TEST(eigenvalues_known) {
  nde_spectrum *s;
  ck_assert_int_eq(nde_spectrum_create(2, &s), NDE_OK);
  ck_assert_int_eq(nde_spectrum_dim(s), 2);
  const double R[] = {0, -1, 1, 0};
  double re[2], im[2];
  ck_assert_int_eq(nde_spectrum_eig(s, R, re, im, NULL, NULL), NDE_OK);
  ck_assert_double_eq_tol(re[0], 0, 1e-14);
  ck_assert_double_eq_tol(im[0], 1, 1e-14); /* +i first */
  ck_assert_double_eq_tol(im[1], -1, 1e-14);
  nde_spectrum_free(s);

  ck_assert_int_eq(nde_spectrum_create(3, &s), NDE_OK);
  const double D[] = {3, 0, 0, 0, -5, 0, 0, 0, 1};
  double r3[3], i3[3];
  ck_assert_int_eq(nde_spectrum_eig(s, D, r3, i3, NULL, NULL), NDE_OK);
  ck_assert_double_eq_tol(r3[0], -5, 1e-14);
  ck_assert_double_eq_tol(r3[1], 3, 1e-14);
  ck_assert_double_eq_tol(r3[2], 1, 1e-14);
  nde_spectrum_free(s);
}
END_TEST

/* A v = lambda v for the returned (complex) eigenvectors of random matrices. */
START_TEST(eigenvectors_satisfy_definition) {
  enum { N = 5 };
  nde_spectrum *s;
  ck_assert_int_eq(nde_spectrum_create(N, &s), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 3);
  for (int trial = 0; trial < 5; trial++) {
    double A[N * N], re[N], im[N], vr[N * N], vi[N * N];
    for (int i = 0; i < N * N; i++) A[i] = nde_rng_normal(&rng);
    ck_assert_int_eq(nde_spectrum_eig(s, A, re, im, vr, vi), NDE_OK);
    for (int j = 0; j < N; j++) {
      if (j > 0) ck_assert(hypot(re[j - 1], im[j - 1]) >= hypot(re[j], im[j]) - 1e-12);
      for (int i = 0; i < N; i++) {
        double ar = 0, ai = 0;
        for (int k = 0; k < N; k++) {
          ar += A[i * N + k] * vr[k * N + j];
          ai += A[i * N + k] * vi[k * N + j];
        }
        double lr = re[j] * vr[i * N + j] - im[j] * vi[i * N + j];
        double li = re[j] * vi[i * N + j] + im[j] * vr[i * N + j];
        ck_assert_double_eq_tol(ar, lr, 1e-10);
        ck_assert_double_eq_tol(ai, li, 1e-10);
      }
    }
  }
  nde_spectrum_free(s);
}
END_TEST

START_TEST(singular_values_and_summary) {
  nde_spectrum *s;
  ck_assert_int_eq(nde_spectrum_create(3, &s), NDE_OK);
  const double D[] = {3, 0, 0, -4};
  double sv[3];
  ck_assert_int_eq(nde_spectrum_svd(s, 2, 2, D, sv), NDE_OK);
  ck_assert_double_eq_tol(sv[0], 4, 1e-14);
  ck_assert_double_eq_tol(sv[1], 3, 1e-14);
  const double B[] = {1, 1, 0, 0};
  ck_assert_int_eq(nde_spectrum_svd(s, 2, 2, B, sv), NDE_OK);
  ck_assert_double_eq_tol(sv[0], sqrt(2), 1e-14);
  ck_assert_double_eq_tol(sv[1], 0, 1e-14);
  /* Rectangular, both orientations: [[1, 0, 0], [0, 2, 0]] has 2, 1. */
  const double W[] = {1, 0, 0, 0, 2, 0}, WT[] = {1, 0, 0, 2, 0, 0};
  ck_assert_int_eq(nde_spectrum_svd(s, 2, 3, W, sv), NDE_OK);
  ck_assert_double_eq_tol(sv[0], 2, 1e-14);
  ck_assert_double_eq_tol(sv[1], 1, 1e-14);
  ck_assert_int_eq(nde_spectrum_svd(s, 3, 2, WT, sv), NDE_OK);
  ck_assert_double_eq_tol(sv[0], 2, 1e-14);
  ck_assert_double_eq_tol(sv[1], 1, 1e-14);
  nde_spectrum_free(s);

  /* [[2, 1], [-1, 2]]: eigenvalues 2 +- i, singular values sqrt 5 (twice). */
  ck_assert_int_eq(nde_spectrum_create(2, &s), NDE_OK);
  const double M[] = {2, 1, -1, 2};
  nde_matrix_summary ms;
  ck_assert_int_eq(nde_spectrum_summary(s, M, &ms), NDE_OK);
  ck_assert_double_eq_tol(ms.rho, sqrt(5), 1e-14);
  ck_assert_double_eq_tol(ms.max_re, 2, 1e-14);
  ck_assert_double_eq_tol(ms.norm2, sqrt(5), 1e-14);
  ck_assert_double_eq_tol(ms.smin, sqrt(5), 1e-14);
  ck_assert_double_eq_tol(ms.fro, sqrt(10), 1e-14);
  ck_assert_double_eq_tol(ms.norm1, 3, 1e-14);
  ck_assert_double_eq_tol(ms.norminf, 3, 1e-14);
  const double U[] = {1, 4, 0, 1}; /* rho 1, norm2 > 1 */
  ck_assert_int_eq(nde_spectrum_summary(s, U, &ms), NDE_OK);
  ck_assert_double_eq_tol(ms.rho, 1, 1e-7);
  ck_assert_double_eq_tol(ms.norm2, 2 + sqrt(5), 1e-12);
  nde_spectrum_free(s);
}
END_TEST

START_TEST(spectrum_errors) {
  nde_spectrum *s = (nde_spectrum *)1;
  ck_assert_int_eq(nde_spectrum_create(0, &s), NDE_ERR_ARG);
  ck_assert_ptr_null(s);
  ck_assert_int_eq(nde_spectrum_create(2, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_spectrum_create(2, &s), NDE_OK);
  double A[4] = {1, NAN, 0, 1}, re[2], im[2], sv[2];
  nde_matrix_summary ms;
  ck_assert_int_eq(nde_spectrum_eig(s, A, re, im, NULL, NULL), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_spectrum_svd(s, 2, 2, A, sv), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_spectrum_summary(s, A, &ms), NDE_ERR_NONFINITE);
  A[1] = 0;
  ck_assert_int_eq(nde_spectrum_svd(s, 3, 1, A, sv), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_spectrum_svd(s, 0, 1, A, sv), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_spectrum_eig(s, NULL, re, im, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_spectrum_eig(s, A, NULL, im, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_spectrum_svd(NULL, 2, 2, A, sv), NDE_ERR_NULL);
  ck_assert_int_eq(nde_spectrum_summary(s, A, NULL), NDE_ERR_NULL);
  nde_spectrum_free(s);
  nde_spectrum_free(NULL);
}
END_TEST

Suite *spectrum_suite(void) {
  Suite *s = suite_create("spectrum");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, eigenvalues_known);
  tcase_add_test(tc, eigenvectors_satisfy_definition);
  tcase_add_test(tc, singular_values_and_summary);
  tcase_add_test(tc, spectrum_errors);
  suite_add_tcase(s, tc);
  return s;
}
