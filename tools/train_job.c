#define _POSIX_C_SOURCE 200809L
#include "tools/train_job.h"

#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/commands.h"

int tool_load_fashion_mnist(const char *dir, nde_dataset **train, nde_dataset **test) {
  int rc = nde_data_load_fashion_mnist(dir, 1, train);
  if (rc) return rc;
  rc = nde_data_load_fashion_mnist(dir, 0, test);
  if (rc) {
    nde_dataset_free(*train);
    *train = NULL;
  }
  return rc;
}

int tool_mkdirs(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char keep = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "nde: cannot create directory '%s': %s\n", buf, strerror(errno));
        return -1;
      }
      buf[i] = keep;
    }
  }
  return 0;
}

/* Test-only fault injection for the crash-consistency test
 * (tests/cli/crash.sh): NDE_FAULT_AT=POINT:N kills the process with SIGKILL
 * the N-th time (from 1) the training run reaches POINT, one of the points
 * listed with nde_train_options.fault_hook. */
typedef struct fault_at {
  char point[64];
  long count, seen;
} fault_at;

static void kill_at_point(const char *point, void *ctx) {
  fault_at *f = ctx;
  if (!strcmp(point, f->point) && ++f->seen == f->count) raise(SIGKILL);
}

static int parse_fault_at(const char *spec, fault_at *f) {
  const char *colon = spec ? strrchr(spec, ':') : NULL;
  if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof f->point) return 0;
  char *end;
  long n = strtol(colon + 1, &end, 10);
  if (*end || n < 1) return 0;
  memcpy(f->point, spec, (size_t)(colon - spec));
  f->point[colon - spec] = '\0';
  f->count = n;
  f->seen = 0;
  return 1;
}

int tool_train_job_run(const tool_train_job *job, const nde_dataset *train,
                       const nde_dataset *test, nde_train_summary *sum, size_t *params,
                       nde_model **model_out) {
  nde_model *m;
  int rc = nde_model_create(&job->model, &m);
  if (rc) return rc;
  nde_rng rng;
  nde_rng_seed(&rng, job->init_seed);
  rc = nde_model_init(m, &rng);
  if (!rc && tool_mkdirs(job->train.out_dir)) rc = NDE_ERR_IO;
  nde_train_options t = job->train;
  fault_at fault;
  if (parse_fault_at(getenv("NDE_FAULT_AT"), &fault)) {
    t.fault_hook = kill_at_point;
    t.fault_ctx = &fault;
  }
  if (!rc) rc = nde_train_run(m, train, test, &t, sum);
  if (params) *params = nde_model_num_params(m);
  if (!rc && model_out)
    *model_out = m;
  else
    nde_model_free(m);
  return rc;
}

int tool_train_fail(const char *cmd, int code, double lr, const char *out_dir) {
  tool_fail(cmd, code);
  if (code != NDE_ERR_DIVERGED) return 1;
  char ckpt[4200];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.ndeckpt", out_dir);
  if (access(ckpt, R_OK) == 0)
    fprintf(stderr,
            "nde %s: the learning rate was %g: run again with a smaller --lr and --resume to go "
            "on from the last good checkpoint\n",
            cmd, lr);
  else
    fprintf(stderr, "nde %s: the learning rate was %g: run again with a smaller --lr\n", cmd, lr);
  return 1;
}

nde_ode_options tool_other_solver(const nde_ode_options *base) {
  nde_ode_options other = *base;
  if (base->method == NDE_ODE_ADAMS) {
    other.method = NDE_ODE_DOPRI5;
    other.adjoint = NDE_ADJ_BACKSOLVE;
  } else {
    other.method = NDE_ODE_ADAMS;
    other.adjoint = NDE_ADJ_CHECKPOINT;
  }
  return other;
}

/* A copy of m (same options and weights) with other solver options. */
static int clone_with_solver(nde_model *m, const nde_ode_options *ode, nde_model **out) {
  nde_model_options o = *nde_model_get_options(m);
  o.ode = *ode;
  int rc = nde_model_create(&o, out);
  if (rc) return rc;
  memcpy(nde_model_params(*out), nde_model_params(m), nde_model_num_params(m) * sizeof(nde_real));
  nde_real *s1, *s2;
  size_t n1, n2;
  nde_model_state(m, &s1, &n1);
  nde_model_state(*out, &s2, &n2);
  if (n1 && n1 == n2) memcpy(s2, s1, n1 * sizeof(nde_real));
  return NDE_OK;
}

