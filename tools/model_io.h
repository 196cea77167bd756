/* Shared by the nde subcommands: model options from the command line and
 * models rebuilt from checkpoints. */
#ifndef NDE_TOOLS_MODEL_IO_H
#define NDE_TOOLS_MODEL_IO_H

#include "nde/nde.h"
#include "tools/args.h"

/* Read --solver, --adjoint, --rtol, --atol, --batch-mode into o->ode.
 * Prints errors naming the option; returns 0 or 2. */
int tool_read_ode_options(nde_args *a, nde_model_options *o);

/* Rebuild the model a checkpoint was trained with and load its parameters
 * (and model state). mean/std (4 values each) receive the normalization the
 * training used. ode_override (may be NULL) replaces the solver options. */
int tool_model_from_ckpt(const char *path, int max_batch, const nde_ode_options *ode_override,
                         nde_model **out, double *mean, double *std);

#endif
