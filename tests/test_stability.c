/* Check runner for stability/: PWA form, spectra, sufficient conditions,
 * fixed points, regions of attraction and weight parametrizations
 * (tests/stability/ holds the suites). */
#include <stdlib.h>

#include "support/testutil.h"

Suite *pwa_suite(void);
Suite *spectrum_suite(void);
Suite *conditions_suite(void);
Suite *fixedpoint_suite(void);
Suite *grid_suite(void);
Suite *wparam_suite(void);
Suite *odespectrum_suite(void);

int main(void) {
  SRunner *sr = srunner_create(pwa_suite());
  srunner_add_suite(sr, spectrum_suite());
  srunner_add_suite(sr, conditions_suite());
  srunner_add_suite(sr, fixedpoint_suite());
  srunner_add_suite(sr, grid_suite());
  srunner_add_suite(sr, wparam_suite());
  srunner_add_suite(sr, odespectrum_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
