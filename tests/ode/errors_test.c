/* Failure paths: each gives its own status code and a message with the time
 * reached and the SUNDIALS flag name; SUNDIALS never prints; argument and
 * option errors. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ode/test_fields.h"
#include "support/testutil.h"

/* y' = -y, except: NaN for t >= nan_t (nan_t > 0), NaN on call number
 * nan_call only (transient), or the code ret for t >= ret_t. */
typedef struct bad_field {
  double nan_t, ret_t;
  long nan_call, calls;
  int ret;
} bad_field;

static int bad_rhs(double t, int n, const double *y, double *ydot, void *u) {
  bad_field *b = u;
  b->calls++;
  if (b->ret && t >= b->ret_t) return b->ret;
  for (int i = 0; i < 2 * n; i++) ydot[i] = -y[i]; /* dim 2 */
  if ((b->nan_t > 0 && t >= b->nan_t) || b->calls == b->nan_call) ydot[0] = NAN;
  return 0;
}

static int run_bad(int method, bad_field *b, nde_ode_options *o, double *yT) {
  nde_field_user u = {2, 0, 1, bad_rhs, NULL, NULL, b};
  nde_field *f;
  nde_ode *ode;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  o->method = method;
  o->adjoint = NDE_ADJ_NONE;
  int rc = nde_ode_create(f, o, 1, &ode);
  if (rc == NDE_OK) {
    double y0[2] = {1, 2}, y[2];
    rc = nde_ode_solve(ode, 1, y0, y);
    if (yT) *yT = y[0];
  }
  nde_ode_free(ode);
  nde_field_free(f);
  return rc;
}

static void expect_msg(const char *needle, int method) {
  ck_assert_msg(strstr(nde_last_error(), needle) != NULL, "%s: expected '%s' in: %s",
                nde_ode_method_name(method), needle, nde_last_error());
}

static const char *flag_prefix(int m) {
  return m == NDE_ODE_DOPRI5 || m == NDE_ODE_BOSH3 ? "ARK_" : "CV_";
}

START_TEST(max_steps_exceeded) {
  int m = _i;
  bad_field b = {0};
  nde_ode_options o = nde_ode_options_default();
  o.rtol = o.atol = 1e-8;
  o.T = 50;
  o.max_steps = 10;
  ck_assert_int_eq(run_bad(m, &b, &o, NULL), NDE_ERR_MAXSTEPS);
  if (m <= NDE_ODE_BOSH3) {
    char flag[32];
    snprintf(flag, sizeof flag, "%sTOO_MUCH_WORK", flag_prefix(m));
    expect_msg(flag, m);
    expect_msg("at t = ", m);
  } else {
    expect_msg("max_steps", m); /* fixed step: refused at create */
  }
}
END_TEST

START_TEST(step_size_underflow) {
  int m = _i;
  bad_field b = {0};
  /* An error test that cannot pass at the smallest allowed step. */
  nde_ode_options o = nde_ode_options_default();
  o.rtol = o.atol = 1e-12;
  o.hmin = 0.2;
  o.T = 5;
  ck_assert_int_eq(run_bad(m, &b, &o, NULL), NDE_ERR_STEPSIZE);
  /* Adams' fixed-point corrector gives up first: CV_CONV_FAILURE at hmin */
  char flag[32];
  snprintf(flag, sizeof flag, "%s%s", flag_prefix(m),
           m == NDE_ODE_ADAMS ? "CONV_FAILURE" : "ERR_FAILURE");
  expect_msg(flag, m);
  expect_msg("at t = ", m);
}
END_TEST

START_TEST(too_much_accuracy) {
  bad_field b = {0};
  nde_ode_options o = nde_ode_options_default();
  o.rtol = 0;
  o.atol = 1e-300;
  ck_assert_int_eq(run_bad(NDE_ODE_ADAMS, &b, &o, NULL), NDE_ERR_STEPSIZE);
  expect_msg("CV_TOO_MUCH_ACC", NDE_ODE_ADAMS);
  ck_assert_int_eq(run_bad(NDE_ODE_DOPRI5, &b, &o, NULL), NDE_ERR_STEPSIZE);
  expect_msg("ARK_TOO_MUCH_ACC", NDE_ODE_DOPRI5);
}
END_TEST

