# The data/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  augment.c
  batch.c
  cifar.c
  dataset.c
  file.c
  idx.c
)
