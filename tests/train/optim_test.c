/* Optimizers: SGD (momentum, weight decay, Nesterov, dampening) and Adam /
 * AdamW against values computed by hand from PyTorch's update rules
 * (torch.optim.SGD / Adam / AdamW documentation), plus state access,
 * decay masks and bad arguments. */
#include <math.h>
#include <string.h>

#include "train_test.h"

/* Run steps of opt from p0 with the given gradients (2 parameters each). */
static void run2(nde_optim *opt, nde_real p[2], const double g[][2], int steps, double lr) {
  for (int s = 0; s < steps; s++) {
    nde_real gr[2] = {(nde_real)g[s][0], (nde_real)g[s][1]};
    ck_assert_int_eq(nde_optim_step(opt, p, gr, lr), NDE_OK);
  }
}

static const double G3[3][2] = {{1, 0}, {0, 2}, {-1, 1}};

START_TEST(sgd_plain) {
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, NULL, &opt), NDE_OK);
  nde_real p[2] = {1, 1}, g[2] = {2, -4};
  ck_assert_int_eq(nde_optim_step(opt, p, g, 0.5), NDE_OK);
  ck_assert_double_eq_tol(p[0], 0, TT_TOL);
  ck_assert_double_eq_tol(p[1], 3, TT_TOL);
  nde_real *st;
  size_t cnt = 99;
  ck_assert_int_eq(nde_optim_state(opt, &st, &cnt), NDE_OK);
  ck_assert_uint_eq(cnt, 0); /* no momentum: no state */
  ck_assert_int_eq(nde_optim_steps(opt), 1);
  nde_optim_free(opt);
}
END_TEST

/* mu = 0.9, wd = 0.5, lr = 0.1, p0 = (1, -2):
 * 1: g' = (1.5, -1), v = g', p = (0.85, -1.9)
 * 2: g' = (0.425, 1.05), v = (1.775, 0.15), p = (0.6725, -1.915)
 * 3: g' = (-0.66375, 0.0425), v = (0.93375, 0.1775), p = (0.579125, -1.93275) */
START_TEST(sgd_momentum_weight_decay) {
  nde_optim_options o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.momentum = 0.9;
  o.weight_decay = 0.5;
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, &o, &opt), NDE_OK);
  nde_real p[2] = {1, -2};
  const double want[3][2] = {{0.85, -1.9}, {0.6725, -1.915}, {0.579125, -1.93275}};
  const double wantv[3][2] = {{1.5, -1}, {1.775, 0.15}, {0.93375, 0.1775}};
  nde_real *v;
  size_t cnt;
  ck_assert_int_eq(nde_optim_state(opt, &v, &cnt), NDE_OK);
  ck_assert_uint_eq(cnt, 2);
  for (int s = 0; s < 3; s++) {
    run2(opt, p, &G3[s], 1, 0.1);
    for (int i = 0; i < 2; i++) {
      ck_assert_double_eq_tol(p[i], want[s][i], TT_TOL);
      ck_assert_double_eq_tol(v[i], wantv[s][i], TT_TOL);
    }
  }
  ck_assert_int_eq(nde_optim_steps(opt), 3);
  nde_optim_free(opt);
}
END_TEST

/* Nesterov, mu = 0.9, lr = 0.1, p0 = (1, -2): d = g + mu v
 * 1: v = (1, 0), d = (1.9, 0), p = (0.81, -2)
 * 2: v = (0.9, 2), d = (0.81, 3.8), p = (0.729, -2.38)
 * 3: v = (-0.19, 2.8), d = (-1.171, 3.52), p = (0.8461, -2.732) */
