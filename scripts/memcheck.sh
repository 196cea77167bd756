#!/usr/bin/env bash
# Run every test runner of build dir $1 under valgrind (Check's fork mode off,
# so valgrind sees each test in-process) and print one summary line per runner.
# Exits non-zero on any valgrind error, leak or test failure.
set -u
build=${1:-build}
status=0
logdir="$build/memcheck"
mkdir -p "$logdir"
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  log="$logdir/$name.log"
  CK_FORK=no NDE_MEMCHECK=1 OPENBLAS_NUM_THREADS=1 valgrind --leak-check=full \
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    --error-exitcode=99 --log-file="$log" "$t" > "$logdir/$name.out" 2>&1
  rc=$?
  errs=$(grep -h "ERROR SUMMARY" "$log" | awk '{print $4}' | tail -n 1)
  lost=$(grep -hE "(definitely|indirectly|possibly) lost:" "$log" | awk '{gsub(",", "", $4); s += $4} END {print s + 0}')
  checks=$(grep -h "Checks:" "$logdir/$name.out" | tail -n 1)
  echo "memcheck: $name: rc=$rc valgrind_errors=${errs:-?} leaked_bytes=$lost | $checks"
  [ "$rc" -eq 0 ] || status=1
done
exit $status
