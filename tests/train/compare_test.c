/* Comparing configurations over seeds: mean and sample sd, Welch's t-test
 * against textbook examples and values computed independently, and the
 * verdict logic.
 *
 * Reference values: the examples of the Wikipedia article "Welch's t-test"
 * (t = -2.46, df = 25.0, p = 0.021; t = -1.57, df = 9.9, p = 0.149), to 10
 * digits by a separate Python computation (t and df from the formulas, p by
 * Simpson integration of Student's t density, which reproduces the df = 2
 * closed form below to 1e-10), and a hand case with df = 2 where
 * P(|T| > t) = 1 - t / sqrt(2 + t^2). */
#include <math.h>
#include <string.h>

#include "train_test.h"

static const double wiki1_a[15] = {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1,
                                   21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4};
static const double wiki1_b[15] = {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0,
                                   24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4};
static const double wiki2_a[10] = {17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8};
static const double wiki2_b[20] = {21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8,
                                   20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5, 21.8};

START_TEST(mean_and_sample_sd) {
  const double x[8] = {2, 4, 4, 4, 5, 5, 7, 9}; /* sum of squared deviations 32 */
  double m, sd;
  ck_assert_int_eq(nde_mean_sd(x, 8, &m, &sd), NDE_OK);
  ck_assert_double_eq_tol(m, 5, 1e-15);
  ck_assert_double_eq_tol(sd, sqrt(32.0 / 7), 1e-14); /* n - 1, not n (which gives 2) */
  ck_assert_int_eq(nde_mean_sd(x, 1, &m, &sd), NDE_OK);
  ck_assert(m == 2 && isnan(sd));
  ck_assert_int_eq(nde_mean_sd(NULL, 0, &m, &sd), NDE_OK);
  ck_assert(isnan(m) && isnan(sd));
  const double bad[2] = {1, NAN};
  ck_assert_int_eq(nde_mean_sd(bad, 2, &m, &sd), NDE_ERR_NONFINITE);
  TT_MSG_HAS("x[1]");
}
END_TEST

START_TEST(welch_textbook_examples) {
  nde_welch w;
  ck_assert_int_eq(nde_welch_test(wiki1_a, 15, wiki1_b, 15, &w), NDE_OK);
  ck_assert_int_eq(w.n1, 15);
  ck_assert_int_eq(w.n2, 15);
  ck_assert_double_eq_tol(w.mean1, 20.82, 1e-12);
  ck_assert_double_eq_tol(w.mean2, 22.98666667, 1e-8);
  ck_assert_double_eq_tol(w.sd1, 2.804893683, 1e-8);
  ck_assert_double_eq_tol(w.sd2, 1.952605097, 1e-8);
  ck_assert_double_eq_tol(w.diff, 20.82 - 22.98666667, 1e-8);
  ck_assert_double_eq_tol(w.t, -2.455356398, 1e-8);
  ck_assert_double_eq_tol(w.df, 24.98852929, 1e-7);
  ck_assert_double_eq_tol(w.p, 0.02137800146, 1e-8);

  ck_assert_int_eq(nde_welch_test(wiki2_a, 10, wiki2_b, 20, &w), NDE_OK);
  ck_assert_double_eq_tol(w.t, -1.565433524, 1e-8);
  ck_assert_double_eq_tol(w.df, 9.904741249, 1e-7);
  ck_assert_double_eq_tol(w.p, 0.1488416966, 1e-8);

  /* Swapping the samples flips t and keeps df and p. */
  nde_welch s;
  ck_assert_int_eq(nde_welch_test(wiki2_b, 20, wiki2_a, 10, &s), NDE_OK);
  ck_assert_double_eq_tol(s.t, -w.t, 1e-12);
  ck_assert_double_eq_tol(s.df, w.df, 1e-10);
  ck_assert_double_eq_tol(s.p, w.p, 1e-12);
}
END_TEST

START_TEST(welch_by_hand_df2) {
  /* x1 = {0, 2}, x2 = {3, 5}: sd^2 = 2 each, v = 1 each, se = sqrt 2,
   * t = -3 / sqrt 2, df = 4 / (1 + 1) = 2, p = 1 - 3 / sqrt 13. */
  const double a[2] = {0, 2}, b[2] = {3, 5};
  nde_welch w;
  ck_assert_int_eq(nde_welch_test(a, 2, b, 2, &w), NDE_OK);
  ck_assert_double_eq_tol(w.t, -3 / sqrt(2), 1e-14);
  ck_assert_double_eq_tol(w.df, 2, 1e-14);
  ck_assert_double_eq_tol(w.p, 1 - 3 / sqrt(13), 1e-12);
}
END_TEST

