#!/usr/bin/env bash
# Build the fuzz harnesses of tests/fuzz with clang's libFuzzer (ASan + UBSan,
# build dir $1) and run each for $2 seconds (FUZZ_RUNS=N: at most N inputs
# each instead; FUZZERS="a b": only those). New inputs go to $1/corpus/<name>
# (the seeds in tests/fuzz/corpus/<name> are read, never written); a crash,
# leak, timeout or harness check failure stops with the input saved under
# $1/artifacts/<name>/ and a non-zero exit. Prints libFuzzer's final counts.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
fuzzers=${FUZZERS:-idx_raw idx_gzip cifar ckpt csv}
mkdir -p "$build"
CC=${FUZZ_CC:-clang} cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNDE_FUZZ=ON \
  > "$build/configure.log" || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target nde_fuzzers
limit=(-max_total_time="$seconds") what="$seconds s"
if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS") what="$FUZZ_RUNS inputs"; fi
status=0
for name in $fuzzers; do
  mkdir -p "$build/corpus/$name" "$build/artifacts/$name"
  log="$build/fuzz-$name.log"
  echo "fuzz: $name ($what), log $log"
  # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: 2 GiB is
  # far beyond what any seed-sized file may make a reader allocate.
  rc=0
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 nice -n 10 "$build/fuzz/fuzz_$name" \
    "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name/" "$build/corpus/$name" "$src/tests/fuzz/corpus/$name" \
    > "$log" 2>&1 || rc=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs|^stat::number_of_executed_units' "$log" |
    sed "s/^/  $name: /" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $rc); the end of $log:"
    tail -n 40 "$log"
    status=1
  fi
done
exit $status
