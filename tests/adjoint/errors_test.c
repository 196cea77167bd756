/* Failure paths of the backward pass: failing and non-finite vjps, the step
 * limit, non-finite cotangents, calls out of order; optional outputs. */
#include <stdio.h>

#include "ode/test_fields.h"
#include "support/testutil.h"

static const struct {
  int method, adjoint, batch_mode;
} modes[] = {
    {NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT, NDE_BATCH_JOINT},
    {NDE_ODE_BDF, NDE_ADJ_CHECKPOINT, NDE_BATCH_PER_SAMPLE},
    {NDE_ODE_ADAMS, NDE_ADJ_BACKSOLVE, NDE_BATCH_JOINT},
    {NDE_ODE_DOPRI5, NDE_ADJ_BACKSOLVE, NDE_BATCH_JOINT},
    {NDE_ODE_RK4, NDE_ADJ_BACKSOLVE, NDE_BATCH_PER_SAMPLE},
    {NDE_ODE_EULER, NDE_ADJ_DIRECT, NDE_BATCH_JOINT},
};
#define NMODES ((int)(sizeof modes / sizeof modes[0]))

/* vjp result NaN on request */
static int nan_vjp(double t, int n, const double *y, const double *a, double *ja, double *g,
                   void *u) {
  int rc = tf_tanh_vjp(t, n, y, a, ja, g, u);
  ja[0] = NAN;
  return rc;
}

typedef struct setup {
  tf_tanh p;
  nde_field *f;
  nde_ode *ode;
  double y0[6], y[6], w[6], a0[6], g[12];
} setup;

static void make(setup *s, int k, nde_field_vjp_fn vjp, nde_ode_options *extra) {
  memset(s, 0, sizeof *s);
  s->p.d = 3;
  s->p.c = 0.5;
  for (int i = 0; i < 12; i++) s->p.theta[i] = 0.4 * ((i * 5) % 7 - 3);
  nde_field_user u = {3, 12, 2, tf_tanh_rhs, vjp, NULL, &s->p};
  ck_assert_int_eq(nde_field_create_user(&u, &s->f), NDE_OK);
  nde_ode_options o = extra ? *extra : nde_ode_options_default();
  o.method = modes[k].method;
  o.adjoint = modes[k].adjoint;
  o.batch_mode = modes[k].batch_mode;
  ck_assert_int_eq(nde_ode_create(s->f, &o, 2, &s->ode), NDE_OK);
  const double y0[6] = {1, -0.5, 0.2, 0.3, 0.8, -1}, w[6] = {1, 2, -1, 0.5, 0, 1};
  memcpy(s->y0, y0, sizeof y0);
  memcpy(s->w, w, sizeof w);
}

static void destroy(setup *s) {
  nde_ode_free(s->ode);
  nde_field_free(s->f);
}

START_TEST(failing_vjp_callback) {
  setup s;
  make(&s, _i, tf_tanh_vjp, NULL);
  ck_assert_int_eq(nde_adjoint_forward(s.ode, 2, s.y0, s.y), NDE_OK);
  s.p.fail_vjp = -4;
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, s.a0, s.g), NDE_ERR_CALLBACK);
  ck_assert_msg(strstr(nde_last_error(), "returned -4") != NULL, "%s", nde_last_error());
  ck_assert(strstr(nde_last_error(), "at t = ") != NULL);
  /* recoverable forever: still a callback failure in the end */
  s.p.fail_vjp = 2;
  ck_assert_msg(nde_adjoint_backward(s.ode, s.w, s.a0, s.g) == NDE_ERR_CALLBACK, "%s",
                nde_last_error());
  /* the record survives: a good vjp now works */
  s.p.fail_vjp = 0;
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, s.a0, s.g), NDE_OK);
  destroy(&s);
}
END_TEST

START_TEST(nonfinite_vjp) {
  setup s;
  make(&s, _i, nan_vjp, NULL);
  ck_assert_int_eq(nde_adjoint_forward(s.ode, 2, s.y0, s.y), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, s.a0, s.g), NDE_ERR_NONFINITE);
  ck_assert_msg(strstr(nde_last_error(), "non-finite") != NULL, "%s", nde_last_error());
  destroy(&s);
}
END_TEST

START_TEST(bad_calls) {
  setup s;
  make(&s, _i, tf_tanh_vjp, NULL);
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, s.a0, s.g), NDE_ERR_STATE);
  ck_assert_int_eq(nde_adjoint_forward(s.ode, 3, s.y0, s.y), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_adjoint_forward(s.ode, 2, NULL, s.y), NDE_ERR_NULL);
  ck_assert_int_eq(nde_adjoint_backward(NULL, s.w, s.a0, s.g), NDE_ERR_NULL);
  ck_assert_int_eq(nde_adjoint_forward(s.ode, 2, s.y0, s.y), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(s.ode, NULL, s.a0, s.g), NDE_ERR_NULL);
  s.w[3] = INFINITY;
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, s.a0, s.g), NDE_ERR_NONFINITE);
  s.w[3] = 0.5;
  /* optional outputs: dL/dy0 and dL/dtheta may be NULL */
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, NULL, NULL), NDE_OK);
  nde_ode_stats b;
  nde_ode_last_stats(s.ode, NULL, &b);
  ck_assert(b.nfe > 0);
  /* a plain solve drops the record */
  ck_assert_int_eq(nde_ode_solve(s.ode, 2, s.y0, s.y), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, s.a0, s.g), NDE_ERR_STATE);
  /* a failed forward records nothing */
  s.p.fail_rhs_after = 1;
  s.p.fail_code = -1;
  ck_assert_int_eq(nde_adjoint_forward(s.ode, 2, s.y0, s.y), NDE_ERR_CALLBACK);
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, s.a0, s.g), NDE_ERR_STATE);
  destroy(&s);
}
END_TEST

/* The backward solve asks for far more accuracy than the forward one and
 * runs out of steps. */
START_TEST(backward_max_steps) {
  int k = _i; /* adaptive modes only */
  nde_ode_options o = nde_ode_options_default();
  o.rtol = o.atol = 1e-3;
  o.rtol_b = o.atol_b = 1e-12;
  o.max_steps = 60;
  o.T = 3;
  setup s;
  make(&s, k, tf_tanh_vjp, &o);
  ck_assert_int_eq(nde_adjoint_forward(s.ode, 2, s.y0, s.y), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(s.ode, s.w, s.a0, s.g), NDE_ERR_MAXSTEPS);
  ck_assert_msg(strstr(nde_last_error(), "TOO_MUCH_WORK") != NULL, "%s", nde_last_error());
  destroy(&s);
}
END_TEST

Suite *adjoint_errors_suite(void) {
  Suite *s = suite_create("adjoint_errors");
  TCase *tc = tcase_create("errors");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, failing_vjp_callback, 0, NMODES);
  tcase_add_loop_test(tc, nonfinite_vjp, 0, NMODES);
  tcase_add_loop_test(tc, bad_calls, 0, NMODES);
  tcase_add_loop_test(tc, backward_max_steps, 0, 4);
  suite_add_tcase(s, tc);
  return s;
}
