/* Sufficient conditions: each verdict (holds, fails with a witness,
 * undecided, not applicable) on networks built so the answer is known. */
#include <math.h>

#include "stability/stab_util.h"

typedef struct {
  nde_net *net;
  nde_pwa *p;
} two;

/* dense(2) -> act -> dense(2), both dense with the given bias flag. */
static two make(int act, int bias, const double *W1, const double *b1, const double *W2,
                const double *b2) {
  nde_layer_spec s[] = {nde_spec_dense(2), nde_spec_act(act), nde_spec_dense(2)};
  s[0].bias = s[2].bias = bias;
  two t;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 3, &t.net), NDE_OK);
  ck_assert_int_eq(nde_pwa_create(2, s, 3, &t.p), NDE_OK);
  su_set_dense(t.net, 0, W1, bias ? b1 : NULL);
  su_set_dense(t.net, 2, W2, bias ? b2 : NULL);
  return t;
}
static void drop(two t) {
  nde_pwa_free(t.p);
  nde_net_free(t.net);
}

static const double samples[] = {1, 1, -1, 1, 1, -1, -1, -1, 0.3, 2, -2, 0.5, 3, -0.7, -0.4, -3};
#define NS 8

START_TEST(global_origin_holds_and_contracts) {
  const double c = cos(0.7), s = sin(0.7);
  const double W1[] = {0.5 * c, -0.5 * s, 0.5 * s, 0.5 * c}, W2[] = {0.9, 0, 0, 0.9};
  two t = make(NDE_LAYER_RELU, 0, W1, NULL, W2, NULL);
  const nde_real *par = nde_net_params(t.net);
  nde_stab_cond g;
  ck_assert_int_eq(nde_stab_global_origin(t.p, par, NS, samples, &g), NDE_OK);
  ck_assert_int_eq(g.verdict, NDE_STAB_HOLDS);
  ck_assert_double_eq_tol(g.bound, 0.45, 1e-6);
  ck_assert(g.sampled <= g.bound + 1e-12 && g.witness >= 0);
  /* The conclusion: ||f(x)|| <= bound ||x|| along orbits. */
  for (int k = 0; k < NS; k++) {
    double x[2] = {samples[2 * k], samples[2 * k + 1]}, f[2];
    nde_pwa_eval(t.p, par, x, f, NULL, NULL, NULL);
    ck_assert(hypot(f[0], f[1]) <= g.bound * hypot(x[0], x[1]) + 1e-12);
  }
  nde_stab_cond ct;
  ck_assert_int_eq(nde_stab_contraction(t.p, par, 0, NULL, &ct), NDE_OK);
  ck_assert_int_eq(ct.verdict, NDE_STAB_HOLDS);
  ck_assert(isnan(ct.sampled) && ct.witness == -1);
  ck_assert_str_eq(nde_stab_verdict_name(g.verdict), "holds");
  drop(t);
}
END_TEST