START_TEST(welch_undefined_cases) {
  const double a[3] = {1, 2, 3}, one[1] = {7}, flat1[2] = {1, 1}, flat2[2] = {2, 2};
  nde_welch w;
  /* one run on a side: means reported, sd / t / df / p not */
  ck_assert_int_eq(nde_welch_test(one, 1, a, 3, &w), NDE_OK);
  ck_assert(w.mean1 == 7 && w.mean2 == 2 && w.diff == 5);
  ck_assert(isnan(w.sd1) && w.sd2 == 1 && isnan(w.t) && isnan(w.df) && isnan(w.p));
  ck_assert_int_eq(nde_welch_test(NULL, 0, a, 3, &w), NDE_OK);
  ck_assert(isnan(w.mean1) && isnan(w.p));
  /* no spread on either side */
  ck_assert_int_eq(nde_welch_test(flat1, 2, flat2, 2, &w), NDE_OK);
  ck_assert(w.diff == -1 && isnan(w.p));
  const double bad[2] = {1, INFINITY};
  ck_assert_int_eq(nde_welch_test(a, 3, bad, 2, &w), NDE_ERR_NONFINITE);
  TT_MSG_HAS("x2[1]");
  ck_assert_int_eq(nde_welch_test(a, 3, a, 3, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_welch_test(NULL, 2, a, 3, &w), NDE_ERR_NULL);
}
END_TEST

START_TEST(verdicts) {
  nde_welch w;
  nde_verdict v;
  /* example 1: mean1 < mean2 with p = 0.021 */
  ck_assert_int_eq(nde_welch_test(wiki1_a, 15, wiki1_b, 15, &w), NDE_OK);
  ck_assert_int_eq(nde_welch_verdict(&w, -1, 0.05, &v), NDE_OK);
  ck_assert_int_eq(v, NDE_VERDICT_SUPPORTED);
  ck_assert_int_eq(nde_welch_verdict(&w, +1, 0.05, &v), NDE_OK);
  ck_assert_int_eq(v, NDE_VERDICT_CONTRADICTED);
  ck_assert_int_eq(nde_welch_verdict(&w, -1, 0.01, &v), NDE_OK); /* p = 0.021 >= 0.01 */
  ck_assert_int_eq(v, NDE_VERDICT_UNRESOLVED);
  /* the other order: configuration 1 higher */
  ck_assert_int_eq(nde_welch_test(wiki1_b, 15, wiki1_a, 15, &w), NDE_OK);
  ck_assert_int_eq(nde_welch_verdict(&w, +1, 0.05, &v), NDE_OK);
  ck_assert_int_eq(v, NDE_VERDICT_SUPPORTED);
  /* example 2: p = 0.149, unresolved in either direction */
  ck_assert_int_eq(nde_welch_test(wiki2_a, 10, wiki2_b, 20, &w), NDE_OK);
  for (int d = -1; d <= 1; d += 2) {
    ck_assert_int_eq(nde_welch_verdict(&w, d, 0.05, &v), NDE_OK);
    ck_assert_int_eq(v, NDE_VERDICT_UNRESOLVED);
  }
  /* undefined test: n/a */
  const double one[1] = {1}, a[2] = {0, 2};
  ck_assert_int_eq(nde_welch_test(one, 1, a, 2, &w), NDE_OK);
  ck_assert_int_eq(nde_welch_verdict(&w, -1, 0.05, &v), NDE_OK);
  ck_assert_int_eq(v, NDE_VERDICT_NA);
  /* argument errors */
  ck_assert_int_eq(nde_welch_verdict(&w, 0, 0.05, &v), NDE_ERR_ARG);
  TT_MSG_HAS("direction");
  ck_assert_int_eq(nde_welch_verdict(&w, 1, 1.0, &v), NDE_ERR_ARG);
  ck_assert_int_eq(nde_welch_verdict(&w, 1, 0.05, NULL), NDE_ERR_NULL);
  /* names */
  ck_assert_str_eq(nde_verdict_name(NDE_VERDICT_SUPPORTED), "supported");
  ck_assert_str_eq(nde_verdict_name(NDE_VERDICT_CONTRADICTED), "contradicted");
  ck_assert_str_eq(nde_verdict_name(NDE_VERDICT_UNRESOLVED), "not resolved at this sample size");
  ck_assert_str_eq(nde_verdict_name(NDE_VERDICT_NA), "n/a");
}
END_TEST

START_TEST(interval_verdicts) {
  /* {5, 6, 7}: mean 6, sd 1, so mean +- 2 sd = [4, 8] (ends included) */
  const double x[3] = {5, 6, 7}, flat[3] = {8, 8, 8};
  nde_verdict v;
  const double inside[3] = {6, 8, 4}, outside[2] = {8.01, 3.99};
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(nde_interval_verdict(x, 3, inside[i], 2, &v), NDE_OK);
    ck_assert_int_eq(v, NDE_VERDICT_SUPPORTED);
  }
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(nde_interval_verdict(x, 3, outside[i], 2, &v), NDE_OK);
    ck_assert_int_eq(v, NDE_VERDICT_CONTRADICTED);
  }
  ck_assert_int_eq(nde_interval_verdict(flat, 3, 6, 2, &v), NDE_OK); /* all 8 of 8 effective */
  ck_assert_int_eq(v, NDE_VERDICT_CONTRADICTED);
  ck_assert_int_eq(nde_interval_verdict(flat, 3, 8, 2, &v), NDE_OK);
  ck_assert_int_eq(v, NDE_VERDICT_SUPPORTED);
  ck_assert_int_eq(nde_interval_verdict(x, 1, 5, 2, &v), NDE_OK);
  ck_assert_int_eq(v, NDE_VERDICT_NA);
  ck_assert_int_eq(nde_interval_verdict(x, 3, 6, 0, &v), NDE_ERR_ARG);
}
END_TEST

Suite *compare_suite(void) {
  Suite *s = suite_create("compare");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, mean_and_sample_sd);
  tcase_add_test(tc, welch_textbook_examples);
  tcase_add_test(tc, welch_by_hand_df2);
  tcase_add_test(tc, welch_undefined_cases);
  tcase_add_test(tc, verdicts);
  tcase_add_test(tc, interval_verdicts);
  suite_add_tcase(s, tc);
  return s;
}
