/* Finite-difference gradient checks of every Hamiltonian field (vjp in y
 * and theta, jvp), of the discrete networks (exact backprop, 1e-6 in both
 * builds: the block computes in double), and of the continuous block
 * through nde's adaptive adjoints at rtol 1e-10 (1e-4). Relative errors
 * are tu_max_rel_err's (per coordinate, floored at 1e-3 of the largest). */
#include "hamiltonian/ham_test.h"

#define FD 1e-6

/* L = w . f_layer(y) */
static double field_loss(nde_ham *ham, int layer, int n, const double *y, const double *w,
                         double *f) {
  ck_assert_int_eq(nde_ham_rhs(ham, layer, n, y, f), NDE_OK);
  return ht_dot(w, f, (size_t)n * nde_ham_get_options(ham)->nf);
}

START_TEST(field_vjp_jvp_fd) {
  int kind = ht_kinds[_i];
  enum { NF = 4, N = 2, NB = 3, L = NB * NF };
  nde_ham *ham = ht_make(kind, NF, N, 0.5, 0.3, NB, 0.8, 0.5, 100 + _i);
  size_t np = nde_ham_num_params(ham), lp = nde_ham_layer_num_params(ham);
  double *th = nde_ham_params(ham);
  nde_rng rng;
  nde_rng_seed(&rng, 7);
  double y[L], w[L], v[L], f[L], ja[L], jv[L], fdx[L], ja2[L];
  double *g = calloc(np, sizeof *g), *g2 = calloc(np, sizeof *g2), *fdp = calloc(np, sizeof *fdp);
  ht_fill(y, L, 1.0, &rng);
  ht_fill(w, L, 1.0, &rng);
  ht_fill(v, L, 1.0, &rng);
  const int layer = 1;
  ck_assert_int_eq(nde_ham_vjp(ham, layer, NB, y, w, ja, g), NDE_OK);
  for (int i = 0; i < L; i++) {
    double keep = y[i];
    y[i] = keep + FD;
    double lp_ = field_loss(ham, layer, NB, y, w, f);
    y[i] = keep - FD;
    double lm = field_loss(ham, layer, NB, y, w, f);
    y[i] = keep;
    fdx[i] = (lp_ - lm) / (2 * FD);
  }
  for (size_t k = 0; k < np; k++) {
    double keep = th[k];
    th[k] = keep + FD;
    double lp_ = field_loss(ham, layer, NB, y, w, f);
    th[k] = keep - FD;
    double lm = field_loss(ham, layer, NB, y, w, f);
    th[k] = keep;
    fdp[k] = (lp_ - lm) / (2 * FD);
  }
  double ex = tu_max_rel_err(ja, fdx, L), ep = tu_max_rel_err(g, fdp, np);
  /* Layer 0's block must be untouched by layer 1's vjp. */
  for (size_t k = 0; k < lp; k++) ck_assert_double_eq(g[k], 0.0);
  /* jvp against the central difference of f along v. */
  double fp[L], fm[L], yp[L], ym[L], fdv[L];
  for (int i = 0; i < L; i++) {
    yp[i] = y[i] + FD * v[i];
    ym[i] = y[i] - FD * v[i];
  }
  ck_assert_int_eq(nde_ham_rhs(ham, layer, NB, yp, fp), NDE_OK);
  ck_assert_int_eq(nde_ham_rhs(ham, layer, NB, ym, fm), NDE_OK);
  for (int i = 0; i < L; i++) fdv[i] = (fp[i] - fm[i]) / (2 * FD);
  ck_assert_int_eq(nde_ham_jvp(ham, layer, NB, y, v, jv), NDE_OK);
  double ev = tu_max_rel_err(jv, fdv, L);
  /* The nde field gives the same vjp, and its parameter-only form too. */
  nde_field *fld;
  ck_assert_int_eq(nde_ham_field_create(ham, layer, &fld), NDE_OK);
  ck_assert_int_eq(nde_field_vjp(fld, 0.0, NB, y, w, ja2, g2), NDE_OK);
  for (int i = 0; i < L; i++) ck_assert_double_eq_tol(ja2[i], ja[i], 1e-14);
  memset(g2, 0, np * sizeof *g2);
  ck_assert_int_eq(nde_ham_vjp(ham, layer, NB, y, w, NULL, g2), NDE_OK);
  for (size_t k = 0; k < np; k++) ck_assert_double_eq_tol(g2[k], g[k], 1e-14);
  printf("field %-6s: vjp y %.2e theta %.2e, jvp %.2e\n", nde_ham_kind_name(kind), ex, ep, ev);
  ck_assert_msg(ex <= 1e-6 && ep <= 1e-6 && ev <= 1e-6, "%s field: %g %g %g",
                nde_ham_kind_name(kind), ex, ep, ev);
  nde_field_free(fld);
  free(g);
  free(g2);
  free(fdp);
  nde_ham_free(ham);
}
END_TEST

