# The example programs, one executable each (examples/), listed by hand: a new file is added here.
set(NDE_EXAMPLES
  custom_field.c
  spiral2d.c
)
