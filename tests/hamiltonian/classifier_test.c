/* The CH-NODE experiment's classifier: finite-difference gradients of the
 * whole loss (conv, block, linear head, smoothness penalty) for every kind,
 * discrete and continuous; gamma held constant through the backward and
 * recomputed at every forward; a short training run learns. */
#include "hamiltonian/ham_test.h"

enum { IMG = 4, NB = 2, NC = 3 };

/* Central-difference step on nde_real parameters: in the float build the
 * loss carries float rounding of the conv and linear layers (~1e-6 of
 * logits that the Hamiltonian blocks make O(10)), so 1e-3 balances rounding
 * against curvature better than the layers' 1e-2. */
#if NDE_REAL_IS_DOUBLE
#define CLF_FD TU_FD_STEP
#else
#define CLF_FD 1e-3
#endif

static nde_ham_clf *small_clf(int kind, int continuous, double gamma) {
  nde_ham_clf_options o = nde_ham_clf_options_default(kind);
  o.in = nde_shape_chw(1, IMG, IMG);
  o.ham.nf = 4;
  o.ham.nlayers = 3;
  o.ham.h = kind == NDE_HAM_H1_J2 ? 0.2 : 0.5;
  o.ham.kappa = 0.3;
  if (gamma >= 0) {
    o.ham.gamma_auto = 0;
    o.ham.gamma = gamma;
  }
  o.nclasses = NC;
  o.max_batch = NB;
  o.smooth = 0.1; /* large enough to matter in the check */
  o.init_k = 0.7;
  o.init_b = 0.5;
  o.continuous = continuous;
  o.ode.rtol = o.ode.atol = 1e-10;
  o.ode.max_steps = 100000;
  nde_ham_clf *clf;
  ck_assert_int_eq(nde_ham_clf_create(&o, &clf), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 123);
  ck_assert_int_eq(nde_ham_clf_init(clf, &rng), NDE_OK);
  /* Move the linear head away from its small init so every part matters. */
  nde_real *p = nde_ham_clf_params(clf);
  for (size_t i = 0; i < nde_ham_clf_num_params(clf); i++)
    p[i] += (nde_real)(0.05 * nde_rng_normal(&rng));
  return clf;
}

static double clf_loss(nde_ham_clf *clf, const nde_real *x, const int *y) {
  nde_ham_clf_result r;
  ck_assert_int_eq(nde_ham_clf_forward(clf, NB, x, y, 0, &r), NDE_OK);
  return r.loss;
}

static double clf_gradcheck(nde_ham_clf *clf, double step) {
  nde_rng rng;
  nde_rng_seed(&rng, 124);
  nde_real x[NB * IMG * IMG];
  for (int i = 0; i < NB * IMG * IMG; i++) x[i] = (nde_real)nde_rng_normal(&rng);
  const int y[NB] = {2, 0};
  nde_ham_clf_result r;
  ck_assert_int_eq(nde_ham_clf_forward(clf, NB, x, y, 1, &r), NDE_OK);
  ck_assert(r.penalty > 0);
  ck_assert_int_eq(nde_ham_clf_backward(clf, NULL), NDE_OK);
  size_t np = nde_ham_clf_num_params(clf);
  nde_real *p = nde_ham_clf_params(clf);
  const nde_real *g = nde_ham_clf_grads(clf);
  double *an = malloc(np * sizeof *an), *fd = malloc(np * sizeof *fd);
  for (size_t k = 0; k < np; k++) {
    an[k] = g[k];
    nde_real keep = p[k];
    p[k] = keep + (nde_real)step;
    double lp = clf_loss(clf, x, y);
    p[k] = keep - (nde_real)step;
    double lm = clf_loss(clf, x, y);
    p[k] = keep;
    fd[k] = (lp - lm) / (2 * step);
  }
  double e = tu_max_rel_err(an, fd, np);
  free(an);
  free(fd);
  return e;
}

START_TEST(discrete_classifier_gradcheck) {
  int kind = ht_kinds[_i];
  nde_ham_clf *clf = small_clf(kind, 0, kind == NDE_HAM_CHNODE ? 2.0 : -1);
  double e = clf_gradcheck(clf, CLF_FD);
  printf("classifier %-6s (discrete): max rel err %.2e over %zu parameters\n",
         nde_ham_kind_name(kind), e, nde_ham_clf_num_params(clf));
  ck_assert_msg(e <= TU_GRAD_TOL, "%s classifier: %g", nde_ham_kind_name(kind), e);
  nde_ham_clf_free(clf);
}
END_TEST

START_TEST(continuous_classifier_gradcheck) {
  const int kinds[2] = {NDE_HAM_CHNODE, NDE_HAM_H1_J1};
  for (int t = 0; t < 2; t++) {
    nde_ham_clf *clf = small_clf(kinds[t], 1, kinds[t] == NDE_HAM_CHNODE ? 2.0 : -1);
    ck_assert_ptr_nonnull(nde_ham_clf_ode(clf));
#if NDE_REAL_IS_DOUBLE
    double e = clf_gradcheck(clf, 1e-5), tol = 1e-4;
#else
    double e = clf_gradcheck(clf, CLF_FD), tol = TU_GRAD_TOL;
#endif
    printf("classifier %-6s (continuous, adams + checkpoint, rtol 1e-10): max rel err %.2e\n",
           nde_ham_kind_name(kinds[t]), e);
    ck_assert_msg(e <= tol, "%s continuous classifier: %g", nde_ham_kind_name(kinds[t]), e);
    nde_ham_clf_free(clf);
  }
}
END_TEST

