# The nets/ module's sources in libnde, listed by hand: a new file is added here.
set(NDE_MODULE_SOURCES
  activation.c
  activation_extra.c
  avgpool.c
  batchnorm.c
  big_alloc.c
  blocks.c
  conv2d.c
  dense.c
  groupnorm.c
  im2col.c
  loss.c
  net.c
  resblock.c
  spec.c
  winograd.c
)
