/* PLACEHOLDER: tests for this layer family are being written. */
#include "support/testutil.h"

Suite *norm_suite(void) { return suite_create("norm"); }