/* L = w . y_N of the discrete network. */
static double net_loss(nde_ham *ham, int n, const double *y0, const double *w, double *yN) {
  ck_assert_int_eq(nde_ham_forward(ham, n, y0, yN), NDE_OK);
  return ht_dot(w, yN, (size_t)n * nde_ham_get_options(ham)->nf);
}

START_TEST(discrete_backprop_fd) {
  int kind = ht_kinds[_i];
  enum { NF = 4, N = 3, NB = 2, L = NB * NF };
  double h = kind == NDE_HAM_H1_J2 ? 0.2 : 0.5;
  nde_ham *ham = ht_make(kind, NF, N, h, 0.3, NB, 0.8, 0.5, 200 + _i);
  size_t np = nde_ham_num_params(ham);
  double *th = nde_ham_params(ham);
  nde_rng rng;
  nde_rng_seed(&rng, 8);
  double y0[L], w[L], yN[L], dy0[L], fdx[L];
  double *g = calloc(np, sizeof *g), *fdp = calloc(np, sizeof *fdp);
  ht_fill(y0, L, 1.0, &rng);
  ht_fill(w, L, 1.0, &rng);
  net_loss(ham, NB, y0, w, yN);
  ck_assert_int_eq(nde_ham_backward(ham, w, dy0, g), NDE_OK);
  for (int i = 0; i < L; i++) {
    double keep = y0[i];
    y0[i] = keep + FD;
    double lp_ = net_loss(ham, NB, y0, w, yN);
    y0[i] = keep - FD;
    double lm = net_loss(ham, NB, y0, w, yN);
    y0[i] = keep;
    fdx[i] = (lp_ - lm) / (2 * FD);
  }
  for (size_t k = 0; k < np; k++) {
    double keep = th[k];
    th[k] = keep + FD;
    double lp_ = net_loss(ham, NB, y0, w, yN);
    th[k] = keep - FD;
    double lm = net_loss(ham, NB, y0, w, yN);
    th[k] = keep;
    fdp[k] = (lp_ - lm) / (2 * FD);
  }
  double ex = tu_max_rel_err(dy0, fdx, L), ep = tu_max_rel_err(g, fdp, np);
  printf("discrete %-6s: dL/dy0 %.2e dL/dtheta %.2e\n", nde_ham_kind_name(kind), ex, ep);
  ck_assert_msg(ex <= 1e-6 && ep <= 1e-6, "%s discrete: %g %g", nde_ham_kind_name(kind), ex, ep);
  /* A second backward on the same forward gives the same gradient (in place
   * cotangents must not clobber the stored states). */
  double *g2 = calloc(np, sizeof *g2);
  net_loss(ham, NB, y0, w, yN);
  ck_assert_int_eq(nde_ham_backward(ham, w, NULL, g), NDE_OK);
  ck_assert_int_eq(nde_ham_backward(ham, w, NULL, g2), NDE_OK);
  for (size_t k = 0; k < np; k++)
    ck_assert_double_eq_tol(g2[k] * 2, g[k], 1e-12 * (1 + fabs(g[k])));
  free(g2);
  free(g);
  free(fdp);
  nde_ham_free(ham);
}
END_TEST

/* L = w . y(N h) of the continuous block solved at rtol 1e-10. */
static double ode_loss(nde_ham_ode *blk, int n, int nf, const double *y0, const double *w,
                       double *yN) {
  ck_assert_int_eq(nde_ham_ode_forward(blk, n, y0, yN, 0), NDE_OK);
  return ht_dot(w, yN, (size_t)n * nf);
}

