/* Pointwise activations, global average pool and flatten: values and gradients. */
#include <math.h>

#include "support/testutil.h"

static const int kinds[] = {NDE_LAYER_RELU, NDE_LAYER_TANH, NDE_LAYER_SOFTPLUS, NDE_LAYER_SIGMOID,
                            NDE_LAYER_IDENTITY};

static double ref(int kind, double x) {
  switch (kind) {
  case NDE_LAYER_RELU: return x > 0 ? x : 0;
  case NDE_LAYER_TANH: return tanh(x);
  case NDE_LAYER_SOFTPLUS: return log(1 + exp(x));
  case NDE_LAYER_SIGMOID: return 1 / (1 + exp(-x));
  default: return x;
  }
}

START_TEST(activation_values) {
  int kind = kinds[_i];
  nde_layer_spec s[] = {nde_spec_act(kind)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(5), 1, s, 1, &net), NDE_OK);
  const nde_real x[5] = {-3, -0.5, 0, 0.7, 2.5};
  nde_real y[5];
  ck_assert_int_eq(nde_net_forward(net, 0, 1, x, y), NDE_OK);
  for (int i = 0; i < 5; i++) ck_assert_double_eq_tol(y[i], ref(kind, x[i]), 1e-6);
  nde_net_free(net);
}
END_TEST

START_TEST(activation_gradcheck) {
  int kind = kinds[_i];
  nde_layer_spec s[] = {nde_spec_act(kind)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 3, 3), 2, s, 1, &net), NDE_OK);
  double ex, ep;
  ck_assert_int_eq(tu_gradcheck_net(net, 0, 2, 21 + _i, TU_FD_STEP, &ex, &ep), NDE_OK);
  ck_assert_msg(ex <= TU_GRAD_TOL, "%s: err_x %g", nde_layer_kind_name(kind), ex);
  nde_net_free(net);
}
END_TEST

START_TEST(softplus_no_overflow) {
  nde_layer_spec s[] = {nde_spec_act(NDE_LAYER_SOFTPLUS)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 1, &net), NDE_OK);
  const nde_real x[2] = {500, -500};
  nde_real y[2];
  ck_assert_int_eq(nde_net_forward(net, 0, 1, x, y), NDE_OK);
  ck_assert_double_eq_tol(y[0], 500, 1e-3);
  ck_assert(y[1] >= 0 && y[1] < 1e-30);
  nde_net_free(net);
}
END_TEST

START_TEST(avgpool_and_flatten) {
  nde_layer_spec s[] = {nde_spec_avgpool(), nde_spec_flatten()};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 2, 2), 2, s, 2, &net), NDE_OK);
  nde_shape o = nde_net_out_shape(net);
  ck_assert(o.c == 2 && o.h == 1 && o.w == 1);
  const nde_real x[16] = {1, 2, 3, 4, 0, 0, 0, 8, -1, -1, -1, -1, 2, 2, 2, 2};
  nde_real y[4];
  ck_assert_int_eq(nde_net_forward(net, 0, 2, x, y), NDE_OK);
  ck_assert_double_eq_tol(y[0], 2.5, 1e-6);
  ck_assert_double_eq_tol(y[1], 2, 1e-6);
  ck_assert_double_eq_tol(y[2], -1, 1e-6);
  ck_assert_double_eq_tol(y[3], 2, 1e-6);
  double ex, ep;
  ck_assert_int_eq(tu_gradcheck_net(net, 0, 2, 31, TU_FD_STEP, &ex, &ep), NDE_OK);
  ck_assert_msg(ex <= TU_GRAD_TOL, "avgpool: err_x %g", ex);
  nde_net_free(net);
}
END_TEST

Suite *activation_suite(void) {
  Suite *s = suite_create("activation");
  TCase *tc = tcase_create("core");
  tcase_add_loop_test(tc, activation_values, 0, 5);
  tcase_add_loop_test(tc, activation_gradcheck, 0, 5);
  tcase_add_test(tc, softplus_no_overflow);
  tcase_add_test(tc, avgpool_and_flatten);
  suite_add_tcase(s, tc);
  return s;
}
