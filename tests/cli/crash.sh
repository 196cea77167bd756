#!/usr/bin/env bash
# Crash consistency of `nde train`'s run directory, through the program: a
# short run killed with SIGKILL at named points of its write protocol
# (NDE_FAULT_AT=POINT:N, a test-only hook; the points are listed with
# nde_train_options.fault_hook in nde/train.h) and at random times (kill -9),
# then resumed (or restarted when no checkpoint exists yet), must end with
# the uninterrupted run's checkpoint and logs, wall-time columns aside, and
# no temporary files. The data: the first 48 training and 16 test images of
# Fashion-MNIST (tiny_data.sh).
set -u
nde=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1 LC_ALL=C
fail=0 pass=0

. "$(dirname "$0")/tiny_data.sh"
tiny_data "$work/data" || { echo "FAIL: cannot make the tiny data set"; exit 1; }

train() { # train DIR [--resume]: 3 epochs of 3 batches, Euler steps
  "$nde" train --out "$1" --data "$work/data" --batch 16 --epochs 3 --solver euler "${@:2}" \
    >>"$1.log" 2>&1
}
# The same in the background; $! is the nde process itself (a function
# would put a subshell between, and kill -9 would miss nde).
train_bg() {
  "$nde" train --out "$1" --data "$work/data" --batch 16 --epochs 3 --solver euler \
    >>"$1.log" 2>&1 &
}
# resume when there is a checkpoint, else start afresh (as table3 --resume)
restart() { if [ -e "$1/checkpoint.ndeckpt" ]; then train "$1" --resume; else train "$1"; fi; }

# A log without its "seconds" column.
timeless() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") s = i }
           { o = ""; for (i = 1; i <= NF; i++) if (i != s) o = o $i ","; print o }' "$1"
}
# The checkpoint's sections before "meta" (the last one) byte for byte, the
# header's version and section count, and the meta text without the wall time.
ckpt_same() {
  local a=$1 b=$2 oa ob
  oa=$(grep -abo meta "$a" | tail -n 1 | cut -d: -f1)
  ob=$(grep -abo meta "$b" | tail -n 1 | cut -d: -f1)
  [ -n "$oa" ] && [ "$oa" = "$ob" ] || return 1
  cmp -s -i 8 -n 8 "$a" "$b" && cmp -s -i 32 -n $((oa - 4 - 32)) "$a" "$b" &&
    cmp -s <(tail -c +$((oa + 17)) "$a" | grep -av '^seconds_total=') \
           <(tail -c +$((ob + 17)) "$b" | grep -av '^seconds_total=')
}
same_run() { # same_run DIR WHAT
  local why=
  if ls "$1" | grep -q '\.tmp\.'; then why="a temporary file is left: $(ls "$1")"
  elif ! ckpt_same "$ref/checkpoint.ndeckpt" "$1/checkpoint.ndeckpt"; then why="the checkpoints differ"
  elif ! cmp -s <(timeless "$ref/epochs.csv") <(timeless "$1/epochs.csv"); then
    why="epochs.csv differs: $(diff <(timeless "$ref/epochs.csv") <(timeless "$1/epochs.csv") | head -n 4)"
  elif ! cmp -s <(timeless "$ref/batches.csv") <(timeless "$1/batches.csv"); then why="batches.csv differs"
  fi
  if [ -n "$why" ]; then
    echo "FAIL: killed $2, resumed: $why"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

ref=$work/ref
start=$(date +%s%N)
train "$ref" || { echo "FAIL: the uninterrupted run failed: $(tail -n 3 "$ref.log")"; exit 1; }
full_ms=$((($(date +%s%N) - start) / 1000000))

# Named points; the last case kills the resumed run again while it repairs the logs.
n=0
for spec in csv.torn:5 batch.row:4 epoch.row:2 logs.synced:1 ckpt.partial:2 ckpt.written:2 \
            ckpt.renamed:2 epoch.done:1 ckpt.written:3+log.repaired:2; do
  n=$((n + 1))
  dir=$work/point$n
  first=${spec%%+*}
  NDE_FAULT_AT=$first train "$dir"
  rc=$?
  if [ "$rc" -ne 137 ]; then
    echo "FAIL: NDE_FAULT_AT=$first: exit $rc, not killed (137)"
    fail=$((fail + 1))
    continue
  fi
  if [ "$first" != "$spec" ]; then
    NDE_FAULT_AT=${spec#*+} restart "$dir"
    [ $? -eq 137 ] || { echo "FAIL: NDE_FAULT_AT=${spec#*+} did not kill the resumed run"; fail=$((fail + 1)); }
  fi
  restart "$dir" || { echo "FAIL: resuming after $spec: $(tail -n 3 "$dir.log")"; fail=$((fail + 1)); continue; }
  same_run "$dir" "at $spec"
done

# kill -9 at random times within an uninterrupted run's duration.
killed=0
for k in 1 2 3; do
  dir=$work/random$k
  ms=$((full_ms * (10 + RANDOM % 60) / 100))
  train_bg "$dir"
  pid=$!
  sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ $? -eq 137 ] && killed=$((killed + 1))
  restart "$dir" || { echo "FAIL: resuming after kill -9 at $ms ms: $(tail -n 3 "$dir.log")"; fail=$((fail + 1)); continue; }
  same_run "$dir" "with kill -9 after $ms ms of a $full_ms ms run"
done
echo "cli crash: $pass passed, $fail failed ($killed of 3 random kills struck; an uninterrupted run: $full_ms ms)"
[ "$fail" -eq 0 ]
