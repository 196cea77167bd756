/* CIFAR-10/100 binary reader on small files in the real record layout. */
#include <stdlib.h>

#include "data/datafiles.h"
#include "support/testutil.h"

static void check_records(const nde_dataset *ds, int n, int cifar100) {
  ck_assert_int_eq(ds->n, n);
  ck_assert_int_eq(ds->c, 3);
  ck_assert_int_eq(ds->h, 32);
  ck_assert_int_eq(ds->w, 32);
  ck_assert_int_eq(ds->num_classes, cifar100 ? 100 : 10);
  for (int i = 0; i < n; i++) {
    int fine = df_label(i, cifar100 ? 100 : 10);
    ck_assert_int_eq(ds->labels[i], fine);
    if (cifar100) ck_assert_int_eq(ds->coarse[i], fine / 5);
    for (size_t q = 0; q < 3072; q++)
      ck_assert_uint_eq(ds->pixels[(size_t)i * 3072 + q], df_pixel(i, q));
  }
  if (!cifar100) ck_assert_ptr_null(ds->coarse);
}

/* Two CIFAR-10 files (one gzip-compressed) are concatenated in order. */
START_TEST(cifar10_two_files) {
  const char *dir = df_tmpdir();
  uint8_t *buf = malloc(5 * 3073);
  ck_assert_ptr_nonnull(buf);
  const char *paths[2];
  paths[0] = df_write(dir, "data_batch_1.bin", buf, df_cifar(buf, 0, 3, 0), 0, 0);
  paths[1] = df_write(dir, "data_batch_2.bin.gz", buf, df_cifar(buf, 3, 2, 0), 1, 1);
  nde_dataset *ds = NULL;
  ck_assert_msg(nde_data_load_cifar(paths, 2, 0, &ds) == NDE_OK, "%s", nde_last_error());
  check_records(ds, 5, 0);
  /* channel planes: pixel (k, y, x) of sample i is byte k*1024 + 32 y + x */
  ck_assert_uint_eq(ds->pixels[4 * 3072 + 2 * 1024 + 32 * 5 + 7],
                    df_pixel(4, 2 * 1024 + 32 * 5 + 7));
  nde_dataset_free(ds);
  free(buf);
  df_cleanup(dir);
}
END_TEST

START_TEST(cifar100_coarse_and_fine) {
  const char *dir = df_tmpdir();
  uint8_t *buf = malloc(30 * 3074);
  ck_assert_ptr_nonnull(buf);
  const char *p = df_write(dir, "train.bin", buf, df_cifar(buf, 0, 30, 1), 0, 0);
  nde_dataset *ds = NULL;
  ck_assert_msg(nde_data_load_cifar(&p, 1, 1, &ds) == NDE_OK, "%s", nde_last_error());
  check_records(ds, 30, 1);
  nde_dataset_free(ds);
  free(buf);
  df_cleanup(dir);
}
END_TEST

Suite *data_cifar_suite(void) {
  Suite *s = suite_create("data_cifar");
  TCase *tc = tcase_create("cifar");
  tcase_add_test(tc, cifar10_two_files);
  tcase_add_test(tc, cifar100_coarse_and_fine);
  suite_add_tcase(s, tc);
  return s;
}
