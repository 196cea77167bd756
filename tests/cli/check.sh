#!/usr/bin/env bash
# The nde program: help, usage errors (exit 2 with a message naming the
# problem), failures (exit 1 naming the file), a real gradient check, and
# diverging training runs.
set -u
nde=$1
mkckpt=${2:?usage: check.sh NDE CLI_MKCKPT}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
# integers beyond an int are refused, not truncated (4294967297 was batch 1)
expect 2 "--batch expects an integer in \[-2147483648, 2147483647\], got '4294967297'" -- \
  "$nde" train --out /tmp/x --batch 4294967297
expect 2 "--subset expects an integer in .*, got '-9999999999'" -- "$nde" eval /tmp/x --subset -9999999999
expect 2 "unknown --field 'cnn'" -- "$nde" gradcheck --field cnn
expect 1 "/nonexistent/ckpt" -- "$nde" eval /nonexistent/ckpt
expect 1 "/nonexistent/ckpt" -- "$nde" attractors /nonexistent/ckpt
expect 1 "/nonexistent/ckpt" -- "$nde" odespectrum /nonexistent/ckpt
expect 2 "usage: nde odespectrum" -- "$nde" odespectrum
expect 2 "--only must be table3 or table1, got 'table2'" -- "$nde" campaign --only table2
expect 2 "--seeds lists 1 twice" -- "$nde" campaign --seeds 1,2,1
expect 2 "--seeds expects non-negative integers" -- "$nde" campaign --seeds 1,x
expect 2 "unknown configuration 'resnet7-h0'" -- "$nde" campaign --configs resnet7-h0
expect 2 "leave no configuration to run" -- "$nde" campaign --only table1 --configs odenet-h0
for cmd in chnode pwa toy2d table3 campaign; do
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
# nde campaign, tiny (2 seeds, 1 epoch, one batch of 128 images, no
# ResNet-6): both summaries with their claims and pictures; a second
# invocation trains nothing and rebuilds the summaries; settings that differ
# from a run's are refused; the same seed repeats a run exactly in another
# directory (BatchNorm and attractors included) and another seed does not.
camp=$(mktemp -d)
tiny="--seeds 1,2 --epochs 1 --subset 128 --test-subset 128 --nfe-batches 1"
cfgs="odenet-h0,odenet-h8,resnet20-h0,resnet20-h16"
check() { # check DESCRIPTION CONDITION...
  local what=$1
  shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL: campaign: $what"; fail=$((fail + 1)); fi
}
out=$("$nde" campaign --quick $tiny --configs $cfgs --out "$camp/a" 2>&1)
check "first run exits 0: $(tail -n 3 <<<"$out")" [ $? -eq 0 ]
check "prints where it wrote table3.md" grep -q "wrote $camp/a/table3.md" <<<"$out"
check "prints where it wrote table1.md" grep -q "wrote $camp/a/table1.md" <<<"$out"
for t in table3 table1; do
  check "$t.md has its claims" grep -q "^| RMAN lowers the test error" "$camp/a/$t.md"
  check "$t.md has 2 of 2 seeds" grep -q "^| seeds finished | 2 of 2 | 2 of 2 |" "$camp/a/$t.md"
  check "$t.md has a verdict per claim" \
    bash -c "! grep '^| RMAN' '$camp/a/$t.md' | grep -vqE '(supported|contradicted|not resolved at this sample size|n/a) \|\$'"
done
if grep -q "built without PLplot" "$camp/a/table3.md"; then
  echo "cli: nde built without PLplot, campaign pictures not checked"
else
  for fig in table3-loss table3-norms table3-nfe table1-loss table1-norms; do
    for ext in png svg; do check "picture $fig.$ext" test -s "$camp/a/figures/$fig.$ext"; done
  done
fi
out=$("$nde" campaign --quick $tiny --configs $cfgs --out "$camp/a" 2>&1)
check "second run exits 0" [ $? -eq 0 ]
check "second run skips all 8 runs" [ "$(grep -c 'finished earlier, skipped' <<<"$out")" -eq 8 ]
check "second run trains nothing" bash -c "! grep -q 'training from' <<<'$out'"
check "second run rewrites the summaries" grep -q "wrote $camp/a/table1.md" <<<"$out"
expect 2 "seed1 was made with other settings \(it has 'epochs=1', this command gives 'epochs=2'\)" -- \
  "$nde" campaign --quick --seeds 1,2 --epochs 2 --subset 128 --test-subset 128 --configs $cfgs --out "$camp/a"
"$nde" campaign --quick --seeds 1 --epochs 1 --subset 128 --test-subset 128 --nfe-batches 1 \
  --configs odenet-h8,resnet20-h16 --out "$camp/b" >/dev/null 2>&1
