#!/usr/bin/env bash
# The nde program: help, usage errors (exit 2 with a message naming the
# problem), failures (exit 1 naming the file), and a real gradient check.
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
