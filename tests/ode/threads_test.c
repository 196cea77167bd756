/* Solvers on several user threads: what one thread does (running slices
 * with a single-threaded BLAS, queueing vector operations) never changes
 * what another computes, and a solver may be handed from one thread to
 * another. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/parallel_impl.h"
#include "ode/ode_impl.h"
#include "support/testutil.h"

/* OpenBLAS's own count, to see what nde set it to */
extern int openblas_get_num_threads(void);

/* ---- the BLAS thread count nde works with ---- */

typedef struct spinner {
  int stop;          /* atomic: set by the main thread */
  int seen_in_slice; /* atomic: nde_blas_threads() inside the slices, 1 */
  long runs;         /* atomic: slice runs done */
} spinner;

static int busy_slice(void *arg, int k) {
  spinner *s = arg;
  if (nde_blas_threads() != 1)
    __atomic_store_n(&s->seen_in_slice, nde_blas_threads(), __ATOMIC_RELAXED);
  volatile double acc = 0;
  for (int i = 0; i < 20000; i++) acc += i * (k + 1);
  return 0;
}

static void *spin_slices(void *arg) {
  spinner *s = arg;
  while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
    nde_run_slices(2, busy_slice, s);
    __atomic_add_fetch(&s->runs, 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

/* While another thread runs slices (BLAS set to one thread meanwhile), a
 * third thread still sees the count the program chose: the slices nde
 * cuts, and so the rounding of its reductions, do not depend on what other
 * threads do. Inside a slice the count is 1 (no nested slicing). */
START_TEST(blas_count_unaffected_by_other_threads) {
  const int blas = openblas_get_num_threads();
  nde_blas_set_threads(2);
  spinner s = {0, 1, 0};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, spin_slices, &s), 0);
  long reads = 0, wrong = 0;
  while (reads < 2000000 && (reads < 1000 || __atomic_load_n(&s.runs, __ATOMIC_ACQUIRE) < 200)) {
    wrong += nde_blas_threads() != 2;
    reads++;
  }
  __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
  pthread_join(t, NULL);
  ck_assert_msg(wrong == 0, "%ld of %ld reads of the BLAS thread count gave another value than 2",
                wrong, reads);
  ck_assert_int_eq(s.seen_in_slice, 1);
  ck_assert_int_eq(nde_blas_threads(), 2);
  ck_assert_int_eq(openblas_get_num_threads(), 2); /* restored after the runs */
  nde_blas_set_threads(blas);
}
END_TEST

/* Setting the count while another thread runs slices: nde works with the
 * new count at once, OpenBLAS gets it when the runs end. */
START_TEST(set_blas_count_during_other_threads_slices) {
  const int blas = openblas_get_num_threads();
  ck_assert_int_eq(nde_blas_set_threads(2), NDE_OK);
  spinner s = {0, 1, 0};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, spin_slices, &s), 0);
  while (__atomic_load_n(&s.runs, __ATOMIC_ACQUIRE) < 50) continue;
  ck_assert_int_eq(nde_blas_set_threads(3), NDE_OK);
  ck_assert_int_eq(nde_blas_get_threads(), 3);
  ck_assert_int_eq(nde_blas_threads(), 3);
  __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
  pthread_join(t, NULL);
  ck_assert_int_eq(openblas_get_num_threads(), 3);
  ck_assert_int_eq(nde_blas_set_threads(0), NDE_ERR_ARG);
  ck_assert_str_eq(nde_last_error(), "BLAS thread count 0 must be >= 1");
  ck_assert_int_eq(nde_blas_get_threads(), 3);
  ck_assert_int_eq(nde_blas_set_threads(blas), NDE_OK);
}
END_TEST

/* fork() while another thread runs slices: the child (which has only the
 * forking thread) gets the program's BLAS count back, not the 1 of the
 * parent's run in flight. */
