/* PWA form: the test vectors of docs/methods.md section 6, f = A* x + b* for every activation
 * with and without bias, agreement with nde_net_forward, A* = J inside ReLU
 * regions, the true Jacobian against finite differences, patterns, kink
 * margins, activation facts and error paths. */
#include <math.h>

#include "stability/stab_util.h"

START_TEST(design_relu_vector) {
  nde_layer_spec s[] = {nde_spec_dense(2), nde_spec_act(NDE_LAYER_RELU), nde_spec_dense(2)};
  nde_net *net;
  nde_pwa *p;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 3, &net), NDE_OK);
  ck_assert_int_eq(nde_pwa_create(2, s, 3, &p), NDE_OK);
  ck_assert_uint_eq(nde_pwa_num_params(p), nde_net_num_params(net));
  ck_assert_int_eq(nde_pwa_num_units(p), 2);
  ck_assert_int_eq(nde_pwa_is_homogeneous(p), 0);
  const double W1[] = {1, -1, 2, 1}, b1[] = {0, -1}, W2[] = {1, 1, 0, 1}, b2[] = {0.5, 0};
  su_set_dense(net, 0, W1, b1);
  su_set_dense(net, 2, W2, b2);
  const double x[2] = {1, 0.5};
  double f[2], A[4], b[2], J[4];
  ck_assert_int_eq(nde_pwa_eval(p, nde_net_params(net), x, f, A, b, J), NDE_OK);
  const double fw[] = {2.5, 1.5}, Aw[] = {3, 0, 2, 1}, bw[] = {-0.5, -1};
  for (int i = 0; i < 2; i++) {
    ck_assert_double_eq_tol(f[i], fw[i], 1e-12);
    ck_assert_double_eq_tol(b[i], bw[i], 1e-12);
  }
  for (int i = 0; i < 4; i++) {
    ck_assert_double_eq_tol(A[i], Aw[i], 1e-12);
    ck_assert_double_eq_tol(J[i], Aw[i], 1e-12);
  }
  nde_pwa_free(p);
  nde_net_free(net);
}
END_TEST

START_TEST(design_tanh_vector) {
  nde_layer_spec s[] = {nde_spec_dense(2), nde_spec_act(NDE_LAYER_TANH)};
  nde_net *net;
  nde_pwa *p;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 2, &net), NDE_OK);
  ck_assert_int_eq(nde_pwa_create(2, s, 2, &p), NDE_OK);
  const double W[] = {.5, -.2, .1, .3}, bb[] = {.1, -.2};
  su_set_dense(net, 0, W, bb);
  const double x[2] = {1, 2};
  double f[2], A[4], b[2];
  ck_assert_int_eq(nde_pwa_eval(p, nde_net_params(net), x, f, A, b, NULL), NDE_OK);
  const double Aw[] = {0.493438, -0.197375, 0.092423, 0.277270}, bw[] = {0.098688, -0.184847},
               fw[] = {0.197375, 0.462117};
  /* The documented values have 6 decimals; the float build stores W in float. */
  const double tol = NDE_REAL_IS_DOUBLE ? 1e-6 : 2e-6;
  for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(A[i], Aw[i], tol);
  for (int i = 0; i < 2; i++) {
    ck_assert_double_eq_tol(b[i], bw[i], tol);
    ck_assert_double_eq_tol(f[i], fw[i], tol);
  }
  nde_pwa_free(p);
  nde_net_free(net);
}
END_TEST

static const int act_kinds[] = {NDE_LAYER_RELU,    NDE_LAYER_TANH,     NDE_LAYER_SOFTPLUS,
                                NDE_LAYER_SIGMOID, NDE_LAYER_IDENTITY, NDE_LAYER_SELU,
                                NDE_LAYER_GELU};
#define N_ACTS 7

