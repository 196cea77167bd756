/* RMAN argument errors: every rejected input returns its code and leaves a
 * message naming the function and the problem. */
#include <math.h>
#include <string.h>

#include "support/testutil.h"

static void has(const char *needle) {
  ck_assert_msg(strstr(nde_last_error(), needle), "message '%s' lacks '%s'", nde_last_error(),
                needle);
}

START_TEST(create_rejects_bad_sizes_and_options) {
  nde_rman *r = (nde_rman *)1;
  ck_assert_int_eq(nde_rman_create(0, 4, NULL, &r), NDE_ERR_ARG);
  ck_assert_ptr_null(r);
  has("nde_rman_create");
  ck_assert_int_eq(nde_rman_create(4, 0, NULL, &r), NDE_ERR_ARG);
  has("h = 0");
  ck_assert_int_eq(nde_rman_create(4, 4, NULL, NULL), NDE_ERR_NULL);
  nde_rman_options o = nde_rman_options_default();
  o.empty = 7;
  ck_assert_int_eq(nde_rman_create(2, 2, &o, &r), NDE_ERR_ARG);
  has("empty policy 7");
  o = nde_rman_options_default();
  o.alpha0 = -1;
  ck_assert_int_eq(nde_rman_create(2, 2, &o, &r), NDE_ERR_ARG);
  has("alpha0");
  o = nde_rman_options_default();
  o.alpha_step = NAN;
  ck_assert_int_eq(nde_rman_create(2, 2, &o, &r), NDE_ERR_ARG);
  o = nde_rman_options_default();
  o.effective_threshold = -0.1;
  ck_assert_int_eq(nde_rman_create(2, 2, &o, &r), NDE_ERR_ARG);
  has("effective_threshold");
  o = nde_rman_options_default();
  o.solely_threshold = 1;
  ck_assert_int_eq(nde_rman_create(2, 2, &o, &r), NDE_ERR_ARG);
  has("solely_threshold");
  ck_assert_int_eq(nde_rman_stats_create(2, 2, &o, NULL), NDE_ERR_NULL);
  nde_rman_stats *st = (nde_rman_stats *)1;
  ck_assert_int_eq(nde_rman_stats_create(2, 2, &o, &st), NDE_ERR_ARG);
  ck_assert_ptr_null(st);
  ck_assert_int_eq(nde_rman_stats_create(2, -1, NULL, &st), NDE_ERR_ARG);
  has("nde_rman_stats_create");
}
END_TEST

START_TEST(energy_rejects_bad_arguments) {
  const nde_real m[] = {1, 0, 0, 1}, x[] = {1, 1};
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(2, 2, NULL, &r), NDE_OK);
  nde_rman_result res;
  ck_assert_int_eq(nde_rman_energy(NULL, 1, x, m, 1, NULL, NULL, &res), NDE_ERR_NULL);
  ck_assert_int_eq(nde_rman_energy(r, 1, NULL, m, 1, NULL, NULL, &res), NDE_ERR_NULL);
  has("'x'");
  ck_assert_int_eq(nde_rman_energy(r, 1, x, NULL, 1, NULL, NULL, &res), NDE_ERR_NULL);
  has("'m'");
  ck_assert_int_eq(nde_rman_energy(r, 1, x, m, 1, NULL, NULL, NULL), NDE_ERR_NULL);
  has("'res'");
  ck_assert_int_eq(nde_rman_energy(r, 0, x, m, 1, NULL, NULL, &res), NDE_ERR_BATCH);
  has("n = 0");
  ck_assert_int_eq(nde_rman_energy(r, 1, x, m, -1e-4, NULL, NULL, &res), NDE_ERR_ARG);
  has("alpha");
  ck_assert_int_eq(nde_rman_energy(r, 1, x, m, INFINITY, NULL, NULL, &res), NDE_ERR_ARG);
  ck_assert_int_eq(nde_rman_attract(r, -2, x, m, NULL, NULL, NULL), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_rman_attract(NULL, 1, x, m, NULL, NULL, NULL), NDE_ERR_NULL);
  nde_rman_free(r);
}
END_TEST

/* NaN/Inf inputs are reported before anything is written. */
START_TEST(energy_rejects_non_finite_inputs) {
  nde_real m[] = {1, 0, 0, 1}, x[] = {1, 1, 2, 2};
  nde_real dx[4] = {7, 7, 7, 7}, dm[4] = {5, 5, 5, 5};
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(2, 2, NULL, &r), NDE_OK);
  nde_rman_result res = {42, 42, 42};
  x[3] = (nde_real)NAN;
  ck_assert_int_eq(nde_rman_energy(r, 2, x, m, 1, dx, dm, &res), NDE_ERR_NONFINITE);
  has("sample 1, channel 1");
  x[3] = 2;
  m[2] = (nde_real)INFINITY;
  ck_assert_int_eq(nde_rman_energy(r, 2, x, m, 1, dx, dm, &res), NDE_ERR_NONFINITE);
  has("m[2]");
  ck_assert_int_eq(nde_rman_attract(r, 2, x, m, NULL, NULL, NULL), NDE_ERR_NONFINITE);
  for (int q = 0; q < 4; q++) ck_assert(dx[q] == 7 && dm[q] == 5);
  ck_assert(res.loss == 42 && res.n_empty == 42);
  nde_rman_free(r);
}
END_TEST

/* A huge alpha overflows the loss and each gradient (as nde_real): every
 * check is reached on its own by leaving the others' outputs out. */