START_TEST(fork_during_other_threads_slices) {
  const int blas = openblas_get_num_threads();
  nde_blas_set_threads(2);
  spinner s = {0, 1, 0};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, spin_slices, &s), 0);
  while (__atomic_load_n(&s.runs, __ATOMIC_ACQUIRE) < 50) continue;
  int in_run = 0, status = -1;
  for (long polls = 0; polls < 100000000 && !in_run; polls++) {
    /* fork at a moment when the other thread's run has OpenBLAS at 1 */
    if (openblas_get_num_threads() != 1) continue;
    in_run = 1;
    const pid_t pid = fork();
    if (pid == 0) {
      const int seen = nde_blas_get_threads(), after = openblas_get_num_threads();
      _exit(seen == 2 && after == 2 ? 0 : 10 * seen + after);
    }
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  }
  __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
  pthread_join(t, NULL);
  nde_blas_set_threads(blas);
  ck_assert_msg(in_run, "never saw the other thread's run in flight");
  ck_assert(WIFEXITED(status));
  ck_assert_msg(WEXITSTATUS(status) == 0, "child: count %d, OpenBLAS %d", WEXITSTATUS(status) / 10,
                WEXITSTATUS(status) % 10);
}
END_TEST

/* ---- solves on two threads against single-thread references ---- */

/* A long state (beyond the length from which vector operations run in
 * slices, ode/nvector_fast.c), a linear coupled field. */
enum { D = 140000, SOLVES = 4 };

static int decay_rhs(double t, int n, const double *y, double *f, void *u) {
  const long len = (long)n * D;
  (void)u;
  for (long i = 0; i < len; i++)
    f[i] = -(0.5 + 0.5 * (double)(i % 7)) * y[i] + 0.3 * t * y[(i + 1) % len];
  return 0;
}

static int decay_vjp(double t, int n, const double *y, const double *a, double *ja, double *g,
                     void *u) {
  const long len = (long)n * D;
  (void)y, (void)g, (void)u;
  for (long i = 0; i < len; i++)
    ja[i] = -(0.5 + 0.5 * (double)(i % 7)) * a[i] + 0.3 * t * a[(i - 1 + len) % len];
  return 0;
}

static nde_field *decay_field(void) {
  nde_field_user fu = {D, 0, 1, decay_rhs, decay_vjp, NULL, NULL};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&fu, &f), NDE_OK);
  return f;
}

static void initial_state(double *y0) {
  for (long i = 0; i < D; i++) y0[i] = 1.0 + 0.01 * (double)(i % 101);
}

typedef struct solver_job {
  int method;
  const double *y0, *ref;
  double *y;
  int rc, mismatches;
} solver_job;

static int make_solver(int method, nde_field *f, nde_ode **ode) {
  nde_ode_options o = nde_ode_options_default();
  o.method = method;
  o.adjoint = NDE_ADJ_BACKSOLVE;
  o.rtol = o.atol = 1e-6;
  return nde_ode_create(f, &o, 1, ode);
}

static void *solve_many(void *arg) {
  solver_job *j = arg;
  nde_field *f = decay_field();
  nde_ode *ode;
  j->rc = make_solver(j->method, f, &ode);
  for (int r = 0; r < SOLVES && !j->rc; r++) {
    j->rc = nde_ode_solve(ode, 1, j->y0, j->y);
    if (!j->rc && memcmp(j->y, j->ref, D * sizeof *j->y)) j->mismatches++;
  }
  nde_ode_free(ode);
  nde_field_free(f);
  return NULL;
}

/* Two threads solve at the same time (Adams and Dormand-Prince, each with
 * its own field and solver; their vector operations run in slices): every
 * result equals the one computed on one thread alone, bit for bit. */
