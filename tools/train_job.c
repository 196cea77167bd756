#define _POSIX_C_SOURCE 200809L
#include "tools/train_job.h"

#include <errno.h>
#include <signal.h>
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
