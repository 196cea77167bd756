/* Bad arguments return an error code and a message naming the problem. */
#include <string.h>

#include "support/testutil.h"

#define ASSERT_MSG_HAS(s) ck_assert_msg(strstr(nde_last_error(), (s)) != NULL, "message '%s' lacks '%s'", nde_last_error(), (s))

START_TEST(create_rejects_bad_specs) {
  nde_net *net = (nde_net *)0x1;
  nde_layer_spec s[] = {nde_spec_dense(4), nde_spec_act(NDE_LAYER_RELU)};
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 4, s, 2, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 4, NULL, 2, &net), NDE_ERR_NULL);
  ck_assert_ptr_null(net);
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 0, s, 2, &net), NDE_ERR_BATCH);
  ASSERT_MSG_HAS("max_batch");
  ck_assert_int_eq(nde_net_create(nde_shape_chw(0, 1, 1), 4, s, 2, &net), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 4, s, 0, &net), NDE_ERR_ARG);
  nde_layer_spec unk[] = {nde_spec_dense(4), {.kind = 999}};
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 4, unk, 2, &net), NDE_ERR_KIND);
  ASSERT_MSG_HAS("layer 1");
  ASSERT_MSG_HAS("999");
  ck_assert_ptr_null(net);
  nde_layer_spec zero[] = {nde_spec_dense(0)};
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 4, zero, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("dense");
}
END_TEST

START_TEST(calls_reject_bad_batch_and_order) {
  nde_layer_spec s[] = {nde_spec_dense(2)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 4, s, 1, &net), NDE_OK);
  nde_real x[10] = {0}, y[10], dy[10] = {0}, dx[10];
  ck_assert_int_eq(nde_net_vjp(net, 1, dy, dx, NULL), NDE_ERR_STATE);
  ASSERT_MSG_HAS("forward");
  ck_assert_int_eq(nde_net_forward(net, 0, 5, x, y), NDE_ERR_BATCH);
  ASSERT_MSG_HAS("batch 5");
  ck_assert_int_eq(nde_net_forward(net, 0, 0, x, y), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_net_forward(net, 0, 2, NULL, y), NDE_ERR_NULL);
  ck_assert_int_eq(nde_net_forward(NULL, 0, 2, x, y), NDE_ERR_NULL);
  ck_assert_int_eq(nde_net_forward(net, 0, 2, x, y), NDE_OK);
  ck_assert_int_eq(nde_net_vjp(net, 3, dy, dx, NULL), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_net_vjp(net, 2, dy, dy, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_net_vjp(net, 2, NULL, dx, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_net_layer_params(net, 3, NULL, NULL), NDE_ERR_ARG);
  nde_net_free(net);
  nde_net_free(NULL);
}
END_TEST

START_TEST(strerror_covers_codes) {
  for (int c = 0; c >= -17; c--) ck_assert_str_ne(nde_strerror(c), "unknown status code");
  ck_assert_str_eq(nde_strerror(-999), "unknown status code");
  nde_clear_error();
  ck_assert_str_eq(nde_last_error(), "");
}
END_TEST

Suite *net_errors_suite(void) {
  Suite *s = suite_create("errors");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, create_rejects_bad_specs);
  tcase_add_test(tc, calls_reject_bad_batch_and_order);
  tcase_add_test(tc, strerror_covers_codes);
  suite_add_tcase(s, tc);
  return s;
}
