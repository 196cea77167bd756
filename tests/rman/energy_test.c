/* RMAN energy: the test vectors of docs/methods.md section 4, accumulation semantics, batch
 * scaling, scale invariance of a and g, the empty-set policies, alpha and
 * the initialization. */
#include <math.h>

#include "support/testutil.h"

#define TOL 1e-6 /* values here are exact in binary or O(1): float-safe */

/* Energy of one batch with alpha = n (so loss = sum E and dx = grad_x E). */
static nde_rman_result run(int c, int h, int n, const nde_real *x, const nde_real *m, int empty,
                           nde_real *dx, nde_real *dm) {
  nde_rman_options o = nde_rman_options_default();
  o.empty = empty;
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(c, h, &o, &r), NDE_OK);
  nde_rman_result res;
  ck_assert_int_eq(nde_rman_energy(r, n, x, m, (double)n, dx, dm, &res), NDE_OK);
  nde_rman_free(r);
  return res;
}

START_TEST(vector_two_orthogonal_attractors) {
  const nde_real m[] = {1, 0, 0, 1}, x[] = {1, 1};
  nde_real dx[2] = {0, 0}, dm[4] = {0, 0, 0, 0};
  nde_rman_result res = run(2, 2, 1, x, m, NDE_RMAN_EMPTY_ZERO, dx, dm);
  ck_assert_double_eq_tol(res.loss, 0.5, TOL);
  ck_assert_double_eq_tol(res.mean_energy, 0.5, TOL);
  ck_assert_int_eq(res.n_empty, 0);
  ck_assert_double_eq_tol(dx[0], 1, TOL);
  ck_assert_double_eq_tol(dx[1], 1, TOL);
  for (int q = 0; q < 4; q++) ck_assert_double_eq_tol(dm[q], -0.5, TOL);

  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(2, 2, NULL, &r), NDE_OK);
  double a[2], g[2], E;
  ck_assert_int_eq(nde_rman_attract(r, 1, x, m, a, g, &E), NDE_OK);
  ck_assert_double_eq_tol(a[0], 0.5, TOL);
  ck_assert_double_eq_tol(a[1], 0.5, TOL);
  ck_assert_double_eq_tol(g[0], 0.5, TOL);
  ck_assert_double_eq_tol(g[1], 0.5, TOL);
  ck_assert_double_eq_tol(E, 0.5, TOL);
  nde_rman_free(r);
}
END_TEST

START_TEST(vector_opposite_attractors_zero_energy) {
  const nde_real m[] = {1, 0, -1, 0}, x[] = {1, 0};
  nde_real dx[2] = {0, 0}, dm[4] = {0, 0, 0, 0};
  nde_rman_result res = run(2, 2, 1, x, m, NDE_RMAN_EMPTY_ZERO, dx, dm);
  ck_assert_double_eq_tol(res.loss, 0, TOL);
  /* At the minimum every gradient vanishes. */
  for (int k = 0; k < 2; k++) ck_assert_double_eq_tol(dx[k], 0, TOL);
  for (int q = 0; q < 4; q++) ck_assert_double_eq_tol(dm[q], 0, TOL);
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(2, 2, NULL, &r), NDE_OK);
  double a[2], g[2];
  ck_assert_int_eq(nde_rman_attract(r, 1, x, m, a, g, NULL), NDE_OK);
  ck_assert_double_eq_tol(a[0], 1, TOL);
  ck_assert_double_eq_tol(a[1], 0, TOL);
  ck_assert_double_eq_tol(g[0], 1, TOL);
  nde_rman_free(r);
}
END_TEST

START_TEST(vector_no_active_attractor_both_policies) {
  const nde_real m[] = {-1, 0, 0, -2}, x[] = {1, 1};
  nde_real dx[2] = {0, 0}, dm[4] = {0, 0, 0, 0};
  nde_rman_result res = run(2, 2, 1, x, m, NDE_RMAN_EMPTY_ZERO, dx, dm);
  ck_assert_double_eq_tol(res.loss, 2, TOL); /* g = 0, E = ||x||^2 */
  ck_assert_int_eq(res.n_empty, 1);
  ck_assert_double_eq_tol(dx[0], 2, TOL); /* grad_x = 2x */
  ck_assert_double_eq_tol(dx[1], 2, TOL);
  for (int q = 0; q < 4; q++) ck_assert(dm[q] == 0);

  nde_real dx2[2] = {0, 0}, dm2[4] = {0, 0, 0, 0};
  res = run(2, 2, 1, x, m, NDE_RMAN_EMPTY_SKIP, dx2, dm2);
  ck_assert(res.loss == 0 && res.mean_energy == 0);
  ck_assert_int_eq(res.n_empty, 1);
  for (int k = 0; k < 2; k++) ck_assert(dx2[k] == 0);
  for (int q = 0; q < 4; q++) ck_assert(dm2[q] == 0);
}
END_TEST