static void adjoint_case(int kind, int method, int adjoint, double *ex_out, double *ep_out) {
  enum { NF = 4, N = 2, NB = 2, L = NB * NF };
  nde_ham *ham = ht_make(kind, NF, N, 0.5, 0.3, NB, 0.7, 0.5, 300 + kind);
  size_t np = nde_ham_num_params(ham);
  double *th = nde_ham_params(ham);
  nde_ode_options o = nde_ode_options_default();
  o.method = method;
  o.adjoint = adjoint;
  o.rtol = 1e-10;
  o.atol = 1e-10;
  o.max_steps = 200000;
  nde_ham_ode *blk;
  ck_assert_int_eq(nde_ham_ode_create(ham, &o, NB, &blk), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 9);
  double y0[L], w[L], yN[L], dy0[L], fdx[L];
  double *g = calloc(np, sizeof *g), *fdp = calloc(np, sizeof *fdp);
  ht_fill(y0, L, 1.0, &rng);
  ht_fill(w, L, 1.0, &rng);
  ck_assert_int_eq(nde_ham_ode_forward(blk, NB, y0, yN, 1), NDE_OK);
  ck_assert_int_eq(nde_ham_ode_backward(blk, w, dy0, g), NDE_OK);
  nde_ode_stats bs;
  ck_assert_int_eq(nde_ham_ode_stats(blk, NULL, &bs), NDE_OK);
  ck_assert(bs.nfe > 0);
  const double fd = 1e-5;
  for (int i = 0; i < L; i++) {
    double keep = y0[i];
    y0[i] = keep + fd;
    double lp_ = ode_loss(blk, NB, NF, y0, w, yN);
    y0[i] = keep - fd;
    double lm = ode_loss(blk, NB, NF, y0, w, yN);
    y0[i] = keep;
    fdx[i] = (lp_ - lm) / (2 * fd);
  }
  for (size_t k = 0; k < np; k++) {
    double keep = th[k];
    th[k] = keep + fd;
    double lp_ = ode_loss(blk, NB, NF, y0, w, yN);
    th[k] = keep - fd;
    double lm = ode_loss(blk, NB, NF, y0, w, yN);
    th[k] = keep;
    fdp[k] = (lp_ - lm) / (2 * fd);
  }
  *ex_out = tu_max_rel_err(dy0, fdx, L);
  *ep_out = tu_max_rel_err(g, fdp, np);
  free(g);
  free(fdp);
  nde_ham_ode_free(blk);
  nde_ham_free(ham);
}

START_TEST(continuous_adjoint_fd) {
  int kind = ht_kinds[_i];
  double ex, ep;
  adjoint_case(kind, NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT, &ex, &ep);
  printf("continuous %-6s (adams, checkpoint): dL/dy0 %.2e dL/dtheta %.2e\n",
         nde_ham_kind_name(kind), ex, ep);
  ck_assert_msg(ex <= 1e-4 && ep <= 1e-4, "%s adjoint: %g %g", nde_ham_kind_name(kind), ex, ep);
}
END_TEST

START_TEST(continuous_chnode_other_solvers) {
  const int m[3] = {NDE_ODE_BDF, NDE_ODE_DOPRI5, NDE_ODE_BOSH3};
  const int a[3] = {NDE_ADJ_CHECKPOINT, NDE_ADJ_BACKSOLVE, NDE_ADJ_BACKSOLVE};
  for (int t = 0; t < 3; t++) {
    double ex, ep;
    adjoint_case(NDE_HAM_CHNODE, m[t], a[t], &ex, &ep);
    printf("continuous chnode (%s, %s): dL/dy0 %.2e dL/dtheta %.2e\n", nde_ode_method_name(m[t]),
           nde_adjoint_kind_name(a[t]), ex, ep);
    ck_assert_msg(ex <= 1e-4 && ep <= 1e-4, "chnode %s: %g %g", nde_ode_method_name(m[t]), ex, ep);
  }
}
END_TEST

/* The piecewise field in ONE solve over [0, N h] (the solver meets the
 * jumps of K(t)): nde's checkpointed Adams adjoint agrees with the
 * layer-by-layer block (checked against finite differences above). Central
 * differences of one-solve runs are printed only: each solve locates the
 * jumps by rejected steps, so perturbed solves take different steps and
 * the differences carry O(tol / step) noise at the jumps. The one-solve backsolve adjoint
 * reconstructs y backward through the whole contracting flow (errors grow like e^{gamma c2 T}) and
 * is printed, not asserted; per layer it restarts from the stored y_j and is accurate
 * (continuous_chnode_other_solvers). */