START_TEST(concurrent_solves_match_single_thread) {
  const int blas = openblas_get_num_threads();
  nde_blas_set_threads(2);
  const int methods[2] = {NDE_ODE_ADAMS, NDE_ODE_DOPRI5};
  double *y0 = malloc(D * sizeof *y0), *ref[2], *y[2];
  initial_state(y0);
  solver_job job[2];
  for (int k = 0; k < 2; k++) {
    ref[k] = malloc(D * sizeof *ref[k]);
    y[k] = malloc(D * sizeof *y[k]);
    /* the reference: one solve, alone */
    nde_field *f = decay_field();
    nde_ode *ode;
    ck_assert_int_eq(make_solver(methods[k], f, &ode), NDE_OK);
    ck_assert_int_eq(nde_ode_solve(ode, 1, y0, ref[k]), NDE_OK);
    nde_ode_free(ode);
    nde_field_free(f);
    job[k] = (solver_job){methods[k], y0, ref[k], y[k], 0, 0};
  }
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, solve_many, &job[0]), 0);
  solve_many(&job[1]);
  pthread_join(t, NULL);
  for (int k = 0; k < 2; k++) {
    ck_assert_int_eq(job[k].rc, NDE_OK);
    ck_assert_msg(job[k].mismatches == 0, "%s: %d of %d solves differ from the single-thread one",
                  nde_ode_method_name(methods[k]), job[k].mismatches, SOLVES);
    free(ref[k]);
    free(y[k]);
  }
  free(y0);
  nde_blas_set_threads(blas);
}
END_TEST

/* ---- queued vector operations and handing a solver over ---- */

/* Every call that runs a solver returns with no vector operation of the
 * calling thread still queued, so that the solver's vectors hold their
 * values when another thread takes the solver over (or frees it). */
START_TEST(no_vector_operations_left_queued) {
  static const struct {
    int method, adjoint;
  } pairs[] = {{NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT},
               {NDE_ODE_BDF, NDE_ADJ_CHECKPOINT},
               {NDE_ODE_ADAMS, NDE_ADJ_BACKSOLVE},
               {NDE_ODE_DOPRI5, NDE_ADJ_BACKSOLVE},
               {NDE_ODE_BOSH3, NDE_ADJ_BACKSOLVE}};
  nde_field *f = decay_field();
  double *y0 = malloc(D * sizeof *y0), *y = malloc(D * sizeof *y), *dl = malloc(D * sizeof *dl);
  double *d0 = malloc(D * sizeof *d0);
  initial_state(y0);
  for (long i = 0; i < D; i++) dl[i] = 1e-3 * (double)(i % 13);
  for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
    nde_ode_options o = nde_ode_options_default();
    o.method = pairs[p].method;
    o.adjoint = pairs[p].adjoint;
    nde_ode *ode;
    ck_assert_int_eq(nde_ode_create(f, &o, 1, &ode), NDE_OK);
    const char *name = nde_ode_method_name(o.method), *adj = nde_adjoint_kind_name(o.adjoint);
    ck_assert_msg(nde_nvec_queued() == 0, "%s/%s: %d operations queued after create", name, adj,
                  nde_nvec_queued());
    ck_assert_int_eq(nde_ode_solve(ode, 1, y0, y), NDE_OK);
    ck_assert_msg(nde_nvec_queued() == 0, "%s/%s: %d operations queued after a solve", name, adj,
                  nde_nvec_queued());
    ck_assert_int_eq(nde_adjoint_forward(ode, 1, y0, y), NDE_OK);
    ck_assert_msg(nde_nvec_queued() == 0, "%s/%s: %d operations queued after a forward", name, adj,
                  nde_nvec_queued());
    ck_assert_int_eq(nde_adjoint_backward(ode, dl, d0, NULL), NDE_OK);
    ck_assert_msg(nde_nvec_queued() == 0, "%s/%s: %d operations queued after a backward", name, adj,
                  nde_nvec_queued());
    nde_ode_free(ode);
  }
  nde_field_free(f);
  free(y0);
  free(y);
  free(dl);
  free(d0);
}
END_TEST

/* Whether elementwise operations are queued is each vector's own choice:
 * two threads, one with vectors that queue and one with vectors that do
 * not, run the same sums at the same time; each sees its own behaviour in
 * every round, and both end with the values of one thread alone. */
enum { VLEN = 140000, VROUNDS = 40 };

typedef struct vec_job {
  int queue;
  realtype *out;
  int wrong_queueing;
} vec_job;

