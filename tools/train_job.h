/* One training job (model + data + options), shared by `nde train` and
 * `nde table3`. */
#ifndef NDE_TOOLS_TRAIN_JOB_H
#define NDE_TOOLS_TRAIN_JOB_H

#include "nde/nde.h"

typedef struct tool_train_job {
  nde_model_options model;
  nde_train_options train;
  const char *data_dir; /* NULL: the Debian package's Fashion-MNIST */
  uint64_t init_seed;   /* parameter initialization */
} tool_train_job;

/* Load the data once for several jobs. */
int tool_load_fashion_mnist(const char *dir, nde_dataset **train, nde_dataset **test);

/* Create the output directory (and parents) if needed. */
int tool_mkdirs(const char *path);

/* Train; *params receives the model's parameter count and the trained model
 * is returned in *model_out when not NULL (else freed). */
int tool_train_job_run(const tool_train_job *job, const nde_dataset *train,
                       const nde_dataset *test, nde_train_summary *sum, size_t *params,
                       nde_model **model_out);

/* Report a failed training job like tool_fail (exit status 1); for a
 * diverged run (NDE_ERR_DIVERGED) add which --lr to lower and, when out_dir
 * holds a checkpoint, that --resume goes on from it. */
int tool_train_fail(const char *cmd, int code, double lr, const char *out_dir);

#endif
