/* H2's symplectic Euler: each step's Jacobian Phi satisfies
 * Phi^T J Phi = J, so backward sensitivities ||dy_N/dy_{N-l}|| never drop
 * below 1; forward-Euler H1 is not symplectic; the continuous CH-NODE's
 * layer flows have norm <= e^{-rho h} (non-exploding gradients). */
#include "hamiltonian/ham_test.h"

enum { NF = 8, M = NF / 2 };

/* max |Phi^T J1 Phi - J1| over the entries. */
static double symplectic_error(const double *phi) {
  double jm[NF * NF] = {0}, t[NF * NF], worst = 0;
  for (int k = 0; k < M; k++) {
    jm[k * NF + k + M] = -1;
    jm[(k + M) * NF + k] = 1;
  }
  for (int r = 0; r < NF; r++) /* t = J Phi */
    for (int c = 0; c < NF; c++) {
      double s = 0;
      for (int k = 0; k < NF; k++) s += jm[r * NF + k] * phi[k * NF + c];
      t[r * NF + c] = s;
    }
  for (int r = 0; r < NF; r++)
    for (int c = 0; c < NF; c++) {
      double s = 0;
      for (int k = 0; k < NF; k++) s += phi[k * NF + r] * t[k * NF + c];
      worst = fmax(worst, fabs(s - jm[r * NF + c]));
    }
  return worst;
}

START_TEST(h2_steps_are_symplectic) {
  enum { N = 6, NS = 50 };
  nde_ham *ham = ht_make(NDE_HAM_H2, NF, N, 0.5, 0, NS, 1.5, 1.0, 80);
  nde_rng rng;
  nde_rng_seed(&rng, 81);
  double y0[NS * NF], *phi = malloc((size_t)N * NS * NF * NF * sizeof *phi);
  ht_fill(y0, NS * NF, 2.0, &rng);
  ck_assert_int_eq(nde_ham_step_jacobians(ham, NS, y0, phi), NDE_OK);
  double worst = 0, nontrivial = 0;
  for (int j = 0; j < N * NS; j++) {
    const double *p = phi + (size_t)j * NF * NF;
    worst = fmax(worst, symplectic_error(p));
    for (int r = 0; r < NF; r++)
      for (int c = 0; c < NF; c++) nontrivial = fmax(nontrivial, fabs(p[r * NF + c] - (r == c)));
  }
  printf("H2: max |Phi^T J Phi - J| over %d steps = %.3e (max |Phi - I| = %.3g)\n", N * NS, worst,
         nontrivial);
  ck_assert_msg(worst <= 1e-8, "symplecticity error %g", worst);
  ck_assert(nontrivial > 0.5);
  /* The step Jacobian matches central differences of one step. */
  nde_ham_options o = *nde_ham_get_options(ham);
  o.nlayers = 1;
  o.max_batch = 1;
  nde_ham *one;
  ck_assert_int_eq(nde_ham_create(&o, &one), NDE_OK);
  memcpy(nde_ham_params(one), nde_ham_params(ham), nde_ham_layer_num_params(ham) * sizeof(double));
  double y[NF], yp[NF], ym[NF], err = 0;
  memcpy(y, y0, sizeof y);
  for (int c = 0; c < NF; c++) {
    double keep = y[c];
    y[c] = keep + 1e-6;
    ck_assert_int_eq(nde_ham_forward(one, 1, y, yp), NDE_OK);
    y[c] = keep - 1e-6;
    ck_assert_int_eq(nde_ham_forward(one, 1, y, ym), NDE_OK);
    y[c] = keep;
    for (int r = 0; r < NF; r++) err = fmax(err, fabs((yp[r] - ym[r]) / 2e-6 - phi[r * NF + c]));
  }
  ck_assert_msg(err < 1e-7, "H2 step Jacobian vs FD: %g", err);
  nde_ham_free(one);
  free(phi);
  nde_ham_free(ham);
}
END_TEST

/* Over 64 layers ||dy_N / dy_{N-l}|| >= 1 for every l and sample (and it
 * does grow: the guarantee is one-sided). */
START_TEST(h2_bsm_at_least_one) {
  enum { N = 64, NS = 20 };
  nde_ham *ham = ht_make(NDE_HAM_H2, NF, N, 0.5, 0, NS, 1.0, 1.0, 82);
  nde_rng rng;
  nde_rng_seed(&rng, 83);
  double y0[NS * NF], mean[N], mn[N], mx[N];
  double *phi = malloc((size_t)N * NS * NF * NF * sizeof *phi);
  ht_fill(y0, NS * NF, 1.0, &rng);
  ck_assert_int_eq(nde_ham_step_jacobians(ham, NS, y0, phi), NDE_OK);
  ck_assert_int_eq(nde_ham_bsm_norms(N, NS, NF, phi, mean, mn, mx), NDE_OK);
  double lo = INFINITY;
  for (int l = 0; l < N; l++) {
    lo = fmin(lo, mn[l]);
    ck_assert(mn[l] <= mean[l] * (1 + 1e-12) && mean[l] <= mx[l] * (1 + 1e-12));
  }
  printf("H2, %d layers: min over l, samples of ||dy_N/dy_{N-l}|| = %.12f; mean at l = N: %.4g\n",
         N, lo, mean[N - 1]);
  ck_assert_msg(lo >= 1 - 1e-9, "backward sensitivity %g < 1", lo);
  ck_assert(mean[N - 1] > 1.01);
  free(phi);
  nde_ham_free(ham);
}
END_TEST

