/* Solver statistics: the counts agree with the calls the field actually
 * received, the Dormand-Prince / Bogacki-Shampine evaluation pattern of
 * ARKODE, fixed-step counts, cumulative counters and their reset. */
#include <stdio.h>

#include "ode/test_fields.h"
#include "support/testutil.h"

static void tanh_params(tf_tanh *p, double scale) {
  memset(p, 0, sizeof *p);
  p->d = 3;
  p->c = 0.5;
  for (int i = 0; i < 12; i++) p->theta[i] = scale * ((i * 7) % 5 - 2);
}

static long jvp_calls;
static int counting_jvp(double t, int n, const double *y, const double *v, double *jv, void *u) {
  jvp_calls++;
  return tf_tanh_jvp(t, n, y, v, jv, u);
}

static int solve_tanh(tf_tanh *p, nde_ode_options *o, nde_ode_stats *st, int with_jvp) {
  nde_field_user u = {3, 12, 2, tf_tanh_rhs, tf_tanh_vjp, with_jvp ? counting_jvp : NULL, p};
  nde_field *f;
  nde_ode *ode;
  int rc = nde_field_create_user(&u, &f);
  if (rc) return rc;
  if ((rc = nde_ode_create(f, o, 2, &ode))) {
    nde_field_free(f);
    return rc;
  }
  double y0[6] = {1, 0.5, -1, 0.2, 0.3, 2}, y[2 * 6]; /* up to 2 output times */
  p->calls = 0;
  jvp_calls = 0;
  rc = nde_ode_solve(ode, 2, y0, y);
  nde_ode_last_stats(ode, st, NULL);
  nde_ode_free(ode);
  nde_field_free(f);
  return rc;
}

/* ARKODE 6.4's ARKStep evaluates all s stages of every attempted step: it
 * does not reuse the first-same-as-last stage (torchdiffeq's dopri5 does,
 * hence its 2 + 6 x steps). On top come f(t0) once at initialization, two
 * evaluations of the initial step-size estimate when h0 is not given, and
 * for Dormand-Prince one more when the output is returned (ARKODE's
 * Hermite interpolant of degree 5 evaluates f inside the last step). So
 *   DOPRI5: nfe = 7 attempts + 2 (+ 2 without h0)
 *   BOSH3:  nfe = 4 attempts + 1 (+ 2 without h0)
 * whatever the tolerance and the number of rejected steps. */
START_TEST(erk_evaluation_pattern) {
  const double tols[3] = {1e-3, 1e-6, 1e-9};
  tf_tanh p;
  tanh_params(&p, 2.5);
  for (int meth = NDE_ODE_DOPRI5; meth <= NDE_ODE_BOSH3; meth++) {
    int s = meth == NDE_ODE_DOPRI5 ? 7 : 4, extra = meth == NDE_ODE_DOPRI5 ? 2 : 1;
    long rejected = 0;
    for (int h = 0; h < 2; h++)
      for (int k = 0; k < 3; k++) {
        nde_ode_options o = nde_ode_options_default();
        o.method = meth;
        o.adjoint = NDE_ADJ_NONE;
        o.rtol = o.atol = tols[k];
        o.T = 5;
        o.h0 = h ? 0.3 : 0;
        nde_ode_stats st;
        ck_assert_int_eq(solve_tanh(&p, &o, &st, 0), NDE_OK);
        ck_assert_int_eq(st.nfe, p.calls);
        ck_assert_int_eq(st.steps, st.accepted + st.rejected);
        ck_assert_int_eq(st.nfe, s * st.steps + extra + (h ? 0 : 2));
        rejected += st.rejected;
        if (meth == NDE_ODE_DOPRI5 && h == 0)
          printf("dopri5 rtol=atol=%g: NFE %ld, attempts %ld (rejected %ld); torchdiffeq's "
                 "2 + 6 x steps would be %ld\n",
                 tols[k], st.nfe, st.steps, st.rejected, 2 + 6 * st.steps);
      }
    ck_assert_msg(rejected > 0, "the pattern should be checked with rejected steps too");
  }
}
END_TEST

