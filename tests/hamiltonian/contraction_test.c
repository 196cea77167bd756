/* CH-NODE's contraction guarantees (docs/methods.md section 5): the matrix measure of the
 * Jacobian at many states, distances between trajectories under fine
 * adaptive solves, and the forward-Euler step bound, which holds at
 * h <= h_euler and is seen to fail well above it. */
#include "hamiltonian/ham_test.h"

enum { NF = 8 };

/* mu_2(df/dy) <= -rho at 2000 random states of every layer, for several
 * parameter scales and gamma from the reference formula; and the bound is
 * not vacuous: with gamma = 0 (H1 dynamics) mu_2 > 0 somewhere. */
START_TEST(matrix_measure_below_minus_rho) {
  const double scales[3] = {0.3, 1.0, 2.0};
  const double kappas[3] = {0.5, 0.2, 0.02};
  nde_rng rng;
  nde_rng_seed(&rng, 21);
  for (int t = 0; t < 3; t++) {
    nde_ham *ham = ht_make(NDE_HAM_CHNODE, NF, 4, 0.5, kappas[t], 1, scales[t], 1.0, 30 + t);
    nde_ham_contraction c;
    ck_assert_int_eq(nde_ham_update_gamma(ham, &c), NDE_OK);
    ck_assert(c.rho > 0);
    ck_assert(c.gamma > c.gamma_min);
    double y[NF], jac[NF * NF], worst = -INFINITY;
    for (int j = 0; j < 4; j++)
      for (int s = 0; s < 500; s++) {
        ht_fill(y, NF, s % 2 ? 0.3 : 3.0, &rng);
        ck_assert_int_eq(nde_ham_jacobian(ham, j, y, jac), NDE_OK);
        double mu;
        ck_assert_int_eq(nde_ham_mu2(NF, jac, &mu), NDE_OK);
        worst = fmax(worst, mu);
      }
    printf("mu_2: kappa %.2f, |K| scale %.1f: gamma %.4g (min %.4g), rho %.4g, max mu_2 %.4g, "
           "margin -rho - max mu_2 = %.4g\n",
           kappas[t], scales[t], c.gamma, c.gamma_min, c.rho, worst, -c.rho - worst);
    ck_assert_msg(worst <= -c.rho * (1 - 1e-9), "mu_2 %g > -rho %g", worst, -c.rho);
    /* gamma = 0: no dissipation, mu_2 of J Q is >= 0 (trace 0) and > 0 here. */
    ck_assert_int_eq(nde_ham_set_gamma(ham, 0.0), NDE_OK);
    double best = -INFINITY;
    for (int s = 0; s < 50; s++) {
      ht_fill(y, NF, 0.3, &rng);
      ck_assert_int_eq(nde_ham_jacobian(ham, 0, y, jac), NDE_OK);
      double mu;
      ck_assert_int_eq(nde_ham_mu2(NF, jac, &mu), NDE_OK);
      best = fmax(best, mu);
    }
    ck_assert_msg(best > 1e-6, "gamma = 0 should not contract: max mu_2 %g", best);
    nde_ham_free(ham);
  }
}
END_TEST

/* The Jacobian used above matches central differences of the field. */
START_TEST(jacobian_matches_fd) {
  for (int k = 0; k < 5; k++) {
    nde_ham *ham = ht_make(ht_kinds[k], NF, 2, 0.5, 0.2, 1, 1.0, 1.0, 40 + k);
    nde_rng rng;
    nde_rng_seed(&rng, 41);
    double y[NF], jac[NF * NF], fp[NF], fm[NF], worst = 0;
    ht_fill(y, NF, 1.0, &rng);
    ck_assert_int_eq(nde_ham_jacobian(ham, 1, y, jac), NDE_OK);
    for (int c = 0; c < NF; c++) {
      double keep = y[c];
      y[c] = keep + 1e-6;
      nde_ham_rhs(ham, 1, 1, y, fp);
      y[c] = keep - 1e-6;
      nde_ham_rhs(ham, 1, 1, y, fm);
      y[c] = keep;
      for (int r = 0; r < NF; r++)
        worst = fmax(worst, fabs((fp[r] - fm[r]) / 2e-6 - jac[r * NF + c]));
    }
    ck_assert_msg(worst < 1e-7 * (1 + nde_ham_gamma(ham)), "%s jacobian: %g",
                  nde_ham_kind_name(ht_kinds[k]), worst);
    nde_ham_free(ham);
  }
}
END_TEST

