/* GroupNorm and BatchNorm2d: forward against an independent reference and
 * hand values, running statistics, finite-difference gradients, bad
 * arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

#define ASSERT_MSG_HAS(s)                                                                          \
  ck_assert_msg(strstr(nde_last_error(), (s)) != NULL, "message '%s' lacks '%s'",                  \
                nde_last_error(), (s))

/* Forward tolerance: float arithmetic on O(1) values. */
#define FWD_TOL 2e-5

static nde_net *make1(nde_shape in, int max_batch, nde_layer_spec s) {
  nde_net *net = NULL;
  ck_assert_msg(nde_net_create(in, max_batch, &s, 1, &net) == NDE_OK, "%s", nde_last_error());
  return net;
}

/* ---------------- GroupNorm ---------------- */

START_TEST(gn_forward_matches_reference) {
  const int n = 3, C = 6, H = 3, W = 4, G = 3, cpg = C / G, hw = H * W;
  nde_net *net = make1(nde_shape_chw(C, H, W), n, nde_spec_groupnorm(G));
  ck_assert_uint_eq(nde_net_num_params(net), 2 * C);
  ck_assert_uint_eq(nde_net_num_state(net), 0);
  nde_rng rng;
  nde_rng_seed(&rng, 21);
  nde_real *p = nde_net_params(net);
  tu_fill_normal(p, 2 * C, 1.0, &rng);
  const size_t m = (size_t)n * C * hw;
  nde_real *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y);
  for (size_t i = 0; i < m; i++) x[i] = (nde_real)(3 + 2 * nde_rng_normal(&rng)); /* offset mean */
  ck_assert_int_eq(nde_net_forward(net, 0, n, x, y), NDE_OK);
  /* Reference: the textbook definition, one group at a time, E[x^2] - mu^2. */
  double worst = 0;
  for (int i = 0; i < n; i++)
    for (int g = 0; g < G; g++) {
      double s = 0, s2 = 0;
      for (int c = g * cpg; c < (g + 1) * cpg; c++)
        for (int q = 0; q < hw; q++) {
          double v = x[((size_t)i * C + c) * hw + q];
          s += v;
          s2 += v * v;
        }
      double mu = s / (cpg * hw), var = s2 / (cpg * hw) - mu * mu;
      for (int c = g * cpg; c < (g + 1) * cpg; c++)
        for (int q = 0; q < hw; q++) {
          size_t k = ((size_t)i * C + c) * hw + q;
          double ref = p[c] * (x[k] - mu) / sqrt(var + 1e-5) + p[C + c];
          worst = fmax(worst, fabs(ref - y[k]));
        }
    }
  ck_assert_msg(worst < FWD_TOL, "groupnorm forward differs from reference by %g", worst);
  free(x);
  free(y);
  nde_net_free(net);
}
END_TEST

START_TEST(gn_forward_and_vjp_by_hand) {
  /* x = channel 0: (1, 2), channel 1: (3, 4); gamma = (2, 1), beta = (0, 1); eps = 0. */
  const nde_real x[] = {1, 2, 3, 4};
  nde_layer_spec s = nde_spec_groupnorm(1);
  s.eps = 0;
  nde_net *net = make1(nde_shape_chw(2, 1, 2), 1, s);
  nde_rng rng;
  nde_rng_seed(&rng, 1);
  ck_assert_int_eq(nde_net_init(net, &rng), NDE_OK);
  nde_real *p = nde_net_params(net);
  ck_assert(p[0] == 1 && p[1] == 1 && p[2] == 0 && p[3] == 0); /* init gamma 1, beta 0 */
  p[0] = 2;
  p[3] = 1;
  nde_real y[4];
  /* One group: mu = 2.5, var = 1.25, xhat = (-1.5, -.5, .5, 1.5) / sqrt(1.25). */
  ck_assert_int_eq(nde_net_forward(net, 0, 1, x, y), NDE_OK);
  const double yh[] = {-2.683282, -0.894427, 1.447214, 2.341641};
  for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(y[i], yh[i], 1e-5);
  nde_net_free(net);

  /* Two groups (one channel each): xhat = (-1, 1) in both, y = (-2, 2, 0, 2).
   * A two-value group normalizes to +-1 whatever x is, so dx = 0 exactly;
   * dy = (1, 0, 0, 1): dgamma = (-1, 1), dbeta = (1, 1). */
  s.groups = 2;
  net = make1(nde_shape_chw(2, 1, 2), 1, s);
  ck_assert_int_eq(nde_net_init(net, &rng), NDE_OK);
  p = nde_net_params(net);
  p[0] = 2;
  p[3] = 1;
  ck_assert_int_eq(nde_net_forward(net, 0, 1, x, y), NDE_OK);
  const double yh2[] = {-2, 2, 0, 2};
  for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(y[i], yh2[i], 1e-5);
  const nde_real dy[] = {1, 0, 0, 1};
  nde_real dx[4];
  nde_real *g = nde_net_grads(net);
  g[0] = 10; /* vjp accumulates */
  ck_assert_int_eq(nde_net_vjp(net, 1, dy, dx, g), NDE_OK);
  for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(dx[i], 0, 1e-6);
  ck_assert_double_eq_tol(g[0], 9, 1e-6);
  ck_assert_double_eq_tol(g[1], 1, 1e-6);
  ck_assert_double_eq_tol(g[2], 1, 1e-6);
  ck_assert_double_eq_tol(g[3], 1, 1e-6);
  nde_net_free(net);
}
END_TEST