for run in table3/odenet-h8 table1/resnet20-h16; do
  a=$camp/a/$run b=$camp/b/$run # every column but the wall times (epochs.csv 16, batches.csv 11)
  check "$run: seed 1 repeats epochs.csv" cmp -s <(cut -d, -f1-15,17- "$a/seed1/epochs.csv") \
    <(cut -d, -f1-15,17- "$b/seed1/epochs.csv")
  check "$run: seed 1 repeats batches.csv" cmp -s <(cut -d, -f1-10 "$a/seed1/batches.csv") \
    <(cut -d, -f1-10 "$b/seed1/batches.csv")
  check "$run: seed 1 repeats its attractors" cmp -s "$a/seed1/attractors.csv" "$b/seed1/attractors.csv"
  check "$run: seed 2's losses differ from seed 1's" \
    bash -c "! cmp -s <(cut -d, -f3 '$a/seed1/batches.csv') <(cut -d, -f3 '$a/seed2/batches.csv')"
  # After one small step the attractors are still about their N(0, 1)
  # draws (||m_j||^2 ~ 64 +- 11): far apart unless the seed missed their
  # initialization, which draws them after every other parameter.
  n1=$(sed -n 2p "$a/seed1/attractors.csv" | cut -d, -f2) n2=$(sed -n 2p "$a/seed2/attractors.csv" | cut -d, -f2)
  check "$run: seed 2's initial attractors differ from seed 1's ($n1, $n2)" \
    awk -v a="$n1" -v b="$n2" 'BEGIN { d = a - b; exit !(a > 0 && b > 0 && (d > 1 || d < -1)) }'
done
rm -rf "$camp"
# Checkpoints of more input channels than the program's old fixed arrays
# (4): 6 overflowed the stack, 64 died with SIGSEGV. Now the model is
# rebuilt with all its channels and the Fashion-MNIST test set (1x28x28) is
# refused by shape.
for c in 6 64; do
  if ! "$mkckpt" "$tmp/c$c.ndeckpt" $c 4; then
    echo "FAIL: cli_mkckpt $c"
    fail=$((fail + 1))
    continue
  fi
  expect 1 "data is 1x28x28 but the model expects ${c}x28x28" -- "$nde" eval "$tmp/c$c.ndeckpt"
  expect 1 "expects ${c}x28x28 images, the data are 1x28x28" -- "$nde" attractors "$tmp/c$c.ndeckpt"
  expect 1 "expects ${c}x28x28 images, the test set has 1x28x28" -- "$nde" odespectrum "$tmp/c$c.ndeckpt"
done
# Meta values of an untrusted checkpoint are range-checked before use.
"$mkckpt" "$tmp/huge_c.ndeckpt" 1 4 in_c=4294967302 &&
  expect 1 "meta 'in_c' = 4294967302 outside \[1, 4096\]" -- "$nde" eval "$tmp/huge_c.ndeckpt"
"$mkckpt" "$tmp/neg_w.ndeckpt" 1 4 width=-3 &&
  expect 1 "meta 'width' = -3 outside \[1, " -- "$nde" attractors "$tmp/neg_w.ndeckpt"
"$mkckpt" "$tmp/big_att.ndeckpt" 1 4 attractors=2147483648 &&
  expect 1 "meta 'attractors' = 2147483648 outside \[0, 2147483647\]" -- "$nde" odespectrum "$tmp/big_att.ndeckpt"
# and the checkpoint of the right shape still evaluates
"$mkckpt" "$tmp/c1.ndeckpt" 1 4 &&
  expect 0 "test_samples: 200 test_err: " -- "$nde" eval "$tmp/c1.ndeckpt" --subset 200
# A batch whose memory cannot fit is refused at once with the estimate
# (under a 2 GB address-space limit --batch 3000 died with SIGSEGV inside
# SUNDIALS's N_VClone; --batch 8000 under 6 GB spun for minutes in
# OpenBLAS's allocator). A build that cannot even start under such a limit
# (AddressSanitizer reserves terabytes) cannot run this check.
if (bash -c 'ulimit -v 2000000 && "$0" version' "$nde"; exit $?) >/dev/null 2>&1; then
  for lim_b in "2000000 3000" "6000000 8000"; do
    set -- $lim_b
    expect 1 "nde train: --batch $2 needs about [0-9.]+ GiB, [0-9.]+ GiB available" -- \
      timeout 60 bash -c 'ulimit -v "$1" && exec "$0" train --out "$2" --batch "$3" --subset "$3" --epochs 1' \
      "$nde" "$1" "$tmp/batch$2" "$2"
  done
else
  echo "note: '$nde' does not start under ulimit -v 2000000; the huge-batch check needs it"
fi
# A fixed step so small that (T - t0) / fixed_h fits no integer: refused
# before any stepping (it once wrapped to a negative count: no step taken,
# a "passing" check, and a heap overflow in the direct adjoint's store).
for sa in "euler direct" "euler backsolve" "rk4 direct" "rk4 backsolve"; do
  set -- $sa
  expect 1 "'$1' with fixed_h = 1e-300 needs 1e\+300 steps on \[0, 1\], more than max_steps" -- \
    "$nde" gradcheck --field user --solver "$1" --adjoint "$2" --fixed-h 1e-300
done
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
