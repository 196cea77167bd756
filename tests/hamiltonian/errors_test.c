/* Every error path of hamiltonian/: bad options, arguments, batches, call
 * order, non-finite values, solver failures; messages name the problem. */
#include "hamiltonian/ham_test.h"

static int create_with(nde_ham_options o) {
  nde_ham *ham = (nde_ham *)&o; /* must be reset to NULL on failure */
  int rc = nde_ham_create(&o, &ham);
  if (rc) ck_assert_ptr_eq(ham, NULL);
  nde_ham_free(ham);
  return rc;
}

START_TEST(create_errors) {
  nde_ham_options o = nde_ham_options_default(NDE_HAM_CHNODE);
  nde_ham *ham;
  ck_assert_int_eq(nde_ham_create(NULL, &ham), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_create(&o, NULL), NDE_ERR_NULL);
  nde_ham_options b = o;
  b.kind = 42;
  ck_assert_int_eq(create_with(b), NDE_ERR_KIND);
  b = o;
  b.nf = 0;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b = o;
  b.nf = 5;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "even"));
  b.kind = NDE_HAM_H2;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b.kind = NDE_HAM_H1_J1;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b.kind = NDE_HAM_R1; /* any nf */
  ck_assert_int_eq(create_with(b), NDE_OK);
  b.kind = NDE_HAM_H1_J2;
  ck_assert_int_eq(create_with(b), NDE_OK);
  b.nf = 1;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b = o;
  b.nlayers = 0;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b = o;
  b.h = 0;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b.h = NAN;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b = o;
  b.max_batch = 0;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b = o;
  b.kappa = -1;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  b.kappa = 0; /* with gamma_auto */
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "kappa"));
  b.gamma_auto = 0;
  b.gamma = 3;
  ck_assert_int_eq(create_with(b), NDE_OK);
  b.gamma = INFINITY;
  ck_assert_int_eq(create_with(b), NDE_ERR_ARG);
  int k;
  ck_assert_int_eq(nde_ham_kind_parse("h3", &k), NDE_ERR_KIND);
  ck_assert_int_eq(nde_ham_kind_parse(NULL, &k), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_kind_parse("r1", NULL), NDE_ERR_NULL);
  nde_ham_free(NULL);
  ck_assert_uint_eq(nde_ham_num_params(NULL), 0);
  ck_assert_ptr_eq(nde_ham_params(NULL), NULL);
}
END_TEST

