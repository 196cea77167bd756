cd /work/main
for r in 1 2 3; do
  for inp in normal fashion; do
    echo "=== round $r torch odenet $inp"; /usr/bin/python3 bench/torch_reference/odenet_step.py --model odenet --input $inp --steps 3 2>&1 | grep -E "sec_per_step|nfe_|peak|sec_f_eval|sec_vjp_eval|sec_forward|sec_backward"
    echo "=== round $r nde adams $inp"; OPENBLAS_NUM_THREADS=2 build/bench/odenet_step --steps 3 --input $inp | grep -E "sec_|nfe_|peak"
    echo "=== round $r nde dopri5 $inp"; OPENBLAS_NUM_THREADS=2 build/bench/odenet_step --steps 3 --input $inp --solver dopri5 --adjoint backsolve | grep -E "sec_|nfe_|peak"
  done
  echo "=== round $r torch resnet6"; /usr/bin/python3 bench/torch_reference/odenet_step.py --model resnet6 --input normal --steps 3 2>&1 | grep -E "sec_per_step|peak"
  echo "=== round $r nde resnet6"; OPENBLAS_NUM_THREADS=2 build/bench/odenet_step --steps 3 --model resnet6 | grep -E "sec_per|peak"
done