START_TEST(sgd_nesterov) {
  nde_optim_options o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.momentum = 0.9;
  o.nesterov = 1;
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, &o, &opt), NDE_OK);
  nde_real p[2] = {1, -2};
  const double want[3][2] = {{0.81, -2}, {0.729, -2.38}, {0.8461, -2.732}};
  for (int s = 0; s < 3; s++) {
    run2(opt, p, &G3[s], 1, 0.1);
    ck_assert_double_eq_tol(p[0], want[s][0], TT_TOL);
    ck_assert_double_eq_tol(p[1], want[s][1], TT_TOL);
  }
  nde_optim_free(opt);
}
END_TEST

/* PyTorch starts the momentum buffer at the undamped gradient:
 * mu = 0.9, dampening 0.5, g = 1, lr = 1: v = 1, 1.4, 1.76; p = -1, -2.4, -4.16. */
START_TEST(sgd_dampening_first_step) {
  nde_optim_options o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.momentum = 0.9;
  o.dampening = 0.5;
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 1, &o, &opt), NDE_OK);
  nde_real p = 0, g = 1;
  const double want[3] = {-1, -2.4, -4.16};
  for (int s = 0; s < 3; s++) {
    ck_assert_int_eq(nde_optim_step(opt, &p, &g, 1.0), NDE_OK);
    ck_assert_double_eq_tol(p, want[s], 4 * TT_TOL);
  }
  nde_optim_free(opt);
}
END_TEST

static const double GA[3][2] = {{0.5, -2}, {-1, 0.25}, {2, -0.5}};

/* Adam: p -= lr m_hat / (sqrt(v_hat) + eps), the documented pseudo-code,
 * evaluated in double by hand (Python) for lr = 0.1, betas (0.9, 0.999),
 * eps 1e-8, p0 = (1, -1). Step 1 with wd = 0: m_hat = g, v_hat = g^2, so
 * p moves by lr sign(g) up to eps: (0.9 + 2e-9, -0.9 - 5e-10). */
static void adam_case(double wd, int decoupled, const double want[3][2]) {
  nde_optim_options o = nde_optim_options_default(NDE_OPTIM_ADAM);
  ck_assert_double_eq(o.beta1, 0.9);
  ck_assert_double_eq(o.beta2, 0.999);
  ck_assert_double_eq(o.eps, 1e-8);
  o.weight_decay = wd;
  o.decoupled = decoupled;
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 2, &o, &opt), NDE_OK);
  nde_real p[2] = {1, -1};
  double tol = NDE_REAL_IS_DOUBLE ? 1e-12 : 1e-5;
  for (int s = 0; s < 3; s++) {
    run2(opt, p, &GA[s], 1, 0.1);
    ck_assert_msg(fabs(p[0] - want[s][0]) < tol && fabs(p[1] - want[s][1]) < tol,
                  "adam wd %g decoupled %d step %d: got (%.17g, %.17g) want (%.17g, %.17g)", wd,
                  decoupled, s + 1, (double)p[0], (double)p[1], want[s][0], want[s][1]);
  }
  nde_real *st;
  size_t cnt;
  ck_assert_int_eq(nde_optim_state(opt, &st, &cnt), NDE_OK);
  ck_assert_uint_eq(cnt, 4);
  ck_assert_int_eq(nde_optim_steps(opt), 3);
  nde_optim_free(opt);
}

START_TEST(adam_no_decay) {
  const double want[3][2] = {{0.90000000199999997, -0.90000000049999995},
                             {0.93661035424056538, -0.84274654332895549},
                             {0.8946447927181046, -0.78439867976007438}};
  adam_case(0, 0, want);
}
END_TEST

START_TEST(adam_coupled_decay) {
  const double want[3][2] = {{0.9000000016666666, -0.90000000047619044},
                             {0.92526351944560614, -0.83884405140723761},
                             {0.87761726080493252, -0.77620952070748661}};
  adam_case(0.1, 0, want);
}
END_TEST

START_TEST(adamw_decoupled_decay) {
  const double want[3][2] = {{0.89000000199999996, -0.89000000049999994},
                             {0.91771035422056535, -0.82384654332395546},
                             {0.86656768915589888, -0.75726021432183477}};
  adam_case(0.1, 1, want);
}
END_TEST

