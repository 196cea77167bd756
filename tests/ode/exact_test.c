/* Every solver against exact solutions: y' = lambda y, the harmonic
 * oscillator (several output times), a 3-d linear system and a
 * time-dependent field on [t0, T] with t0 != 0. Adaptive methods run at
 * rtol = atol = 1e-8; Euler and RK4 with small steps and a tolerance
 * fitting their order. */
#include <math.h>
#include <stdio.h>

#include "ode/test_fields.h"
#include "support/testutil.h"

/* y' = A y, A = [[-0.5, 1, 0], [-1, -0.5, 0], [0, 0, -0.2]]:
 * (y1, y2) = e^{-t/2} R(-t) (y1(0), y2(0)), y3 = e^{-t/5} y3(0). */
static int lin_rhs(double t, int n, const double *y, double *ydot, void *u) {
  (void)t;
  (void)u;
  for (int i = 0; i < n; i++) {
    const double *x = y + 3 * i;
    double *d = ydot + 3 * i;
    d[0] = -0.5 * x[0] + x[1];
    d[1] = -x[0] - 0.5 * x[1];
    d[2] = -0.2 * x[2];
  }
  return 0;
}

static void lin_exact(double t, const double *y0, double *y) {
  double e = exp(-0.5 * t), c = cos(t), s = sin(t);
  y[0] = e * (c * y0[0] + s * y0[1]);
  y[1] = e * (-s * y0[0] + c * y0[1]);
  y[2] = exp(-0.2 * t) * y0[2];
}

/* Accuracy to demand of a method at its test settings. */
static double method_tol(int m) {
  if (m == NDE_ODE_EULER) return 2e-3; /* first order, h = 2e-4 */
  if (m == NDE_ODE_RK4) return 1e-8;   /* fourth order, h = 1e-2 */
  return 2e-6;                         /* adaptive at rtol = atol = 1e-8 */
}

static nde_ode_options method_opts(int m) {
  nde_ode_options o = nde_ode_options_default();
  o.method = m;
  o.adjoint = NDE_ADJ_NONE;
  o.rtol = o.atol = 1e-8;
  o.fixed_h = m == NDE_ODE_EULER ? 2e-4 : 1e-2;
  o.max_steps = 100000;
  return o;
}

static double rel(double a, double b) { return fabs(a - b) / fmax(1e-3, fabs(b)); }

START_TEST(scalar_growth_every_method) {
  int m = _i;
  tf_scalar p = {-1.3};
  nde_field_user u = {1, 1, 2, tf_scalar_rhs, tf_scalar_vjp, NULL, &p};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = method_opts(m);
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_OK);
  double y0[2] = {2.0, -0.5}, y[2];
  ck_assert_int_eq(nde_ode_solve(ode, 2, y0, y), NDE_OK);
  for (int i = 0; i < 2; i++) {
    double ex = y0[i] * exp(-1.3);
    ck_assert_msg(rel(y[i], ex) <= method_tol(m), "%s: y = %.12g, exact %.12g",
                  nde_ode_method_name(m), y[i], ex);
  }
  nde_ode_free(ode);
  nde_field_free(f);
}
END_TEST

START_TEST(oscillator_several_outputs_every_method) {
  int m = _i;
  tf_osc p = {2.0};
  nde_field_user u = {2, 1, 1, tf_osc_rhs, NULL, NULL, &p};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = method_opts(m);
  const double tout[3] = {0.5, 1.25, 2.0};
  o.T = 2.0;
  o.nout = 3;
  o.tout = tout;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 1, &ode), NDE_OK);
  ck_assert_int_eq(nde_ode_num_outputs(ode), 3);
  double y0[2] = {1.0, 0.0}, y[6];
  ck_assert_int_eq(nde_ode_solve(ode, 1, y0, y), NDE_OK);
  for (int k = 0; k < 3; k++) {
    double x = cos(2 * tout[k]), v = -2 * sin(2 * tout[k]);
    ck_assert_msg(fabs(y[2 * k] - x) <= method_tol(m) && fabs(y[2 * k + 1] - v) <= 2 * method_tol(m),
                  "%s at t = %g: (%.10g, %.10g) vs (%.10g, %.10g)", nde_ode_method_name(m),
                  tout[k], y[2 * k], y[2 * k + 1], x, v);
  }
  nde_ode_free(ode);
  nde_field_free(f);
}
END_TEST

