# The hamiltonian/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  analysis.c
  block_ode.c
  classifier.c
  contraction.c
  discrete.c
  field.c
  ham.c
  kernels.c
  noise.c
)
