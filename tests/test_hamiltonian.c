/* Check runner for hamiltonian/: docs/methods.md section 5 test vectors, contraction of
 * CH-NODE (matrix measures, trajectories, the forward-Euler bound), H2's
 * symplecticity and non-vanishing backward sensitivities, finite-difference
 * gradients of every field, of the discrete networks and of the continuous
 * block through adaptive adjoints, the classifier, noise and failure paths
 * (tests/hamiltonian/ holds the suites). */
#include <stdlib.h>

#include "support/testutil.h"

Suite *ham_vectors_suite(void);
Suite *ham_gradcheck_suite(void);
Suite *ham_contraction_suite(void);
Suite *ham_symplectic_suite(void);
Suite *ham_block_suite(void);
Suite *ham_classifier_suite(void);
Suite *ham_errors_suite(void);

int main(void) {
  SRunner *sr = srunner_create(ham_vectors_suite());
  srunner_add_suite(sr, ham_gradcheck_suite());
  srunner_add_suite(sr, ham_contraction_suite());
  srunner_add_suite(sr, ham_symplectic_suite());
  srunner_add_suite(sr, ham_block_suite());
  srunner_add_suite(sr, ham_classifier_suite());
  srunner_add_suite(sr, ham_errors_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
