/* The discrete networks against hand-stepped fields and nde's fixed-step
 * Euler on the piecewise field; batch independence; the continuous block's
 * statistics; matrix helpers; noise. */
#include "hamiltonian/ham_test.h"

enum { NF = 6, N = 4, NS = 3, L = NS * NF };

START_TEST(discrete_equals_hand_steps) {
  int kind = ht_kinds[_i];
  nde_ham *ham = ht_make(kind, NF, N, 0.3, 0.2, NS, 1.0, 1.0, 90 + _i);
  nde_rng rng;
  nde_rng_seed(&rng, 91);
  double y0[L], yN[L], y[L], f[L];
  ht_fill(y0, L, 1.0, &rng);
  ck_assert_int_eq(nde_ham_forward(ham, NS, y0, yN), NDE_OK);
  memcpy(y, y0, sizeof y);
  for (int j = 0; j < N; j++) {
    ck_assert_int_eq(nde_ham_rhs(ham, j, NS, y, f), NDE_OK);
    if (kind == NDE_HAM_H2) {
      /* p' = p + h f_p(q); q' = q + h f_q(p') */
      for (int i = 0; i < NS; i++)
        for (int k = 0; k < NF / 2; k++) y[i * NF + k] += 0.3 * f[i * NF + k];
      ck_assert_int_eq(nde_ham_rhs(ham, j, NS, y, f), NDE_OK);
      for (int i = 0; i < NS; i++)
        for (int k = NF / 2; k < NF; k++) y[i * NF + k] += 0.3 * f[i * NF + k];
    } else {
      for (int i = 0; i < L; i++) y[i] += 0.3 * f[i];
    }
    const double *st = nde_ham_state(ham, j + 1);
    ck_assert_ptr_nonnull(st);
    for (int i = 0; i < L; i++) ck_assert_double_eq_tol(st[i], y[i], 1e-13 * (1 + fabs(y[i])));
  }
  for (int i = 0; i < L; i++) ck_assert_double_eq_tol(yN[i], y[i], 1e-13 * (1 + fabs(y[i])));
  ck_assert_ptr_eq(nde_ham_state(ham, N + 1), NULL);
  ck_assert_ptr_eq(nde_ham_state(ham, -1), NULL);
  /* Forward Euler kinds: nde's fixed-step Euler on the piecewise field with
   * the same step reproduces the network (t = j h falls in layer j). */
  if (kind != NDE_HAM_H2) {
    nde_field *fld;
    ck_assert_int_eq(nde_ham_field_create(ham, NDE_HAM_PIECEWISE, &fld), NDE_OK);
    nde_ode_options o = nde_ode_options_default();
    o.method = NDE_ODE_EULER;
    o.adjoint = NDE_ADJ_NONE;
    o.fixed_h = 0.3;
    o.T = N * 0.3;
    nde_ode *ode;
    ck_assert_int_eq(nde_ode_create(fld, &o, NS, &ode), NDE_OK);
    ck_assert_int_eq(nde_ode_solve(ode, NS, y0, f), NDE_OK);
    for (int i = 0; i < L; i++) ck_assert_double_eq_tol(f[i], yN[i], 1e-12 * (1 + fabs(y[i])));
    nde_ode_free(ode);
    nde_field_free(fld);
  }
  /* Samples are independent: each alone gives the same result. */
  for (int i = 0; i < NS; i++) {
    double one[NF];
    ck_assert_int_eq(nde_ham_forward(ham, 1, y0 + i * NF, one), NDE_OK);
    for (int k = 0; k < NF; k++)
      ck_assert_double_eq_tol(one[k], yN[i * NF + k], 1e-13 * (1 + fabs(one[k])));
  }
  nde_ham_free(ham);
}
END_TEST

