/* Check runner for data/: readers on small files written to a temporary
 * directory, corrupt files, normalization, augmentation, shuffling, the
 * batch iterator, the installed Fashion-MNIST test set and gzip bombs. */
#include <stdlib.h>

#include "support/testutil.h"

Suite *data_idx_suite(void);
Suite *data_cifar_suite(void);
Suite *data_corrupt_suite(void);
Suite *data_augment_suite(void);
Suite *data_batch_suite(void);
Suite *data_fashion_suite(void);
Suite *data_bomb_suite(void);

int main(void) {
  SRunner *sr = srunner_create(data_idx_suite());
  srunner_add_suite(sr, data_cifar_suite());
  srunner_add_suite(sr, data_corrupt_suite());
  srunner_add_suite(sr, data_augment_suite());
  srunner_add_suite(sr, data_batch_suite());
  srunner_add_suite(sr, data_fashion_suite());
  srunner_add_suite(sr, data_bomb_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
