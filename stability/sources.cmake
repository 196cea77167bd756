# The stability/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  activation.c
  conditions.c
  fixed_points.c
  grid.c
  net_jacobian.c
  pwa.c
  sdense.c
  spectrum.c
  wparam.c
  wparam_disc.c
  wparam_householder.c
  wparam_svd.c
)
