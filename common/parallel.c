/* Slices of work on threads (see parallel_impl.h).
 *
 * A small pool of worker threads, started on first use and kept: slice k
 * of a run goes to worker k (slice 0 to the caller). Starting threads per
 * run cost 40-100 us a run here (stack mapping and page faults), which
 * mattered for the ~40 runs of an ODE-Net step and ruled out short runs
 * altogether. A worker that has finished a slice spins briefly on the job
 * counter before it sleeps on a condition variable, so the runs of one
 * solver step (milliseconds apart or less) find it awake.
 *
 * One run at a time: a run that finds the pool busy (another thread's, or
 * a slice that itself runs slices) starts its own threads instead, as does
 * a run after fork() in the child (pthread_atfork resets the pool there;
 * the parent's workers do not exist in the child). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_impl.h"
#include "common/parallel_impl.h"

/* Tell valgrind's helgrind about the hand-offs through the atomics below
 * (it understands pthread primitives only); no code without valgrind. */
#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#endif
#endif
#ifndef ANNOTATE_HAPPENS_BEFORE
#define ANNOTATE_HAPPENS_BEFORE(obj) ((void)0)
#define ANNOTATE_HAPPENS_AFTER(obj) ((void)0)
#endif

/* OpenBLAS's thread control (the library nde links; see CMakeLists.txt).
 * OpenBLAS 0.3.21 has one process-wide thread count and no per-thread
 * setting, so every change of it below is made under blas_m. */
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

/* BLAS single-threaded while any run is in flight. The thread count is
 * process-wide, so runs of several user threads (or nested runs) share one
 * save/restore: the first to enter saves the count and sets 1, the last to
 * leave restores it. (Each saving and restoring on its own, the first run
 * to finish would give BLAS its threads back while another run's slices
 * still call it, oversubscribing the cores.)
 *
 * The count nde cuts its work by (nde_blas_threads) is the program's
 * choice, blas_user while runs are in flight, not the 1 OpenBLAS has then:
 * otherwise a thread's slices, and so the rounding of its reductions
 * (ode/nvector_fast.c), would depend on whether another thread happened to
 * be running slices. Inside a slice it is 1 (in_slice): no nested runs. */
static pthread_mutex_t blas_m = PTHREAD_MUTEX_INITIALIZER;
static int blas_depth;          /* runs in flight, all threads (under blas_m) */
static int blas_user;           /* the program's count while blas_depth > 0 */
static int blas_restore_child;  /* after fork: give OpenBLAS blas_user back */
static _Thread_local int own_depth; /* runs in flight started by this thread */
static _Thread_local int in_slice;  /* this thread is running a slice */

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void);

/* blas_m, with the fork handlers in place (see register_atfork). */
static void blas_lock(void) {
  pthread_once(&atfork_once, register_atfork);
  pthread_mutex_lock(&blas_m);
}

static int openblas_threads(void) {
  const int t = openblas_get_num_threads();
  return t < 1 ? 1 : t;
}

/* After fork() the child has only the forking thread: runs of the others
 * are gone, and OpenBLAS gets its count back at the next call here (not in
 * the fork handler, where OpenBLAS would start threads). Under blas_m. The
 * fork handlers hold blas_m across fork(), so no thread of nde was inside
 * openblas_set_num_threads then: OpenBLAS 0.3.21 does not reset its own
 * lock in the child, and a child forked in the middle of such a call hung
 * in its next one. */
static void blas_fix_after_fork(void) {
  if (!blas_restore_child) return;
  blas_restore_child = 0;
  if (blas_depth == 0 && blas_user > 1) openblas_set_num_threads(blas_user);
}

int nde_blas_get_threads(void) {
  blas_lock();
  blas_fix_after_fork();
  const int t = blas_depth ? blas_user : openblas_threads();
  pthread_mutex_unlock(&blas_m);
  return t;
}

int nde_blas_set_threads(int n) {
  if (n < 1) return nde_error(NDE_ERR_ARG, "BLAS thread count %d must be >= 1", n);
  blas_lock();
  blas_fix_after_fork();
  if (blas_depth)
    blas_user = n; /* OpenBLAS gets it when the last run ends */
  else
    openblas_set_num_threads(n);
  pthread_mutex_unlock(&blas_m);
  return NDE_OK;
}