START_TEST(continuous_block_stats_and_batches) {
  nde_ham *ham = ht_make(NDE_HAM_CHNODE, NF, N, 0.3, 0.3, NS, 0.7, 1.0, 95);
  nde_ode_options o = nde_ode_options_default();
  o.method = NDE_ODE_DOPRI5;
  o.adjoint = NDE_ADJ_BACKSOLVE;
  o.rtol = o.atol = 1e-8;
  nde_ham_ode *blk;
  ck_assert_int_eq(nde_ham_ode_create(ham, &o, NS, &blk), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 96);
  double y0[L], yN[L], dy[L], dy0[L];
  ht_fill(y0, L, 1.0, &rng);
  ht_fill(dy, L, 1.0, &rng);
  ck_assert_int_eq(nde_ham_ode_forward(blk, NS, y0, yN, 1), NDE_OK);
  nde_ode_stats f, b;
  ck_assert_int_eq(nde_ham_ode_stats(blk, &f, &b), NDE_OK);
  ck_assert(f.nfe >= 4 * N); /* at least one step per layer */
  ck_assert(f.nsolves >= N);
  ck_assert_int_eq(nde_ham_ode_backward(blk, dy, dy0, NULL), NDE_OK);
  ck_assert_int_eq(nde_ham_ode_stats(blk, NULL, &b), NDE_OK);
  ck_assert(b.nfe > 0);
  /* Every layer but the last was re-solved forward before its adjoint. */
  ck_assert(b.nfe_recompute >= (N - 1) * 4);
  /* Continuous block: per-sample results agree with the batch within the
   * solver's tolerance (joint steps differ). */
  for (int i = 0; i < NS; i++) {
    double one[NF];
    ck_assert_int_eq(nde_ham_ode_forward(blk, 1, y0 + i * NF, one, 0), NDE_OK);
    ck_assert(ht_dist(one, yN + i * NF, NF) < 1e-6 * (1 + ht_norm(one, NF)));
  }
  nde_ham_ode_free(blk);
  nde_ham_free(ham);
}
END_TEST

START_TEST(matrix_helpers) {
  /* A = [[1, 2], [0, -3]]: (A + A^T)/2 = [[1, 1], [1, -3]], lambda_max =
   * -1 + sqrt(5); ||A||_2^2 = lambda_max(A^T A) = lambda_max([[1, 2], [2, 13]]). */
  const double a[4] = {1, 2, 0, -3};
  double mu, nrm;
  ck_assert_int_eq(nde_ham_mu2(2, a, &mu), NDE_OK);
  ck_assert_double_eq_tol(mu, -1 + sqrt(5.0), 1e-13);
  ck_assert_int_eq(nde_ham_norm2(2, a, &nrm), NDE_OK);
  ck_assert_double_eq_tol(nrm * nrm, 7 + sqrt(36.0 + 4.0), 1e-12);
  /* BSM of constant steps 2 I (d = 3, 4 layers): 2^l. */
  double phi[4 * 2 * 9] = {0}, mean[4], mn[4], mx[4];
  for (int j = 0; j < 8; j++)
    for (int k = 0; k < 3; k++) phi[j * 9 + k * 4] = 2.0;
  ck_assert_int_eq(nde_ham_bsm_norms(4, 2, 3, phi, mean, mn, mx), NDE_OK);
  for (int l = 0; l < 4; l++) {
    ck_assert_double_eq_tol(mean[l], pow(2, l + 1), 1e-12);
    ck_assert_double_eq_tol(mn[l], pow(2, l + 1), 1e-12);
    ck_assert_double_eq_tol(mx[l], pow(2, l + 1), 1e-12);
  }
  /* Order matters: Phi_1 = [[0, 1], [0, 0]], Phi_0 = [[0, 0], [1, 0]]:
   * dy_2/dy_0 = Phi_1 Phi_0 = [[1, 0], [0, 0]] (norm 1), not Phi_0 Phi_1. */
  double p2[2 * 4] = {0, 0, 1, 0, /* Phi_0 */ 0, 1, 0, 0 /* Phi_1 */};
  double m2[2];
  ck_assert_int_eq(nde_ham_bsm_norms(2, 1, 2, p2, m2, NULL, NULL), NDE_OK);
  ck_assert_double_eq_tol(m2[0], 1.0, 1e-15);
  ck_assert_double_eq_tol(m2[1], 1.0, 1e-15);
  double p3[2 * 4] = {1, 0, 0, 0, /* Phi_0 = diag(1, 0) */ 0, 0, 0, 1 /* Phi_1 = diag(0, 1) */};
  ck_assert_int_eq(nde_ham_bsm_norms(2, 1, 2, p3, m2, NULL, NULL), NDE_OK);
  ck_assert_double_eq_tol(m2[1], 0.0, 1e-15);
}
END_TEST

