/* SELU and GELU layers: values against closed forms, the kink convention at
 * 0, and finite-difference gradients (points kept away from selu's kink). */
#include <math.h>

#include "support/testutil.h"

#define ALPHA 1.6732632423543772848170429916717
#define SCALE 1.0507009873554804934193349852946

static double selu_ref(double x) { return x > 0 ? SCALE * x : SCALE * ALPHA * (exp(x) - 1); }
static double gelu_ref(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

START_TEST(selu_gelu_values) {
  const int kinds[2] = {NDE_LAYER_SELU, NDE_LAYER_GELU};
  const nde_real x[6] = {-4, -0.5, 0, 0.3, 1, 3};
  for (int k = 0; k < 2; k++) {
    nde_layer_spec s[] = {nde_spec_act(kinds[k])};
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_vec(6), 1, s, 1, &net), NDE_OK);
    ck_assert_uint_eq(nde_net_num_params(net), 0);
    nde_real y[6];
    ck_assert_int_eq(nde_net_forward(net, 0, 1, x, y), NDE_OK);
    for (int i = 0; i < 6; i++) {
      double r = k == 0 ? selu_ref(x[i]) : gelu_ref(x[i]);
      ck_assert_msg(fabs(y[i] - r) <= 1e-6 * (1 + fabs(r)), "kind %d x %g: %g vs %g", kinds[k],
                    (double)x[i], (double)y[i], r);
    }
    nde_net_free(net);
  }
  /* Known values: gelu(1) = 0.841344746..., selu(-1) = -1.111330737... */
  ck_assert_double_eq_tol(gelu_ref(1), 0.8413447460685429, 1e-12);
  ck_assert_double_eq_tol(selu_ref(-1), -1.1113307378125628, 1e-12);
}
END_TEST

/* At x = 0 selu takes the left derivative scale * alpha (PyTorch), gelu has
 * derivative 1/2. */
START_TEST(selu_gelu_derivative_at_zero) {
  const int kinds[2] = {NDE_LAYER_SELU, NDE_LAYER_GELU};
  const double want[2] = {SCALE * ALPHA, 0.5};
  for (int k = 0; k < 2; k++) {
    nde_layer_spec s[] = {nde_spec_act(kinds[k])};
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_vec(1), 1, s, 1, &net), NDE_OK);
    nde_real x = 0, y, dy = 1, dx = 0;
    ck_assert_int_eq(nde_net_forward(net, 0, 1, &x, &y), NDE_OK);
    ck_assert_double_eq_tol(y, 0, 1e-12);
    ck_assert_int_eq(nde_net_vjp(net, 1, &dy, &dx, NULL), NDE_OK);
    ck_assert_double_eq_tol(dx, want[k], 1e-6);
    nde_net_free(net);
  }
}
END_TEST

/* Central finite differences of loss = sum_i w_i act(x_i) against the vjp,
 * at 40 points of [-4, 4] that keep at least 0.05 from selu's kink at 0
 * (farther than the float build's step 1e-2, so the difference quotient never
 * straddles it). */
START_TEST(selu_gelu_gradcheck) {
  const int kinds[2] = {NDE_LAYER_SELU, NDE_LAYER_GELU};
  enum { N = 40 };
  nde_real x[N], w[N], y[N], dx[N];
  double an[N], fd[N];
  nde_rng rng;
  nde_rng_seed(&rng, 41);
  for (int i = 0; i < N; i++) {
    double v = -4 + 8 * (i + 0.5) / N; /* spacing 0.2, centred cells: |v| >= 0.1 */
    x[i] = (nde_real)v;
    w[i] = (nde_real)nde_rng_normal(&rng);
  }
  for (int k = 0; k < 2; k++) {
    nde_layer_spec s[] = {nde_spec_act(kinds[k])};
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_vec(N), 1, s, 1, &net), NDE_OK);
    ck_assert_int_eq(nde_net_forward(net, 0, 1, x, y), NDE_OK);
    ck_assert_int_eq(nde_net_vjp(net, 1, w, dx, NULL), NDE_OK);
    for (int i = 0; i < N; i++) {
      nde_real keep = x[i], yp[N], ym[N];
      x[i] = keep + (nde_real)TU_FD_STEP;
      ck_assert_int_eq(nde_net_forward(net, 0, 1, x, yp), NDE_OK);
      x[i] = keep - (nde_real)TU_FD_STEP;
      ck_assert_int_eq(nde_net_forward(net, 0, 1, x, ym), NDE_OK);
      x[i] = keep;
      fd[i] = (double)w[i] * ((double)yp[i] - ym[i]) / (2 * TU_FD_STEP);
      an[i] = dx[i];
    }
    double err = tu_max_rel_err(an, fd, N);
    ck_assert_msg(err <= TU_GRAD_TOL, "kind %d: err_x %g", kinds[k], err);
    nde_net_free(net);
  }
}
END_TEST

/* The parameter gradient flows through both activations inside an MLP
 * (double build only: in float, a hidden pre-activation within the step
 * 1e-2 of selu's kink can spoil the difference quotient). */
START_TEST(selu_gelu_mlp_gradcheck) {
  const int kinds[2] = {NDE_LAYER_SELU, NDE_LAYER_GELU};
  for (int k = 0; k < 2; k++) {
    nde_layer_spec s[] = {nde_spec_dense(6), nde_spec_act(kinds[k]), nde_spec_dense(3)};
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_vec(4), 3, s, 3, &net), NDE_OK);
    double ex, ep;
    ck_assert_int_eq(tu_gradcheck_net(net, 0, 3, 41 + k, TU_FD_STEP, &ex, &ep), NDE_OK);
#if NDE_REAL_IS_DOUBLE
    ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL, "kind %d: err_x %g err_p %g", kinds[k],
                  ex, ep);
#else
    ck_assert(isfinite(ex) && isfinite(ep));
#endif
    nde_net_free(net);
  }
}
END_TEST

Suite *activation_extra_suite(void) {
  Suite *s = suite_create("activation_extra");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, selu_gelu_values);
  tcase_add_test(tc, selu_gelu_derivative_at_zero);
  tcase_add_test(tc, selu_gelu_gradcheck);
  tcase_add_test(tc, selu_gelu_mlp_gradcheck);
  suite_add_tcase(s, tc);
  return s;
}
