/* One training job (model + data + options), shared by `nde train`,
 * `nde table3` and `nde campaign`, and the measurements those commands make
 * on trained weights. */
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

/* The other solver of the pair nde reports NFE for: {CVODES Adams +
 * checkpointed adjoint, ARKODE Dormand-Prince 5(4) + backsolve
 * (torchdiffeq's default, behind the RMAN paper's NFE)}: Dormand-Prince for
 * an Adams base, Adams for anything else. Tolerances are kept. */
nde_ode_options tool_other_solver(const nde_ode_options *base);

/* NFE of the trained weights of m under solver options ode: mean NFE-F and
 * NFE-B per batch over nb training batches (forward and backward, no
 * update; batch order seeded, independent of any run's seed) and mean NFE-F
 * per test batch over test_subset test images (0: all). Outputs may be
 * NULL (test may then be NULL too). */
int tool_measure_solver(nde_model *m, const nde_ode_options *ode, const nde_dataset *train,
                        const nde_dataset *test, int nb, int test_subset, double *nfe_f,
                        double *nfe_b, double *test_nfe_f);

/* One evaluation pass of m over ds (subset > 0: a fixed random subset drawn
 * with `seed`), normalized by mean/std: the norms ||x|| of the pooled
 * features of every sample into norms (capacity cap; NULL: not kept; *n
 * receives the number of samples) and, with st != NULL, the RMAN
 * statistics of those features (st sized for the model's attractors). */
int tool_pooled_features(nde_model *m, const nde_dataset *ds, const double *mean,
                         const double *std, int subset, uint64_t seed, nde_rman_stats *st,
                         double *norms, long cap, long *n);

/* An h x h matrix as CSV (one row per line). Returns 0 or 1 (message printed). */
int tool_write_matrix(const char *path, const double *a, int h);

#endif
