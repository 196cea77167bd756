/* Divergence of the training loop: an exploding or non-finite loss, or an
 * ODE solve that gives up, stops the run with NDE_ERR_DIVERGED and a message
 * naming the epoch, the batch and the cause, and never replaces the last
 * good checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_test.h"

static nde_train_options tiny_options(const char *dir, int epochs, double lr) {
  nde_train_options t = nde_train_options_default();
  t.epochs = epochs;
  t.batch = 16;
  t.crop_pad = 1;
  t.out_dir = dir;
  ck_assert_int_eq(nde_schedule_constant(&t.schedule, lr), NDE_OK);
  return t;
}

static int train(int method, const nde_dataset *train, const nde_train_options *t) {
  nde_model *m;
  ck_assert_int_eq(tt_tiny_model(2, method, &m), NDE_OK);
  int rc = nde_train_run(m, train, NULL, t, NULL);
  nde_model_free(m);
  return rc;
}

static int has_file(const char *dir, const char *name) {
  char p[4096];
  tt_join(p, sizeof p, dir, name);
  return access(p, F_OK) == 0;
}

/* A learning rate of 1000 blows the loss up within the first epoch: the
 * run fails and leaves no checkpoint. */
START_TEST(exploding_loss_fails) {
  nde_dataset *data = tt_synthetic(40, 3);
  char *dir = tt_tmpdir();
  nde_train_options t = tiny_options(dir, 2, 1000);
  ck_assert_int_eq(train(NDE_ODE_EULER, data, &t), NDE_ERR_DIVERGED);
  printf("diverge: %s\n", nde_last_error());
  TT_MSG_HAS("training diverged in epoch 1, batch ");
  TT_MSG_HAS("is above the bound 1000 ln 3 = 1099 (3 classes)");
  TT_MSG_HAS("lower the learning rate");
  TT_MSG_HAS("no checkpoint was written");
  ck_assert(!has_file(dir, "checkpoint.ndeckpt"));
  ck_assert_str_eq(nde_strerror(NDE_ERR_DIVERGED), "training diverged");
  tt_rmtree(dir);
  free(dir);
  nde_dataset_free(data);
}
END_TEST

/* Resuming a good run with a diverging rate keeps the good checkpoint byte
 * for byte, and a later resume with a sound rate carries on from it. */
START_TEST(good_checkpoint_survives) {
  nde_dataset *data = tt_synthetic(40, 3);
  char *dir = tt_tmpdir(), ckpt[4096];
  tt_join(ckpt, sizeof ckpt, dir, "checkpoint.ndeckpt");
  for (int method = 0; method <= NDE_ODE_EULER; method += NDE_ODE_EULER) {
    nde_train_options t = tiny_options(dir, 2, 0.05);
    ck_assert_int_eq(train(method, data, &t), NDE_OK);
    size_t n0, n1;
    char *good = tt_slurp(ckpt, &n0);
    ck_assert_ptr_nonnull(good);
    t = tiny_options(dir, 4, 1000);
    t.resume = 1;
    ck_assert_int_eq(train(method, data, &t), NDE_ERR_DIVERGED);
    printf("diverge (%s): %s\n", method ? "euler" : "default solver", nde_last_error());
    TT_MSG_HAS("training diverged in epoch 3, batch ");
    TT_MSG_HAS("keeps the state after epoch 2");
    TT_MSG_HAS(ckpt);
    char *after = tt_slurp(ckpt, &n1);
    ck_assert_ptr_nonnull(after);
    ck_assert_msg(n0 == n1 && !memcmp(good, after, n0), "the good checkpoint was replaced");
    free(good);
    free(after);
    t = tiny_options(dir, 3, 0.05);
    t.resume = 1;
    ck_assert_int_eq(train(method, data, &t), NDE_OK);
  }
  tt_rmtree(dir);
  free(dir);
  nde_dataset_free(data);
}
END_TEST

/* The bound is an option: a loss above max_loss is divergence; an
 * enormous rate makes values non-finite, which is divergence whatever the
 * bound. */
START_TEST(loss_bound_and_nonfinite) {
  nde_dataset *data = tt_synthetic(40, 3);
  char *dir = tt_tmpdir();
  nde_train_options t = tiny_options(dir, 1, 0.05);
  t.max_loss = 0.5; /* the initial loss is about ln 3 = 1.1 */
  ck_assert_int_eq(train(NDE_ODE_EULER, data, &t), NDE_ERR_DIVERGED);
  TT_MSG_HAS("training diverged in epoch 1, batch 1: the loss ");
  TT_MSG_HAS("is above the bound max_loss = 0.5");
  t.max_loss = -1;
  ck_assert_int_eq(train(NDE_ODE_EULER, data, &t), NDE_ERR_ARG);
  TT_MSG_HAS("max_loss");
  t.max_loss = NAN;
  ck_assert_int_eq(train(NDE_ODE_EULER, data, &t), NDE_ERR_ARG);
  /* An enormous rate overflows the parameters: a non-finite value. */
  t = tiny_options(dir, 1, 1e300);
  t.max_loss = INFINITY; /* no bound: only non-finite values count */
  ck_assert_int_eq(train(NDE_ODE_EULER, data, &t), NDE_ERR_DIVERGED);
  printf("diverge (rate 1e300): %s\n", nde_last_error());
  TT_MSG_HAS("finite");
  tt_rmtree(dir);
  free(dir);
  nde_dataset_free(data);
}
END_TEST

/* A solve at its step limit is divergence too (here the limit is tiny). */
START_TEST(solver_at_step_limit) {
  nde_dataset *data = tt_synthetic(40, 3);
  char *dir = tt_tmpdir();
  nde_model_options o = nde_model_options_default(NDE_MODEL_ODENET);
  o.in = nde_shape_chw(1, 12, 12);
  o.nclasses = 3;
  o.width = 4;
  o.groups = 2;
  o.max_batch = 16;
  o.ode.max_steps = 2;
  nde_model *m;
  ck_assert_int_eq(nde_model_create(&o, &m), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 42);
  ck_assert_int_eq(nde_model_init(m, &rng), NDE_OK);
  nde_train_options t = tiny_options(dir, 1, 0.05);
  ck_assert_int_eq(nde_train_run(m, data, NULL, &t, NULL), NDE_ERR_DIVERGED);
  printf("diverge (max_steps 2): %s\n", nde_last_error());
  TT_MSG_HAS("training diverged in epoch 1, batch 1: the forward pass's ODE solve reached its "
             "step limit; no checkpoint was written; lower the learning rate or loosen the solver "
             "(step limit, tolerances) (");
  TT_MSG_HAS("maximum number of steps");
  nde_model_free(m);
  tt_rmtree(dir);
  free(dir);
  nde_dataset_free(data);
}
END_TEST

Suite *diverge_suite(void) {
  Suite *s = suite_create("diverge");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, exploding_loss_fails);
  tcase_add_test(tc, good_checkpoint_survives);
  tcase_add_test(tc, loss_bound_and_nonfinite);
  tcase_add_test(tc, solver_at_step_limit);
  suite_add_tcase(s, tc);
  return s;
}