static void gradcheck_gn(nde_shape in, int groups, int n, unsigned long seed) {
  nde_net *net = make1(in, n, nde_spec_groupnorm(groups));
  double ex, ep;
  ck_assert_int_eq(tu_gradcheck_net(net, 0, n, seed, TU_FD_STEP, &ex, &ep), NDE_OK);
  ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL, "groupnorm C=%d G=%d: err_x %g err_p %g",
                in.c, groups, ex, ep);
  nde_net_free(net);
}

START_TEST(gn_gradcheck) {
  gradcheck_gn(nde_shape_chw(6, 3, 2), 3, 2, 31);
  gradcheck_gn(nde_shape_chw(4, 2, 2), 1, 3, 32); /* layer norm over all channels */
  gradcheck_gn(nde_shape_chw(4, 3, 3), 4, 2, 33); /* instance norm */
  gradcheck_gn(nde_shape_vec(8), 2, 2, 34);       /* dense features */
}
END_TEST

START_TEST(gn_vjp_parts_are_optional) {
  /* dx only, grad only and both must agree. */
  nde_net *net = make1(nde_shape_chw(4, 2, 3), 2, nde_spec_groupnorm(2));
  nde_rng rng;
  nde_rng_seed(&rng, 41);
  nde_net_init(net, &rng);
  tu_fill_normal(nde_net_params(net), 8, 1.0, &rng);
  nde_real x[48], dy[48], dx1[48], dx2[48], g1[8] = {0}, g2[8] = {0};
  tu_fill_normal(x, 48, 1.0, &rng);
  tu_fill_normal(dy, 48, 1.0, &rng);
  ck_assert_int_eq(nde_net_forward(net, 0, 2, x, NULL), NDE_OK);
  ck_assert_int_eq(nde_net_vjp(net, 2, dy, dx1, g1), NDE_OK);
  ck_assert_int_eq(nde_net_vjp(net, 2, dy, dx2, NULL), NDE_OK);
  ck_assert_int_eq(nde_net_vjp(net, 2, dy, NULL, g2), NDE_OK);
  for (int i = 0; i < 48; i++) ck_assert(dx1[i] == dx2[i]);
  for (int i = 0; i < 8; i++) ck_assert(g1[i] == g2[i] && g1[i] != 0);
  nde_net_free(net);
}
END_TEST