/* Two trajectories of the piecewise field from different starts, solved
 * with rtol 1e-10: ||y(t) - y'(t)|| <= e^{-rho t} ||y(0) - y'(0)|| at every
 * output time. With K = 0 the bound is an equality (rate gamma kappa^2). */
START_TEST(trajectories_contract) {
  const double sk[2] = {1.0, 0.0};
  for (int t = 0; t < 2; t++) {
    enum { N = 4, PAIRS = 6 };
    nde_ham *ham = ht_make(NDE_HAM_CHNODE, NF, N, 0.5, 0.5, 2 * PAIRS, sk[t], 1.0, 50 + t);
    nde_ham_contraction c;
    ck_assert_int_eq(nde_ham_update_gamma(ham, &c), NDE_OK);
    nde_field *fld;
    ck_assert_int_eq(nde_ham_field_create(ham, NDE_HAM_PIECEWISE, &fld), NDE_OK);
    double tout[8];
    for (int k = 0; k < 8; k++) tout[k] = 0.25 * (k + 1);
    nde_ode_options o = nde_ode_options_default();
    o.method = NDE_ODE_DOPRI5;
    o.adjoint = NDE_ADJ_NONE;
    o.rtol = 1e-10;
    o.atol = 1e-12;
    o.T = 2.0;
    o.nout = 8;
    o.tout = tout;
    o.max_steps = 100000;
    nde_ode *ode;
    ck_assert_int_eq(nde_ode_create(fld, &o, 2 * PAIRS, &ode), NDE_OK);
    nde_rng rng;
    nde_rng_seed(&rng, 52);
    double y0[2 * PAIRS * NF], y[8 * 2 * PAIRS * NF];
    ht_fill(y0, 2 * PAIRS * NF, 2.0, &rng);
    ck_assert_int_eq(nde_ode_solve(ode, 2 * PAIRS, y0, y), NDE_OK);
    double worst = 0; /* max of (distance ratio) / e^{-rho t} */
    for (int p = 0; p < PAIRS; p++) {
      double d0 = ht_dist(y0 + 2 * p * NF, y0 + (2 * p + 1) * NF, NF);
      for (int k = 0; k < 8; k++) {
        const double *a = y + ((size_t)k * 2 * PAIRS + 2 * p) * NF, *b = a + NF;
        double r = ht_dist(a, b, NF) / d0 / exp(-c.rho * tout[k]);
        worst = fmax(worst, r);
        if (t == 1) /* K = 0: equality */
          ck_assert_msg(fabs(r - 1) < 1e-8, "K = 0 pair %d t %g: ratio/bound %g", p, tout[k], r);
      }
    }
    printf("trajectories (%s K): rho %.4g, max distance ratio / e^{-rho t} = %.6f over t <= 2\n",
           t ? "zero" : "random", c.rho, worst);
    ck_assert_msg(worst <= 1 + 1e-8, "distance exceeds e^{-rho t} bound: %g", worst);
    nde_ode_free(ode);
    nde_field_free(fld);
    nde_ham_free(ham);
  }
}
END_TEST

/* max over states of ||I + h df/dy||_2 for one layer of a block. */
static double max_step_norm(nde_ham *ham, double h, int nstates, nde_rng *rng, double scale) {
  double y[NF], jac[NF * NF], worst = 0;
  for (int s = 0; s < nstates; s++) {
    if (s == 0)
      memset(y, 0, sizeof y);
    else
      ht_fill(y, NF, scale, rng);
    ck_assert_int_eq(nde_ham_jacobian(ham, 0, y, jac), NDE_OK);
    for (int i = 0; i < NF * NF; i++) jac[i] *= h;
    for (int i = 0; i < NF; i++) jac[i * NF + i] += 1.0;
    double nrm;
    ck_assert_int_eq(nde_ham_norm2(NF, jac, &nrm), NDE_OK);
    worst = fmax(worst, nrm);
  }
  return worst;
}