/* loop index: activation * 2 + bias */
START_TEST(reconstruction_every_activation) {
  const int kind = act_kinds[_i / 2], bias = _i % 2;
  nde_layer_spec s[] = {nde_spec_dense(5),  nde_spec_act(kind), nde_spec_dense(4),
                        nde_spec_act(kind), nde_spec_dense(3),  nde_spec_act(kind)};
  for (int l = 0; l < 6; l += 2) s[l].bias = bias;
  enum { NPTS = 50 };
  nde_net *net;
  nde_pwa *p;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), NPTS, s, 6, &net), NDE_OK);
  ck_assert_int_eq(nde_pwa_create(3, s, 6, &p), NDE_OK);
  nde_stab_act info;
  ck_assert_int_eq(nde_stab_act_info(kind, &info), NDE_OK);
  ck_assert_int_eq(nde_pwa_is_homogeneous(p), !bias && info.sigma0 == 0);
  nde_rng rng;
  nde_rng_seed(&rng, 100 + _i);
  ck_assert_int_eq(nde_net_init(net, &rng), NDE_OK);
  /* Larger weights than the default init so every activation sees a wide range. */
  nde_real *par = nde_net_params(net);
  for (size_t k = 0; k < nde_net_num_params(net); k++) par[k] *= 3;
  nde_real xr[NPTS * 3], yr[NPTS * 3];
  tu_fill_normal(xr, NPTS * 3, 2.0, &rng);
  ck_assert_int_eq(nde_net_forward(net, 0, NPTS, xr, yr), NDE_OK);
  double worst_rec = 0, worst_net = 0;
  for (int t = 0; t < NPTS; t++) {
    double x[3], f[3], A[9], b[3];
    for (int i = 0; i < 3; i++) x[i] = xr[t * 3 + i];
    ck_assert_int_eq(nde_pwa_eval(p, par, x, f, A, b, NULL), NDE_OK);
    for (int i = 0; i < 3; i++) {
      double r = b[i];
      for (int j = 0; j < 3; j++) r += A[i * 3 + j] * x[j];
      worst_rec = fmax(worst_rec, fabs(r - f[i]) / (1 + fabs(f[i])));
      worst_net = fmax(worst_net, fabs(f[i] - yr[t * 3 + i]) / (1 + fabs(f[i])));
    }
  }
  /* A* x + b* is formed in double whatever nde_real is. */
  ck_assert_msg(worst_rec <= 1e-12, "%s bias %d: |A x + b - f| %g", info.name, bias, worst_rec);
  /* Against the network's own forward (nde_real arithmetic). */
  const double tol_net = NDE_REAL_IS_DOUBLE ? 1e-12 : 1e-5;
  ck_assert_msg(worst_net <= tol_net, "%s bias %d: |f - net| %g", info.name, bias, worst_net);
  nde_pwa_free(p);
  nde_net_free(net);
}
END_TEST

/* Inside a ReLU region A* is the Jacobian; for tanh it is a secant and differs. */
START_TEST(relu_region_jacobian_and_tanh_secant) {
  const int kinds[2] = {NDE_LAYER_RELU, NDE_LAYER_TANH};
  for (int kk = 0; kk < 2; kk++) {
    nde_layer_spec s[] = {nde_spec_dense(8), nde_spec_act(kinds[kk]), nde_spec_dense(6),
                          nde_spec_act(kinds[kk]), nde_spec_dense(2)};
    nde_net *net;
    nde_pwa *p;
    ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 5, &net), NDE_OK);
    ck_assert_int_eq(nde_pwa_create(2, s, 5, &p), NDE_OK);
    nde_rng rng;
    nde_rng_seed(&rng, 7);
    nde_net_init(net, &rng);
    double worst = 0;
    int tested = 0;
    for (int t = 0; t < 40; t++) {
      double x[2] = {4 * nde_rng_normal(&rng), 4 * nde_rng_normal(&rng)}, A[4], J[4], m;
      ck_assert_int_eq(nde_pwa_kink_margin(p, nde_net_params(net), x, &m), NDE_OK);
      if (kinds[kk] == NDE_LAYER_TANH) ck_assert(isinf(m));
      if (!(m > 1e-9)) continue;
      ck_assert_int_eq(nde_pwa_eval(p, nde_net_params(net), x, NULL, A, NULL, J), NDE_OK);
      for (int i = 0; i < 4; i++) worst = fmax(worst, fabs(A[i] - J[i]));
      tested++;
    }
    ck_assert_int_ge(tested, 30);
    if (kinds[kk] == NDE_LAYER_RELU)
      ck_assert_msg(worst <= 1e-12, "relu: |A - J| %g", worst);
    else
      ck_assert_msg(worst > 1e-3, "tanh: A* should differ from J, max diff %g", worst);
    nde_pwa_free(p);
    nde_net_free(net);
  }
}
END_TEST

