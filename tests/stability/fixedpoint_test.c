/* Fixed points and equilibria on maps and fields whose roots are known:
 * positions, classes, eigenvalues, hits, failed starts, errors. */
#include <math.h>

#include "stability/stab_util.h"

/* F(x, y) = (x - x^3, -y): zeros (-1, 0) stable, (0, 0) saddle, (1, 0) stable.
 * The map x + h F(x) (h in ctx) has the same points as fixed points. */
static int field(void *ctx, const double *x, double *f, double *J) {
  f[0] = x[0] - x[0] * x[0] * x[0];
  f[1] = -x[1];
  if (J) {
    J[0] = 1 - 3 * x[0] * x[0];
    J[1] = J[2] = 0;
    J[3] = -1;
  }
  return 0;
}
static int euler_map(void *ctx, const double *x, double *f, double *J) {
  double h = *(double *)ctx;
  field(NULL, x, f, J);
  for (int i = 0; i < 2; i++) f[i] = x[i] + h * f[i];
  if (J) {
    for (int i = 0; i < 4; i++) J[i] *= h;
    J[0] += 1;
    J[3] += 1;
  }
  return 0;
}

START_TEST(map_three_fixed_points) {
  double h = 0.1;
  nde_fp_options o = nde_fp_options_default();
  o.lo = -2, o.hi = 2;
  nde_fp_set *s;
  ck_assert_int_eq(nde_fp_find(2, euler_map, &h, &o, NULL, 0, &s), NDE_OK);
  ck_assert_int_eq(nde_fp_set_count(s), 3);
  ck_assert_int_eq(nde_fp_set_dim(s), 2);
  const double xs[3] = {-1, 0, 1};
  const int cls[3] = {NDE_FP_STABLE, NDE_FP_SADDLE, NDE_FP_STABLE};
  int conv, fail, hits = 0;
  ck_assert_int_eq(nde_fp_set_starts(s, &conv, &fail), NDE_OK);
  ck_assert_int_eq(conv + fail, 64);
  for (int k = 0; k < 3; k++) {
    nde_fixed_point fp;
    ck_assert_int_eq(nde_fp_set_get(s, k, &fp), NDE_OK);
    ck_assert_double_eq_tol(fp.x[0], xs[k], 1e-9);
    ck_assert_double_eq_tol(fp.x[1], 0, 1e-9);
    ck_assert_int_eq(fp.cls, cls[k]);
    ck_assert(fp.residual <= 1e-10);
    hits += fp.hits;
  }
  ck_assert_int_eq(hits, conv);
  nde_fixed_point fp;
  nde_fp_set_get(s, 0, &fp); /* J = diag(0.8, 0.9) */
  ck_assert_double_eq_tol(fp.rho, 0.9, 1e-9);
  ck_assert_double_eq_tol(fp.eig_re[0], 0.9, 1e-9);
  ck_assert_double_eq_tol(fp.eig_re[1], 0.8, 1e-9);
  nde_fp_set_get(s, 1, &fp); /* J = diag(1.1, 0.9) */
  ck_assert_double_eq_tol(fp.rho, 1.1, 1e-9);
  ck_assert_str_eq(nde_fp_class_name(fp.cls), "saddle");
  nde_fp_set_free(s);
}
END_TEST

START_TEST(field_equilibria) {
  nde_fp_options o = nde_fp_options_default();
  o.mode = NDE_FP_FIELD;
  o.lo = -2, o.hi = 2;
  nde_fp_set *s;
  const double given[] = {0.9, 0.1, -1.2, 0.5, 0.05, -0.05};
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, given, 3, &s), NDE_OK);
  ck_assert_int_eq(nde_fp_set_count(s), 3);
  nde_fixed_point fp;
  nde_fp_set_get(s, 1, &fp);
  ck_assert_int_eq(fp.cls, NDE_FP_SADDLE);
  ck_assert_double_eq_tol(fp.max_re, 1, 1e-9);
  nde_fp_set_get(s, 2, &fp);
  ck_assert_int_eq(fp.cls, NDE_FP_STABLE);
  ck_assert_double_eq_tol(fp.max_re, -1, 1e-9);
  ck_assert_double_eq_tol(fp.eig_re[0], -2, 1e-9);
  nde_fp_set_free(s);
  /* only the given starts */
  o.nstarts = 0;
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, given, 1, &s), NDE_OK);
  ck_assert_int_eq(nde_fp_set_count(s), 1);
  nde_fp_set_get(s, 0, &fp);
  ck_assert_double_eq_tol(fp.x[0], 1, 1e-9);
  nde_fp_set_free(s);
}
END_TEST

