/* RMAN statistics on hand-made attractors and outputs whose strengths are
 * known in closed form. */
#include <math.h>

#include "support/testutil.h"

#define TOL 1e-6

/* m0 = (1,0), m1 = (0,1): effective; m2 = -0.05 (1,1): ||m2||^2 = 0.005,
 * not effective; m3 = 0. */
static const nde_real M[] = {1, 0, 0, 1, -0.05f, -0.05f, 0, 0};
/* x0 = (1,0): a = (1,0,0,0), solely by 0.      x1 = (1,1): a = (.5,.5), pair {0,1}.
 * x2 = (3,1): a = (.75,.25), pair {0,1}.       x3 = (-1,-1): a2 = 1, solely by 2.
 * x4 = 0: nothing active. */
static const nde_real X[] = {1, 0, 1, 1, 3, 1, -1, -1, 0, 0};

static void check_outputs(const nde_rman_stats *st) {
  ck_assert_int_eq(st->n, 5);
  ck_assert_int_eq(st->n_empty, 1);
  ck_assert_int_eq(st->n_solely, 2);
  ck_assert_double_eq_tol(st->solely_fraction, 0.4, TOL);
  const double strength[4] = {0.45, 0.15, 0.2, 0};
  double diag = 0;
  for (int j = 0; j < 4; j++) {
    ck_assert_double_eq_tol(st->strength[j], strength[j], TOL);
    ck_assert_double_eq_tol(st->pair_strength[j * 4 + j], strength[j], TOL);
    diag += st->strength[j];
  }
  ck_assert_double_eq_tol(diag, 0.8, TOL); /* 1 - empty fraction */
  ck_assert_double_eq_tol(st->pair_strength[0 * 4 + 1], (1.0 + 1.0) / 5, TOL);
  ck_assert_double_eq_tol(st->pair_strength[1 * 4 + 0], (1.0 + 1.0) / 5, TOL);
  ck_assert_double_eq_tol(st->pair_fraction[0 * 4 + 1], 2.0 / 5, TOL);
  ck_assert_double_eq_tol(st->pair_fraction[0 * 4 + 2], 0, TOL);
  ck_assert_double_eq_tol(st->pair_strength[2 * 4 + 3], 0, TOL);
  /* strongest attractor: 0 for x0, x1 (tie goes to the lower index), x2; 2 for x3 */
  ck_assert_double_eq_tol(st->pair_fraction[0], 3.0 / 5, TOL);
  ck_assert_double_eq_tol(st->pair_fraction[1 * 4 + 1], 0, TOL);
  ck_assert_double_eq_tol(st->pair_fraction[2 * 4 + 2], 1.0 / 5, TOL);
  const double norms[5] = {1, sqrt(2.0), sqrt(10.0), sqrt(2.0), 0};
  double mean = 0, var = 0;
  for (int i = 0; i < 5; i++) mean += norms[i] / 5;
  for (int i = 0; i < 5; i++) var += (norms[i] - mean) * (norms[i] - mean) / 5;
  ck_assert_double_eq_tol(st->norm_mean, mean, TOL);
  ck_assert_double_eq_tol(st->norm_std, sqrt(var), TOL);
}

START_TEST(stats_on_hand_made_attractors) {
  nde_rman_stats *st;
  ck_assert_int_eq(nde_rman_stats_create(2, 4, NULL, &st), NDE_OK);
  ck_assert_int_eq(nde_rman_stats_set_attractors(st, M), NDE_OK);
  ck_assert_int_eq(st->n_effective, 2);
  ck_assert_int_eq(st->effective[0], 0);
  ck_assert_int_eq(st->effective[1], 1);
  ck_assert_int_eq(st->effective[2], -1);
  const double gram[16] = {1, 0, -0.05, 0, 0, 1, -0.05, 0, -0.05, -0.05, 0.005, 0, 0, 0, 0, 0};
  for (int q = 0; q < 16; q++) ck_assert_double_eq_tol(st->gram[q], gram[q], 1e-8);
  ck_assert_double_eq_tol(st->norm2[2], 0.005, 1e-8);

  ck_assert_int_eq(nde_rman_stats_add(st, 5, X, M), NDE_OK);
  check_outputs(st);

  /* the same samples in two batches give the same statistics */
  nde_rman_stats_reset(st);
  ck_assert_int_eq(st->n, 0);
  ck_assert(st->strength[0] == 0);
  ck_assert_int_eq(nde_rman_stats_add(st, 2, X, M), NDE_OK);
  ck_assert_int_eq(nde_rman_stats_add(st, 3, X + 4, M), NDE_OK);
  check_outputs(st);
  ck_assert_int_eq(st->n_effective, 2); /* reset keeps the attractor fields */
  nde_rman_stats_free(st);
  nde_rman_stats_free(NULL);
}
END_TEST

/* The threshold options change what counts as effective / solely attracted. */
START_TEST(stats_thresholds_follow_options) {
  nde_rman_options o = nde_rman_options_default();
  o.effective_threshold = 0.001;
  o.solely_threshold = 0.7;
  nde_rman_stats *st;
  ck_assert_int_eq(nde_rman_stats_create(2, 4, &o, &st), NDE_OK);
  ck_assert_int_eq(nde_rman_stats_set_attractors(st, M), NDE_OK);
  ck_assert_int_eq(st->n_effective, 3);
  ck_assert_int_eq(nde_rman_stats_add(st, 5, X, M), NDE_OK);
  ck_assert_int_eq(st->n_solely, 3); /* x2 with a = 0.75 joins */
  nde_rman_stats_free(st);
}
END_TEST

Suite *rman_stats_suite(void) {
  Suite *s = suite_create("rman_stats");
  TCase *tc = tcase_create("stats");
  tcase_add_test(tc, stats_on_hand_made_attractors);
  tcase_add_test(tc, stats_thresholds_follow_options);
  suite_add_tcase(s, tc);
  return s;
}