int tool_measure_solver(nde_model *m, const nde_ode_options *ode, const nde_dataset *train,
                        const nde_dataset *test, int nb, int test_subset, double *nfe_f,
                        double *nfe_b, double *test_nfe_f) {
  nde_model *m2 = NULL;
  int rc = clone_with_solver(m, ode, &m2);
  if (rc) return rc;
  /* one normalization value per channel of the data */
  double *mean = malloc((size_t)train->c * sizeof *mean);
  double *std = malloc((size_t)train->c * sizeof *std);
  nde_batch_iter *it = NULL;
  rc = mean && std ? nde_data_channel_stats(train, mean, std) : NDE_ERR_NOMEM;
  nde_batch_options bo = nde_batch_options_default();
  bo.mean = mean;
  bo.std = std;
  bo.seed = 99;
  if (!rc && (nfe_f || nfe_b)) rc = nde_batch_iter_create(train, &bo, &it);
  double sf = 0, sb = 0;
  int k = 0;
  nde_batch b;
  const double alpha = nde_rman_alpha(&nde_model_get_options(m2)->rman, 0);
  while (it && !rc && k < nb && !(rc = nde_batch_iter_next(it, &b)) && b.n > 0) {
    nde_model_result r;
    nde_ode_stats bw;
    rc = nde_model_forward(m2, b.n, b.x, b.labels, alpha, 1, &r);
    if (!rc) rc = nde_model_backward(m2, &bw);
    if (!rc) {
      sf += r.fwd.nfe;
      sb += bw.nfe + bw.nfe_quad;
      k++;
    }
  }
  nde_batch_iter_free(it);
  if (nfe_f) *nfe_f = k ? sf / k : NAN;
  if (nfe_b) *nfe_b = k ? sb / k : NAN;
  if (!rc && test_nfe_f && test) {
    /* the test forward alone: no adjoint memory */
    nde_model *m3 = NULL;
    nde_ode_options fwd = *ode;
    fwd.adjoint = NDE_ADJ_NONE;
    rc = clone_with_solver(m2, &fwd, &m3);
    double err;
    if (!rc) rc = nde_train_evaluate(m3, test, mean, std, test_subset, &err, test_nfe_f);
    nde_model_free(m3);
  }
  nde_model_free(m2);
  free(mean);
  free(std);
  return rc;
}

int tool_pooled_features(nde_model *m, const nde_dataset *ds, const double *mean,
                         const double *std, int subset, uint64_t seed, nde_rman_stats *st,
                         double *norms, long cap, long *n) {
  const nde_model_options *mo = nde_model_get_options(m);
  nde_batch_options bo = nde_batch_options_default();
  bo.batch_size = mo->max_batch;
  bo.shuffle = subset > 0;
  bo.subset = subset;
  bo.mean = mean;
  bo.std = std;
  bo.seed = seed;
  nde_batch_iter *it = NULL;
  int rc = nde_batch_iter_create(ds, &bo, &it);
  if (!rc && st) rc = nde_rman_stats_set_attractors(st, nde_model_attractors(m));
  nde_model_set_training(m, 0);
  long k = 0;
  nde_batch b;
  while (!rc && !(rc = nde_batch_iter_next(it, &b)) && b.n > 0) {
    nde_model_result r;
    rc = nde_model_forward(m, b.n, b.x, b.labels, 0, 0, &r);
    const nde_real *x = nde_model_features(m);
    if (!rc && st) rc = nde_rman_stats_add(st, b.n, x, nde_model_attractors(m));
    for (int i = 0; !rc && i < b.n; i++, k++) {
      double s = 0;
      for (int j = 0; j < mo->width; j++) s += (double)x[(size_t)i * mo->width + j] * x[(size_t)i * mo->width + j];
      if (norms && k < cap) norms[k] = sqrt(s);
    }
  }
  nde_model_set_training(m, 1);
  nde_batch_iter_free(it);
  if (n) *n = k;
  return rc;
}

int tool_write_matrix(const char *path, const double *a, int h) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "nde: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  for (int i = 0; i < h; i++)
    for (int j = 0; j < h; j++) fprintf(f, "%.8g%s", a[i * h + j], j + 1 < h ? "," : "\n");
  if (fclose(f)) {
    fprintf(stderr, "nde: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  return 0;
}