/* x -> 0.5 R(1) x + c: a stable focus (complex pair of modulus 0.5) at
 * (I - 0.5 R)^{-1} c; x -> 2 x + 1 (1-D): a repeller at -1. */
static int focus(void *ctx, const double *x, double *f, double *J) {
  double c = 0.5 * cos(1.0), s = 0.5 * sin(1.0);
  f[0] = c * x[0] - s * x[1] + 1;
  f[1] = s * x[0] + c * x[1] - 2;
  if (J) J[0] = c, J[1] = -s, J[2] = s, J[3] = c;
  return 0;
}
static int repel(void *ctx, const double *x, double *f, double *J) {
  f[0] = 2 * x[0] + 1;
  if (J) J[0] = 2;
  return 0;
}

START_TEST(focus_and_repeller) {
  nde_fp_set *s;
  ck_assert_int_eq(nde_fp_find(2, focus, NULL, NULL, NULL, 0, &s), NDE_OK);
  ck_assert_int_eq(nde_fp_set_count(s), 1);
  nde_fixed_point fp;
  nde_fp_set_get(s, 0, &fp);
  ck_assert_int_eq(fp.cls, NDE_FP_STABLE);
  ck_assert_double_eq_tol(fp.rho, 0.5, 1e-12);
  ck_assert_double_eq_tol(fp.eig_im[0], 0.5 * sin(1.0), 1e-12);
  ck_assert_double_eq_tol(fp.eig_im[1], -0.5 * sin(1.0), 1e-12);
  ck_assert_int_eq(fp.hits, 64);
  double f[2];
  focus(NULL, fp.x, f, NULL);
  ck_assert_double_eq_tol(f[0], fp.x[0], 1e-10);
  nde_fp_set_free(s);
  ck_assert_int_eq(nde_fp_find(1, repel, NULL, NULL, NULL, 0, &s), NDE_OK);
  ck_assert_int_eq(nde_fp_set_count(s), 1);
  nde_fp_set_get(s, 0, &fp);
  ck_assert_double_eq_tol(fp.x[0], -1, 1e-12);
  ck_assert_int_eq(fp.cls, NDE_FP_UNSTABLE);
  nde_fp_set_free(s);
}
END_TEST

/* A ReLU network with the known fixed point (2, 2): f(x) = relu(x / 2) + 1. */
START_TEST(pwa_relu_fixed_point) {
  nde_layer_spec sp[] = {nde_spec_dense(2), nde_spec_act(NDE_LAYER_RELU), nde_spec_dense(2)};
  sp[0].bias = 0;
  nde_net *net;
  nde_pwa *p;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, sp, 3, &net), NDE_OK);
  ck_assert_int_eq(nde_pwa_create(2, sp, 3, &p), NDE_OK);
  const double H[] = {0.5, 0, 0, 0.5}, I[] = {1, 0, 0, 1}, one[] = {1, 1};
  su_set_dense(net, 0, H, NULL);
  su_set_dense(net, 2, I, one);
  nde_pwa_fn_ctx c = {p, nde_net_params(net), 0};
  nde_fp_set *s;
  ck_assert_int_eq(nde_fp_find(2, nde_pwa_fn, &c, NULL, NULL, 0, &s), NDE_OK);
  ck_assert_int_eq(nde_fp_set_count(s), 1);
  nde_fixed_point fp;
  nde_fp_set_get(s, 0, &fp);
  ck_assert_double_eq_tol(fp.x[0], 2, 1e-10);
  ck_assert_double_eq_tol(fp.x[1], 2, 1e-10);
  ck_assert_int_eq(fp.cls, NDE_FP_STABLE);
  ck_assert_double_eq_tol(fp.rho, 0.5, 1e-12);
  nde_stab_cond lc;
  ck_assert_int_eq(nde_stab_local(p, nde_net_params(net), fp.x, 1e-9, &lc), NDE_OK);
  ck_assert_int_eq(lc.verdict, NDE_STAB_HOLDS);
  nde_fp_set_free(s);
  nde_pwa_free(p);
  nde_net_free(net);
}
END_TEST

/* Every point of the identity map is fixed: marginal, Jacobian of the
 * residual singular; F(x) = x^2 + 1 has no zero: every start fails. */