START_TEST(energy_reports_overflow) {
  const nde_real m[] = {1, 0, 0, 1}, x[] = {3e10f, 1e10f};
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(2, 2, NULL, &r), NDE_OK);
  nde_rman_result res;
  nde_real dx[2] = {0, 0}, dm[4] = {0, 0, 0, 0};
  const double alpha = 1e300;
  ck_assert_int_eq(nde_rman_energy(r, 1, x, m, alpha, dx, NULL, &res), NDE_ERR_NONFINITE);
  has("gradient of sample 0");
  ck_assert_int_eq(nde_rman_energy(r, 1, x, m, alpha, NULL, dm, &res), NDE_ERR_NONFINITE);
  has("loss"); /* the loss is checked before dm */
  ck_assert_int_eq(nde_rman_energy(r, 1, x, m, 1e-100, NULL, dm, &res), NDE_OK);
#if NDE_REAL_IS_DOUBLE
  /* Only double inputs can overflow the energy or the sum itself. */
  const nde_real big[] = {1e200, 1e200};
  ck_assert_int_eq(nde_rman_energy(r, 1, big, m, 1, NULL, NULL, &res), NDE_ERR_NONFINITE);
  has("energy of sample 0 overflowed");
  const nde_real two[] = {-1e154, 0, 0, -1e154}; /* empty: E = 1e308 each */
  ck_assert_int_eq(nde_rman_energy(r, 2, two, m, 1, NULL, NULL, &res), NDE_ERR_NONFINITE);
  has("sum of energies overflowed at sample 1");
  /* Attractor gradient beyond double while the loss is finite: m = (1, +-L)
     nearly cancel, so for x = (1, eps) the energy is small ((L^2 - 1) eps)^2
     = 0.01 but t_1 x_1 ~ L^3 eps / 2 = 50, and alpha = 1e307 overflows only
     the gradient. */
  const nde_real mm[] = {1, 1e3, 1, -1e3}, xx[] = {1, 1e-7};
  ck_assert_int_eq(nde_rman_energy(r, 1, xx, mm, 1e307, NULL, NULL, &res), NDE_OK);
  ck_assert_double_eq_tol(res.mean_energy, 0.01, 1e-4);
  ck_assert_int_eq(nde_rman_energy(r, 1, xx, mm, 1e307, NULL, dm, &res), NDE_ERR_NONFINITE);
#else
  /* In the float build the largest inputs still give finite energies. */
  const nde_real big[] = {3e38f, 3e38f};
  ck_assert_int_eq(nde_rman_energy(r, 1, big, m, 1, NULL, NULL, &res), NDE_OK);
  ck_assert(isfinite(res.mean_energy));
  /* a gradient finite in double but beyond float */
  const nde_real xx[] = {3e30f, 1e30f};
  ck_assert_int_eq(nde_rman_energy(r, 1, xx, m, 1e10, NULL, dm, &res), NDE_ERR_NONFINITE);
#endif
  has("gradient of attractor");
  nde_rman_free(r);
}
END_TEST

START_TEST(stats_and_init_reject_bad_arguments) {
  nde_rman_stats *st;
  ck_assert_int_eq(nde_rman_stats_create(2, 2, NULL, &st), NDE_OK);
  nde_real m[] = {1, 0, 0, 1}, x[] = {1, 1};
  ck_assert_int_eq(nde_rman_stats_set_attractors(NULL, m), NDE_ERR_NULL);
  ck_assert_int_eq(nde_rman_stats_set_attractors(st, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_rman_stats_add(st, 0, x, m), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_rman_stats_add(st, 1, NULL, m), NDE_ERR_NULL);
  ck_assert_int_eq(nde_rman_stats_add(NULL, 1, x, m), NDE_ERR_NULL);
  ck_assert_int_eq(nde_rman_stats_add(st, 1, x, NULL), NDE_ERR_NULL);
  x[0] = (nde_real)NAN;
  ck_assert_int_eq(nde_rman_stats_add(st, 1, x, m), NDE_ERR_NONFINITE);
  has("sample 0");
  ck_assert_int_eq(st->n, 0); /* nothing was counted */
  x[0] = 1;
  m[1] = (nde_real)NAN;
  ck_assert_int_eq(nde_rman_stats_add(st, 1, x, m), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_rman_stats_set_attractors(st, m), NDE_ERR_NONFINITE);
  nde_rman_stats_reset(NULL);
  nde_rman_stats_free(st);

  nde_rng rng;
  nde_rng_seed(&rng, 1);
  ck_assert_int_eq(nde_rman_init_attractors(2, 2, NULL, &rng), NDE_ERR_NULL);
  ck_assert_int_eq(nde_rman_init_attractors(2, 2, m, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_rman_init_attractors(0, 2, m, &rng), NDE_ERR_ARG);
  has("h = 0");
}
END_TEST

Suite *rman_errors_suite(void) {
  Suite *s = suite_create("rman_errors");
  TCase *tc = tcase_create("errors");
  tcase_add_test(tc, create_rejects_bad_sizes_and_options);
  tcase_add_test(tc, energy_rejects_bad_arguments);
  tcase_add_test(tc, energy_rejects_non_finite_inputs);
  tcase_add_test(tc, energy_reports_overflow);
  tcase_add_test(tc, stats_and_init_reject_bad_arguments);
  suite_add_tcase(s, tc);
  return s;
}
