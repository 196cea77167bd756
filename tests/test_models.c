/* Check runner for models/, their memory estimate and the training loop
 * (train/loop.c). */
#include <stdlib.h>

#include "support/testutil.h"

Suite *model_suite(void);
Suite *trainloop_suite(void);
Suite *resnet_cifar_suite(void);
Suite *model_memory_suite(void);

int main(void) {
  SRunner *sr = srunner_create(model_suite());
  srunner_add_suite(sr, trainloop_suite());
  srunner_add_suite(sr, resnet_cifar_suite());
  srunner_add_suite(sr, model_memory_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