/* SKIP keeps dividing by the batch size: an empty sample beside the first
 * test vector halves the loss; ZERO adds its ||x||^2. */
START_TEST(empty_policy_in_a_mixed_batch) {
  const nde_real m[] = {1, 0, 0, 1}, x[] = {1, 1, -1, -3};
  nde_rman_options o = nde_rman_options_default();
  for (int pol = 0; pol < 2; pol++) {
    o.empty = pol ? NDE_RMAN_EMPTY_SKIP : NDE_RMAN_EMPTY_ZERO;
    nde_rman *r;
    ck_assert_int_eq(nde_rman_create(2, 2, &o, &r), NDE_OK);
    nde_rman_result res;
    nde_real dx[4] = {0, 0, 0, 0};
    ck_assert_int_eq(nde_rman_energy(r, 2, x, m, 1.0, dx, NULL, &res), NDE_OK);
    ck_assert_int_eq(res.n_empty, 1);
    double E2 = pol ? 0 : 10;
    ck_assert_double_eq_tol(res.mean_energy, (0.5 + E2) / 2, TOL);
    ck_assert_double_eq_tol(res.loss, (0.5 + E2) / 2, TOL);
    ck_assert_double_eq_tol(dx[0], 0.5, TOL); /* (alpha/n) grad_x = (1,1)/2 */
    ck_assert_double_eq_tol(dx[2], pol ? 0 : -1, TOL);
    ck_assert_double_eq_tol(dx[3], pol ? 0 : -3, TOL);
    double E[2];
    ck_assert_int_eq(nde_rman_attract(r, 2, x, m, NULL, NULL, E), NDE_OK);
    ck_assert_double_eq_tol(E[1], E2, TOL);
    nde_rman_free(r);
  }
}
END_TEST

/* dx and dm accumulate, scaled by alpha / n. */
START_TEST(gradients_accumulate_with_alpha_over_n) {
  const nde_real m[] = {1, 0, 0, 1}, x[] = {1, 1, 1, 1};
  nde_real dx[4] = {1, 2, 3, 4}, dm[4] = {10, 10, 10, 10};
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(2, 2, NULL, &r), NDE_OK);
  nde_rman_result res;
  ck_assert_int_eq(nde_rman_energy(r, 2, x, m, 0.5, dx, dm, &res), NDE_OK);
  ck_assert_double_eq_tol(res.loss, 0.25 * (0.5 + 0.5), TOL);
  ck_assert_double_eq_tol(res.mean_energy, 0.5, TOL);
  const double want_dx[] = {1.25, 2.25, 3.25, 4.25};
  for (int k = 0; k < 4; k++) ck_assert_double_eq_tol(dx[k], want_dx[k], TOL);
  /* two samples, each -0.5 per entry, times 0.25 */
  for (int q = 0; q < 4; q++) ck_assert_double_eq_tol(dm[q], 10 - 0.25, TOL);
  /* NULL gradients: the same loss. */
  nde_rman_result res2;
  ck_assert_int_eq(nde_rman_energy(r, 2, x, m, 0.5, NULL, NULL, &res2), NDE_OK);
  ck_assert(res2.loss == res.loss);
  nde_rman_free(r);
}
END_TEST

/* a and g depend on the direction of x only. Powers of two scale exactly in
 * float as well, so those must agree to rounding; 3.7 to 1e-6. */
START_TEST(attraction_is_scale_invariant) {
  enum { C = 5, H = 7, N = 6 };
  nde_rng rng;
  nde_rng_seed(&rng, 41);
  nde_real m[H * C], x[N * C], xs[N * C];
  tu_fill_normal(m, H * C, 1.0, &rng);
  tu_fill_normal(x, N * C, 1.0, &rng);
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(C, H, NULL, &r), NDE_OK);
  double a0[N * H], g0[N * C], a1[N * H], g1[N * C];
  ck_assert_int_eq(nde_rman_attract(r, N, x, m, a0, g0, NULL), NDE_OK);
  const double scales[] = {0.25, 8, 1024, 3.7};
  for (int t = 0; t < 4; t++) {
    for (int q = 0; q < N * C; q++) xs[q] = (nde_real)(scales[t] * x[q]);
    ck_assert_int_eq(nde_rman_attract(r, N, xs, m, a1, g1, NULL), NDE_OK);
    double tol = t < 3 ? 1e-12 : 1e-6;
    for (int q = 0; q < N * H; q++) ck_assert_double_eq_tol(a1[q], a0[q], tol);
    for (int q = 0; q < N * C; q++) ck_assert_double_eq_tol(g1[q], g0[q], tol);
  }
  /* the strengths of each sample sum to one (or zero when nothing is active) */
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int j = 0; j < H; j++) {
      ck_assert(a0[i * H + j] >= 0);
      s += a0[i * H + j];
    }
    ck_assert(fabs(s - 1) < 1e-12 || s == 0);
  }
  nde_rman_free(r);
}
END_TEST