START_TEST(persistent_nonfinite_rhs) {
  int m = _i;
  bad_field b = {.nan_t = 0.5};
  nde_ode_options o = nde_ode_options_default();
  o.fixed_h = 0.05;
  ck_assert_int_eq(run_bad(m, &b, &o, NULL), NDE_ERR_NONFINITE);
  expect_msg("non-finite", m);
  expect_msg("at t = ", m);
  if (m <= NDE_ODE_BOSH3) expect_msg(flag_prefix(m), m);
}
END_TEST

START_TEST(transient_nonfinite_rhs_is_recovered) {
  int m = _i;
  bad_field b = {.nan_call = 6};
  nde_ode_options o = nde_ode_options_default();
  o.rtol = o.atol = 1e-8;
  double yT = 0;
  ck_assert_int_eq(run_bad(m, &b, &o, &yT), NDE_OK);
  ck_assert(b.calls > 6);
  ck_assert_double_eq_tol(yT, exp(-1.0), 1e-6);
}
END_TEST

START_TEST(failing_callback) {
  int m = _i;
  /* fatal (< 0) */
  bad_field b = {.ret = -7, .ret_t = 0.5};
  nde_ode_options o = nde_ode_options_default();
  ck_assert_int_eq(run_bad(m, &b, &o, NULL), NDE_ERR_CALLBACK);
  expect_msg("returned -7", m);
  expect_msg("at t = ", m);
  if (m <= NDE_ODE_BOSH3) expect_msg(flag_prefix(m), m);
  /* recoverable (> 0) but never recovering */
  bad_field c = {.ret = 3, .ret_t = 0.5};
  ck_assert_int_eq(run_bad(m, &c, &o, NULL), NDE_ERR_CALLBACK);
  expect_msg("returned 3", m);
}
END_TEST

/* SUNDIALS reports through our handler, never on stderr. */
START_TEST(sundials_never_prints) {
  fflush(stderr);
  int saved = dup(2);
  FILE *tmp = tmpfile();
  ck_assert(saved >= 0 && tmp);
  dup2(fileno(tmp), 2);
  bad_field b = {.nan_t = 0.5}, c = {.ret = -1, .ret_t = 0.2}, d = {0};
  nde_ode_options o = nde_ode_options_default();
  int r1 = run_bad(NDE_ODE_ADAMS, &b, &o, NULL);
  int r2 = run_bad(NDE_ODE_DOPRI5, &c, &o, NULL);
  int r3 = run_bad(NDE_ODE_BDF, &c, &o, NULL);
  o.rtol = 0;
  o.atol = 1e-300;
  int r4 = run_bad(NDE_ODE_BDF, &d, &o, NULL);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  fseek(tmp, 0, SEEK_END);
  long size = ftell(tmp);
  fclose(tmp);
  ck_assert_int_eq(r1, NDE_ERR_NONFINITE);
  ck_assert_int_eq(r2, NDE_ERR_CALLBACK);
  ck_assert_int_eq(r3, NDE_ERR_CALLBACK);
  ck_assert_int_eq(r4, NDE_ERR_STEPSIZE);
  ck_assert_int_eq(size, 0);
}
END_TEST

