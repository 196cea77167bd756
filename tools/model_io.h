/* Shared by the nde subcommands: model options from the command line and
 * models rebuilt from checkpoints. */
#ifndef NDE_TOOLS_MODEL_IO_H
#define NDE_TOOLS_MODEL_IO_H

#include "nde/nde.h"
#include "tools/args.h"

/* Read --solver, --adjoint, --rtol, --atol, --batch-mode into o->ode.
 * Prints errors naming the option; returns 0 or 2. */
int tool_read_ode_options(nde_args *a, nde_model_options *o);

/* Largest input channel count and image side a checkpoint may announce
 * (its meta is untrusted; larger values are refused with NDE_ERR_FORMAT). */
#define TOOL_MAX_CHANNELS 4096
#define TOOL_MAX_SIDE 65536

/* Rebuild the model a checkpoint was trained with and load its parameters
 * (and model state). *mean and *std (malloc'd, in_c values each, free with
 * free()) receive the normalization the training used. ode_override (may be
 * NULL) replaces the solver options. On failure nothing is allocated and
 * nde_last_error() says why. */
int tool_model_from_ckpt(const char *path, int max_batch, const nde_ode_options *ode_override,
                         nde_model **out, double **mean, double **std);

/* 0 when the data have the model's input shape; else prints
 * "nde CMD: PATH expects CxHxW images, the data are cxhxw" and returns 1. */
int tool_check_data_shape(const char *cmd, const char *path, const nde_model *m,
                          const nde_dataset *ds);

#endif