/* relu'(0) = 0: an attractor orthogonal to x is inactive. */
START_TEST(orthogonal_attractor_is_inactive) {
  const nde_real m[] = {0, 1, 1, 0}, x[] = {2, 0};
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(2, 2, NULL, &r), NDE_OK);
  double a[2];
  ck_assert_int_eq(nde_rman_attract(r, 1, x, m, a, NULL, NULL), NDE_OK);
  ck_assert(a[0] == 0 && a[1] == 1);
  nde_rman_free(r);
}
END_TEST

START_TEST(alpha_schedule) {
  nde_rman_options o = nde_rman_options_default();
  ck_assert_double_eq_tol(nde_rman_alpha(&o, 0), 1e-4, 1e-15);
  ck_assert_double_eq_tol(nde_rman_alpha(&o, 9), 1e-3, 1e-15);
  ck_assert_double_eq_tol(nde_rman_alpha(NULL, 159), 1.6e-2, 1e-15);
  ck_assert_double_eq_tol(nde_rman_alpha(NULL, -3), 1e-4, 1e-15);
  o.alpha0 = 0.5;
  o.alpha_step = 0;
  ck_assert_double_eq_tol(nde_rman_alpha(&o, 7), 0.5, 1e-15);
  ck_assert_int_eq(o.empty, NDE_RMAN_EMPTY_ZERO);
  ck_assert_double_eq_tol(o.effective_threshold, 0.01, 1e-15);
  ck_assert_double_eq_tol(o.solely_threshold, 0.9, 1e-15);
  ck_assert_uint_eq(nde_rman_num_params(64, 16), 1024);
  ck_assert_uint_eq(nde_rman_num_params(0, 16), 0);
}
END_TEST

START_TEST(init_is_standard_normal_and_seeded) {
  enum { H = 64, C = 64 };
  static nde_real m1[H * C], m2[H * C];
  nde_rng r1, r2;
  nde_rng_seed(&r1, 3);
  nde_rng_seed(&r2, 3);
  ck_assert_int_eq(nde_rman_init_attractors(H, C, m1, &r1), NDE_OK);
  ck_assert_int_eq(nde_rman_init_attractors(H, C, m2, &r2), NDE_OK);
  double s = 0, s2 = 0;
  for (int q = 0; q < H * C; q++) {
    ck_assert(m1[q] == m2[q]);
    s += m1[q];
    s2 += (double)m1[q] * m1[q];
  }
  double mean = s / (H * C), var = s2 / (H * C) - mean * mean;
  ck_assert_msg(fabs(mean) < 0.05 && fabs(var - 1) < 0.06, "mean %g var %g", mean, var);
}
END_TEST

START_TEST(accessors) {
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(3, 5, NULL, &r), NDE_OK);
  ck_assert_int_eq(nde_rman_channels(r), 3);
  ck_assert_int_eq(nde_rman_attractors(r), 5);
  ck_assert_double_eq_tol(nde_rman_get_options(r)->alpha0, 1e-4, 1e-15);
  ck_assert_int_eq(nde_rman_channels(NULL), 0);
  ck_assert_int_eq(nde_rman_attractors(NULL), 0);
  ck_assert_ptr_null(nde_rman_get_options(NULL));
  nde_rman_free(r);
  nde_rman_free(NULL);
}
END_TEST

Suite *rman_energy_suite(void) {
  Suite *s = suite_create("rman_energy");
  TCase *tc = tcase_create("energy");
  tcase_add_test(tc, vector_two_orthogonal_attractors);
  tcase_add_test(tc, vector_opposite_attractors_zero_energy);
  tcase_add_test(tc, vector_no_active_attractor_both_policies);
  tcase_add_test(tc, empty_policy_in_a_mixed_batch);
  tcase_add_test(tc, gradients_accumulate_with_alpha_over_n);
  tcase_add_test(tc, attraction_is_scale_invariant);
  tcase_add_test(tc, orthogonal_attractor_is_inactive);
  tcase_add_test(tc, alpha_schedule);
  tcase_add_test(tc, init_is_standard_normal_and_seeded);
  tcase_add_test(tc, accessors);
  suite_add_tcase(s, tc);
  return s;
}