START_TEST(option_errors) {
  tf_scalar p = {1};
  nde_field_user u = {1, 1, 2, tf_scalar_rhs, NULL, NULL, &p};
  nde_field *f;
  nde_ode *ode = (nde_ode *)&p;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = nde_ode_options_default();
  /* the default adjoint needs a vjp this field lacks */
  ck_assert_int_eq(nde_ode_create(f, &o, 1, &ode), NDE_ERR_ARG);
  ck_assert_ptr_null(ode);
  ck_assert(strstr(nde_last_error(), "vjp") != NULL);
  o.adjoint = NDE_ADJ_NONE;
  ck_assert_int_eq(nde_ode_create(NULL, &o, 1, &ode), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ode_create(f, &o, 1, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ode_create(f, &o, 3, &ode), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ode_create(f, &o, 0, &ode), NDE_ERR_BATCH);
  nde_ode_options bad = o;
  bad.T = bad.t0;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  bad = o;
  bad.rtol = bad.atol = 0;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  bad = o;
  bad.method = 42;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_KIND);
  bad = o;
  bad.method = NDE_ODE_EULER;
  bad.fixed_h = 0;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  const double unsorted[3] = {0.5, 0.4, 1.0}, short_[2] = {0.5, 0.9}, ok[2] = {0.5, 1.0};
  bad = o;
  bad.nout = 3;
  bad.tout = unsorted;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  bad.nout = 2;
  bad.tout = short_;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "must equal T") != NULL);
  bad.tout = NULL;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  bad.tout = ok;
  bad.batch_mode = 5;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  bad = o;
  bad.hmin = 0.5;
  bad.hmax = 0.1;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  bad = o;
  bad.seminorm = 3;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  bad = o;
  bad.interp = 7;
  ck_assert_int_eq(nde_ode_create(f, &bad, 1, &ode), NDE_ERR_ARG);
  /* unsupported method/adjoint pairs */
  ck_assert_int_eq(nde_adjoint_supported(NDE_ODE_DOPRI5, NDE_ADJ_CHECKPOINT), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "backsolve") != NULL);
  ck_assert_int_eq(nde_adjoint_supported(NDE_ODE_RK4, NDE_ADJ_CHECKPOINT), NDE_ERR_ARG);
  ck_assert_int_eq(nde_adjoint_supported(NDE_ODE_ADAMS, NDE_ADJ_DIRECT), NDE_ERR_ARG);
  ck_assert_int_eq(nde_adjoint_supported(NDE_ODE_BOSH3, NDE_ADJ_DIRECT), NDE_ERR_ARG);
  ck_assert_int_eq(nde_adjoint_supported(NDE_ODE_ADAMS, 9), NDE_ERR_KIND);
  ck_assert_int_eq(nde_adjoint_supported(NDE_ODE_EULER, NDE_ADJ_DIRECT), NDE_OK);
  ck_assert_int_eq(nde_adjoint_supported(NDE_ODE_BDF, NDE_ADJ_CHECKPOINT), NDE_OK);
  ck_assert_int_eq(nde_adjoint_supported(NDE_ODE_BOSH3, NDE_ADJ_BACKSOLVE), NDE_OK);
  /* a good solver, bad calls */
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_OK);
  double y0[3] = {1, NAN, 0}, y[3];
  ck_assert_int_eq(nde_ode_solve(ode, 3, y0, y), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ode_solve(ode, 0, y0, y), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ode_solve(ode, 2, y0, y), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_ode_solve(ode, 1, NULL, y), NDE_ERR_NULL);
  ck_assert_int_eq(nde_adjoint_forward(ode, 1, y0, y), NDE_ERR_ARG); /* adjoint 'none' */
  ck_assert_int_eq(nde_adjoint_backward(ode, y, NULL, NULL), NDE_ERR_STATE);
  ck_assert_ptr_eq(nde_ode_field(ode), f);
  ck_assert_int_eq(nde_ode_get_options(ode)->adjoint, NDE_ADJ_NONE);
  nde_ode_free(ode);
  nde_ode_free(NULL);
  nde_field_free(f);
}
END_TEST

/* y' = -y from y(0) = 1 on [0, 1] with a user field that has a vjp (so every
 * adjoint can be asked for); returns nde_ode_create's (or the solve's) code
 * and y(1) in *yT when the solve ran. */
static int decay_solve(nde_ode_options *o, double *yT) {
  tf_scalar p = {-1};
  nde_field_user u = {1, 1, 1, tf_scalar_rhs, tf_scalar_vjp, NULL, &p};
  nde_field *f;
  nde_ode *ode = NULL;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  int rc = nde_ode_create(f, o, 1, &ode);
  if (rc == NDE_OK) {
    double y0 = 1, y = NAN;
    rc = nde_ode_solve(ode, 1, &y0, &y);
    *yT = y;
  }
  nde_ode_free(ode);
  nde_field_free(f);
  return rc;
}

/* (T - t0) / fixed_h steps that no long can hold (1e300 for fixed_h =
 * 1e-300) once became a negative count: Euler then took no step and
 * returned y(1) = y(0) = 1 with status 0 (exact: e^-1). Whatever max_steps
 * allows, a count beyond it or beyond a long is refused at create, naming
 * fixed_h and the count. */
