/* Network fields split over threads (nde_field_create_net_split): on the
 * ODE-Net's ODE function (GroupNorm, ReLU, ConcatConv) a batch cut into
 * slices gives what one network gives on the whole batch, forward, input
 * vjp and parameter vjp, with the stored-forward reuse intact; small
 * batches stay on one thread; bad network sets are refused; and an error
 * raised on a slice thread reaches the caller with its message. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/parallel_impl.h"
#include "ode/field_impl.h"
#include "support/testutil.h"

enum { NS = 3, SLICE = 14, NB = 40 }; /* 3 slices of up to 14 samples; batch 40 */

typedef struct split_fixture {
  nde_net *whole, *part[NS];
  nde_field *f1, *fs;
  size_t dim, np;
} split_fixture;

static void fixture_make(split_fixture *x) {
  const nde_shape st = nde_shape_chw(8, 4, 4);
  ck_assert_int_eq(nde_net_create_odefunc(st, 4, NB, &x->whole), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 21);
  nde_net_init(x->whole, &rng);
  for (int k = 0; k < NS; k++) {
    ck_assert_int_eq(nde_net_create_odefunc(st, 4, SLICE, &x->part[k]), NDE_OK);
    ck_assert_int_eq(
        nde_net_bind(x->part[k], nde_net_params(x->whole), nde_net_grads(x->whole)), NDE_OK);
  }
  ck_assert_int_eq(nde_field_create_net(x->whole, &x->f1), NDE_OK);
  ck_assert_int_eq(nde_field_create_net_split(x->part, NS, &x->fs), NDE_OK);
  ck_assert_int_eq(nde_field_max_batch(x->fs), NS * SLICE);
  x->dim = nde_field_dim(x->fs);
  x->np = nde_field_num_params(x->fs);
  ck_assert_uint_eq(x->dim, 128);
  ck_assert_uint_eq(x->np, nde_net_num_params(x->whole));
}

static void fixture_free(split_fixture *x) {
  nde_field_free(x->f1);
  nde_field_free(x->fs);
  for (int k = 0; k < NS; k++) nde_net_free(x->part[k]);
  nde_net_free(x->whole);
}

static double max_rel(const double *a, const double *b, size_t n) {
  double m = 0, scale = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]) / (scale + 1e-30));
  return m;
}

/* Compare the split field with the whole network on a batch of n. */
static void compare_at(split_fixture *x, int n) {
  const size_t len = (size_t)n * x->dim;
  double *y = malloc(len * sizeof *y), *a = malloc(len * sizeof *a);
  double *f1 = malloc(len * sizeof *f1), *fs = malloc(len * sizeof *fs);
  double *j1 = malloc(len * sizeof *j1), *js = malloc(len * sizeof *js);
  double *g1 = calloc(x->np, sizeof *g1), *gs = calloc(x->np, sizeof *gs);
  nde_rng rng;
  nde_rng_seed(&rng, (uint64_t)n);
  for (size_t i = 0; i < len; i++) {
    y[i] = nde_rng_normal(&rng);
    a[i] = nde_rng_normal(&rng);
  }
  ck_assert_int_eq(nde_field_rhs(x->f1, 0.7, n, y, f1), NDE_OK);
  ck_assert_int_eq(nde_field_rhs(x->fs, 0.7, n, y, fs), NDE_OK);
  const double tol = NDE_REAL_IS_DOUBLE ? 1e-12 : 2e-5;
  ck_assert_msg(max_rel(fs, f1, len) <= tol, "n %d: f differs by %g", n, max_rel(fs, f1, len));
  /* the backward pattern: input vjp, then the parameter vjp reusing the forward */
  nde_field_forget_forward(x->fs);
  ck_assert_int_eq(nde_field_eval_vjp(x->f1, 0.7, n, y, a, NULL, j1, NULL), 0);
  ck_assert_int_eq(nde_field_eval_vjp(x->fs, 0.7, n, y, a, NULL, js, NULL), 0);
  long before = x->fs->nforward;
  ck_assert_int_eq(nde_field_eval_vjp(x->f1, 0.7, n, y, a, NULL, NULL, g1), 0);
  ck_assert_int_eq(nde_field_eval_vjp(x->fs, 0.7, n, y, a, NULL, NULL, gs), 0);
  ck_assert_int_eq(x->fs->nforward, before); /* reused across the slices */
  ck_assert_msg(max_rel(js, j1, len) <= tol, "n %d: J^T a differs by %g", n, max_rel(js, j1, len));
  const double gtol = NDE_REAL_IS_DOUBLE ? 1e-12 : 1e-4; /* summed in another order */
  ck_assert_msg(max_rel(gs, g1, x->np) <= gtol, "n %d: gradient differs by %g", n,
                max_rel(gs, g1, x->np));
  free(y);
  free(a);
  free(f1);
  free(fs);
  free(j1);
  free(js);
  free(g1);
  free(gs);
}