START_TEST(piecewise_field_one_solve) {
  enum { NF = 4, N = 3, NB = 2, L = NB * NF };
  nde_ham *ham = ht_make(NDE_HAM_CHNODE, NF, N, 0.5, 0.3, NB, 0.7, 0.5, 77);
  size_t np = nde_ham_num_params(ham);
  double *th = nde_ham_params(ham);
  nde_field *fld;
  ck_assert_int_eq(nde_ham_field_create(ham, NDE_HAM_PIECEWISE, &fld), NDE_OK);
  nde_ode_options o = nde_ode_options_default();
  o.rtol = o.atol = 1e-10;
  o.T = N * 0.5;
  o.max_steps = 200000;
  nde_rng rng;
  nde_rng_seed(&rng, 10);
  double y0[L], w[L], yT[L], yb[L];
  double *g1 = calloc(np, sizeof *g1), *g2 = calloc(np, sizeof *g2), *g3 = calloc(np, sizeof *g3);
  double *fdp = calloc(np, sizeof *fdp);
  ht_fill(y0, L, 1.0, &rng);
  ht_fill(w, L, 1.0, &rng);
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(fld, &o, NB, &ode), NDE_OK);
  ck_assert_int_eq(nde_adjoint_forward(ode, NB, y0, yT), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(ode, w, NULL, g1), NDE_OK);
  nde_ode_free(ode);
  nde_ham_ode *blk;
  ck_assert_int_eq(nde_ham_ode_create(ham, &o, NB, &blk), NDE_OK);
  ck_assert_int_eq(nde_ham_ode_forward(blk, NB, y0, yb, 1), NDE_OK);
  ck_assert_int_eq(nde_ham_ode_backward(blk, w, NULL, g2), NDE_OK);
  ck_assert_msg(ht_dist(yb, yT, L) <= 1e-7 * ht_norm(yT, L), "one solve vs layers: %g",
                ht_dist(yb, yT, L));
  nde_ham_ode_free(blk);
  nde_ode_options od = o;
  od.method = NDE_ODE_DOPRI5;
  od.adjoint = NDE_ADJ_BACKSOLVE;
  ck_assert_int_eq(nde_ode_create(fld, &od, NB, &ode), NDE_OK);
  ck_assert_int_eq(nde_adjoint_forward(ode, NB, y0, yT), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(ode, w, NULL, g3), NDE_OK);
  const double fd = 1e-5;
  for (size_t k = 0; k < np; k++) {
    double keep = th[k], lp_, lm;
    th[k] = keep + fd;
    ck_assert_int_eq(nde_ode_solve(ode, NB, y0, yb), NDE_OK);
    lp_ = ht_dot(w, yb, L);
    th[k] = keep - fd;
    ck_assert_int_eq(nde_ode_solve(ode, NB, y0, yb), NDE_OK);
    lm = ht_dot(w, yb, L);
    th[k] = keep;
    fdp[k] = (lp_ - lm) / (2 * fd);
  }
  nde_ode_free(ode);
  double e12 = tu_max_rel_err(g1, g2, np), efd = tu_max_rel_err(g1, fdp, np);
  double ebs = tu_max_rel_err(g3, g2, np);
  printf("piecewise field, one solve over [0, %g]: adams checkpoint vs layered %.2e, vs "
         "dopri5 differences %.2e; one-solve dopri5 backsolve vs layered %.2e\n",
         o.T, e12, efd, ebs);
  /* The agreement depends on where the adaptive steps land at the jumps,
   * which rounding moves: measured at rtol = atol = 1e-10, 1.5e-6 / 2.0e-6
   * / 2.5e-4 with OpenBLAS's SkylakeX / Haswell / Prescott kernels (and
   * 1e-8 .. 5e-5 at 1e-11 and 1e-12, not monotone in the tolerance). The
   * bound leaves room for that spread; a wrong adjoint is off by O(1). */
  ck_assert_msg(e12 <= 1e-3, "one-solve vs layered adjoint: %g", e12);
  free(g1);
  free(g2);
  free(g3);
  free(fdp);
  nde_field_free(fld);
  nde_ham_free(ham);
}
END_TEST

Suite *ham_gradcheck_suite(void) {
  Suite *s = suite_create("hamiltonian_gradcheck");
  TCase *tc = tcase_create("gradcheck");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, field_vjp_jvp_fd, 0, 5);
  tcase_add_loop_test(tc, discrete_backprop_fd, 0, 5);
  tcase_add_loop_test(tc, continuous_adjoint_fd, 0, 5);
  tcase_add_test(tc, continuous_chnode_other_solvers);
  tcase_add_test(tc, piecewise_field_one_solve);
  suite_add_tcase(s, tc);
  return s;
}