START_TEST(call_errors) {
  nde_ham *ham = ht_make(NDE_HAM_CHNODE, 4, 2, 0.5, 0.2, 2, 1.0, 1.0, 1);
  double y[8] = {0}, f[8], a[8] = {0}, jac[16];
  nde_rng rng;
  nde_rng_seed(&rng, 1);
  ck_assert_int_eq(nde_ham_init(NULL, &rng, 1, 1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_init(ham, NULL, 1, 1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_init(ham, &rng, -1, 1), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_rhs(ham, 2, 1, y, f), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "layer 2"));
  ck_assert_int_eq(nde_ham_rhs(ham, -1, 1, y, f), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_rhs(ham, 0, 3, y, f), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_rhs(ham, 0, 0, y, f), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_rhs(NULL, 0, 1, y, f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_rhs(ham, 0, 1, NULL, f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_rhs(ham, 0, 1, y, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_vjp(ham, 0, 1, y, a, a, NULL), NDE_ERR_ARG); /* aliasing */
  ck_assert_int_eq(nde_ham_vjp(ham, 5, 1, y, a, f, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_vjp(ham, 0, 9, y, a, f, NULL), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_vjp(ham, 0, 1, y, NULL, f, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_vjp(NULL, 0, 1, y, a, f, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_vjp(ham, 0, 1, NULL, a, f, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_jvp(ham, 0, 1, y, a, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_jvp(NULL, 0, 1, y, a, f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_jvp(ham, 0, 1, NULL, a, f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_jvp(ham, 0, 1, y, NULL, f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_jvp(ham, 3, 1, y, a, f), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_jvp(ham, 0, 7, y, a, f), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_jacobian(ham, 2, y, jac), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_jacobian(NULL, 0, y, jac), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_jacobian(ham, 0, NULL, jac), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_jacobian(ham, 0, y, NULL), NDE_ERR_NULL);
  nde_field *fld = (nde_field *)ham;
  ck_assert_int_eq(nde_ham_field_create(ham, 2, &fld), NDE_ERR_ARG);
  ck_assert_ptr_eq(fld, NULL);
  ck_assert_int_eq(nde_ham_field_create(NULL, 0, &fld), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_field_create(ham, 0, NULL), NDE_ERR_NULL);
  /* Discrete network: order, batch, non-finite. */
  ck_assert_int_eq(nde_ham_backward(ham, a, NULL, NULL), NDE_ERR_STATE);
  ck_assert_int_eq(nde_ham_backward(NULL, a, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_backward(ham, NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_forward(ham, 3, y, f), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_forward(NULL, 1, y, f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_forward(ham, 1, NULL, f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_step_jacobians(ham, 1, y, NULL), NDE_ERR_NULL);
  y[1] = NAN;
  ck_assert_int_eq(nde_ham_forward(ham, 1, y, f), NDE_ERR_NONFINITE);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "non-finite"));
  ck_assert_int_eq(nde_ham_backward(ham, a, NULL, NULL), NDE_ERR_STATE); /* failed forward */
  y[1] = 0;
  /* gamma */
  nde_ham_params(ham)[3] = INFINITY;
  ck_assert_int_eq(nde_ham_update_gamma(ham, NULL), NDE_ERR_NONFINITE);
  nde_ham_params(ham)[3] = 0.5;
  ck_assert_int_eq(nde_ham_update_gamma(NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_set_gamma(ham, NAN), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_set_gamma(NULL, 1), NDE_ERR_NULL);
  nde_ham *h1 = ht_make(NDE_HAM_H1_J1, 4, 1, 0.5, 0, 1, 1, 1, 2);
  ck_assert_int_eq(nde_ham_set_gamma(h1, 1.0), NDE_ERR_KIND);
  nde_ham_contraction c;
  ck_assert_int_eq(nde_ham_update_gamma(h1, &c), NDE_OK); /* constants still reported */
  ck_assert_double_eq(c.gamma, 0);
  ck_assert(c.lambda_max_ktk > 0);
  nde_ham_free(h1);
  nde_ham_free(ham);
}
END_TEST

START_TEST(block_ode_errors) {
  nde_ham *ham = ht_make(NDE_HAM_CHNODE, 4, 2, 0.5, 0.2, 2, 1.0, 1.0, 3);
  nde_ham_ode *blk = (nde_ham_ode *)ham;
  ck_assert_int_eq(nde_ham_ode_create(ham, NULL, 3, &blk), NDE_ERR_BATCH);
  ck_assert_ptr_eq(blk, NULL);
  ck_assert_int_eq(nde_ham_ode_create(ham, NULL, 0, &blk), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_ode_create(NULL, NULL, 1, &blk), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_ode_create(ham, NULL, 1, NULL), NDE_ERR_NULL);
  nde_ode_options o = nde_ode_options_default();
  o.method = NDE_ODE_DOPRI5; /* with the default checkpoint adjoint: unsupported */
  ck_assert_int_eq(nde_ham_ode_create(ham, &o, 2, &blk), NDE_ERR_ARG);
  o.method = NDE_ODE_ADAMS;
  o.rtol = -1;
  ck_assert_int_eq(nde_ham_ode_create(ham, &o, 2, &blk), NDE_ERR_ARG);
  o = nde_ode_options_default();
  o.adjoint = NDE_ADJ_NONE;
  ck_assert_int_eq(nde_ham_ode_create(ham, &o, 2, &blk), NDE_OK);
  double y[8] = {1, 2, 3, 4, 5, 6, 7, 8}, yN[8], phi[2 * 2 * 16];
  ck_assert_int_eq(nde_ham_ode_forward(blk, 2, y, yN, 1), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_ode_layer_jacobians(blk, 2, y, phi), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_ode_forward(blk, 2, y, yN, 0), NDE_OK);
  ck_assert_int_eq(nde_ham_ode_backward(blk, yN, NULL, NULL), NDE_ERR_STATE);
  ck_assert_int_eq(nde_ham_ode_forward(blk, 3, y, yN, 0), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_ode_forward(NULL, 1, y, yN, 0), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_ode_forward(blk, 1, NULL, yN, 0), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_ode_backward(NULL, yN, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_ode_backward(blk, NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_ode_layer_jacobians(NULL, 1, y, phi), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_ode_layer_jacobians(blk, 1, NULL, phi), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_ode_layer_jacobians(blk, 1, y, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_ode_layer_jacobians(blk, 9, y, phi), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_ode_stats(NULL, NULL, NULL), NDE_ERR_NULL);
  nde_ham_ode_free(blk);
  /* A solver failure names the layer it happened in. */
  o = nde_ode_options_default();
  o.method = NDE_ODE_DOPRI5;
  o.adjoint = NDE_ADJ_BACKSOLVE;
  o.rtol = o.atol = 1e-12;
  o.max_steps = 2;
  ck_assert_int_eq(nde_ham_ode_create(ham, &o, 2, &blk), NDE_OK);
  ck_assert_int_eq(nde_ham_ode_forward(blk, 2, y, yN, 1), NDE_ERR_MAXSTEPS);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "layer 0"));
  ck_assert_int_eq(nde_ham_ode_backward(blk, yN, NULL, NULL), NDE_ERR_STATE);
  nde_ham_ode_free(blk);
  nde_ham_ode_free(NULL);
  nde_ham_free(ham);
}
END_TEST

START_TEST(analysis_and_noise_errors) {
  double a[4] = {1, 0, 0, 1}, r, phi[8] = {0};
  ck_assert_int_eq(nde_ham_mu2(0, a, &r), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_mu2(2, NULL, &r), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_mu2(2, a, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_norm2(-1, a, &r), NDE_ERR_ARG);
  a[2] = NAN;
  ck_assert_int_eq(nde_ham_norm2(2, a, &r), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_ham_mu2(2, a, &r), NDE_ERR_NONFINITE);
  ck_assert_int_eq(nde_ham_bsm_norms(0, 1, 2, phi, NULL, NULL, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_bsm_norms(2, 0, 2, phi, NULL, NULL, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_bsm_norms(2, 1, 0, phi, NULL, NULL, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_bsm_norms(2, 1, 2, NULL, NULL, NULL, NULL), NDE_ERR_NULL);
  phi[0] = INFINITY;
  ck_assert_int_eq(nde_ham_bsm_norms(1, 1, 2, phi, NULL, NULL, NULL), NDE_ERR_NONFINITE);
  nde_real x[4] = {0};
  nde_rng rng;
  nde_rng_seed(&rng, 1);
  ck_assert_int_eq(nde_ham_noise_gaussian(x, 4, -0.1, 0, 1, &rng), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_noise_gaussian(x, 4, NAN, 0, 1, &rng), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_noise_gaussian(x, 4, 0.1, 1, 1, &rng), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_noise_gaussian(x, 4, 0.1, 0, INFINITY, &rng), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_noise_gaussian(NULL, 4, 0.1, 0, 1, &rng), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_noise_gaussian(x, 4, 0.1, 0, 1, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_noise_salt_pepper(x, 4, 1.5, 0, 1, &rng), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_noise_salt_pepper(x, 4, -0.1, 0, 1, &rng), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_noise_salt_pepper(x, 4, 0.1, 2, 1, &rng), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_noise_salt_pepper(NULL, 4, 0.1, 0, 1, &rng), NDE_ERR_NULL);
}
END_TEST

START_TEST(classifier_errors) {
  nde_ham_clf_options o = nde_ham_clf_options_default(NDE_HAM_CHNODE);
  o.in = nde_shape_chw(1, 3, 3);
  o.ham.nf = 2;
  o.ham.nlayers = 2;
  o.nclasses = 2;
  o.max_batch = 2;
  nde_ham_clf *clf = (nde_ham_clf *)&o;
  ck_assert_int_eq(nde_ham_clf_create(NULL, &clf), NDE_ERR_NULL);
  ck_assert_ptr_eq(clf, NULL);
  ck_assert_int_eq(nde_ham_clf_create(&o, NULL), NDE_ERR_NULL);
  nde_ham_clf_options b = o;
  b.in.h = 0;
  ck_assert_int_eq(nde_ham_clf_create(&b, &clf), NDE_ERR_SHAPE);
  b = o;
  b.nclasses = 1;
  ck_assert_int_eq(nde_ham_clf_create(&b, &clf), NDE_ERR_ARG);
  b = o;
  b.max_batch = 0;
  ck_assert_int_eq(nde_ham_clf_create(&b, &clf), NDE_ERR_ARG);
  b = o;
  b.max_batch = 1 << 24;
  ck_assert_int_eq(nde_ham_clf_create(&b, &clf), NDE_ERR_ARG);
  b = o;
  b.smooth = -1;
  ck_assert_int_eq(nde_ham_clf_create(&b, &clf), NDE_ERR_ARG);
  b = o;
  b.init_k = NAN;
  ck_assert_int_eq(nde_ham_clf_create(&b, &clf), NDE_ERR_ARG);
  b = o;
  b.ham.nf = 3; /* odd: from the block */
  ck_assert_int_eq(nde_ham_clf_create(&b, &clf), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "nde_ham_clf_create"));
  b = o;
  b.continuous = 1;
  b.ode.method = NDE_ODE_BOSH3; /* + checkpoint: unsupported */
  ck_assert_int_eq(nde_ham_clf_create(&b, &clf), NDE_ERR_ARG);
  ck_assert_ptr_eq(clf, NULL);
  ck_assert_int_eq(nde_ham_clf_create(&o, &clf), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 4);
  ck_assert_int_eq(nde_ham_clf_init(clf, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_clf_init(NULL, &rng), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_clf_init(clf, &rng), NDE_OK);
  nde_real x[18] = {0};
  int y[2] = {0, 1}, bad[2] = {0, 5};
  ck_assert_int_eq(nde_ham_clf_backward(clf, NULL), NDE_ERR_STATE);
  ck_assert_int_eq(nde_ham_clf_forward(clf, 3, x, y, 1, NULL), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_ham_clf_forward(clf, 1, x, NULL, 1, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_clf_forward(clf, 2, x, bad, 1, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ham_clf_forward(NULL, 1, x, y, 0, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_clf_forward(clf, 1, NULL, y, 0, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ham_clf_forward(clf, 2, x, y, 0, NULL), NDE_OK);
  ck_assert_int_eq(nde_ham_clf_backward(clf, NULL), NDE_ERR_STATE); /* grad = 0 */
  ck_assert_int_eq(nde_ham_clf_backward(NULL, NULL), NDE_ERR_NULL);
  size_t off;
  ck_assert_int_eq(nde_ham_clf_block_slice(NULL, &off, NULL), NDE_ERR_NULL);
  nde_ham_clf_params(clf)[off = 0] = NAN; /* a conv weight */
  ck_assert_int_eq(nde_ham_clf_forward(clf, 2, x, y, 1, NULL), NDE_ERR_NONFINITE);
  ck_assert_ptr_eq(nde_ham_clf_logits(clf), NULL);
  ck_assert_int_eq(nde_ham_clf_backward(clf, NULL), NDE_ERR_STATE);
  nde_ham_clf_block_slice(clf, &off, NULL);
  nde_ham_clf_params(clf)[0] = 0;
  nde_ham_clf_params(clf)[off] = INFINITY; /* a K entry: gamma cannot be computed */
  ck_assert_int_eq(nde_ham_clf_forward(clf, 2, x, y, 1, NULL), NDE_ERR_NONFINITE);
  nde_ham_clf_free(clf);
  nde_ham_clf_free(NULL);
  ck_assert_ptr_eq(nde_ham_clf_params(NULL), NULL);
  ck_assert_ptr_eq(nde_ham_clf_get_options(NULL), NULL);
}
END_TEST

Suite *ham_errors_suite(void) {
  Suite *s = suite_create("hamiltonian_errors");
  TCase *tc = tcase_create("errors");
  tcase_add_test(tc, create_errors);
  tcase_add_test(tc, call_errors);
  tcase_add_test(tc, block_ode_errors);
  tcase_add_test(tc, analysis_and_noise_errors);
  tcase_add_test(tc, classifier_errors);
  suite_add_tcase(s, tc);
  return s;
}