START_TEST(cvodes_counts_match_calls) {
  tf_tanh p;
  tanh_params(&p, 0.3);
  nde_ode_options o = nde_ode_options_default();
  o.adjoint = NDE_ADJ_NONE;
  o.rtol = o.atol = 1e-6;
  o.T = 3;
  nde_ode_stats st;
  /* Adams + fixed point: f only. */
  ck_assert_int_eq(solve_tanh(&p, &o, &st, 1), NDE_OK);
  ck_assert_int_eq(st.nfe, p.calls);
  ck_assert_int_eq(st.nfe_ls + st.njv + st.nli, 0);
  ck_assert_int_eq(jvp_calls, 0);
  ck_assert(st.nni > 0 && st.accepted > 0 && st.steps >= st.accepted + st.rejected);
  /* BDF with difference-quotient J v: those f calls are listed apart. */
  o.method = NDE_ODE_BDF;
  o.jtv_dq = 1;
  ck_assert_int_eq(solve_tanh(&p, &o, &st, 1), NDE_OK);
  ck_assert_int_eq(st.nfe + st.nfe_ls, p.calls);
  ck_assert(st.nfe_ls > 0 && st.njv > 0 && st.nli > 0);
  ck_assert_int_eq(jvp_calls, 0);
  /* BDF with the user's jvp: no f spent on J v. */
  o.jtv_dq = 0;
  ck_assert_int_eq(solve_tanh(&p, &o, &st, 1), NDE_OK);
  ck_assert_int_eq(st.nfe, p.calls);
  ck_assert_int_eq(st.nfe_ls, 0);
  ck_assert(st.njv > 0);
  ck_assert_int_eq(st.njv, jvp_calls);
}
END_TEST

START_TEST(fixed_step_counts) {
  tf_tanh p;
  tanh_params(&p, 0.3);
  nde_ode_options o = nde_ode_options_default();
  o.adjoint = NDE_ADJ_NONE;
  o.method = NDE_ODE_RK4;
  o.fixed_h = 0.1;
  const double tout[2] = {0.25, 1.0};
  o.nout = 2;
  o.tout = tout;
  nde_ode_stats st;
  ck_assert_int_eq(solve_tanh(&p, &o, &st, 0), NDE_OK);
  /* [0, 0.25]: 3 steps, [0.25, 1]: 8 steps (0.75 / 0.1 rounded up). */
  ck_assert_int_eq(st.steps, 11);
  ck_assert_int_eq(st.accepted, 11);
  ck_assert_int_eq(st.nfe, 44);
  ck_assert_int_eq(p.calls, 44);
  o.method = NDE_ODE_EULER;
  o.nout = 0;
  o.tout = NULL;
  ck_assert_int_eq(solve_tanh(&p, &o, &st, 0), NDE_OK);
  ck_assert_int_eq(st.steps, 10); /* 1 / 0.1 is 10 steps, not 11 */
  ck_assert_int_eq(st.nfe, 10);
}
END_TEST

START_TEST(cumulative_and_reset) {
  tf_tanh p;
  tanh_params(&p, 0.3);
  nde_field_user u = {3, 12, 2, tf_tanh_rhs, tf_tanh_vjp, NULL, &p};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = nde_ode_options_default();
  o.checkpoint_steps = 3; /* several checkpoints: the backward pass recomputes */
  o.rtol = o.atol = 1e-6;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_OK);
  double y0[6] = {1, 0.5, -1, 0.2, 0.3, 2}, y[6], w[6] = {1, -1, 2, 0.5, 0, 1}, g[12] = {0};
  nde_ode_stats f1, b1, tf, tb;
  ck_assert_int_eq(nde_adjoint_forward(ode, 2, y0, y), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(ode, w, NULL, g), NDE_OK);
  nde_ode_last_stats(ode, &f1, &b1);
  ck_assert(f1.nfe > 0 && b1.nfe > 0 && b1.nfe_quad > 0 && b1.nfe_recompute > 0);
  ck_assert(b1.accepted > 0);
  ck_assert_int_eq(nde_adjoint_forward(ode, 2, y0, y), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(ode, w, NULL, g), NDE_OK);
  nde_ode_total_stats(ode, &tf, &tb);
  ck_assert_int_eq(tf.nfe, 2 * f1.nfe);
  ck_assert_int_eq(tb.nfe, 2 * b1.nfe);
  ck_assert_int_eq(tb.nfe_quad, 2 * b1.nfe_quad);
  ck_assert_int_eq(tf.nsolves, 2);
  nde_ode_reset_stats(ode);
  nde_ode_total_stats(ode, &tf, &tb);
  ck_assert_int_eq(tf.nfe + tb.nfe + tf.steps + tb.steps, 0);
  /* last stats survive the reset */
  nde_ode_last_stats(ode, &tf, NULL);
  ck_assert_int_eq(tf.nfe, f1.nfe);
  ck_assert_int_eq(nde_ode_sample_stats(ode, 2, &tf, NULL), NDE_ERR_ARG);
  nde_ode_free(ode);
  nde_field_free(f);
}
END_TEST

Suite *ode_stats_suite(void) {
  Suite *s = suite_create("ode_stats");
  TCase *tc = tcase_create("stats");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, erk_evaluation_pattern);
  tcase_add_test(tc, cvodes_counts_match_calls);
  tcase_add_test(tc, fixed_step_counts);
  tcase_add_test(tc, cumulative_and_reset);
  suite_add_tcase(s, tc);
  return s;
}