START_TEST(split_field_matches_whole_network) {
  split_fixture x;
  fixture_make(&x);
  compare_at(&x, NB); /* 13 + 13 + 14 */
  compare_at(&x, 17); /* 8 + 9 on two threads */
  compare_at(&x, 5); /* one slice */
  /* a batch beyond 3 x 14 is refused */
  double y[1] = {0};
  ck_assert_int_eq(nde_field_rhs(x.fs, 0, NS * SLICE + 1, y, y), NDE_ERR_BATCH);
  fixture_free(&x);
}
END_TEST

START_TEST(split_field_refuses_bad_sets) {
  nde_net *a, *b, *c;
  const nde_shape st = nde_shape_chw(8, 4, 4);
  ck_assert_int_eq(nde_net_create_odefunc(st, 4, 6, &a), NDE_OK);
  ck_assert_int_eq(nde_net_create_odefunc(st, 4, 6, &b), NDE_OK);
  ck_assert_int_eq(nde_net_create_odefunc(st, 4, 7, &c), NDE_OK);
  nde_field *f = NULL;
  nde_net *ab[] = {a, b}, *ac[] = {a, c}, *an[] = {a, NULL};
  ck_assert_int_eq(nde_field_create_net_split(ab, 2, &f), NDE_ERR_ARG); /* not bound */
  ck_assert_ptr_null(f);
  ck_assert(strstr(nde_last_error(), "nde_net_bind") != NULL);
  nde_net_bind(b, nde_net_params(a), nde_net_grads(a));
  nde_net_bind(c, nde_net_params(a), nde_net_grads(a));
  ck_assert_int_eq(nde_field_create_net_split(ac, 2, &f), NDE_ERR_SHAPE); /* max_batch 6 vs 7 */
  ck_assert_int_eq(nde_field_create_net_split(an, 2, &f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_field_create_net_split(ab, 0, &f), NDE_ERR_ARG);
  ck_assert_int_eq(nde_field_create_net_split(ab, NDE_MAX_SLICES + 1, &f), NDE_ERR_ARG);
  ck_assert_int_eq(nde_field_create_net_split(ab, 2, &f), NDE_OK);
  ck_assert_int_eq(nde_field_max_batch(f), 12);
  nde_field_free(f);
  nde_net_free(a);
  nde_net_free(b);
  nde_net_free(c);
}
END_TEST

/* Slices record which thread ran them; slice 2 fails. */
typedef struct slice_probe {
  int ran[4];
  int fail_slice;
} slice_probe;

static int probe_slice(void *arg, int k) {
  slice_probe *p = arg;
  p->ran[k]++;
  if (k == p->fail_slice) return nde_error(NDE_ERR_NUMERIC, "slice %d failed on purpose", k);
  return 0;
}

START_TEST(slice_errors_reach_the_caller) {
  slice_probe p = {{0}, -1};
  nde_clear_error();
  ck_assert_int_eq(nde_run_slices(4, probe_slice, &p), 0);
  for (int k = 0; k < 4; k++) ck_assert_int_eq(p.ran[k], 1);
  p = (slice_probe){{0}, 2};
  ck_assert_int_eq(nde_run_slices(4, probe_slice, &p), NDE_ERR_NUMERIC);
  for (int k = 0; k < 4; k++) ck_assert_int_eq(p.ran[k], 1);
  ck_assert_str_eq(nde_last_error(), "slice 2 failed on purpose");
  const int blas = nde_blas_threads();
  ck_assert_int_eq(nde_run_slices(2, probe_slice, &p), 0);
  ck_assert_int_eq(nde_blas_threads(), blas); /* restored */
}
END_TEST

/* Two user threads running slices at the same time (one gets the pool, the
 * other starts its own threads): every slice runs, and the shared
 * save/restore of BLAS's thread count gives back what it was before, not
 * the 1 set during the runs. */
typedef struct runner {
  int count, failures;
} runner;

static int count_slice(void *arg, int k) {
  (void)k;
  __atomic_add_fetch(&((runner *)arg)->count, 1, __ATOMIC_RELAXED);
  return 0;
}

static void *run_many(void *arg) {
  runner *r = arg;
  for (int i = 0; i < 300; i++)
    if (nde_run_slices(3, count_slice, r)) r->failures++;
  return NULL;
}

START_TEST(concurrent_runs_restore_blas) {
  const int blas = nde_blas_threads();
  nde_blas_set_threads(2);
  runner a = {0, 0}, b = {0, 0};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, run_many, &a), 0);
  run_many(&b);
  pthread_join(t, NULL);
  ck_assert_int_eq(a.count, 900);
  ck_assert_int_eq(b.count, 900);
  ck_assert_int_eq(a.failures + b.failures, 0);
  ck_assert_int_eq(nde_blas_threads(), 2);
  nde_blas_set_threads(blas);
}
END_TEST

Suite *ode_field_split_suite(void) {
  Suite *s = suite_create("ode_field_split");
  TCase *tc = tcase_create("split");
  tcase_add_test(tc, split_field_matches_whole_network);
  tcase_add_test(tc, split_field_refuses_bad_sets);
  tcase_add_test(tc, slice_errors_reach_the_caller);
  tcase_add_test(tc, concurrent_runs_restore_blas);
  suite_add_tcase(s, tc);
  return s;
}
