#!/usr/bin/env bash
# The main job (make demo): the RMAN Table 3 reproduction on Fashion-MNIST at
# its quick size (a few minutes on 2 cores); writes results/table3.md.
set -euo pipefail
build=${1:-build}
exec "$build/nde" table3 --quick --out results