START_TEST(linear_system_every_method) {
  int m = _i;
  nde_field_user u = {3, 0, 2, lin_rhs, NULL, NULL, NULL};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = method_opts(m);
  o.T = 1.5;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_OK);
  double y0[6] = {1, 0.5, -2, 0.3, -1, 0.7}, y[6], ex[6];
  ck_assert_int_eq(nde_ode_solve(ode, 2, y0, y), NDE_OK);
  lin_exact(1.5, y0, ex);
  lin_exact(1.5, y0 + 3, ex + 3);
  for (int i = 0; i < 6; i++)
    ck_assert_msg(fabs(y[i] - ex[i]) <= method_tol(m), "%s: y[%d] = %.12g, exact %.12g",
                  nde_ode_method_name(m), i, y[i], ex[i]);
  nde_ode_free(ode);
  nde_field_free(f);
}
END_TEST

/* Solve the 3-D linear system for two samples over [0, 1.5] with options o
 * (method m), assert every value within the method's bound of the exact
 * solution and return the statistics; what names the setting in messages. */
static nde_ode_stats lin_solve_exact(nde_field *f, int m, const nde_ode_options *o, double *y,
                                     const char *what) {
  const double y0[6] = {1, 0.5, -2, 0.3, -1, 0.7};
  double ex[6];
  lin_exact(1.5, y0, ex);
  lin_exact(1.5, y0 + 3, ex + 3);
  nde_ode *ode;
  nde_ode_stats st;
  ck_assert_int_eq(nde_ode_create(f, o, 2, &ode), NDE_OK);
  ck_assert_int_eq(nde_ode_solve(ode, 2, y0, y), NDE_OK);
  ck_assert_int_eq(nde_ode_last_stats(ode, &st, NULL), NDE_OK);
  for (int i = 0; i < 6; i++)
    ck_assert_msg(fabs(y[i] - ex[i]) <= method_tol(m), "%s %s: y[%d] = %.12g, exact %.12g",
                  nde_ode_method_name(m), what, i, y[i], ex[i]);
  nde_ode_free(ode);
  return st;
}

/* A looser nonlinear convergence test (nls_coef, CVODES Adams and BDF)
 * takes no more evaluations and stays within the accuracy demanded at
 * rtol = atol = 1e-8; a negative or non-finite coefficient is refused. */
START_TEST(nls_coef_keeps_accuracy) {
  const int m = _i;
  nde_field_user u = {3, 0, 2, lin_rhs, NULL, NULL, NULL};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  long nfe[2];
  for (int v = 0; v < 2; v++) {
    nde_ode_options o = method_opts(m);
    o.T = 1.5;
    o.nls_coef = v ? 0.3 : 0;
    double y[6];
    nfe[v] = lin_solve_exact(f, m, &o, y, v ? "nls_coef 0.3" : "nls_coef 0.1").nfe;
  }
  printf("%s: nfe %ld at nls_coef 0.1, %ld at 0.3\n", nde_ode_method_name(m), nfe[0], nfe[1]);
  ck_assert_int_le(nfe[1], nfe[0]);
  nde_ode_options o = method_opts(m);
  nde_ode *ode = NULL;
  o.nls_coef = -0.1;
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_ERR_ARG);
  o.nls_coef = NAN;
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_ERR_ARG);
  nde_field_free(f);
}
END_TEST

/* The step-growth threshold (eta_fixed_max, CVODES Adams and BDF): at 1.2
 * the solver changes h more often, at the same accuracy against the exact
 * solution; the option reaches CVODES (the step sequence differs from the
 * default's) and bad values are refused. */