START_TEST(gn_rejects_bad_groups) {
  nde_net *net = (nde_net *)0x1;
  nde_layer_spec s = nde_spec_groupnorm(4);
  ck_assert_int_eq(nde_net_create(nde_shape_chw(6, 2, 2), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("6 channels are not divisible into 4 groups");
  ASSERT_MSG_HAS("layer 0 (groupnorm)");
  ck_assert_ptr_null(net);
  s.groups = 0;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(6, 2, 2), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("groups 0 must be >= 1");
  s.groups = -2;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(6, 2, 2), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("groups -2");
  s.groups = 2;
  s.eps = -1e-5;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(6, 2, 2), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("eps");
  s.eps = NAN;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(6, 2, 2), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("eps");
  ck_assert_ptr_null(net);
}
END_TEST

/* ---------------- BatchNorm2d ---------------- */

/* n = 2, C = 2, 1 x 2 maps. Channel 0 holds 1, 3, 5, 7 (mean 4, biased var 5,
 * unbiased 20/3); channel 1 holds 0, 0, 2, -2 (mean 0, var 2, unbiased 8/3). */
static const nde_real bn_x[] = {1, 3, 0, 0, 5, 7, 2, -2};

static nde_net *bn_hand_net(void) {
  nde_layer_spec s = nde_spec_batchnorm();
  s.eps = 0;
  nde_net *net = make1(nde_shape_chw(2, 1, 2), 2, s);
  ck_assert_uint_eq(nde_net_num_params(net), 4);
  ck_assert_uint_eq(nde_net_num_state(net), 4);
  nde_rng rng;
  nde_rng_seed(&rng, 3);
  ck_assert_int_eq(nde_net_init(net, &rng), NDE_OK);
  const nde_real *st = nde_net_state(net);
  ck_assert(st[0] == 0 && st[1] == 0 && st[2] == 1 && st[3] == 1);
  nde_real *p = nde_net_params(net);
  ck_assert(p[0] == 1 && p[1] == 1 && p[2] == 0 && p[3] == 0);
  p[1] = 0.5; /* gamma = (1, 0.5) */
  p[3] = 1;   /* beta = (0, 1) */
  return net;
}

START_TEST(bn_training_forward_and_running_stats) {
  nde_net *net = bn_hand_net();
  nde_real y[8];
  ck_assert_int_eq(nde_net_forward(net, 0, 2, bn_x, y), NDE_OK);
  const double r5 = 1 / sqrt(5.0), r2 = 0.5 / sqrt(2.0);
  const double yh[] = {-3 * r5, -r5, 1, 1, r5, 3 * r5, 1 + 2 * r2, 1 - 2 * r2};
  for (int i = 0; i < 8; i++) ck_assert_double_eq_tol(y[i], yh[i], 1e-5);
  const nde_real *st = nde_net_state(net);
  ck_assert_double_eq_tol(st[0], 0.4, 1e-6); /* 0.9 * 0 + 0.1 * 4 */
  ck_assert_double_eq_tol(st[1], 0.0, 1e-6);
  ck_assert_double_eq_tol(st[2], 0.9 + 0.1 * 20.0 / 3.0, 1e-6); /* unbiased variance */
  ck_assert_double_eq_tol(st[3], 0.9 + 0.1 * 8.0 / 3.0, 1e-6);
  ck_assert_int_eq(nde_net_forward(net, 0, 2, bn_x, y), NDE_OK);
  ck_assert_double_eq_tol(st[0], 0.76, 1e-6);
  ck_assert_double_eq_tol(st[2], 0.9 * (0.9 + 0.1 * 20.0 / 3.0) + 0.1 * 20.0 / 3.0, 1e-5);
  nde_net_free(net);
}
END_TEST

START_TEST(bn_eval_forward_uses_running_stats) {
  nde_net *net = bn_hand_net();
  nde_real *st = nde_net_state(net);
  st[0] = 1; /* running mean (1, -1) */
  st[1] = -1;
  st[2] = 4; /* running var (4, 0.25) */
  st[3] = 0.25;
  ck_assert_int_eq(nde_net_set_training(net, 0), NDE_OK);
  nde_real y[8];
  ck_assert_int_eq(nde_net_forward(net, 0, 2, bn_x, y), NDE_OK);
  /* channel 0: (x - 1) / 2; channel 1: 0.5 (x + 1) / 0.5 + 1 = x + 2. */
  const double yh[] = {0, 1, 2, 2, 2, 3, 4, 0};
  for (int i = 0; i < 8; i++) ck_assert_double_eq_tol(y[i], yh[i], 1e-6);
  ck_assert(st[0] == 1 && st[1] == -1 && st[2] == 4 && st[3] == 0.25); /* untouched */
  /* Evaluation vjp is the affine map: dx = gamma * rstd * dy. */
  const nde_real dy[] = {1, 1, 1, 1, 1, 1, 1, 1};
  nde_real dx[8];
  ck_assert_int_eq(nde_net_vjp(net, 2, dy, dx, NULL), NDE_OK);
  const double dxh[] = {0.5, 0.5, 1, 1, 0.5, 0.5, 1, 1};
  for (int i = 0; i < 8; i++) ck_assert_double_eq_tol(dx[i], dxh[i], 1e-6);
  /* A single value per channel is fine in evaluation mode. */
  nde_real one[4] = {1, 2, 3, 4};
  ck_assert_int_eq(nde_net_forward(net, 0, 1, one, y), NDE_OK);
  nde_net_free(net);
}
END_TEST

START_TEST(bn_vjp_follows_forward_mode) {
  /* Switching the mode between forward and vjp must not change the vjp: it
   * differentiates the map forward evaluated (batch statistics here). */
  nde_net *net = bn_hand_net();
  const nde_real dy[] = {1, -2, 0.5, 3, 0, 1, -1, 2};
  nde_real dx1[8], dx2[8];
  ck_assert_int_eq(nde_net_forward(net, 0, 2, bn_x, NULL), NDE_OK);
  ck_assert_int_eq(nde_net_vjp(net, 2, dy, dx1, NULL), NDE_OK);
  nde_net_set_training(net, 0);
  ck_assert_int_eq(nde_net_vjp(net, 2, dy, dx2, NULL), NDE_OK);
  for (int i = 0; i < 8; i++) ck_assert(dx1[i] == dx2[i]);
  /* Training-mode dx sums to zero over each channel (the mean is removed). */
  ck_assert_double_eq_tol(dx1[0] + dx1[1] + dx1[4] + dx1[5], 0, 1e-5);
  ck_assert_double_eq_tol(dx1[2] + dx1[3] + dx1[6] + dx1[7], 0, 1e-5);
  nde_net_free(net);
}
END_TEST

START_TEST(bn_gradcheck_training_and_eval) {
  for (int mode = 1; mode >= 0; mode--) {
    nde_net *net = make1(nde_shape_chw(3, 2, 3), 3, nde_spec_batchnorm());
    nde_net_set_training(net, mode);
    double ex, ep;
    ck_assert_int_eq(tu_gradcheck_net(net, 0, 3, 51 + mode, TU_FD_STEP, &ex, &ep), NDE_OK);
    ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL,
                  "batchnorm training=%d: err_x %g err_p %g", mode, ex, ep);
    nde_net_free(net);
  }
  /* Dense features (1 x 1 maps): statistics over the batch only. */
  nde_net *net = make1(nde_shape_vec(4), 4, nde_spec_batchnorm());
  double ex, ep;
  ck_assert_int_eq(tu_gradcheck_net(net, 0, 4, 53, TU_FD_STEP, &ex, &ep), NDE_OK);
  ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL, "batchnorm 1d: err_x %g err_p %g", ex, ep);
  nde_net_free(net);
}
END_TEST

