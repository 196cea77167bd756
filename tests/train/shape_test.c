/* The training loop's entry points check the data against the model before
 * any sample reaches it: a model of another input shape used to read past
 * the batch buffer (2x28x28 or 1x32x32 checkpoints evaluated on
 * Fashion-MNIST) or to print a meaningless error rate. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_test.h"

/* A small ODE-Net for (c, h, w) inputs and 3 classes. */
static nde_model *small_model(int c, int h, int w) {
  nde_model_options o = nde_model_options_default(NDE_MODEL_ODENET);
  o.in = nde_shape_chw(c, h, w);
  o.nclasses = 3;
  o.width = 4;
  o.groups = 2;
  o.max_batch = 8;
  nde_model *m;
  ck_assert_int_eq(nde_model_create(&o, &m), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 7);
  ck_assert_int_eq(nde_model_init(m, &rng), NDE_OK);
  return m;
}

/* n samples of (c, h, w) with labels cycling through num_classes. */
static nde_dataset *data(int n, int c, int h, int w, int num_classes) {
  nde_dataset *ds;
  ck_assert_int_eq(nde_dataset_create(n, c, h, w, num_classes, &ds), NDE_OK);
  for (size_t i = 0; i < (size_t)n * c * h * w; i++) ds->pixels[i] = (uint8_t)(i * 37);
  for (int i = 0; i < n; i++) ds->labels[i] = i % 3;
  return ds;
}

/* Data of every other shape, more values per sample (over-read), fewer
 * (under-read) or as many in another layout, is refused with both shapes
 * named; the matching shape evaluates. */
START_TEST(evaluate_checks_the_data_shape) {
  nde_model *m = small_model(2, 12, 12);
  const int shapes[5][3] = {{1, 12, 12}, {3, 12, 12}, {2, 16, 16}, {2, 10, 10}, {4, 6, 12}};
  const char *names[5] = {"1x12x12", "3x12x12", "2x16x16", "2x10x10", "4x6x12"};
  double err = -1, nfe = -1;
  for (int k = 0; k < 5; k++) {
    nde_dataset *ds = data(5, shapes[k][0], shapes[k][1], shapes[k][2], 3);
    ck_assert_int_eq(nde_train_evaluate(m, ds, NULL, NULL, 0, &err, &nfe), NDE_ERR_SHAPE);
    TT_MSG_HAS(names[k]);
    TT_MSG_HAS("the model expects 2x12x12");
    ck_assert_double_eq(err, -1); /* nothing written */
    nde_dataset_free(ds);
  }
  /* more classes in the data than the model has */
  nde_dataset *ds = data(5, 2, 12, 12, 10);
  ck_assert_int_eq(nde_train_evaluate(m, ds, NULL, NULL, 0, &err, &nfe), NDE_ERR_SHAPE);
  TT_MSG_HAS("10 classes");
  nde_dataset_free(ds);
  ds = data(5, 2, 12, 12, 3);
  ck_assert_int_eq(nde_train_evaluate(m, ds, NULL, NULL, 0, &err, &nfe), NDE_OK);
  ck_assert(err >= 0 && err <= 1 && nfe > 0);
  nde_dataset_free(ds);
  nde_model_free(m);
}
END_TEST

/* nde_train_run checks the training and the test set, before it writes
 * anything into the run directory. */
START_TEST(train_run_checks_both_sets) {
  nde_model *m = small_model(1, 12, 12);
  char *dir = tt_tmpdir();
  nde_train_options t = nde_train_options_default();
  t.epochs = 1;
  t.batch = 8;
  t.out_dir = dir;
  nde_dataset *good = data(8, 1, 12, 12, 3), *wide = data(8, 1, 12, 16, 3),
              *deep = data(8, 6, 12, 12, 3), *many = data(8, 1, 12, 12, 5);
  ck_assert_int_eq(nde_train_run(m, wide, NULL, &t, NULL), NDE_ERR_SHAPE);
  TT_MSG_HAS("1x12x16");
  TT_MSG_HAS("the model expects 1x12x12");
  ck_assert_int_eq(nde_train_run(m, good, deep, &t, NULL), NDE_ERR_SHAPE);
  TT_MSG_HAS("test data is 6x12x12");
  ck_assert_int_eq(nde_train_run(m, good, many, &t, NULL), NDE_ERR_SHAPE);
  TT_MSG_HAS("5 classes");
  char p[4096];
  tt_join(p, sizeof p, dir, "epochs.csv");
  ck_assert_msg(access(p, F_OK) != 0, "a refused run wrote %s", p);
  nde_dataset_free(good);
  nde_dataset_free(wide);
  nde_dataset_free(deep);
  nde_dataset_free(many);
  nde_model_free(m);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

/* More channels than the loop's old fixed normalization arrays (4) train. */
START_TEST(train_run_takes_many_channels) {
  nde_model *m = small_model(6, 8, 8);
  char *dir = tt_tmpdir();
  nde_train_options t = nde_train_options_default();
  t.epochs = 1;
  t.batch = 8;
  t.crop_pad = 0;
  t.out_dir = dir;
  nde_dataset *ds = data(8, 6, 8, 8, 3);
  nde_train_summary s;
  ck_assert_int_eq(nde_train_run(m, ds, ds, &t, &s), NDE_OK);
  ck_assert_int_eq(s.epochs_done, 1);
  /* the checkpoint carries all six channels' normalization */
  char p[4096];
  tt_join(p, sizeof p, dir, "checkpoint.ndeckpt");
  nde_ckpt *c;
  ck_assert_int_eq(nde_ckpt_open(p, &c), NDE_OK);
  double mean[6], std[6];
  ck_assert_int_eq(nde_ckpt_read_f64(c, "norm_mean", mean, 6), NDE_OK);
  ck_assert_int_eq(nde_ckpt_read_f64(c, "norm_std", std, 6), NDE_OK);
  double want_mean[6], want_std[6];
  ck_assert_int_eq(nde_data_channel_stats(ds, want_mean, want_std), NDE_OK);
  for (int k = 0; k < 6; k++) {
    ck_assert_double_eq(mean[k], want_mean[k]);
    ck_assert_double_eq(std[k], want_std[k]);
  }
  nde_ckpt_free(c);
  nde_dataset_free(ds);
  nde_model_free(m);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

Suite *train_shape_suite(void) {
  Suite *s = suite_create("train_shape");
  TCase *tc = tcase_create("shape");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, evaluate_checks_the_data_shape);
  tcase_add_test(tc, train_run_checks_both_sets);
  tcase_add_test(tc, train_run_takes_many_channels);
  suite_add_tcase(s, tc);
  return s;
}
