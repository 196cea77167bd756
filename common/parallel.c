/* Slices of work on threads (see parallel_impl.h). Threads are started per
 * call: at 10-50 us per start against the 5-15 ms of an ODE-function
 * evaluation at batch 128, a persistent pool would not pay for its
 * spinning, which would also compete with OpenBLAS's own threads. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/error_impl.h"
#include "common/parallel_impl.h"

/* OpenBLAS's thread control (the library nde links; see CMakeLists.txt). */
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

int nde_blas_threads(void) {
  int t = openblas_get_num_threads();
  return t < 1 ? 1 : t;
}

typedef struct slice_job {
  nde_slice_fn fn;
  void *arg;
  int slice, rc;
  char msg[1024]; /* the slice thread's error message (thread-local there) */
} slice_job;

static void *slice_main(void *p) {
  slice_job *j = p;
  j->rc = j->fn(j->arg, j->slice);
  if (j->rc) snprintf(j->msg, sizeof j->msg, "%s", nde_last_error());
  return NULL;
}

int nde_run_slices(int count, nde_slice_fn fn, void *arg) {
  if (count <= 1) return fn(arg, 0);
  if (count > NDE_MAX_SLICES) count = NDE_MAX_SLICES;
  slice_job job[NDE_MAX_SLICES];
  pthread_t tid[NDE_MAX_SLICES];
  int started[NDE_MAX_SLICES] = {0};
  const int blas = nde_blas_threads();
  if (blas > 1) openblas_set_num_threads(1);
  for (int s = 1; s < count; s++) {
    job[s] = (slice_job){.fn = fn, .arg = arg, .slice = s};
    started[s] = pthread_create(&tid[s], NULL, slice_main, &job[s]) == 0;
  }
  job[0] = (slice_job){.fn = fn, .arg = arg, .slice = 0};
  job[0].rc = fn(arg, 0);
  if (job[0].rc) snprintf(job[0].msg, sizeof job[0].msg, "%s", nde_last_error());
  for (int s = 1; s < count; s++) {
    if (started[s])
      pthread_join(tid[s], NULL);
    else
      slice_main(&job[s]); /* no thread: run it here */
  }
  if (blas > 1) openblas_set_num_threads(blas);
  for (int s = 0; s < count; s++)
    if (job[s].rc) {
      /* Re-raise in this thread; a positive code (a user callback's
       * "recoverable") keeps its sign and carries no message. */
      if (job[s].rc < 0) nde_error(job[s].rc, "%s", job[s].msg);
      return job[s].rc;
    }
  return 0;
}
