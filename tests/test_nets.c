/* Check runner for nets/: one suite per layer family (tests/nets/ holds them). */
#include <stdlib.h>

#include "support/testutil.h"

Suite *dense_suite(void);
Suite *activation_suite(void);
Suite *loss_suite(void);
Suite *net_errors_suite(void);
Suite *conv_suite(void);
Suite *norm_suite(void);
Suite *blocks_suite(void);
Suite *activation_extra_suite(void);
Suite *resblock_down_suite(void);
Suite *threads_suite(void);

int main(void) {
  SRunner *sr = srunner_create(dense_suite());
  srunner_add_suite(sr, activation_suite());
  srunner_add_suite(sr, loss_suite());
  srunner_add_suite(sr, net_errors_suite());
  srunner_add_suite(sr, conv_suite());
  srunner_add_suite(sr, norm_suite());
  srunner_add_suite(sr, blocks_suite());
  srunner_add_suite(sr, activation_extra_suite());
  srunner_add_suite(sr, resblock_down_suite());
  srunner_add_suite(sr, threads_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