int nde_blas_threads(void) { return in_slice ? 1 : nde_blas_get_threads(); }

static void blas_single_enter(void) {
  blas_lock();
  blas_fix_after_fork();
  if (blas_depth++ == 0) {
    blas_user = openblas_threads();
    if (blas_user > 1) openblas_set_num_threads(1);
  }
  own_depth++;
  pthread_mutex_unlock(&blas_m);
}

static void blas_single_leave(void) {
  blas_lock();
  own_depth--;
  if (--blas_depth == 0 && blas_user > 1) openblas_set_num_threads(blas_user);
  pthread_mutex_unlock(&blas_m);
}

typedef struct slice_job {
  nde_slice_fn fn;
  void *arg;
  int slice, rc;
  char msg[1024]; /* the slice thread's error message (thread-local there) */
} slice_job;

static void run_job(slice_job *j) {
  const int was = in_slice;
  in_slice = 1;
  j->rc = j->fn(j->arg, j->slice);
  in_slice = was;
  if (j->rc) snprintf(j->msg, sizeof j->msg, "%s", nde_last_error());
}

/* ---- the pool ---- */

enum { SPIN = 4000 }; /* pause iterations before sleeping (tens of microseconds) */

static struct pool {
  pthread_mutex_t busy; /* held by the thread whose run uses the pool */
  pthread_mutex_t m;
  pthread_cond_t wake, done;
  int nworkers;              /* workers started: slices 1 .. nworkers */
  int count;                 /* slices of the current run */
  atomic_ulong gen;          /* run counter: a new value is a new run */
  atomic_int remaining;      /* workers not yet through the current run */
  unsigned long start_gen[NDE_MAX_SLICES]; /* gen when worker w was started */
  pthread_t tid[NDE_MAX_SLICES];
  int quit; /* set (under m) by the exit handler: workers return */
  slice_job job[NDE_MAX_SLICES];
} P = {.busy = PTHREAD_MUTEX_INITIALIZER,
       .m = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER};

static void blas_fork_prepare(void) { pthread_mutex_lock(&blas_m); }
static void blas_fork_parent(void) { pthread_mutex_unlock(&blas_m); }

static void pool_reset_in_child(void) {
  blas_depth = own_depth; /* the other threads' runs did not come along */
  blas_restore_child = 1;
  pthread_mutex_unlock(&blas_m); /* held by this thread since blas_fork_prepare */
  pthread_mutex_init(&P.busy, NULL);
  pthread_mutex_init(&P.m, NULL);
  pthread_cond_init(&P.wake, NULL);
  pthread_cond_init(&P.done, NULL);
  P.nworkers = 0;
  atomic_store(&P.remaining, 0);
}

static void register_atfork(void) {
  pthread_atfork(blas_fork_prepare, blas_fork_parent, pool_reset_in_child);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void *worker_main(void *p) {
  const int w = (int)(size_t)p;
  /* The run counter as it was before the run that started this worker: a
   * value read here could already include that run, which would then wait
   * for this worker forever. */
  unsigned long seen = P.start_gen[w];
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&P.gen, memory_order_acquire) == seen && spins++ < SPIN)
      cpu_relax();
    if (atomic_load_explicit(&P.gen, memory_order_acquire) == seen) {
      pthread_mutex_lock(&P.m);
      while (atomic_load(&P.gen) == seen) pthread_cond_wait(&P.wake, &P.m);
      pthread_mutex_unlock(&P.m);
    }
    seen = atomic_load(&P.gen);
    ANNOTATE_HAPPENS_AFTER(&P.gen);
    if (P.quit) return NULL;
    if (w < P.count) run_job(&P.job[w]);
    ANNOTATE_HAPPENS_BEFORE(&P.remaining);
    if (atomic_fetch_sub_explicit(&P.remaining, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&P.m);
      pthread_cond_signal(&P.done);
      pthread_mutex_unlock(&P.m);
    }
  }
  return NULL;
}

/* At exit: stop and join the workers, so that nothing of theirs is left
 * (valgrind's leak check sees a clean exit). */
