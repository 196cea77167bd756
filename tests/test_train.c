/* Check runner for train/: optimizers, schedules, checkpoints, CSV logs, the
 * progress line, the training loop's crash consistency, divergence and
 * data-shape checks, and comparisons over seeds (tests/train/ holds the
 * suites). */
#include <stdlib.h>

#include "support/testutil.h"

Suite *optim_suite(void);
Suite *schedule_suite(void);
Suite *ckpt_suite(void);
Suite *ckpt_corrupt_suite(void);
Suite *csv_suite(void);
Suite *progress_suite(void);
Suite *crash_suite(void);
Suite *diverge_suite(void);
Suite *compare_suite(void);
Suite *train_shape_suite(void);

int main(void) {
  SRunner *sr = srunner_create(optim_suite());
  srunner_add_suite(sr, schedule_suite());
  srunner_add_suite(sr, ckpt_suite());
  srunner_add_suite(sr, ckpt_corrupt_suite());
  srunner_add_suite(sr, csv_suite());
  srunner_add_suite(sr, progress_suite());
  srunner_add_suite(sr, crash_suite());
  srunner_add_suite(sr, diverge_suite());
  srunner_add_suite(sr, compare_suite());
  srunner_add_suite(sr, train_shape_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