START_TEST(bn_rejects_bad_args) {
  nde_net *net = (nde_net *)0x1;
  nde_layer_spec s = nde_spec_batchnorm();
  s.momentum = 1.5;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 2, 2), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("momentum 1.5");
  ASSERT_MSG_HAS("batchnorm");
  s.momentum = 0.1;
  s.eps = -1;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 2, 2), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("eps");
  ck_assert_ptr_null(net);
  /* Training with one value per channel has no variance (PyTorch refuses too). */
  s.eps = 1e-5;
  net = make1(nde_shape_vec(3), 2, s);
  nde_real x[3] = {1, 2, 3};
  ck_assert_int_eq(nde_net_forward(net, 0, 1, x, NULL), NDE_ERR_BATCH);
  ASSERT_MSG_HAS("more than 1 value per channel");
  nde_net_free(net);
}
END_TEST

Suite *norm_suite(void) {
  Suite *s = suite_create("norm");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, gn_forward_matches_reference);
  tcase_add_test(tc, gn_forward_and_vjp_by_hand);
  tcase_add_test(tc, gn_gradcheck);
  tcase_add_test(tc, gn_vjp_parts_are_optional);
  tcase_add_test(tc, gn_rejects_bad_groups);
  tcase_add_test(tc, bn_training_forward_and_running_stats);
  tcase_add_test(tc, bn_eval_forward_uses_running_stats);
  tcase_add_test(tc, bn_vjp_follows_forward_mode);
  tcase_add_test(tc, bn_gradcheck_training_and_eval);
  tcase_add_test(tc, bn_rejects_bad_args);
  suite_add_tcase(s, tc);
  return s;
}
