/* Check runner for ode/: vector fields, solvers against exact solutions,
 * statistics, batches and failure paths (tests/ode/ holds the suites). */
#include <stdlib.h>

#include "support/testutil.h"

Suite *ode_field_suite(void);
Suite *ode_exact_suite(void);
Suite *ode_stats_suite(void);
Suite *ode_batch_suite(void);
Suite *ode_errors_suite(void);
Suite *ode_nvector_suite(void);
Suite *ode_field_split_suite(void);
Suite *ode_fixed_point_suite(void);
Suite *ode_threads_suite(void);

int main(void) {
  SRunner *sr = srunner_create(ode_field_suite());
  srunner_add_suite(sr, ode_exact_suite());
  srunner_add_suite(sr, ode_stats_suite());
  srunner_add_suite(sr, ode_batch_suite());
  srunner_add_suite(sr, ode_errors_suite());
  srunner_add_suite(sr, ode_nvector_suite());
  srunner_add_suite(sr, ode_field_split_suite());
  srunner_add_suite(sr, ode_fixed_point_suite());
  srunner_add_suite(sr, ode_threads_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