START_TEST(global_origin_not_applicable_fails_undecided) {
  const double I[] = {1, 0, 0, 1}, b[] = {0.1, 0}, z[] = {0, 0};
  const double half[] = {0.5, 0, 0, 0.5};
  nde_stab_cond g;
  /* bias: f(0) != 0 possible, the theorem does not apply */
  two t = make(NDE_LAYER_RELU, 1, half, b, half, z);
  ck_assert_int_eq(nde_stab_global_origin(t.p, nde_net_params(t.net), NS, samples, &g), NDE_OK);
  ck_assert_int_eq(g.verdict, NDE_STAB_NOT_APPLICABLE);
  ck_assert_double_eq_tol(g.bound, 0.25, 1e-6);
  drop(t);
  /* sigmoid(0) = 1/2 without bias: still not applicable */
  t = make(NDE_LAYER_SIGMOID, 0, half, NULL, half, NULL);
  ck_assert_int_eq(nde_stab_global_origin(t.p, nde_net_params(t.net), 0, NULL, &g), NDE_OK);
  ck_assert_int_eq(g.verdict, NDE_STAB_NOT_APPLICABLE);
  drop(t);
  /* ||A*(1,1)|| = 2: the premise is false at a witness */
  const double two_I[] = {2, 0, 0, 2};
  t = make(NDE_LAYER_RELU, 0, two_I, NULL, I, NULL);
  ck_assert_int_eq(nde_stab_global_origin(t.p, nde_net_params(t.net), NS, samples, &g), NDE_OK);
  ck_assert_int_eq(g.verdict, NDE_STAB_FAILS);
  ck_assert_double_eq_tol(g.sampled, 2, 1e-6);
  ck_assert_int_eq(g.witness, 0);
  drop(t);
  /* bound 2 but the only sample sits where A* is small: undecided */
  const double D[] = {2, 0, 0, 0.1};
  const double one_sample[] = {-1, 1};
  t = make(NDE_LAYER_RELU, 0, D, NULL, I, NULL);
  ck_assert_int_eq(nde_stab_global_origin(t.p, nde_net_params(t.net), 1, one_sample, &g), NDE_OK);
  ck_assert_int_eq(g.verdict, NDE_STAB_UNDECIDED);
  ck_assert_double_eq_tol(g.bound, 2, 1e-6);
  ck_assert_double_eq_tol(g.sampled, 0.1, 1e-6);
  drop(t);
}
END_TEST

START_TEST(contraction_fails_with_witness) {
  const double W1[] = {1.5, 0, 0, 1.5}, I[] = {1, 0, 0, 1}, b[] = {0, 0};
  two t = make(NDE_LAYER_TANH, 1, W1, b, I, b);
  nde_stab_cond c;
  ck_assert_int_eq(nde_stab_contraction(t.p, nde_net_params(t.net), 4, samples, &c), NDE_OK);
  ck_assert_double_eq_tol(c.bound, 1.5, 1e-6);
  /* J(x) = 1.5 diag(1 - tanh^2(1.5 x)) has norm 0.28 at (+-1, +-1) ... */
  ck_assert_int_eq(c.verdict, NDE_STAB_UNDECIDED);
  /* ... but 1.5 at the origin */
  const double origin[] = {0, 0};
  ck_assert_int_eq(nde_stab_contraction(t.p, nde_net_params(t.net), 1, origin, &c), NDE_OK);
  ck_assert_int_eq(c.verdict, NDE_STAB_FAILS);
  ck_assert_double_eq_tol(c.sampled, 1.5, 1e-6);
  drop(t);
  /* relu: samples on a kink are not witnesses */
  const double kink[] = {0, 1};
  t = make(NDE_LAYER_RELU, 0, W1, NULL, I, NULL);
  ck_assert_int_eq(nde_stab_contraction(t.p, nde_net_params(t.net), 1, kink, &c), NDE_OK);
  ck_assert_int_eq(c.witness, -1);
  ck_assert_int_eq(c.verdict, NDE_STAB_UNDECIDED);
  drop(t);
}
END_TEST

