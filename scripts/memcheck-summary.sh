#!/usr/bin/env bash
# Summarize valgrind logs written by `ctest -T memcheck` in build dir $1.
set -u
dir=${1:-build}
logs=$(ls "$dir"/Testing/Temporary/MemoryChecker.*.log 2>/dev/null)
[ -n "$logs" ] || { echo "memcheck: no valgrind logs found"; exit 1; }
for f in $logs; do
  errs=$(grep -h "ERROR SUMMARY" "$f" | awk '{s += $4} END {print s + 0}')
  leaks=$(grep -hE "definitely lost|indirectly lost|possibly lost" "$f" | awk '{gsub(",", "", $4); s += $4} END {print s + 0}')
  echo "memcheck: $(basename "$f"): errors=$errs leaked_bytes=$leaks"
done