START_TEST(fixed_step_count_overflow) {
  const int methods[2] = {NDE_ODE_EULER, NDE_ODE_RK4};
  const int adjoints[3] = {NDE_ADJ_NONE, NDE_ADJ_DIRECT, NDE_ADJ_BACKSOLVE};
  const long max_steps[2] = {10000, LONG_MAX};
  const double hs[3] = {1e-300, 1e-30, 5e-324};
  for (int mi = 0; mi < 2; mi++)
    for (int ai = 0; ai < 3; ai++)
      for (int si = 0; si < 2; si++)
        for (int hi = 0; hi < 3; hi++) {
          nde_ode_options o = nde_ode_options_default();
          o.method = methods[mi];
          o.adjoint = adjoints[ai];
          o.fixed_h = hs[hi];
          o.max_steps = max_steps[si];
          double yT = NAN;
          int rc = decay_solve(&o, &yT);
          ck_assert_msg(rc == NDE_ERR_MAXSTEPS,
                        "%s/%s fixed_h = %g max_steps = %ld: rc %d, y(1) = %g (exact %g): %s",
                        nde_ode_method_name(o.method), nde_adjoint_kind_name(o.adjoint), o.fixed_h,
                        o.max_steps, rc, yT, exp(-1), nde_last_error());
          ck_assert_msg(strstr(nde_last_error(), "fixed_h") && strstr(nde_last_error(), "steps"),
                        "%s", nde_last_error());
        }
  /* Output legs whose counts (5e18 each) fit a long one by one but not summed. */
  const double tout[3] = {1e-200, 0.5, 1.0};
  nde_ode_options o = nde_ode_options_default();
  o.method = NDE_ODE_EULER;
  o.adjoint = NDE_ADJ_NONE;
  o.fixed_h = 1e-19;
  o.max_steps = LONG_MAX;
  o.nout = 3;
  o.tout = tout;
  double yT;
  ck_assert_int_eq(decay_solve(&o, &yT), NDE_ERR_MAXSTEPS);
  /* and a legal count still solves: 1000 Euler steps, (1 - 1/1000)^1000 */
  o = nde_ode_options_default();
  o.method = NDE_ODE_EULER;
  o.adjoint = NDE_ADJ_NONE;
  o.fixed_h = 1e-3;
  ck_assert_int_eq(decay_solve(&o, &yT), NDE_OK);
  ck_assert_double_eq_tol(yT, pow(1 - 1e-3, 1000), 1e-12);
}
END_TEST

/* Infinite or NaN tolerances, step sizes and times are refused at create:
 * rtol = atol = inf used to pass and "solve" in one step with status 0. */
START_TEST(nonfinite_options_refused) {
  const double bad_values[3] = {INFINITY, -INFINITY, NAN};
  for (int m = NDE_ODE_ADAMS; m <= NDE_ODE_RK4; m++)
    for (int b = 0; b < 3; b++)
      for (int field = 0; field < 11; field++) {
        nde_ode_options o = nde_ode_options_default();
        o.method = m;
        o.adjoint = NDE_ADJ_NONE;
        const double v = bad_values[b];
        const char *name = NULL;
        switch (field) {
        case 0: o.rtol = o.atol = v, name = "rtol"; break;
        case 1: o.rtol = v, name = "rtol"; break;
        case 2: o.atol = v, name = "atol"; break;
        case 3: o.rtol_b = v, name = "rtol_b"; break;
        case 4: o.atol_b = v, name = "atol_b"; break;
        case 5: o.h0 = v, name = "h0"; break;
        case 6: o.hmin = v, name = "hmin"; break;
        case 7: o.hmax = v, name = "hmax"; break;
        case 8: o.fixed_h = v, name = "fixed_h"; break;
        case 9: o.t0 = v, name = "t0"; break;
        case 10: o.T = v, name = "T"; break;
        }
        double yT = NAN;
        int rc = decay_solve(&o, &yT);
        ck_assert_msg(rc == NDE_ERR_ARG, "%s with %s = %g: rc %d, y(1) = %g (exact %g)",
                      nde_ode_method_name(m), name, v, rc, yT, exp(-1));
        ck_assert_msg(strstr(nde_last_error(), name), "%s = %g: message '%s' does not name it",
                      name, v, nde_last_error());
      }
  /* the adaptive solve the issue reported: now refused, not y(1) = 1 */
  nde_ode_options o = nde_ode_options_default();
  o.adjoint = NDE_ADJ_NONE;
  o.rtol = o.atol = INFINITY;
  double yT;
  ck_assert_int_eq(decay_solve(&o, &yT), NDE_ERR_ARG);
  ck_assert_msg(strstr(nde_last_error(), "finite"), "%s", nde_last_error());
  /* large but finite tolerances stay legal */
  o.rtol = o.atol = 1e10;
  ck_assert_int_eq(decay_solve(&o, &yT), NDE_OK);
}
END_TEST