static int identity(void *ctx, const double *x, double *f, double *J) {
  f[0] = x[0];
  if (J) J[0] = 1;
  return 0;
}
static int no_root(void *ctx, const double *x, double *f, double *J) {
  f[0] = x[0] * x[0] + 1;
  if (J) J[0] = 2 * x[0];
  return 0;
}
static int fails_left(void *ctx, const double *x, double *f, double *J) {
  if (x[0] < 0) return -1;
  f[0] = x[0] - 1;
  if (J) J[0] = 1;
  return 0;
}

START_TEST(marginal_failed_and_failing_function) {
  nde_fp_options o = nde_fp_options_default();
  o.nstarts = 5;
  nde_fp_set *s;
  ck_assert_int_eq(nde_fp_find(1, identity, NULL, &o, NULL, 0, &s), NDE_OK);
  ck_assert_int_eq(nde_fp_set_count(s), 5);
  nde_fixed_point fp;
  nde_fp_set_get(s, 0, &fp);
  ck_assert_int_eq(fp.cls, NDE_FP_MARGINAL);
  ck_assert_double_eq_tol(fp.res_smin, 0, 1e-15);
  for (int k = 1; k < 5; k++) { /* sorted */
    nde_fixed_point q;
    nde_fp_set_get(s, k, &q);
    ck_assert(q.x[0] > fp.x[0]);
    fp = q;
  }
  nde_fp_set_free(s);
  o.mode = NDE_FP_FIELD;
  o.nstarts = 8;
  ck_assert_int_eq(nde_fp_find(1, no_root, NULL, &o, NULL, 0, &s), NDE_OK);
  int conv, fail;
  nde_fp_set_starts(s, &conv, &fail);
  ck_assert_int_eq(nde_fp_set_count(s), 0);
  ck_assert_int_eq(conv, 0);
  ck_assert_int_eq(fail, 8);
  nde_fp_set_free(s);
  /* F fails for x < 0: those starts fail, the others find x = 1. */
  ck_assert_int_eq(nde_fp_find(1, fails_left, NULL, &o, NULL, 0, &s), NDE_OK);
  nde_fp_set_starts(s, &conv, &fail);
  ck_assert_int_eq(nde_fp_set_count(s), 1);
  ck_assert_int_gt(conv, 0);
  ck_assert_int_gt(fail, 0);
  nde_fp_set_free(s);
}
END_TEST

START_TEST(fixedpoint_errors) {
  nde_fp_set *s = (nde_fp_set *)1;
  nde_fp_options o = nde_fp_options_default();
  ck_assert_int_eq(nde_fp_find(0, field, NULL, &o, NULL, 0, &s), NDE_ERR_ARG);
  ck_assert_ptr_null(s);
  ck_assert_int_eq(nde_fp_find(2, NULL, NULL, &o, NULL, 0, &s), NDE_ERR_NULL);
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, NULL, 0, NULL), NDE_ERR_NULL);
  o.mode = 7;
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, NULL, 0, &s), NDE_ERR_ARG);
  o = nde_fp_options_default();
  o.nstarts = 0;
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, NULL, 0, &s), NDE_ERR_ARG);
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, NULL, 2, &s), NDE_ERR_ARG);
  o = nde_fp_options_default();
  o.lo = 1, o.hi = 1;
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, NULL, 0, &s), NDE_ERR_ARG);
  o = nde_fp_options_default();
  o.tol = 0;
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, NULL, 0, &s), NDE_ERR_ARG);
  o = nde_fp_options_default();
  const double bad[] = {NAN, 0};
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, bad, 1, &s), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_fp_find(2, field, NULL, &o, NULL, 0, &s), NDE_OK);
  nde_fixed_point fp;
  ck_assert_int_eq(nde_fp_set_get(s, 3, &fp), NDE_ERR_ARG);
  ck_assert_int_eq(nde_fp_set_get(s, -1, &fp), NDE_ERR_ARG);
  ck_assert_int_eq(nde_fp_set_get(NULL, 0, &fp), NDE_ERR_NULL);
  ck_assert_int_eq(nde_fp_set_starts(NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_str_eq(nde_fp_class_name(0), "unknown");
  nde_fp_set_free(s);
  nde_fp_set_free(NULL);
  ck_assert_int_eq(nde_fp_set_count(NULL), 0);
}
END_TEST

Suite *fixedpoint_suite(void) {
  Suite *s = suite_create("fixedpoint");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, map_three_fixed_points);
  tcase_add_test(tc, field_equilibria);
  tcase_add_test(tc, focus_and_repeller);
  tcase_add_test(tc, pwa_relu_fixed_point);
  tcase_add_test(tc, marginal_failed_and_failing_function);
  tcase_add_test(tc, fixedpoint_errors);
  suite_add_tcase(s, tc);
  return s;
}