/* Adam's first and second moments after step 1 (wd = 0): m = 0.1 g, v = 0.001 g^2. */
START_TEST(adam_state_layout) {
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 2, NULL, &opt), NDE_OK);
  nde_real p[2] = {1, -1};
  run2(opt, p, GA, 1, 0.1);
  nde_real *st;
  size_t cnt;
  ck_assert_int_eq(nde_optim_state(opt, &st, &cnt), NDE_OK);
  ck_assert_double_eq_tol(st[0], 0.05, TT_TOL);
  ck_assert_double_eq_tol(st[1], -0.2, TT_TOL);
  ck_assert_double_eq_tol(st[2], 0.00025, TT_TOL);
  ck_assert_double_eq_tol(st[3], 0.004, TT_TOL);
  nde_optim_reset(opt);
  ck_assert_int_eq(nde_optim_steps(opt), 0);
  for (int i = 0; i < 4; i++) ck_assert(st[i] == 0);
  nde_optim_reset(NULL);
  nde_optim_free(opt);
}
END_TEST

/* Restoring state + step count into a fresh optimizer continues bit for bit. */
START_TEST(restore_continues_exactly) {
  for (int kind = NDE_OPTIM_SGD; kind <= NDE_OPTIM_ADAM; kind++) {
    nde_optim_options o = nde_optim_options_default(kind);
    o.momentum = kind == NDE_OPTIM_SGD ? 0.9 : 0;
    o.weight_decay = 0.01;
    nde_optim *a, *b;
    ck_assert_int_eq(nde_optim_create(kind, 2, &o, &a), NDE_OK);
    ck_assert_int_eq(nde_optim_create(kind, 2, &o, &b), NDE_OK);
    nde_real pa[2] = {1, -1};
    run2(a, pa, GA, 2, 0.05);
    nde_real *sa, *sb;
    size_t ca, cb;
    ck_assert_int_eq(nde_optim_state(a, &sa, &ca), NDE_OK);
    ck_assert_int_eq(nde_optim_state(b, &sb, &cb), NDE_OK);
    ck_assert_uint_eq(ca, cb);
    memcpy(sb, sa, ca * sizeof *sa);
    ck_assert_int_eq(nde_optim_set_steps(b, nde_optim_steps(a)), NDE_OK);
    nde_real pb[2] = {pa[0], pa[1]}, pc[2] = {pa[0], pa[1]};
    run2(a, pa, &GA[2], 1, 0.05);
    run2(b, pb, &GA[2], 1, 0.05);
    ck_assert(pa[0] == pb[0] && pa[1] == pb[1]);
    /* Without the step count, SGD would restart its buffer and Adam its bias
     * correction: the result differs. */
    nde_optim *c;
    ck_assert_int_eq(nde_optim_create(kind, 2, &o, &c), NDE_OK);
    nde_real *sc;
    size_t cc;
    ck_assert_int_eq(nde_optim_state(c, &sc, &cc), NDE_OK);
    memcpy(sc, sa, ca * sizeof *sa);
    run2(c, pc, &GA[2], 1, 0.05);
    ck_assert(pc[0] != pa[0] || pc[1] != pa[1]);
    nde_optim_free(a);
    nde_optim_free(b);
    nde_optim_free(c);
  }
}
END_TEST

