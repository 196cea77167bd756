/* The test vectors of docs/methods.md section 5, the K = 0 closed form, kinds, layouts and the
 * structure matrices J1, J2. */
#include "hamiltonian/ham_test.h"

/* The documented example: n = 1 (nf = 2), K = diag(1, 2), b = 0, kappa = 0.2. */
static nde_ham *design_block(void) {
  nde_ham_options o = nde_ham_options_default(NDE_HAM_CHNODE);
  o.nf = 2;
  o.nlayers = 1;
  o.kappa = 0.2;
  nde_ham *ham;
  ck_assert_int_eq(nde_ham_create(&o, &ham), NDE_OK);
  ck_assert_uint_eq(nde_ham_num_params(ham), 6);
  double *p = nde_ham_params(ham);
  const double th[6] = {1, 0, 0, 2, 0, 0};
  memcpy(p, th, sizeof th);
  return ham;
}

START_TEST(design_constants) {
  nde_ham *ham = design_block();
  nde_ham_contraction c;
  ck_assert_int_eq(nde_ham_update_gamma(ham, &c), NDE_OK);
  ck_assert_double_eq_tol(c.lambda_max_ktk, 4.0, 1e-12);
  ck_assert_double_eq_tol(c.c1, 0.04, 1e-15);
  ck_assert_double_eq_tol(c.c2, 4.04, 1e-12);
  ck_assert_double_eq_tol(c.alpha, 0.980392157, 1e-9);
  ck_assert_double_eq_tol(c.gamma_min, 4.975186, 1e-6);
  /* The reference's gamma = 1/sqrt(1 - alpha^2 - 1e-6) = 5.074755; the documented
   * 5.074690 is 1/sqrt(1 - alpha^2), where rho = c1 (1 - alpha). */
  ck_assert_double_eq_tol(c.gamma, 1 / sqrt(1 - c.alpha * c.alpha - 1e-6), 1e-9);
  ck_assert_double_eq_tol(c.gamma, 5.074755, 1e-6);
  ck_assert_double_eq(nde_ham_gamma(ham), c.gamma);
  ck_assert(c.rho > 0.04 * (1 - c.alpha));
  ck_assert_double_eq_tol(c.h_euler, 2 * c.rho / ((1 + c.gamma * c.gamma) * 4.04 * 4.04), 1e-15);
  ck_assert_int_eq(nde_ham_set_gamma(ham, 1 / sqrt(1 - c.alpha * c.alpha)), NDE_OK);
  ck_assert_int_eq(nde_ham_update_gamma(ham, &c), NDE_OK); /* gamma now fixed */
  ck_assert_double_eq_tol(c.gamma, 5.074690, 1e-6);
  ck_assert_double_eq_tol(c.rho, 0.04 * (1 - c.alpha), 1e-12);
  nde_ham_free(ham);
}
END_TEST

START_TEST(design_field_values) {
  nde_ham *ham = design_block();
  const double y0[2] = {1, -1};
  double f[2];
  ck_assert_int_eq(nde_ham_set_gamma(ham, 0), NDE_OK);
  ck_assert_int_eq(nde_ham_rhs(ham, 0, 1, y0, f), NDE_OK);
  ck_assert_double_eq_tol(f[0], 1.968055, 1e-6);
  ck_assert_double_eq_tol(f[1], 0.801594, 1e-6);
  ck_assert_int_eq(nde_ham_set_gamma(ham, 5.074690), NDE_OK);
  ck_assert_int_eq(nde_ham_rhs(ham, 0, 1, y0, f), NDE_OK);
  ck_assert_double_eq_tol(f[0], -2.099786, 1e-6);
  ck_assert_double_eq_tol(f[1], 10.788863, 1e-6);
  /* The same through the nde field interface. */
  nde_field *fld;
  ck_assert_int_eq(nde_ham_field_create(ham, 0, &fld), NDE_OK);
  double g[2];
  ck_assert_int_eq(nde_field_rhs(fld, 0.3, 1, y0, g), NDE_OK);
  ck_assert_double_eq_tol(g[0], f[0], 1e-15);
  ck_assert_double_eq_tol(g[1], f[1], 1e-15);
  nde_field_free(fld);
  nde_ham_free(ham);
}
END_TEST

/* K = 0: y' = kappa^2 (J - gamma I) y and J is skew, so
 * ||y(t)|| = exp(-gamma kappa^2 t) ||y0|| exactly; solved over the
 * piecewise field with adaptive solvers at rtol 1e-10. */
