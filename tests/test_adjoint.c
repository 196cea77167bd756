/* Check runner for adjoint/: gradients through solves against finite
 * differences and closed forms, the contracting-field comparison of the
 * checkpointed and backsolve adjoints, failure paths (tests/adjoint/). */
#include <stdlib.h>

#include "support/testutil.h"

Suite *adjoint_gradcheck_suite(void);
Suite *adjoint_contract_suite(void);
Suite *adjoint_errors_suite(void);

int main(void) {
  SRunner *sr = srunner_create(adjoint_gradcheck_suite());
  srunner_add_suite(sr, adjoint_contract_suite());
  srunner_add_suite(sr, adjoint_errors_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
