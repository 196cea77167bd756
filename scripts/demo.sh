#!/usr/bin/env bash
# The main job (make demo). Later issues make it the Table 3 reproduction;
# until the pipeline lands it runs the most complete real example present.
set -euo pipefail
build=${1:-build}
if [ -x "$build/nde" ] && "$build/nde" table3 --help >/dev/null 2>&1; then
  exec "$build/nde" table3 --quick
fi
for ex in spiral2d mlp_regression; do
  if [ -x "$build/examples/$ex" ]; then exec "$build/examples/$ex"; fi
done
echo "demo: no example built" >&2
exit 1