static void *vector_sums(void *arg) {
  vec_job *j = arg;
  SUNContext ctx;
  ck_assert_int_eq(SUNContext_Create(NULL, &ctx), 0);
  N_Vector v[3];
  for (int k = 0; k < 3; k++) {
    v[k] = N_VNew_Serial(VLEN, ctx);
    nde_nvec_use_fast_ops(v[k], j->queue);
    realtype *d = N_VGetArrayPointer(v[k]);
    for (long i = 0; i < VLEN; i++) d[i] = 0.001 * (double)((i * (k + 3)) % 1000) - 0.4;
  }
  for (int r = 0; r < VROUNDS; r++) {
    N_VLinearSum(1.0, v[0], 0.5, v[1], v[0]);
    N_VLinearSum(-0.25, v[0], 1.0, v[2], v[1]);
    N_VScale(0.999, v[1], v[2]);
    const int queued = nde_nvec_queued();
    if ((queued > 0) != j->queue) j->wrong_queueing++;
    N_VScale(1.0 / (1.0 + N_VWrmsNorm(v[0], v[2])), v[0], v[0]); /* runs the queue */
  }
  const realtype *d = N_VGetArrayPointer(v[0]);
  memcpy(j->out, d, VLEN * sizeof *d);
  for (int k = 0; k < 3; k++) N_VDestroy(v[k]);
  SUNContext_Free(&ctx);
  return NULL;
}

START_TEST(vector_queue_chosen_per_vector) {
  realtype *ref = malloc(VLEN * sizeof *ref), *out[2];
  vec_job alone = {1, ref, 0};
  vector_sums(&alone);
  ck_assert_int_eq(alone.wrong_queueing, 0);
  vec_job job[2];
  for (int k = 0; k < 2; k++) {
    out[k] = malloc(VLEN * sizeof *out[k]);
    job[k] = (vec_job){k, out[k], 0};
  }
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, vector_sums, &job[0]), 0);
  vector_sums(&job[1]);
  pthread_join(t, NULL);
  for (int k = 0; k < 2; k++) {
    ck_assert_msg(job[k].wrong_queueing == 0,
                  "vectors with queue %d: %d of %d rounds did otherwise", k, job[k].wrong_queueing,
                  VROUNDS);
    ck_assert(memcmp(out[k], ref, VLEN * sizeof *ref) == 0);
    free(out[k]);
  }
  free(ref);
}
END_TEST

static void *free_solver(void *ode) {
  nde_ode_free(ode);
  return NULL;
}

/* A solver used by this thread and freed by another; then this thread
 * solves with a second solver. (Operations left queued in this thread
 * would then write into the first solver's freed vectors.) */
START_TEST(solver_freed_by_another_thread) {
  nde_field *f = decay_field();
  double *y0 = malloc(D * sizeof *y0), *y = malloc(D * sizeof *y), *dl = malloc(D * sizeof *dl);
  double *ref = malloc(D * sizeof *ref);
  initial_state(y0);
  for (long i = 0; i < D; i++) dl[i] = 1e-3 * (double)(i % 13);
  nde_ode *a, *b;
  ck_assert_int_eq(make_solver(NDE_ODE_DOPRI5, f, &b), NDE_OK);
  ck_assert_int_eq(nde_ode_solve(b, 1, y0, ref), NDE_OK);
  ck_assert_int_eq(make_solver(NDE_ODE_DOPRI5, f, &a), NDE_OK);
  ck_assert_int_eq(nde_adjoint_forward(a, 1, y0, y), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(a, dl, NULL, NULL), NDE_OK);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, free_solver, a), 0);
  pthread_join(t, NULL);
  ck_assert_int_eq(nde_ode_solve(b, 1, y0, y), NDE_OK);
  ck_assert(memcmp(y, ref, D * sizeof *y) == 0);
  nde_ode_free(b);
  nde_field_free(f);
  free(y0);
  free(y);
  free(dl);
  free(ref);
}
END_TEST

Suite *ode_threads_suite(void) {
  Suite *s = suite_create("ode_threads");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, blas_count_unaffected_by_other_threads);
  tcase_add_test(tc, set_blas_count_during_other_threads_slices);
  tcase_add_test(tc, fork_during_other_threads_slices);
  tcase_add_test(tc, concurrent_solves_match_single_thread);
  tcase_add_test(tc, vector_queue_chosen_per_vector);
  tcase_add_test(tc, no_vector_operations_left_queued);
  tcase_add_test(tc, solver_freed_by_another_thread);
  suite_add_tcase(s, tc);
  return s;
}
