/* The installed Fashion-MNIST test set (Debian package dataset-fashion-mnist,
 * which CI installs): a missing file is a FAILURE, not a skip. */
#include <stdio.h>
#include <time.h>

#include "support/testutil.h"

START_TEST(real_fashion_mnist_test_set) {
  struct timespec t0, t1;
  timespec_get(&t0, TIME_UTC);
  nde_dataset *ds = NULL;
  int rc = nde_data_load_fashion_mnist(NULL, 0, &ds);
  timespec_get(&t1, TIME_UTC);
  ck_assert_msg(rc == NDE_OK,
                "Fashion-MNIST test set not loadable from " NDE_FASHION_MNIST_DIR
                " (install the Debian package dataset-fashion-mnist): %s",
                nde_last_error());
  double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  ck_assert_int_eq(ds->n, 10000);
  ck_assert_int_eq(ds->c, 1);
  ck_assert_int_eq(ds->h, 28);
  ck_assert_int_eq(ds->w, 28);
  ck_assert_int_eq(ds->num_classes, 10);
  int per[10] = {0};
  for (int i = 0; i < ds->n; i++) {
    ck_assert(ds->labels[i] >= 0 && ds->labels[i] < 10);
    per[ds->labels[i]]++;
  }
  for (int k = 0; k < 10; k++) ck_assert_int_eq(per[k], 1000); /* balanced test set */
  /* The first test image is an ankle boot (class 9), as in the original
     release; pixel statistics as published for Fashion-MNIST (mean ~0.286,
     std ~0.353 on the training set; the test set is close). */
  ck_assert_int_eq(ds->labels[0], 9);
  double mean, std;
  ck_assert_int_eq(nde_data_channel_stats(ds, &mean, &std), NDE_OK);
  ck_assert_msg(mean > 0.27 && mean < 0.30 && std > 0.34 && std < 0.37, "mean %g std %g", mean,
                std);
  printf("fashion-mnist t10k: %d images 28x28 loaded in %.3f s; mean %.4f std %.4f\n", ds->n, secs,
         mean, std);
  nde_dataset_free(ds);
}
END_TEST

Suite *data_fashion_suite(void) {
  Suite *s = suite_create("data_fashion");
  TCase *tc = tcase_create("fashion");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, real_fashion_mnist_test_set);
  suite_add_tcase(s, tc);
  return s;
}