/* The true Jacobian against central differences of f (double arithmetic in
 * both builds), for every smooth activation and relu/selu away from kinks. */
START_TEST(jacobian_matches_finite_differences) {
  for (int a = 0; a < N_ACTS; a++) {
    nde_layer_spec s[] = {nde_spec_dense(6), nde_spec_act(act_kinds[a]), nde_spec_dense(3),
                          nde_spec_act(act_kinds[a])};
    nde_net *net;
    nde_pwa *p;
    ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 1, s, 4, &net), NDE_OK);
    ck_assert_int_eq(nde_pwa_create(3, s, 4, &p), NDE_OK);
    nde_rng rng;
    nde_rng_seed(&rng, 17 + a);
    nde_net_init(net, &rng);
    const nde_real *par = nde_net_params(net);
    double worst = 0;
    for (int t = 0; t < 10; t++) {
      double x[3], J[9], fp[3], fm[3], m;
      for (int i = 0; i < 3; i++) x[i] = 2 * nde_rng_normal(&rng);
      nde_pwa_kink_margin(p, par, x, &m);
      if (m < 1e-3) continue;
      ck_assert_int_eq(nde_pwa_eval(p, par, x, NULL, NULL, NULL, J), NDE_OK);
      for (int j = 0; j < 3; j++) {
        double keep = x[j], h = 1e-6;
        x[j] = keep + h;
        nde_pwa_eval(p, par, x, fp, NULL, NULL, NULL);
        x[j] = keep - h;
        nde_pwa_eval(p, par, x, fm, NULL, NULL, NULL);
        x[j] = keep;
        for (int i = 0; i < 3; i++)
          worst = fmax(worst, fabs((fp[i] - fm[i]) / (2 * h) - J[i * 3 + j]));
      }
    }
    ck_assert_msg(worst <= 1e-7, "%s: Jacobian vs FD %g", nde_layer_kind_name(act_kinds[a]), worst);
    nde_pwa_free(p);
    nde_net_free(net);
  }
}
END_TEST

START_TEST(pattern_and_margin) {
  nde_layer_spec s[] = {nde_spec_dense(2), nde_spec_act(NDE_LAYER_RELU), nde_spec_flatten()};
  s[0].bias = 0;
  nde_net *net;
  nde_pwa *p;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 3, &net), NDE_OK);
  ck_assert_int_eq(nde_pwa_create(2, s, 3, &p), NDE_OK);
  ck_assert_int_eq(nde_pwa_is_homogeneous(p), 1);
  const double I[] = {1, 0, 0, 1};
  su_set_dense(net, 0, I, NULL);
  const nde_real *par = nde_net_params(net);
  unsigned char on[2];
  double m, x[2] = {1, -0.25};
  ck_assert_int_eq(nde_pwa_pattern(p, par, x, on), NDE_OK);
  ck_assert(on[0] == 1 && on[1] == 0);
  ck_assert_int_eq(nde_pwa_kink_margin(p, par, x, &m), NDE_OK);
  ck_assert_double_eq_tol(m, 0.25, 1e-12);
  x[1] = 0; /* on the boundary: margin 0, relu'(0) = 0 in J */
  double J[4];
  ck_assert_int_eq(nde_pwa_kink_margin(p, par, x, &m), NDE_OK);
  ck_assert_double_eq(m, 0);
  ck_assert_int_eq(nde_pwa_eval(p, par, x, NULL, NULL, NULL, J), NDE_OK);
  ck_assert_double_eq(J[3], 0);
  double lb, lip;
  ck_assert_int_eq(nde_pwa_bounds(p, par, &lb, &lip), NDE_OK);
  ck_assert_double_eq_tol(lb, 1, 1e-12);
  ck_assert_double_eq_tol(lip, 1, 1e-12);
  /* Residual adapter: x + f(x). */
  nde_pwa_fn_ctx c = {p, par, 1};
  double y[2], Jr[4];
  x[1] = -0.25;
  ck_assert_int_eq(nde_pwa_fn(&c, x, y, Jr), NDE_OK);
  ck_assert_double_eq_tol(y[0], 2, 1e-12);
  ck_assert_double_eq_tol(y[1], -0.25, 1e-12);
  ck_assert_double_eq_tol(Jr[0], 2, 1e-12);
  ck_assert_double_eq_tol(Jr[3], 1, 1e-12);
  nde_pwa_free(p);
  nde_net_free(net);
}
END_TEST