/* Forward-Euler H1 is not symplectic: the same test fails clearly. */
START_TEST(h1_euler_not_symplectic) {
  nde_ham *ham = ht_make(NDE_HAM_H1_J1, NF, 1, 0.5, 0, 1, 1.0, 1.0, 84);
  nde_rng rng;
  nde_rng_seed(&rng, 85);
  double y0[NF], phi[NF * NF];
  ht_fill(y0, NF, 0.3, &rng);
  ck_assert_int_eq(nde_ham_step_jacobians(ham, 1, y0, phi), NDE_OK);
  double e = symplectic_error(phi);
  printf("H1-J1 forward Euler: |Phi^T J Phi - J| = %.3g (not symplectic)\n", e);
  ck_assert(e > 1e-3);
  nde_ham_free(ham);
}
END_TEST

/* Continuous CH-NODE: each layer's flow Jacobian (from nf adjoint solves)
 * has norm <= e^{-rho h}: sensitivities shrink, never explode. The rows
 * also match central differences of the forward solve. */
START_TEST(chnode_flow_jacobians_contract) {
  enum { N = 3, NS = 4 };
  nde_ham *ham = ht_make(NDE_HAM_CHNODE, NF, N, 0.5, 0.4, NS, 0.6, 1.0, 86);
  nde_ham_contraction c;
  ck_assert_int_eq(nde_ham_update_gamma(ham, &c), NDE_OK);
  nde_ode_options o = nde_ode_options_default();
  o.rtol = o.atol = 1e-10;
  o.max_steps = 100000;
  nde_ham_ode *blk;
  ck_assert_int_eq(nde_ham_ode_create(ham, &o, NS, &blk), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 87);
  double y0[NS * NF], phi[N * NS * NF * NF], mean[N], mx[N];
  ht_fill(y0, NS * NF, 1.5, &rng);
  ck_assert_int_eq(nde_ham_ode_layer_jacobians(blk, NS, y0, phi), NDE_OK);
  double worst = 0;
  for (int j = 0; j < N * NS; j++) {
    double nrm;
    ck_assert_int_eq(nde_ham_norm2(NF, phi + (size_t)j * NF * NF, &nrm), NDE_OK);
    worst = fmax(worst, nrm / exp(-c.rho * 0.5));
  }
  ck_assert_int_eq(nde_ham_bsm_norms(N, NS, NF, phi, mean, NULL, mx), NDE_OK);
  printf("CH-NODE flow: max ||Phi_j|| / e^{-rho h} = %.6f (rho %.4g); ||dy_N/dy_0|| max %.4f\n",
         worst, c.rho, mx[N - 1]);
  ck_assert(worst <= 1 + 1e-6);
  ck_assert(mx[N - 1] <= exp(-c.rho * 1.5) * (1 + 1e-6));
  /* Phi_1 of sample 0 by central differences of a one-layer block: first
   * y_1 (layer 0's parameters from y_0), then layer 1's parameters. */
  nde_ham_options o1 = *nde_ham_get_options(ham);
  o1.nlayers = 1;
  o1.max_batch = 1;
  o1.gamma_auto = 0;
  o1.gamma = nde_ham_gamma(ham);
  nde_ham *one;
  ck_assert_int_eq(nde_ham_create(&o1, &one), NDE_OK);
  size_t lp = nde_ham_layer_num_params(ham);
  nde_ham_ode *b1;
  o.adjoint = NDE_ADJ_NONE;
  ck_assert_int_eq(nde_ham_ode_create(one, &o, 1, &b1), NDE_OK);
  double y1[NF], yp[NF], ym[NF], err = 0;
  memcpy(nde_ham_params(one), nde_ham_params(ham), lp * sizeof(double));
  ck_assert_int_eq(nde_ham_ode_forward(b1, 1, y0, y1, 0), NDE_OK);
  memcpy(nde_ham_params(one), nde_ham_params(ham) + lp, lp * sizeof(double));
  for (int cc = 0; cc < NF; cc++) {
    double keep = y1[cc];
    y1[cc] = keep + 1e-5;
    ck_assert_int_eq(nde_ham_ode_forward(b1, 1, y1, yp, 0), NDE_OK);
    y1[cc] = keep - 1e-5;
    ck_assert_int_eq(nde_ham_ode_forward(b1, 1, y1, ym, 0), NDE_OK);
    y1[cc] = keep;
    const double *p1 = phi + ((size_t)1 * NS + 0) * NF * NF;
    for (int r = 0; r < NF; r++) err = fmax(err, fabs((yp[r] - ym[r]) / 2e-5 - p1[r * NF + cc]));
  }
  printf("CH-NODE flow Jacobian vs FD: max abs err %.2e\n", err);
  ck_assert_msg(err < 1e-4, "flow Jacobian vs FD: %g", err);
  nde_ham_ode_free(b1);
  nde_ham_free(one);
  nde_ham_ode_free(blk);
  nde_ham_free(ham);
}
END_TEST

Suite *ham_symplectic_suite(void) {
  Suite *s = suite_create("hamiltonian_symplectic");
  TCase *tc = tcase_create("symplectic");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, h2_steps_are_symplectic);
  tcase_add_test(tc, h2_bsm_at_least_one);
  tcase_add_test(tc, h1_euler_not_symplectic);
  tcase_add_test(tc, chnode_flow_jacobians_contract);
  suite_add_tcase(s, tc);
  return s;
}