/* Weight decay only where the mask says so: lr 1, g = 0, wd 0.5 -> p *= 0.5. */
START_TEST(decay_mask_and_ranges) {
  nde_optim_options o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.weight_decay = 0.5;
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 4, &o, &opt), NDE_OK);
  nde_real p[4] = {2, 2, 2, 2}, g[4] = {0, 0, 0, 0};
  ck_assert_int_eq(nde_optim_exclude_decay(opt, 1, 2), NDE_OK);
  ck_assert_int_eq(nde_optim_step(opt, p, g, 1.0), NDE_OK);
  ck_assert_double_eq_tol(p[0], 1, TT_TOL);
  ck_assert_double_eq_tol(p[1], 2, TT_TOL);
  ck_assert_double_eq_tol(p[2], 2, TT_TOL);
  ck_assert_double_eq_tol(p[3], 1, TT_TOL);
  const unsigned char mask[4] = {0, 7, 0, 0};
  ck_assert_int_eq(nde_optim_set_decay_mask(opt, mask), NDE_OK);
  ck_assert_int_eq(nde_optim_step(opt, p, g, 1.0), NDE_OK);
  ck_assert_double_eq_tol(p[0], 1, TT_TOL);
  ck_assert_double_eq_tol(p[1], 1, TT_TOL);
  ck_assert_int_eq(nde_optim_set_decay_mask(opt, NULL), NDE_OK); /* decay all again */
  ck_assert_int_eq(nde_optim_step(opt, p, g, 1.0), NDE_OK);
  ck_assert_double_eq_tol(p[2], 1, TT_TOL);
  /* A mask set before any exclusion starts from the caller's flags. */
  ck_assert_int_eq(nde_optim_set_decay_mask(opt, mask), NDE_OK);
  ck_assert_int_eq(nde_optim_exclude_decay(opt, 1, 1), NDE_OK);
  nde_real q[4] = {2, 2, 2, 2};
  ck_assert_int_eq(nde_optim_step(opt, q, g, 1.0), NDE_OK);
  for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(q[i], 2, TT_TOL);
  /* AdamW honours the mask too: excluded weights keep their value at g = 0. */
  nde_optim_options oa = nde_optim_options_default(NDE_OPTIM_ADAM);
  oa.weight_decay = 0.5;
  oa.decoupled = 1;
  nde_optim *adam;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 2, &oa, &adam), NDE_OK);
  ck_assert_int_eq(nde_optim_exclude_decay(adam, 0, 1), NDE_OK);
  nde_real pa[2] = {2, 2};
  ck_assert_int_eq(nde_optim_step(adam, pa, g, 0.1), NDE_OK);
  ck_assert_double_eq_tol(pa[0], 2, TT_TOL);
  ck_assert_double_eq_tol(pa[1], 1.9, TT_TOL);
  nde_optim_free(adam);
  nde_optim_free(opt);
}
END_TEST

START_TEST(accessors) {
  nde_optim_options o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.momentum = 0.5;
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 3, &o, &opt), NDE_OK);
  ck_assert_int_eq(nde_optim_get_kind(opt), NDE_OPTIM_SGD);
  ck_assert_uint_eq(nde_optim_size(opt), 3);
  ck_assert_double_eq(nde_optim_get_options(opt).momentum, 0.5);
  ck_assert_str_eq(nde_optim_kind_name(NDE_OPTIM_SGD), "sgd");
  ck_assert_str_eq(nde_optim_kind_name(NDE_OPTIM_ADAM), "adam");
  ck_assert_str_eq(nde_optim_kind_name(42), "unknown");
  ck_assert_uint_eq(nde_optim_size(NULL), 0);
  ck_assert_int_eq(nde_optim_steps(NULL), 0);
  ck_assert_int_eq(nde_optim_get_kind(NULL), 0);
  ck_assert_double_eq(nde_optim_get_options(NULL).momentum, 0);
  nde_optim_free(opt);
  nde_optim_free(NULL);
}
END_TEST

