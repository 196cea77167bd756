# The adjoint/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  adjoint.c
  backsolve.c
  checkpoint.c
  direct.c
)
