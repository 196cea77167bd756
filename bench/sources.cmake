# The benchmarks, one executable each (bench/), listed by hand: a new file is added here.
set(NDE_BENCHES
  conv.c
  odenet_grad_accuracy.c
  odenet_step.c
  work_precision.c
)
