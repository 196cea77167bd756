/* IDX reader on small files, plain and gzip-compressed, and the
 * Fashion-MNIST convenience loader on a directory laid out like the package. */
#include <string.h>

#include "data/datafiles.h"
#include "support/testutil.h"

static void check_set(const nde_dataset *ds, int n, int h, int w, int classes) {
  ck_assert_int_eq(ds->n, n);
  ck_assert_int_eq(ds->c, 1);
  ck_assert_int_eq(ds->h, h);
  ck_assert_int_eq(ds->w, w);
  ck_assert_int_eq(ds->num_classes, classes);
  ck_assert_ptr_null(ds->coarse);
  ck_assert_uint_eq(nde_dataset_sample_numel(ds), (size_t)h * w);
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(ds->labels[i], df_label(i, classes));
    for (size_t q = 0; q < (size_t)h * w; q++)
      ck_assert_uint_eq(ds->pixels[(size_t)i * h * w + q], df_pixel(i, q));
  }
}

START_TEST(idx_plain_and_gzip) {
  const char *dir = df_tmpdir();
  for (int gz = 0; gz < 2; gz++) {
    const char *ip, *lp;
    df_write_idx_pair(dir, gz ? "z" : "p", 7, 4, 5, 10, gz, &ip, &lp);
    nde_dataset *ds = NULL;
    ck_assert_msg(nde_data_load_idx(ip, lp, 10, &ds) == NDE_OK, "%s", nde_last_error());
    check_set(ds, 7, 4, 5, 10);
    nde_dataset_free(ds);
  }
  df_cleanup(dir);
}
END_TEST

START_TEST(fashion_loader_on_a_package_layout) {
  const char *dir = df_tmpdir();
  const char *ip, *lp;
  df_write_idx_pair(dir, "train", 5, 28, 28, 10, 1, &ip, &lp);
  df_write_idx_pair(dir, "t10k", 3, 28, 28, 10, 1, &ip, &lp);
  nde_dataset *tr = NULL, *te = NULL;
  ck_assert_msg(nde_data_load_fashion_mnist(dir, 1, &tr) == NDE_OK, "%s", nde_last_error());
  ck_assert_msg(nde_data_load_fashion_mnist(dir, 0, &te) == NDE_OK, "%s", nde_last_error());
  check_set(tr, 5, 28, 28, 10);
  check_set(te, 3, 28, 28, 10);
  nde_dataset_free(tr);
  nde_dataset_free(te);
  df_cleanup(dir);
}
END_TEST

/* Without the .gz files the uncompressed names are used. */
START_TEST(fashion_loader_falls_back_to_plain_names) {
  const char *dir = df_tmpdir();
  const char *ip, *lp;
  df_write_idx_pair(dir, "t10k", 4, 6, 6, 10, 0, &ip, &lp);
  nde_dataset *te = NULL;
  ck_assert_msg(nde_data_load_fashion_mnist(dir, 0, &te) == NDE_OK, "%s", nde_last_error());
  check_set(te, 4, 6, 6, 10);
  nde_dataset_free(te);
  /* no training files: the error names the .gz file the package installs */
  nde_dataset *tr = (nde_dataset *)1;
  ck_assert_int_eq(nde_data_load_fashion_mnist(dir, 1, &tr), NDE_ERR_IO);
  ck_assert_ptr_null(tr);
  ck_assert_msg(strstr(nde_last_error(), "train-labels-idx1-ubyte.gz"), "%s", nde_last_error());
  df_cleanup(dir);
}
END_TEST

START_TEST(dataset_create_and_free) {
  nde_dataset *ds;
  ck_assert_int_eq(nde_dataset_create(3, 2, 4, 5, 7, &ds), NDE_OK);
  ck_assert_int_eq(ds->n, 3);
  ck_assert_uint_eq(nde_dataset_sample_numel(ds), 40);
  for (size_t q = 0; q < 120; q++) ck_assert_uint_eq(ds->pixels[q], 0);
  ck_assert_int_eq(ds->labels[2], 0);
  nde_dataset_free(ds);
  nde_dataset_free(NULL);
  ds = (nde_dataset *)1;
  ck_assert_int_eq(nde_dataset_create(0, 1, 1, 1, 2, &ds), NDE_ERR_ARG);
  ck_assert_ptr_null(ds);
  ck_assert_int_eq(nde_dataset_create(1, 1, 1, 1, 0, &ds), NDE_ERR_ARG);
  ck_assert_int_eq(nde_dataset_create(1, 1, 1, 1, 1, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_dataset_create(1 << 20, 3, 4096, 4096, 1, &ds), NDE_ERR_ARG);
  ck_assert_msg(strstr(nde_last_error(), "16 GiB"), "%s", nde_last_error());
}
END_TEST

Suite *data_idx_suite(void) {
  Suite *s = suite_create("data_idx");
  TCase *tc = tcase_create("idx");
  tcase_add_test(tc, idx_plain_and_gzip);
  tcase_add_test(tc, fashion_loader_on_a_package_layout);
  tcase_add_test(tc, fashion_loader_falls_back_to_plain_names);
  tcase_add_test(tc, dataset_create_and_free);
  suite_add_tcase(s, tc);
  return s;
}
