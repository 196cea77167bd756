/* PLACEHOLDER: tests for this layer family are being written. */
#include "support/testutil.h"

Suite *conv_suite(void) { return suite_create("conv"); }
