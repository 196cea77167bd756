# The train/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  ckpt_read.c
  ckpt_write.c
  compare.c
  csv_log.c
  loop.c
  optim.c
  progress.c
  schedule.c
)
