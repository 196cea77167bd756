# The models/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  body.c
  model.c
  stem.c
)