START_TEST(bad_arguments) {
  nde_optim *opt = (nde_optim *)0x1;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_optim_create((nde_optim_kind)7, 2, NULL, &opt), NDE_ERR_KIND);
  ck_assert_ptr_null(opt);
  TT_MSG_HAS("7");
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 0, NULL, &opt), NDE_ERR_ARG);
  TT_MSG_HAS("0 parameters");
  nde_optim_options o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.momentum = 1.0;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, &o, &opt), NDE_ERR_ARG);
  TT_MSG_HAS("momentum");
  o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.weight_decay = -1;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, &o, &opt), NDE_ERR_ARG);
  TT_MSG_HAS("weight_decay");
  o.weight_decay = NAN;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, &o, &opt), NDE_ERR_ARG);
  o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.dampening = 1.5;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, &o, &opt), NDE_ERR_ARG);
  TT_MSG_HAS("dampening");
  o = nde_optim_options_default(NDE_OPTIM_SGD);
  o.nesterov = 1;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, &o, &opt), NDE_ERR_ARG);
  TT_MSG_HAS("Nesterov");
  o.momentum = 0.9;
  o.dampening = 0.1;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, &o, &opt), NDE_ERR_ARG);
  o = nde_optim_options_default(NDE_OPTIM_ADAM);
  o.beta2 = 1.0;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 2, &o, &opt), NDE_ERR_ARG);
  TT_MSG_HAS("betas");
  o = nde_optim_options_default(NDE_OPTIM_ADAM);
  o.eps = 0;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 2, &o, &opt), NDE_ERR_ARG);
  TT_MSG_HAS("eps");
  ck_assert_ptr_null(opt);

  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 2, NULL, &opt), NDE_OK);
  nde_real p[2] = {1, 2}, g[2] = {0, 0};
  ck_assert_int_eq(nde_optim_step(NULL, p, g, 0.1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_optim_step(opt, NULL, g, 0.1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_optim_step(opt, p, NULL, 0.1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_optim_step(opt, p, g, NAN), NDE_ERR_ARG);
  TT_MSG_HAS("learning rate");
  ck_assert_int_eq(nde_optim_step(opt, p, g, -0.1), NDE_ERR_ARG);
  ck_assert_int_eq(nde_optim_step(opt, p, g, INFINITY), NDE_ERR_ARG);
  ck_assert_int_eq(nde_optim_step(opt, p, p, 0.1), NDE_ERR_ARG);
  TT_MSG_HAS("same buffer");
  ck_assert_int_eq(nde_optim_steps(opt), 0); /* failed steps do not count */
  ck_assert(p[0] == 1 && p[1] == 2);
  ck_assert_int_eq(nde_optim_exclude_decay(opt, 1, 2), NDE_ERR_ARG);
  TT_MSG_HAS("outside");
  ck_assert_int_eq(nde_optim_exclude_decay(opt, 3, 0), NDE_ERR_ARG);
  ck_assert_int_eq(nde_optim_exclude_decay(NULL, 0, 1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_optim_set_decay_mask(NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_optim_set_steps(opt, -1), NDE_ERR_ARG);
  ck_assert_int_eq(nde_optim_set_steps(NULL, 1), NDE_ERR_NULL);
  nde_real *st;
  size_t cnt;
  ck_assert_int_eq(nde_optim_state(NULL, &st, &cnt), NDE_ERR_NULL);
  ck_assert_int_eq(nde_optim_state(opt, NULL, &cnt), NDE_ERR_NULL);
  ck_assert_int_eq(nde_optim_state(opt, &st, NULL), NDE_ERR_NULL);
  nde_optim_free(opt);
}
END_TEST

Suite *optim_suite(void) {
  Suite *s = suite_create("optim");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, sgd_plain);
  tcase_add_test(tc, sgd_momentum_weight_decay);
  tcase_add_test(tc, sgd_nesterov);
  tcase_add_test(tc, sgd_dampening_first_step);
  tcase_add_test(tc, adam_no_decay);
  tcase_add_test(tc, adam_coupled_decay);
  tcase_add_test(tc, adamw_decoupled_decay);
  tcase_add_test(tc, adam_state_layout);
  tcase_add_test(tc, restore_continues_exactly);
  tcase_add_test(tc, decay_mask_and_ranges);
  tcase_add_test(tc, accessors);
  tcase_add_test(tc, bad_arguments);
  suite_add_tcase(s, tc);
  return s;
}
