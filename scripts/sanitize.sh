#!/usr/bin/env bash
# Run every test of the sanitizer build dir $1 (configured with
# -DNDE_SANITIZE=..., see `make sanitize`) with any finding fatal.
#  CK_FORK=no                 each Check test in the runner's own process
#                             (as make memcheck does), so one report ends the
#                             runner and leak checking covers every test
#  halt_on_error=1            the first report ends the runner, non-zero
#  detect_leaks=1             LeakSanitizer at exit
#  allocator_may_return_null  a huge request returns NULL as malloc does
#                             (tests check that nde reports NDE_ERR_NOMEM)
#  detect_stack_use_after_return, check_initialization_order,
#  strict_init_order          the checks that are off by default
#  UBSan halt_on_error=1      the first undefined behaviour ends the runner
#  exitcode=99                a report exits 99, which no test expects (the
#                             CLI tests expect nde to exit 1 or 2 on errors)
# OpenBLAS, SUNDIALS, GSL, zlib and Check give no report. The one
# suppression (scripts/lsan.supp) is fontconfig's font cache, held until exit
# by PLplot's cairo driver in the picture-drawing commands.
set -euo pipefail
build=${1:-build-sanitize}
export CK_FORK=no
export ASAN_OPTIONS=exitcode=99:halt_on_error=1:detect_leaks=1:allocator_may_return_null=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
export UBSAN_OPTIONS=exitcode=99:halt_on_error=1:print_stacktrace=1
LSAN_OPTIONS=suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp
export LSAN_OPTIONS
cd "$build"
ctest --output-on-failure