/* checkpoint_steps sizes CVODES's interpolation store (checkpoint_steps + 1
 * cloned vectors at the first forward solve): LONG_MAX wrapped CVODES's
 * allocation size and the process was killed, 10^8 took minutes and 100 GB
 * for a one-value state. Such stores are refused at create by the memory
 * estimate, naming both figures; ordinary values still solve. */
START_TEST(huge_checkpoint_store_refused) {
  const long steps[2] = {LONG_MAX, 100000000L};
  for (int k = 0; k < 2; k++) {
    nde_ode_options o = nde_ode_options_default();
    o.checkpoint_steps = steps[k];
    double yT;
    ck_assert_int_eq(decay_solve(&o, &yT), NDE_ERR_NOMEM);
    ck_assert_msg(strstr(nde_last_error(), "needs about") &&
                      strstr(nde_last_error(), "GiB available"),
                  "%s", nde_last_error());
  }
  nde_ode_options o = nde_ode_options_default();
  o.checkpoint_steps = 1000;
  double yT;
  ck_assert_int_eq(decay_solve(&o, &yT), NDE_OK);
  ck_assert_double_eq_tol(yT, exp(-1), 1e-2);
  /* the estimate itself: larger stores cost more, bad options are refused */
  size_t a, b;
  o = nde_ode_options_default();
  ck_assert_int_eq(nde_ode_memory_estimate(&o, 100, 10, 4, &a), NDE_OK);
  o.checkpoint_steps = 200;
  ck_assert_int_eq(nde_ode_memory_estimate(&o, 100, 10, 4, &b), NDE_OK);
  ck_assert_msg(b > a + (size_t)100 * 4 * 100 * 8, "%zu vs %zu", b, a);
  ck_assert_int_eq(nde_ode_memory_estimate(&o, 100, 10, 4, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ode_memory_estimate(&o, 100, 10, 0, &a), NDE_ERR_ARG);
  o.rtol = NAN;
  ck_assert_int_eq(nde_ode_memory_estimate(&o, 100, 10, 4, &a), NDE_ERR_ARG);
}
END_TEST

START_TEST(names_round_trip) {
  for (int m = NDE_ODE_ADAMS; m <= NDE_ODE_RK4; m++) {
    int back = -1;
    ck_assert_int_eq(nde_ode_method_parse(nde_ode_method_name(m), &back), NDE_OK);
    ck_assert_int_eq(back, m);
  }
  for (int a = NDE_ADJ_CHECKPOINT; a <= NDE_ADJ_NONE; a++) {
    int back = -1;
    ck_assert_int_eq(nde_adjoint_kind_parse(nde_adjoint_kind_name(a), &back), NDE_OK);
    ck_assert_int_eq(back, a);
  }
  int x;
  ck_assert_int_eq(nde_ode_method_parse("rk45", &x), NDE_ERR_KIND);
  ck_assert_int_eq(nde_adjoint_kind_parse("magic", &x), NDE_ERR_KIND);
  ck_assert_str_eq(nde_ode_method_name(99), "unknown");
  ck_assert_str_eq(nde_ode_method_name(NDE_ODE_DOPRI5), "dopri5");
}
END_TEST

Suite *ode_errors_suite(void) {
  Suite *s = suite_create("ode_errors");
  TCase *tc = tcase_create("errors");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, max_steps_exceeded, NDE_ODE_ADAMS, NDE_ODE_RK4 + 1);
  tcase_add_loop_test(tc, step_size_underflow, NDE_ODE_ADAMS, NDE_ODE_BOSH3 + 1);
  tcase_add_test(tc, too_much_accuracy);
  tcase_add_loop_test(tc, persistent_nonfinite_rhs, NDE_ODE_ADAMS, NDE_ODE_RK4 + 1);
  tcase_add_loop_test(tc, transient_nonfinite_rhs_is_recovered, NDE_ODE_ADAMS, NDE_ODE_BOSH3 + 1);
  tcase_add_loop_test(tc, failing_callback, NDE_ODE_ADAMS, NDE_ODE_RK4 + 1);
  tcase_add_test(tc, sundials_never_prints);
  tcase_add_test(tc, option_errors);
  tcase_add_test(tc, names_round_trip);
  tcase_add_test(tc, fixed_step_count_overflow);
  tcase_add_test(tc, nonfinite_options_refused);
  tcase_add_test(tc, huge_checkpoint_store_refused);
  suite_add_tcase(s, tc);
  return s;
}