static void pool_shutdown(void) {
  if (P.nworkers == 0 || pthread_mutex_trylock(&P.busy)) return; /* none, or a run in flight */
  pthread_mutex_lock(&P.m);
  P.quit = 1;
  atomic_fetch_add(&P.gen, 1);
  pthread_cond_broadcast(&P.wake);
  pthread_mutex_unlock(&P.m);
  for (int w = 1; w <= P.nworkers; w++) pthread_join(P.tid[w], NULL);
  P.nworkers = 0;
  pthread_mutex_unlock(&P.busy);
}

static void register_atexit(void) { atexit(pool_shutdown); }
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

/* Workers 1 .. need (the caller holds P.busy); 0 when they could not all
 * be started (those that were stay, for later runs). */
static int pool_grow(int need) {
  if (P.nworkers < need) pthread_once(&atexit_once, register_atexit);
  while (P.nworkers < need) {
    const int w = P.nworkers + 1;
    P.start_gen[w] = atomic_load(&P.gen);
    if (pthread_create(&P.tid[w], NULL, worker_main, (void *)(size_t)w)) return 0;
    P.nworkers = w;
  }
  return 1;
}

/* Run slices 1 .. count-1 of P.job on the pool, slice 0 here (the caller
 * holds P.busy and has started the workers). */
static void pool_dispatch(int count) {
  P.count = count;
  atomic_store(&P.remaining, P.nworkers);
  pthread_mutex_lock(&P.m);
  ANNOTATE_HAPPENS_BEFORE(&P.gen);
  atomic_fetch_add_explicit(&P.gen, 1, memory_order_release);
  pthread_cond_broadcast(&P.wake);
  pthread_mutex_unlock(&P.m);
  run_job(&P.job[0]);
  int spins = 0;
  while (atomic_load_explicit(&P.remaining, memory_order_acquire) > 0 && spins++ < 50 * SPIN)
    cpu_relax();
  if (atomic_load(&P.remaining) > 0) {
    pthread_mutex_lock(&P.m);
    while (atomic_load(&P.remaining) > 0) pthread_cond_wait(&P.done, &P.m);
    pthread_mutex_unlock(&P.m);
  }
  ANNOTATE_HAPPENS_AFTER(&P.remaining);
}

static void *thread_main(void *p) {
  run_job(p);
  return NULL;
}

/* Without the pool: a thread per slice (slice 0 here). */
static void spawn_run(slice_job *job, int count) {
  pthread_t tid[NDE_MAX_SLICES];
  int started[NDE_MAX_SLICES] = {0};
  for (int s = 1; s < count; s++) started[s] = pthread_create(&tid[s], NULL, thread_main, &job[s]) == 0;
  run_job(&job[0]);
  for (int s = 1; s < count; s++) {
    if (started[s])
      pthread_join(tid[s], NULL);
    else
      run_job(&job[s]); /* no thread: run it here */
  }
}

int nde_run_slices(int count, nde_slice_fn fn, void *arg) {
  if (count <= 1) return fn(arg, 0);
  if (count > NDE_MAX_SLICES) count = NDE_MAX_SLICES;
  blas_single_enter(); /* registers the fork handlers */
  slice_job own[NDE_MAX_SLICES], *job = own;
  int pooled = 0;
  if (pthread_mutex_trylock(&P.busy) == 0) {
    if (pool_grow(count - 1)) {
      pooled = 1;
      job = P.job;
    } else {
      pthread_mutex_unlock(&P.busy);
    }
  }
  for (int s = 0; s < count; s++) job[s] = (slice_job){.fn = fn, .arg = arg, .slice = s};
  if (pooled)
    pool_dispatch(count);
  else
    spawn_run(job, count);
  int rc = 0;
  for (int s = 0; s < count && !rc; s++)
    if (job[s].rc) {
      rc = job[s].rc;
      /* Re-raise in this thread; a positive code (a user callback's
       * "recoverable") keeps its sign and carries no message. */
      if (rc < 0) nde_error(rc, "%s", job[s].msg);
    }
  if (pooled) pthread_mutex_unlock(&P.busy);
  blas_single_leave();
  return rc;
}
