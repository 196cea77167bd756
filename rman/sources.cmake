# The rman/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  rman.c
  rman_energy.c
  rman_stats.c
)