START_TEST(local_stability) {
  /* f(x) = tanh(0.5 x + b) with b = (0.2, -0.1): a contraction; its fixed
   * point is found by iteration, then the local test holds there. */
  const double W[] = {0.5, 0, 0, 0.5}, b[] = {0.2, -0.1}, I[] = {1, 0, 0, 1}, z[] = {0, 0};
  two t = make(NDE_LAYER_TANH, 1, W, b, I, z);
  const nde_real *par = nde_net_params(t.net);
  double x[2] = {0, 0}, f[2];
  for (int k = 0; k < 200; k++) {
    nde_pwa_eval(t.p, par, x, f, NULL, NULL, NULL);
    x[0] = f[0], x[1] = f[1];
  }
  nde_stab_cond c;
  ck_assert_int_eq(nde_stab_local(t.p, par, x, 1e-9, &c), NDE_OK);
  ck_assert_int_eq(c.verdict, NDE_STAB_HOLDS);
  ck_assert(c.bound > 0.3 && c.bound < 0.5);
  const double away[] = {1, 1};
  ck_assert_int_eq(nde_stab_local(t.p, par, away, 1e-9, &c), NDE_OK);
  ck_assert_int_eq(c.verdict, NDE_STAB_NOT_APPLICABLE);
  drop(t);
  /* f(x) = 2 x (identity activation): the origin is a fixed point with rho 2 */
  const double two_I[] = {2, 0, 0, 2};
  t = make(NDE_LAYER_IDENTITY, 0, two_I, NULL, I, NULL);
  ck_assert_int_eq(nde_stab_local(t.p, nde_net_params(t.net), z, 0, &c), NDE_OK);
  ck_assert_int_eq(c.verdict, NDE_STAB_FAILS);
  ck_assert_double_eq_tol(c.bound, 2, 1e-12);
  drop(t);
  /* f(x) = relu(x)/2: the origin is fixed but on a kink: not applicable */
  t = make(NDE_LAYER_RELU, 0, I, NULL, W, NULL);
  ck_assert_int_eq(nde_stab_local(t.p, nde_net_params(t.net), z, 0, &c), NDE_OK);
  ck_assert_int_eq(c.verdict, NDE_STAB_NOT_APPLICABLE);
  /* within rounding of the kink counts as on it */
  const double near_kink[2] = {1e-13, -1e-13};
  ck_assert_int_eq(nde_stab_local(t.p, nde_net_params(t.net), near_kink, 1e-9, &c), NDE_OK);
  ck_assert_int_eq(c.verdict, NDE_STAB_NOT_APPLICABLE);
  drop(t);
  /* f(x) = x: rho = 1 exactly, undecided */
  t = make(NDE_LAYER_IDENTITY, 0, I, NULL, I, NULL);
  ck_assert_int_eq(nde_stab_local(t.p, nde_net_params(t.net), away, 0, &c), NDE_OK);
  ck_assert_int_eq(c.verdict, NDE_STAB_UNDECIDED);
  drop(t);
}
END_TEST

START_TEST(condition_errors) {
  nde_layer_spec s[] = {nde_spec_dense(3)};
  nde_pwa *p;
  ck_assert_int_eq(nde_pwa_create(2, s, 1, &p), NDE_OK);
  nde_real par[9] = {0};
  nde_stab_cond c;
  double x[2] = {0, 0};
  ck_assert_int_eq(nde_stab_global_origin(p, par, 0, NULL, &c), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_stab_contraction(p, par, 0, NULL, &c), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_stab_local(p, par, x, 0, &c), NDE_ERR_SHAPE);
  nde_pwa_free(p);
  nde_layer_spec q[] = {nde_spec_dense(2)};
  ck_assert_int_eq(nde_pwa_create(2, q, 1, &p), NDE_OK);
  ck_assert_int_eq(nde_stab_global_origin(p, par, -1, NULL, &c), NDE_ERR_ARG);
  ck_assert_int_eq(nde_stab_contraction(p, par, 2, NULL, &c), NDE_ERR_ARG);
  ck_assert_int_eq(nde_stab_local(p, par, x, -1, &c), NDE_ERR_ARG);
  ck_assert_int_eq(nde_stab_local(p, par, NULL, 0, &c), NDE_ERR_NULL);
  ck_assert_int_eq(nde_stab_global_origin(p, par, 0, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_stab_contraction(NULL, par, 0, NULL, &c), NDE_ERR_NULL);
  double bad[2] = {NAN, 0};
  ck_assert_int_eq(nde_stab_global_origin(p, par, 1, bad, &c), NDE_ERR_NONFINITE);
  ck_assert(strstr(nde_last_error(), "sample 0") != NULL);
  ck_assert_str_eq(nde_stab_verdict_name(99), "unknown");
  nde_pwa_free(p);
}
END_TEST

Suite *conditions_suite(void) {
  Suite *s = suite_create("conditions");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, global_origin_holds_and_contracts);
  tcase_add_test(tc, global_origin_not_applicable_fails_undecided);
  tcase_add_test(tc, contraction_fails_with_witness);
  tcase_add_test(tc, local_stability);
  tcase_add_test(tc, condition_errors);
  suite_add_tcase(s, tc);
  return s;
}