START_TEST(zero_k_decays_exactly) {
  const double gammas[2] = {3.0, 0.0}; /* 0.0: gamma_auto (alpha = 0 -> gamma ~ 1) */
  const int methods[3] = {NDE_ODE_DOPRI5, NDE_ODE_ADAMS, NDE_ODE_BDF};
  for (int gi = 0; gi < 2; gi++) {
    nde_ham_options o = nde_ham_options_default(NDE_HAM_CHNODE);
    o.nf = 6;
    o.nlayers = 4;
    o.h = 0.75;
    o.kappa = 0.4;
    o.max_batch = 3;
    nde_ham *ham;
    ck_assert_int_eq(nde_ham_create(&o, &ham), NDE_OK);
    nde_rng rng;
    nde_rng_seed(&rng, 5);
    ck_assert_int_eq(nde_ham_init(ham, &rng, 0.0, 1.0), NDE_OK); /* K = 0, b random */
    if (gammas[gi] > 0) ck_assert_int_eq(nde_ham_set_gamma(ham, gammas[gi]), NDE_OK);
    nde_ham_contraction c;
    ck_assert_int_eq(nde_ham_update_gamma(ham, &c), NDE_OK);
    double gamma = nde_ham_gamma(ham), k2 = o.kappa * o.kappa;
    if (gammas[gi] == 0) ck_assert_double_eq_tol(gamma, 1 / sqrt(1 - 1e-6), 1e-12);
    /* K = 0 makes the bound tight: rho = gamma kappa^2. */
    ck_assert_double_eq_tol(c.rho, gamma * k2, 1e-12);
    nde_field *fld;
    ck_assert_int_eq(nde_ham_field_create(ham, NDE_HAM_PIECEWISE, &fld), NDE_OK);
    double tout[4] = {0.5, 1.25, 2.0, 3.0}, y0[18], y[4 * 18];
    ht_fill(y0, 18, 1.0, &rng);
    for (int mi = 0; mi < 3; mi++) {
      nde_ode_options so = nde_ode_options_default();
      so.method = methods[mi];
      so.adjoint = NDE_ADJ_NONE;
      so.rtol = 1e-10;
      so.atol = 1e-12;
      so.T = 3.0;
      so.nout = 4;
      so.tout = tout;
      so.max_steps = 100000;
      nde_ode *ode;
      ck_assert_int_eq(nde_ode_create(fld, &so, 3, &ode), NDE_OK);
      ck_assert_int_eq(nde_ode_solve(ode, 3, y0, y), NDE_OK);
      double worst = 0;
      for (int k = 0; k < 4; k++)
        for (int i = 0; i < 3; i++) {
          double want = exp(-gamma * k2 * tout[k]) * ht_norm(y0 + 6 * i, 6);
          double got = ht_norm(y + (k * 3 + i) * 6, 6);
          worst = fmax(worst, fabs(got / want - 1));
        }
      ck_assert_msg(worst < 1e-8, "K = 0 decay (%s, gamma %g): rel err %g",
                    nde_ode_method_name(methods[mi]), gamma, worst);
      nde_ode_free(ode);
    }
    nde_field_free(fld);
    nde_ham_free(ham);
  }
}
END_TEST

START_TEST(kinds_and_layouts) {
  for (int i = 0; i < 5; i++) {
    int k = -1;
    ck_assert_int_eq(nde_ham_kind_parse(nde_ham_kind_name(ht_kinds[i]), &k), NDE_OK);
    ck_assert_int_eq(k, ht_kinds[i]);
    nde_ham_options o = nde_ham_options_default(ht_kinds[i]);
    nde_ham *ham;
    ck_assert_int_eq(nde_ham_create(&o, &ham), NDE_OK);
    /* nf = 8, N = 8: 8 x (64 + 8) = 576 (the reference's K and b); H2 8 x (2*16 + 8). */
    ck_assert_uint_eq(nde_ham_num_params(ham), ht_kinds[i] == NDE_HAM_H2 ? 320u : 576u);
    ck_assert_uint_eq(nde_ham_layer_num_params(ham) * 8, nde_ham_num_params(ham));
    ck_assert_ptr_nonnull(nde_ham_get_options(ham));
    nde_ham_free(ham);
  }
  ck_assert_str_eq(nde_ham_kind_name(99), "unknown");
  /* The experiment's classifier: conv 80 + block 576 + linear 62,730 = 63,386. */
  nde_ham_clf_options co = nde_ham_clf_options_default(NDE_HAM_CHNODE);
  co.max_batch = 1;
  nde_ham_clf *clf;
  ck_assert_int_eq(nde_ham_clf_create(&co, &clf), NDE_OK);
  ck_assert_uint_eq(nde_ham_clf_num_params(clf), 63386u);
  size_t off, cnt;
  ck_assert_int_eq(nde_ham_clf_block_slice(clf, &off, &cnt), NDE_OK);
  ck_assert_uint_eq(off, 80u);
  ck_assert_uint_eq(cnt, 576u);
  ck_assert_double_eq_tol(co.smooth, 3.5e-3, 1e-15);
  nde_ham_clf_free(clf);
}
END_TEST

/* J1 = [[0, -I], [I, 0]] and J2 (+1 above, -1 below the diagonal) read
 * off the H1 Jacobian at a point where tanh' = 1 and K = I: df/dy = J. */
START_TEST(structure_matrices) {
  const int kinds[2] = {NDE_HAM_H1_J1, NDE_HAM_H1_J2};
  for (int t = 0; t < 2; t++) {
    nde_ham_options o = nde_ham_options_default(kinds[t]);
    o.nf = 4;
    o.nlayers = 1;
    nde_ham *ham;
    ck_assert_int_eq(nde_ham_create(&o, &ham), NDE_OK);
    double *p = nde_ham_params(ham);
    for (int k = 0; k < 4; k++) p[k * 4 + k] = 1.0;
    double y[4] = {0}, jac[16];
    ck_assert_int_eq(nde_ham_jacobian(ham, 0, y, jac), NDE_OK);
    for (int r = 0; r < 4; r++)
      for (int c = 0; c < 4; c++) {
        double want;
        if (kinds[t] == NDE_HAM_H1_J2)
          want = c > r ? 1 : (c < r ? -1 : 0);
        else
          want = (r < 2 && c == r + 2) ? -1 : ((r >= 2 && c == r - 2) ? 1 : 0);
        ck_assert_double_eq_tol(jac[r * 4 + c], want, 1e-15);
      }
    nde_ham_free(ham);
  }
}
END_TEST

Suite *ham_vectors_suite(void) {
  Suite *s = suite_create("hamiltonian_vectors");
  TCase *tc = tcase_create("vectors");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, design_constants);
  tcase_add_test(tc, design_field_values);
  tcase_add_test(tc, zero_k_decays_exactly);
  tcase_add_test(tc, kinds_and_layouts);
  tcase_add_test(tc, structure_matrices);
  suite_add_tcase(s, tc);
  return s;
}
