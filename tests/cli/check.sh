#!/usr/bin/env bash
# The nde program: help, usage errors (exit 2 with a message naming the
# problem), failures (exit 1 naming the file), a real gradient check, and
# diverging training runs.
set -u
nde=$1
fail=0 pass=0
expect() { # expect CODE PATTERN -- command...
  local code=$1 pat=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qE -- "$pat" <<<"$out"; then
    echo "FAIL: '$*' gave exit $rc (want $code) and output:"
    echo "$out" | tail -n 5
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}
expect 0 "table3" -- "$nde" help
expect 2 "unknown command 'bogus'" -- "$nde" bogus
expect 2 "--out DIR is required" -- "$nde" train
expect 2 "unknown option or stray value '--bogus'" -- "$nde" train --out /tmp/x --bogus 1
expect 2 "--epochs expects an integer, got 'five'" -- "$nde" train --out /tmp/x --epochs five
expect 2 "unknown model 'resnet7'" -- "$nde" train --out /tmp/x --model resnet7
expect 2 "unknown --field 'cnn'" -- "$nde" gradcheck --field cnn
expect 1 "/nonexistent/ckpt" -- "$nde" eval /nonexistent/ckpt
expect 1 "/nonexistent/ckpt" -- "$nde" attractors /nonexistent/ckpt
expect 1 "/nonexistent/ckpt" -- "$nde" odespectrum /nonexistent/ckpt
expect 2 "usage: nde odespectrum" -- "$nde" odespectrum
for cmd in chnode pwa toy2d table3; do
  expect 2 "nde $cmd: unknown option or stray value '--bogus'" -- "$nde" $cmd --bogus
done
# OpenBLAS kernels: a user's OPENBLAS_CORETYPE is kept (no restart), and
# where OpenBLAS fell back to SSE kernels the program restarts once, with
# the fitting core, and then runs the command to its end.
expect 0 "OpenBLAS core Prescott" -- env OPENBLAS_CORETYPE=Prescott "$nde" version
out=$(env OPENBLAS_CORETYPE=Prescott "$nde" gradcheck --field user 2>&1)
if grep -q restarting <<<"$out" || ! grep -q '^max_rel_err:' <<<"$out"; then
  echo "FAIL: OPENBLAS_CORETYPE=Prescott nde gradcheck: $out"
  fail=$((fail + 1))
else
  pass=$((pass + 1))
fi
out=$(env -u OPENBLAS_CORETYPE "$nde" gradcheck --field user 2>&1)
restarts=$(grep -c 'restarting with OPENBLAS_CORETYPE=' <<<"$out")
if [ "$restarts" -gt 1 ] || ! grep -q '^max_rel_err:' <<<"$out"; then
  echo "FAIL: nde gradcheck restarted $restarts times: $out"
  fail=$((fail + 1))
else
  pass=$((pass + 1))
fi
# A user field through the checkpointed and backsolve adjoints (pure double
# arithmetic in both builds): the printed error must be small.
for adj in checkpoint backsolve; do
  out=$("$nde" gradcheck --field user --adjoint $adj 2>&1)
  err=$(sed -n 's/^max_rel_err: //p' <<<"$out")
  if [ -n "$err" ] && awk -v e="$err" 'BEGIN { exit !(e < 1e-4) }'; then
    pass=$((pass + 1))
  else
    echo "FAIL: gradcheck --field user --adjoint $adj: $out"
    fail=$((fail + 1))
  fi
done
# Divergence: a learning rate of 1000 blows the loss up; nde train and nde
# table3 fail (exit 1) naming the epoch, the batch and the loss, and a good
# checkpoint is never replaced by a diverged state.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/tiny_data.sh"
tiny_data "$work/data"
tiny=(--data "$work/data" --batch 16 --solver euler)
expect 1 "training diverged in epoch 1, batch [0-9]+: the loss [0-9.e+]+ is above the bound 1000 ln 10 = 2303 \(10 classes\); no checkpoint was written; lower the learning rate" \
  -- "$nde" train --out "$work/div" "${tiny[@]}" --epochs 2 --lr 1000
expect 1 "the learning rate was 1000: run again with a smaller --lr$" \
  -- "$nde" train --out "$work/div" "${tiny[@]}" --epochs 2 --lr 1000
if [ -e "$work/div/checkpoint.ndeckpt" ]; then
  echo "FAIL: a diverged first epoch wrote a checkpoint"
  fail=$((fail + 1))
fi
expect 0 "epochs: 1 " -- "$nde" train --out "$work/good" "${tiny[@]}" --epochs 1
cp "$work/good/checkpoint.ndeckpt" "$work/good.ckpt"
out=$("$nde" train --out "$work/good" "${tiny[@]}" --epochs 3 --lr 1000 --resume 2>&1)
rc=$?
if [ "$rc" -ne 1 ] ||
  ! grep -q "training diverged in epoch 2, batch [0-9]*: .*'$work/good/checkpoint.ndeckpt' keeps the state after epoch 1; lower the learning rate" <<<"$out" ||
  ! grep -q "smaller --lr and --resume to go on from the last good checkpoint" <<<"$out"; then
  echo "FAIL: resuming with --lr 1000 gave exit $rc and: $out"
  fail=$((fail + 1))
elif ! cmp -s "$work/good.ckpt" "$work/good/checkpoint.ndeckpt"; then
  echo "FAIL: resuming with --lr 1000 replaced the good checkpoint"
  fail=$((fail + 1))
else
  pass=$((pass + 1))
fi
expect 0 "epochs: 3 " -- "$nde" train --out "$work/good" "${tiny[@]}" --epochs 3 --resume
expect 1 "nde table3: training diverged in epoch 2, batch 1: the loss" \
  -- "$nde" table3 --out "$work/t3" --data "$work/data" --solver euler --epochs 2 --lr 1000
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
