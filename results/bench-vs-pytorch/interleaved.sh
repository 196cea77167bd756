#!/bin/bash
# nde's default ODE-Net training step against the PyTorch reference, run
# alternately so that both see the same host load: ROUNDS rounds (default
# 6), each running the reference and nde once per input (N(0,1) and
# Fashion-MNIST), 3 timed steps each. Prints every run, then per
# configuration the minimum and the median seconds per step, and per input
# the ratio nde / PyTorch round by round, of the medians and of the minima.
# A shared VM's load moves single timings by 10-45%, so the summary rather
# than any one pair is the figure to quote.
# Usage (repository root, after `make build`; needs python3-torch):
#   bash results/bench-vs-pytorch/interleaved.sh [ROUNDS]
set -u
cd "$(dirname "$0")/../.."
rounds=${1:-6}
export OPENBLAS_NUM_THREADS=2
step_time() { awk '/^sec_per_step:/ {print $2; exit}'; }
declare -A runs
for r in $(seq "$rounds"); do
  for inp in normal fashion; do
    t=$(/usr/bin/python3 bench/torch_reference/odenet_step.py --model odenet --input "$inp" --steps 3 2>&1 | step_time)
    n=$(build/bench/odenet_step --steps 3 --input "$inp" 2>&1 | step_time)
    echo "round $r $inp: torch ${t:-failed} nde ${n:-failed}"
    runs[torch_$inp]="${runs[torch_$inp]:-} ${t:-nan}"
    runs[nde_$inp]="${runs[nde_$inp]:-} ${n:-nan}"
  done
done
stats() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {printf "%.4f %.4f", a[1], (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for inp in normal fashion; do
  read -r tmin tmed <<<"$(echo "${runs[torch_$inp]}" | stats)"
  read -r nmin nmed <<<"$(echo "${runs[nde_$inp]}" | stats)"
  ratios=$(paste <(echo "${runs[nde_$inp]}" | tr ' ' '\n' | grep -v '^$') \
                 <(echo "${runs[torch_$inp]}" | tr ' ' '\n' | grep -v '^$') |
           awk '{printf " %.2f", $1 / $2}')
  echo "$inp: torch min $tmin median $tmed | nde min $nmin median $nmed"
  echo "$inp: nde / torch per round:$ratios; of medians $(awk -v a="$nmed" -v b="$tmed" 'BEGIN{printf "%.2f", a/b}'); of minima $(awk -v a="$nmin" -v b="$tmin" 'BEGIN{printf "%.2f", a/b}')"
done
