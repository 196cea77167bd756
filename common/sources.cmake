# The common/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  blas_core.c
  error.c
  memory.c
  parallel.c
  rng.c
)