START_TEST(eta_fixed_max_keeps_accuracy) {
  const int m = _i;
  nde_field_user u = {3, 0, 2, lin_rhs, NULL, NULL, NULL};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  double yv[2][6];
  long nst[2];
  for (int v = 0; v < 2; v++) {
    nde_ode_options o = method_opts(m);
    o.T = 1.5;
    o.eta_fixed_max = v ? 1.2 : 0;
    nst[v] = lin_solve_exact(f, m, &o, yv[v], v ? "eta_fixed_max 1.2" : "eta_fixed_max 1.5").steps;
  }
  printf("%s: %ld steps at eta_fixed_max 1.5, %ld at 1.2\n", nde_ode_method_name(m), nst[0],
         nst[1]);
  int same = nst[0] == nst[1];
  for (int i = 0; i < 6; i++) same = same && yv[0][i] == yv[1][i];
  ck_assert_msg(!same, "eta_fixed_max 1.2 changed nothing");
  nde_ode_options o = method_opts(m);
  nde_ode *ode = NULL;
  const double bad[3] = {0.5, 1.0, NAN};
  for (int k = 0; k < 3; k++) {
    o.eta_fixed_max = bad[k];
    ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_ERR_ARG);
    ck_assert_ptr_null(ode);
  }
  nde_field_free(f);
}
END_TEST

START_TEST(time_dependent_field_from_t0) {
  int m = _i;
  nde_field_user u = {1, 0, 1, tf_cos_rhs, NULL, NULL, NULL};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = method_opts(m);
  o.t0 = 0.3;
  o.T = 2.0;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 1, &ode), NDE_OK);
  double y0 = 1.5, y;
  ck_assert_int_eq(nde_ode_solve(ode, 1, &y0, &y), NDE_OK);
  double ex = y0 * exp(sin(2.0) - sin(0.3));
  ck_assert_msg(rel(y, ex) <= method_tol(m), "%s: %.12g vs %.12g", nde_ode_method_name(m), y, ex);
  nde_ode_free(ode);
  nde_field_free(f);
}
END_TEST

/* Ten closely spaced outputs at a loose tolerance: steps pass several
 * output times at once, which must then be interpolated, not stepped to. */
START_TEST(dense_outputs_with_large_steps) {
  int m = _i;
  tf_scalar p = {-1.0};
  nde_field_user u = {1, 1, 1, tf_scalar_rhs, tf_scalar_vjp, NULL, &p};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = method_opts(m);
  o.rtol = o.atol = 1e-4;
  o.fixed_h = 0.05;
  double tout[10];
  for (int k = 0; k < 10; k++) tout[k] = 0.1 * (k + 1) * 3;
  o.T = tout[9];
  o.nout = 10;
  o.tout = tout;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 1, &ode), NDE_OK);
  double y0 = 1, y[10];
  ck_assert_int_eq(nde_ode_solve(ode, 1, &y0, y), NDE_OK);
  nde_ode_stats st;
  nde_ode_last_stats(ode, &st, NULL);
  if (m == NDE_ODE_DOPRI5) ck_assert_msg(st.accepted < 10, "dopri5 took %ld steps", st.accepted);
  double tol = m == NDE_ODE_EULER ? 0.03 : 1e-3;
  for (int k = 0; k < 10; k++)
    ck_assert_msg(fabs(y[k] - exp(-tout[k])) <= tol, "%s at t = %g: %.8g vs %.8g",
                  nde_ode_method_name(m), tout[k], y[k], exp(-tout[k]));
  nde_ode_free(ode);
  nde_field_free(f);
}
END_TEST

Suite *ode_exact_suite(void) {
  Suite *s = suite_create("ode_exact");
  TCase *tc = tcase_create("exact");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, scalar_growth_every_method, NDE_ODE_ADAMS, NDE_ODE_RK4 + 1);
  tcase_add_loop_test(tc, oscillator_several_outputs_every_method, NDE_ODE_ADAMS, NDE_ODE_RK4 + 1);
  tcase_add_loop_test(tc, linear_system_every_method, NDE_ODE_ADAMS, NDE_ODE_RK4 + 1);
  tcase_add_loop_test(tc, nls_coef_keeps_accuracy, NDE_ODE_ADAMS, NDE_ODE_BDF + 1);
  tcase_add_loop_test(tc, eta_fixed_max_keeps_accuracy, NDE_ODE_ADAMS, NDE_ODE_BDF + 1);
  tcase_add_loop_test(tc, time_dependent_field_from_t0, NDE_ODE_ADAMS, NDE_ODE_RK4 + 1);
  tcase_add_loop_test(tc, dense_outputs_with_large_steps, NDE_ODE_ADAMS, NDE_ODE_RK4 + 1);
  suite_add_tcase(s, tc);
  return s;
}