START_TEST(noise_statistics) {
  enum { LEN = 200000 };
  nde_real *x = malloc(LEN * sizeof *x);
  nde_rng rng;
  nde_rng_seed(&rng, 97);
  /* Wide range: no clipping, so the increments have the asked variance. */
  for (int i = 0; i < LEN; i++) x[i] = (nde_real)(0.01 * (i % 7));
  ck_assert_int_eq(nde_ham_noise_gaussian(x, LEN, 0.2, -100, 100, &rng), NDE_OK);
  double s = 0, s2 = 0;
  for (int i = 0; i < LEN; i++) {
    double d = x[i] - 0.01 * (i % 7);
    s += d;
    s2 += d * d;
  }
  ck_assert(fabs(s / LEN) < 0.01);
  ck_assert(fabs(s2 / LEN / 0.2 - 1) < 0.02);
  /* Clipped to the range. */
  for (int i = 0; i < LEN; i++) x[i] = 0.5f;
  ck_assert_int_eq(nde_ham_noise_gaussian(x, LEN, 0.2, -0.42, 2.82, &rng), NDE_OK);
  int at_lo = 0;
  for (int i = 0; i < LEN; i++) {
    ck_assert(x[i] >= (nde_real)-0.42 && x[i] <= (nde_real)2.82);
    at_lo += x[i] == (nde_real)-0.42;
  }
  ck_assert(at_lo > LEN / 100); /* P(0.5 + N(0, 0.2) < -0.42) ~ 2% */
  /* Salt and pepper: the amount of values replaced, half each way, the
   * others unchanged except clipped. */
  for (int i = 0; i < LEN; i++) x[i] = (nde_real)(i % 2 ? 0.25 : 5.0);
  ck_assert_int_eq(nde_ham_noise_salt_pepper(x, LEN, 0.2, -1, 1, &rng), NDE_OK);
  int salt = 0, pepper = 0, other = 0;
  for (int i = 0; i < LEN; i++) {
    if (i % 2 && x[i] == (nde_real)0.25)
      other++;
    else if (x[i] == 1)
      salt++;
    else if (x[i] == -1)
      pepper++;
    else
      ck_abort_msg("value %g after salt and pepper", (double)x[i]);
  }
  /* The 5.0 values that were not replaced clip to 1 (counted as salt). */
  double replaced_pepper = pepper / (double)LEN;
  ck_assert(fabs(replaced_pepper - 0.1) < 0.005);
  ck_assert(fabs(other / (LEN / 2.0) - 0.8) < 0.01);
  ck_assert_int_eq(salt + pepper + other, LEN);
  /* Amount 0: nothing but clipping. */
  for (int i = 0; i < LEN; i++) x[i] = 0.5f;
  ck_assert_int_eq(nde_ham_noise_salt_pepper(x, LEN, 0.0, -1, 1, &rng), NDE_OK);
  for (int i = 0; i < LEN; i++) ck_assert(x[i] == 0.5f);
  free(x);
}
END_TEST

Suite *ham_block_suite(void) {
  Suite *s = suite_create("hamiltonian_block");
  TCase *tc = tcase_create("block");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, discrete_equals_hand_steps, 0, 5);
  tcase_add_test(tc, continuous_block_stats_and_batches);
  tcase_add_test(tc, matrix_helpers);
  tcase_add_test(tc, noise_statistics);
  suite_add_tcase(s, tc);
  return s;
}