/* Forward Euler with h <= h_euler = 2 rho / ((1 + gamma^2) c2^2): every
 * step's Jacobian has norm <= 1 and discrete trajectories approach each
 * other; well above (here where h gamma lambda_max(K K^T) > 2 at the
 * unsaturated state y = 0, b = 0) steps expand and nearby trajectories
 * separate, as the theory allows. */
START_TEST(euler_bound) {
  nde_ham_options o = nde_ham_options_default(NDE_HAM_CHNODE);
  o.nf = NF;
  o.nlayers = 1;
  o.kappa = 0.5;
  o.max_batch = 2;
  nde_ham *ham;
  ck_assert_int_eq(nde_ham_create(&o, &ham), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 60);
  ck_assert_int_eq(nde_ham_init(ham, &rng, 0.5, 0.0), NDE_OK);
  nde_ham_contraction c;
  ck_assert_int_eq(nde_ham_update_gamma(ham, &c), NDE_OK);
  ck_assert(c.h_euler > 0);
  double at = max_step_norm(ham, c.h_euler, 2000, &rng, 2.0);
  printf("euler: h_euler %.4g (gamma %.4g, c2 %.4g, rho %.4g): max ||I + h J|| = %.9f\n", c.h_euler,
         c.gamma, c.c2, c.rho, at);
  ck_assert_msg(at <= 1 + 1e-12, "step norm %g > 1 at h = h_euler", at);
  /* Discrete trajectories with h = h_euler over many steps. */
  nde_ham_free(ham);
  o.h = c.h_euler;
  o.nlayers = 200;
  ck_assert_int_eq(nde_ham_create(&o, &ham), NDE_OK);
  double *th = nde_ham_params(ham);
  nde_ham *one;
  o.nlayers = 1;
  ck_assert_int_eq(nde_ham_create(&o, &one), NDE_OK);
  nde_rng_seed(&rng, 60);
  ck_assert_int_eq(nde_ham_init(one, &rng, 0.5, 0.0), NDE_OK);
  for (int j = 0; j < 200; j++)
    memcpy(th + (size_t)j * nde_ham_layer_num_params(one), nde_ham_params(one),
           nde_ham_layer_num_params(one) * sizeof *th);
  ck_assert_int_eq(nde_ham_update_gamma(ham, NULL), NDE_OK);
  ck_assert_double_eq_tol(nde_ham_gamma(ham), c.gamma, 1e-12);
  double y0[2 * NF];
  ht_fill(y0, 2 * NF, 2.0, &rng);
  ck_assert_int_eq(nde_ham_forward(ham, 2, y0, NULL), NDE_OK);
  for (int j = 0; j < 200; j++) {
    const double *a = nde_ham_state(ham, j), *b = nde_ham_state(ham, j + 1);
    ck_assert(ht_dist(b, b + NF, NF) <= ht_dist(a, a + NF, NF) * (1 + 1e-12));
  }
  /* Scan upwards for the first expanding step; well above it, expansion. */
  double mult = 1, found = 0;
  for (int k = 0; k < 40 && !found; k++, mult *= 2)
    if (max_step_norm(one, c.h_euler * mult, 400, &rng, 2.0) > 1 + 1e-12) found = mult;
  double hbig = 3.0 / (c.gamma * c.c2);
  double big = max_step_norm(one, hbig, 10, &rng, 2.0);
  printf("euler: first expanding step found at h = %g h_euler; at h = %.4g (%.3g h_euler) "
         "max ||I + h J|| = %.4f\n",
         found, hbig, hbig / c.h_euler, big);
  ck_assert(found > 1);
  ck_assert_msg(big > 1.5, "expected expansion well above the bound, got %g", big);
  /* Two nearby trajectories separate in one step at y = 0. */
  nde_ham_free(ham);
  o.h = hbig;
  ck_assert_int_eq(nde_ham_create(&o, &ham), NDE_OK);
  memcpy(nde_ham_params(ham), nde_ham_params(one), nde_ham_num_params(one) * sizeof *th);
  ck_assert_int_eq(nde_ham_update_gamma(ham, NULL), NDE_OK);
  double pair[2 * NF] = {0}, out[2 * NF];
  /* Perturb along the most expanded direction: the top right singular
   * vector of the step Jacobian, found by power iteration. */
  double jac[NF * NF], v[NF], w[NF];
  ck_assert_int_eq(nde_ham_jacobian(ham, 0, pair, jac), NDE_OK);
  for (int i = 0; i < NF * NF; i++) jac[i] *= hbig;
  for (int i = 0; i < NF; i++) jac[i * NF + i] += 1.0;
  for (int i = 0; i < NF; i++) v[i] = 1.0 + 0.1 * i;
  for (int it = 0; it < 200; it++) {
    for (int r = 0; r < NF; r++) {
      w[r] = 0;
      for (int k = 0; k < NF; k++) w[r] += jac[r * NF + k] * v[k];
    }
    for (int r = 0; r < NF; r++) {
      v[r] = 0;
      for (int k = 0; k < NF; k++) v[r] += jac[k * NF + r] * w[k];
    }
    double nv = ht_norm(v, NF);
    for (int r = 0; r < NF; r++) v[r] /= nv;
  }
  for (int i = 0; i < NF; i++) pair[NF + i] = 1e-6 * v[i];
  ck_assert_int_eq(nde_ham_forward(ham, 2, pair, out), NDE_OK);
  double ratio = ht_dist(out, out + NF, NF) / ht_dist(pair, pair + NF, NF);
  printf("euler: nearby pair at y = 0, h = %.4g: distance ratio after one step %.4f\n", hbig,
         ratio);
  ck_assert(ratio > 1.5);
  nde_ham_free(one);
  nde_ham_free(ham);
}
END_TEST

