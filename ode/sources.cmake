# The ode/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  arkode_forward.c
  cvodes_forward.c
  field.c
  fixed_point.c
  fixed_step.c
  memory.c
  nvector_fast.c
  options.c
  solver.c
  sundials_glue.c
)