/* gamma follows the parameters at every forward and receives no gradient:
 * with gamma_auto the gradient equals the fixed-gamma gradient at the same
 * gamma. */
START_TEST(gamma_recomputed_not_differentiated) {
  nde_ham_clf *a = small_clf(NDE_HAM_CHNODE, 0, -1);
  nde_rng rng;
  nde_rng_seed(&rng, 5);
  nde_real x[NB * IMG * IMG];
  for (int i = 0; i < NB * IMG * IMG; i++) x[i] = (nde_real)nde_rng_normal(&rng);
  const int y[NB] = {1, 2};
  nde_ham_clf_result r;
  ck_assert_int_eq(nde_ham_clf_forward(a, NB, x, y, 1, &r), NDE_OK);
  ck_assert_int_eq(nde_ham_clf_backward(a, NULL), NDE_OK);
  double g0 = r.con.gamma;
  ck_assert_double_eq(nde_ham_gamma(nde_ham_clf_ham(a)), g0);
  nde_ham_clf *b = small_clf(NDE_HAM_CHNODE, 0, g0);
  nde_ham_clf_result rb;
  ck_assert_int_eq(nde_ham_clf_forward(b, NB, x, y, 1, &rb), NDE_OK);
  ck_assert_int_eq(nde_ham_clf_backward(b, NULL), NDE_OK);
  ck_assert_double_eq_tol(rb.loss, r.loss, 1e-12 * (1 + r.loss));
  for (size_t k = 0; k < nde_ham_clf_num_params(a); k++)
    ck_assert_double_eq_tol(nde_ham_clf_grads(a)[k], nde_ham_clf_grads(b)[k],
                            1e-5 * (1 + fabs(nde_ham_clf_grads(b)[k])));
  /* Scale every K by 2: c2 grows, so gamma grows at the next forward. */
  size_t off, cnt;
  nde_ham_clf_block_slice(a, &off, &cnt);
  size_t lp = nde_ham_layer_num_params(nde_ham_clf_ham(a));
  for (size_t k = 0; k < cnt; k++)
    if (k % lp < 16) nde_ham_clf_params(a)[off + k] *= 2;
  ck_assert_int_eq(nde_ham_clf_forward(a, NB, x, NULL, 0, &r), NDE_OK);
  ck_assert(r.con.gamma > 1.5 * g0);
  ck_assert(r.con.rho > 0);
  ck_assert_ptr_nonnull(nde_ham_clf_logits(a));
  ck_assert_ptr_nonnull(nde_ham_clf_block_input(a));
  nde_ham_clf_free(a);
  nde_ham_clf_free(b);
}
END_TEST

/* 40 Adam steps on 16 images of 3 separable classes: the loss falls. */
START_TEST(training_reduces_loss) {
  nde_ham_clf_options o = nde_ham_clf_options_default(NDE_HAM_CHNODE);
  o.in = nde_shape_chw(1, 6, 6);
  o.ham.nlayers = 4;
  o.nclasses = 3;
  o.max_batch = 16;
  nde_ham_clf *clf;
  ck_assert_int_eq(nde_ham_clf_create(&o, &clf), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 6);
  ck_assert_int_eq(nde_ham_clf_init(clf, &rng), NDE_OK);
  nde_real x[16 * 36];
  int y[16];
  for (int i = 0; i < 16; i++) {
    y[i] = i % 3;
    for (int p = 0; p < 36; p++)
      x[i * 36 + p] = (nde_real)((p % 3 == y[i] ? 1.0 : 0.0) + 0.1 * nde_rng_normal(&rng));
  }
  nde_optim_options oo = nde_optim_options_default(NDE_OPTIM_ADAM);
  oo.weight_decay = 2e-4;
  nde_optim *opt;
  size_t np = nde_ham_clf_num_params(clf);
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, np, &oo, &opt), NDE_OK);
  double first = 0, last = 0;
  for (int s = 0; s < 40; s++) {
    nde_ham_clf_result r;
    ck_assert_int_eq(nde_ham_clf_forward(clf, 16, x, y, 1, &r), NDE_OK);
    ck_assert_int_eq(nde_ham_clf_backward(clf, NULL), NDE_OK);
    ck_assert_int_eq(nde_optim_step(opt, nde_ham_clf_params(clf), nde_ham_clf_grads(clf), 0.01),
                     NDE_OK);
    if (s == 0) first = r.xent;
    last = r.xent;
  }
  printf("training: cross-entropy %.4f -> %.4f in 40 Adam steps\n", first, last);
  ck_assert(last < 0.5 * first);
  nde_optim_free(opt);
  nde_ham_clf_free(clf);
}
END_TEST

Suite *ham_classifier_suite(void) {
  Suite *s = suite_create("hamiltonian_classifier");
  TCase *tc = tcase_create("classifier");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, discrete_classifier_gradcheck, 0, 5);
  tcase_add_test(tc, continuous_classifier_gradcheck);
  tcase_add_test(tc, gamma_recomputed_not_differentiated);
  tcase_add_test(tc, training_reduces_loss);
  suite_add_tcase(s, tc);
  return s;
}
