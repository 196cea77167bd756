/* Check runner for rman/: test vectors of docs/methods.md section 4, finite-difference
 * gradients, the empty-set policies, statistics and argument errors. */
#include <stdlib.h>

#include "support/testutil.h"

Suite *rman_energy_suite(void);
Suite *rman_grad_suite(void);
Suite *rman_stats_suite(void);
Suite *rman_errors_suite(void);

int main(void) {
  SRunner *sr = srunner_create(rman_energy_suite());
  srunner_add_suite(sr, rman_grad_suite());
  srunner_add_suite(sr, rman_stats_suite());
  srunner_add_suite(sr, rman_errors_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