/* Activation facts: lambda continuous at 0 and equal to sigma'(0) there
 * (left branch at kinks), sampled suprema never above the stated constants
 * and close to them, stable flags as docs/methods.md section 6 lists them. */
START_TEST(activation_facts) {
  const int stable_expected[N_ACTS] = {1, 1, 0, 0, 1, 0, 1};
  for (int a = 0; a < N_ACTS; a++) {
    const int k = act_kinds[a];
    nde_stab_act info;
    ck_assert_int_eq(nde_stab_act_info(k, &info), NDE_OK);
    ck_assert_int_eq(info.stable, stable_expected[a]);
    double s0, l0, d0, sl, ll, sr, lr;
    ck_assert_int_eq(nde_stab_act_eval(k, 0, &s0, &l0, &d0), NDE_OK);
    ck_assert_double_eq_tol(s0, info.sigma0, 1e-15);
    ck_assert_double_eq_tol(l0, d0, 1e-15);
    nde_stab_act_eval(k, -1e-9, &sl, &ll, NULL);
    nde_stab_act_eval(k, 1e-9, &sr, &lr, NULL);
    if (k != NDE_LAYER_RELU && k != NDE_LAYER_SELU) { /* smooth: lambda continuous at 0 */
      ck_assert_double_eq_tol(ll, l0, 1e-8);
      ck_assert_double_eq_tol(lr, l0, 1e-8);
    } else {
      ck_assert_double_eq_tol(ll, l0, 1e-8); /* left branch */
    }
    double maxl = 0, maxd = 0, maxr = 0;
    for (int t = -20000; t <= 20000; t++) {
      double z = t * 1e-3, s, l, d;
      nde_stab_act_eval(k, z, &s, &l, &d);
      ck_assert_double_eq_tol(l * z + info.sigma0, s, 1e-12 * (1 + fabs(s)));
      maxl = fmax(maxl, fabs(l));
      maxd = fmax(maxd, fabs(d));
      if (z != 0) maxr = fmax(maxr, fabs(s / z));
    }
    ck_assert_msg(maxl <= info.lambda_sup + 1e-12 && maxl >= info.lambda_sup - 0.06,
                  "%s lambda_sup %g sampled %g", info.name, info.lambda_sup, maxl);
    ck_assert_msg(maxd <= info.lipschitz + 1e-12 && maxd >= info.lipschitz - 1e-6,
                  "%s lip %g sampled %g", info.name, info.lipschitz, maxd);
    if (isfinite(info.ratio_sup))
      ck_assert(maxr <= info.ratio_sup + 1e-12);
    else
      ck_assert(maxr > 100);
  }
  nde_stab_act g;
  nde_stab_act_info(NDE_LAYER_GELU, &g);
  ck_assert_double_eq_tol(g.lipschitz, 1.1289, 1e-4);
}
END_TEST

