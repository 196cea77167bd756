/* Dense layer: hand-computed forward, finite-difference gradients. */
#include <math.h>

#include "support/testutil.h"

START_TEST(dense_forward_by_hand) {
  nde_layer_spec s[] = {nde_spec_dense(2)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 2, s, 1, &net), NDE_OK);
  ck_assert_uint_eq(nde_net_num_params(net), 8);
  nde_real *p = nde_net_params(net);
  const nde_real W[] = {1, 2, 3, -1, 0, 0.5, /* b */ 0.25, -2};
  for (int i = 0; i < 8; i++) p[i] = W[i];
  const nde_real x[] = {1, 1, 1, 2, -1, 4};
  nde_real y[4];
  ck_assert_int_eq(nde_net_forward(net, 0, 2, x, y), NDE_OK);
  ck_assert_double_eq_tol(y[0], 6.25, 1e-6);
  ck_assert_double_eq_tol(y[1], -2.5, 1e-6);
  ck_assert_double_eq_tol(y[2], 12.25, 1e-6);
  ck_assert_double_eq_tol(y[3], -2, 1e-6);
  nde_net_free(net);
}
END_TEST

START_TEST(dense_gradcheck) {
  nde_layer_spec s[] = {nde_spec_dense(4)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 2, 1), 3, s, 1, &net), NDE_OK);
  double ex, ep;
  ck_assert_int_eq(tu_gradcheck_net(net, 0, 3, 11, TU_FD_STEP, &ex, &ep), NDE_OK);
  ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL, "dense: err_x %g err_p %g", ex, ep);
  nde_net_free(net);
}
END_TEST

START_TEST(dense_nobias_gradcheck) {
  nde_layer_spec s[] = {nde_spec_dense(3)};
  s[0].bias = 0;
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(5), 2, s, 1, &net), NDE_OK);
  ck_assert_uint_eq(nde_net_num_params(net), 15);
  double ex, ep;
  ck_assert_int_eq(tu_gradcheck_net(net, 0, 2, 12, TU_FD_STEP, &ex, &ep), NDE_OK);
  ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL, "dense nobias: err_x %g err_p %g", ex, ep);
  nde_net_free(net);
}
END_TEST

START_TEST(mlp_gradcheck_and_seeded_init) {
  nde_layer_spec s[] = {nde_spec_dense(8), nde_spec_act(NDE_LAYER_TANH), nde_spec_dense(8),
                        nde_spec_act(NDE_LAYER_SOFTPLUS), nde_spec_dense(3)};
  nde_net *a, *b;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 4, s, 5, &a), NDE_OK);
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 4, s, 5, &b), NDE_OK);
  nde_rng r1, r2;
  nde_rng_seed(&r1, 5);
  nde_rng_seed(&r2, 5);
  nde_net_init(a, &r1);
  nde_net_init(b, &r2);
  size_t np = nde_net_num_params(a);
  double bound = 1 / sqrt(3.0);
  for (size_t i = 0; i < np; i++) ck_assert(nde_net_params(a)[i] == nde_net_params(b)[i]);
  for (size_t i = 0; i < 32; i++) ck_assert(fabs(nde_net_params(a)[i]) <= bound);
  double ex, ep;
  ck_assert_int_eq(tu_gradcheck_net(a, 0, 4, 13, TU_FD_STEP, &ex, &ep), NDE_OK);
  ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL, "mlp: err_x %g err_p %g", ex, ep);
  nde_net_free(a);
  nde_net_free(b);
}
END_TEST

START_TEST(bind_uses_external_storage) {
  nde_layer_spec s[] = {nde_spec_dense(2)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 1, &net), NDE_OK);
  nde_real ext[10] = {0}, gext[10] = {0};
  ck_assert_int_eq(nde_net_bind(net, ext + 2, gext + 2), NDE_OK);
  ext[2] = 1; ext[5] = 1; ext[6] = 0.5; /* W = I, b = (0.5, 0) */
  nde_real x[2] = {3, 4}, y[2], dy[2] = {1, 1};
  ck_assert_int_eq(nde_net_forward(net, 0, 1, x, y), NDE_OK);
  ck_assert_double_eq_tol(y[0], 3.5, 1e-6);
  ck_assert_double_eq_tol(y[1], 4, 1e-6);
  ck_assert_int_eq(nde_net_vjp(net, 1, dy, NULL, nde_net_grads(net)), NDE_OK);
  ck_assert_double_eq_tol(gext[2], 3, 1e-6); /* dW00 = x0 */
  ck_assert_double_eq_tol(gext[6], 1, 1e-6); /* db0 */
  ck_assert(gext[0] == 0 && gext[1] == 0 && gext[8] == 0);
  ck_assert_int_eq(nde_net_bind(net, ext, NULL), NDE_ERR_NULL);
  nde_net_free(net);
}
END_TEST

Suite *dense_suite(void) {
  Suite *s = suite_create("dense");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, dense_forward_by_hand);
  tcase_add_test(tc, dense_gradcheck);
  tcase_add_test(tc, dense_nobias_gradcheck);
  tcase_add_test(tc, mlp_gradcheck_and_seeded_init);
  tcase_add_test(tc, bind_uses_external_storage);
  suite_add_tcase(s, tc);
  return s;
}