/* Forward Euler does not preserve the Hamiltonian structure of H1, but the
 * continuous H1 flow conserves H = 1^T log cosh(K^T y + b) (autonomous
 * layer): a high-accuracy solve keeps it to 1e-8. */
START_TEST(h1_conserves_energy) {
  nde_ham *ham = ht_make(NDE_HAM_H1_J1, NF, 1, 2.0, 0.0, 3, 1.0, 0.5, 70);
  nde_field *fld;
  ck_assert_int_eq(nde_ham_field_create(ham, 0, &fld), NDE_OK);
  nde_ode_options o = nde_ode_options_default();
  o.method = NDE_ODE_DOPRI5;
  o.adjoint = NDE_ADJ_NONE;
  o.rtol = o.atol = 1e-11;
  o.T = 2.0;
  o.max_steps = 100000;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(fld, &o, 3, &ode), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 71);
  double y0[3 * NF], y[3 * NF];
  ht_fill(y0, 3 * NF, 1.0, &rng);
  ck_assert_int_eq(nde_ode_solve(ode, 3, y0, y), NDE_OK);
  const double *K = nde_ham_params(ham), *b = K + NF * NF;
  for (int i = 0; i < 3; i++) {
    double h0 = 0, h1 = 0;
    for (int c = 0; c < NF; c++) {
      double z0 = b[c], z1 = b[c];
      for (int r = 0; r < NF; r++) {
        z0 += K[r * NF + c] * y0[i * NF + r];
        z1 += K[r * NF + c] * y[i * NF + r];
      }
      h0 += log(cosh(z0));
      h1 += log(cosh(z1));
    }
    ck_assert_msg(fabs(h1 - h0) < 1e-8 * (1 + fabs(h0)), "H drift %g", h1 - h0);
    ck_assert(ht_dist(y + i * NF, y0 + i * NF, NF) > 1e-2); /* it did move */
  }
  nde_ode_free(ode);
  nde_field_free(fld);
  nde_ham_free(ham);
}
END_TEST

Suite *ham_contraction_suite(void) {
  Suite *s = suite_create("hamiltonian_contraction");
  TCase *tc = tcase_create("contraction");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, matrix_measure_below_minus_rho);
  tcase_add_test(tc, jacobian_matches_fd);
  tcase_add_test(tc, trajectories_contract);
  tcase_add_test(tc, euler_bound);
  tcase_add_test(tc, h1_conserves_energy);
  suite_add_tcase(s, tc);
  return s;
}
