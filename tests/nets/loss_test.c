/* Softmax cross-entropy: value, gradient against finite differences, errors. */
#include <math.h>
#include <string.h>

#include "support/testutil.h"

START_TEST(xent_value_and_grad) {
  const nde_real z[6] = {1, 2, 3, 0.5, -1, 0};
  const int y[2] = {2, 0};
  double loss;
  nde_real dz[6];
  int nerr;
  ck_assert_int_eq(nde_softmax_xent(2, 3, z, y, &loss, dz, &nerr), NDE_OK);
  double l0 = log(exp(1) + exp(2) + exp(3)) - 3, l1 = log(exp(0.5) + exp(-1) + exp(0)) - 0.5;
  ck_assert_double_eq_tol(loss, (l0 + l1) / 2, 1e-6);
  ck_assert_int_eq(nerr, 0);
  /* finite differences in double on the analytic formula */
  double an[6], fd[6];
  for (int i = 0; i < 6; i++) {
    nde_real zp[6], zm[6];
    for (int j = 0; j < 6; j++) zp[j] = zm[j] = z[j];
    zp[i] += (nde_real)TU_FD_STEP;
    zm[i] -= (nde_real)TU_FD_STEP;
    double lp, lm;
    nde_softmax_xent(2, 3, zp, y, &lp, NULL, NULL);
    nde_softmax_xent(2, 3, zm, y, &lm, NULL, NULL);
    fd[i] = (lp - lm) / (2 * TU_FD_STEP);
    an[i] = dz[i];
  }
  ck_assert_double_le(tu_max_rel_err(an, fd, 6), TU_GRAD_TOL);
}
END_TEST

START_TEST(xent_counts_errors_and_rejects_bad_labels) {
  const nde_real z[4] = {0, 1, 1, 0};
  int y[2] = {0, 0};
  double loss;
  int nerr;
  ck_assert_int_eq(nde_softmax_xent(2, 2, z, y, &loss, NULL, &nerr), NDE_OK);
  ck_assert_int_eq(nerr, 1);
  y[1] = 7;
  ck_assert_int_eq(nde_softmax_xent(2, 2, z, y, &loss, NULL, NULL), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "label 7"));
  ck_assert_int_eq(nde_softmax_xent(2, 2, NULL, y, &loss, NULL, NULL), NDE_ERR_NULL);
  const nde_real bad[2] = {NAN, 0};
  y[0] = 0;
  ck_assert_int_eq(nde_softmax_xent(1, 2, bad, y, &loss, NULL, NULL), NDE_ERR_NONFINITE);
}
END_TEST

Suite *loss_suite(void) {
  Suite *s = suite_create("loss");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, xent_value_and_grad);
  tcase_add_test(tc, xent_counts_errors_and_rejects_bad_labels);
  suite_add_tcase(s, tc);
  return s;
}