START_TEST(pwa_errors) {
  nde_pwa *p = (nde_pwa *)1;
  nde_layer_spec conv[] = {nde_spec_conv2d(2, 3, 1, 1)};
  ck_assert_int_eq(nde_pwa_create(2, conv, 1, &p), NDE_ERR_KIND);
  ck_assert_ptr_null(p);
  ck_assert(strstr(nde_last_error(), "layer 0") != NULL);
  nde_layer_spec s[] = {nde_spec_dense(2), nde_spec_act(NDE_LAYER_TANH)};
  ck_assert_int_eq(nde_pwa_create(0, s, 2, &p), NDE_ERR_ARG);
  ck_assert_int_eq(nde_pwa_create(2, s, 0, &p), NDE_ERR_ARG);
  ck_assert_int_eq(nde_pwa_create(2, NULL, 2, &p), NDE_ERR_NULL);
  ck_assert_int_eq(nde_pwa_create(2, s, 2, NULL), NDE_ERR_NULL);
  nde_layer_spec bad[] = {nde_spec_dense(0)};
  ck_assert_int_ne(nde_pwa_create(2, bad, 1, &p), NDE_OK);
  ck_assert(strstr(nde_last_error(), "nde_pwa_create") != NULL);
  ck_assert_int_eq(nde_stab_act_info(NDE_LAYER_DENSE, &(nde_stab_act){0}), NDE_ERR_KIND);
  ck_assert_int_eq(nde_stab_act_eval(NDE_LAYER_CONV2D, 0, NULL, NULL, NULL), NDE_ERR_KIND);
  ck_assert_int_eq(nde_stab_act_info(NDE_LAYER_RELU, NULL), NDE_ERR_NULL);

  ck_assert_int_eq(nde_pwa_create(2, s, 2, &p), NDE_OK);
  nde_real par[6] = {1, 0, 0, 1, 0, 0};
  double x[2] = {NAN, 0}, f[2], m;
  unsigned char on[2];
  ck_assert_int_eq(nde_pwa_eval(p, par, x, f, NULL, NULL, NULL), NDE_ERR_NONFINITE);
  x[0] = 1;
  par[1] = (nde_real)INFINITY;
  ck_assert_int_eq(nde_pwa_eval(p, par, x, f, NULL, NULL, NULL), NDE_ERR_NONFINITE);
  ck_assert(strstr(nde_last_error(), "layer 0") != NULL);
  ck_assert_int_eq(nde_pwa_eval(NULL, par, x, f, NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_pwa_eval(p, NULL, x, f, NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_pwa_eval(p, par, NULL, f, NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_pwa_pattern(p, par, x, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_pwa_pattern(p, par, x, on), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_pwa_kink_margin(p, par, x, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_pwa_kink_margin(p, par, x, &m), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_pwa_bounds(p, par, &m, NULL), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_pwa_bounds(NULL, par, &m, NULL), NDE_ERR_NULL);
  ck_assert_int_ne(nde_pwa_fn(NULL, x, f, NULL), NDE_OK);
  nde_pwa_free(p);
  /* Non-square networks cannot be maps. */
  nde_layer_spec ns[] = {nde_spec_dense(3)};
  ck_assert_int_eq(nde_pwa_create(2, ns, 1, &p), NDE_OK);
  ck_assert_int_eq(nde_pwa_out_dim(p), 3);
  nde_real q[9] = {0};
  nde_pwa_fn_ctx c = {p, q, 0};
  double y[3];
  ck_assert_int_eq(nde_pwa_fn(&c, x, y, NULL), NDE_ERR_SHAPE);
  nde_pwa_free(p);
  nde_pwa_free(NULL);
  ck_assert_int_eq(nde_pwa_in_dim(NULL), 0);
}
END_TEST

Suite *pwa_suite(void) {
  Suite *s = suite_create("pwa");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, design_relu_vector);
  tcase_add_test(tc, design_tanh_vector);
  tcase_add_loop_test(tc, reconstruction_every_activation, 0, 2 * N_ACTS);
  tcase_add_test(tc, relu_region_jacobian_and_tanh_secant);
  tcase_add_test(tc, jacobian_matches_finite_differences);
  tcase_add_test(tc, pattern_and_margin);
  tcase_add_test(tc, activation_facts);
  tcase_add_test(tc, pwa_errors);
  suite_add_tcase(s, tc);
  return s;
}
