/* Networks on several threads: each network's choices are its own. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

/* A stack of 3x3 stride-1 pad-1 convolutions on 6x6 planes: each layer may
 * take the Winograd path (F(3x3, 3x3)), whose rounding differs from the
 * im2col path's, so a network that took the other path is seen in its
 * output bits. Many layers make the setup long, a wide window for any
 * process-wide switch to be changed by another thread in the middle. */
enum { NLAYER = 12, CH = 4, HW = 6, BATCH = 1, ROUNDS = 20000, RUN_EVERY = 200 };

static nde_shape in_shape(void) { return nde_shape_chw(CH, HW, HW); }

static int make_net(int im2col, nde_net **out) {
  nde_layer_spec s[NLAYER];
  for (int i = 0; i < NLAYER; i++) {
    s[i] = nde_spec_conv2d(CH, 3, 1, 1);
    s[i].conv_algo = im2col ? NDE_CONV_IM2COL : NDE_CONV_AUTO;
  }
  return nde_net_create(in_shape(), BATCH, s, NLAYER, out);
}

static size_t out_len(void) { return (size_t)BATCH * CH * HW * HW; }

/* A network for the test's parameters and input: its scratch size (which
 * depends on the path each layer took) and, when y is not NULL, its output. */
static int run_net(int im2col, const nde_real *params, const nde_real *x, nde_real *y,
                   size_t *scratch) {
  nde_net *net;
  int rc = make_net(im2col, &net);
  if (rc) return rc;
  *scratch = nde_net_scratch_size(net);
  memcpy(nde_net_params(net), params, nde_net_num_params(net) * sizeof *params);
  if (y) rc = nde_net_forward(net, 0.0, BATCH, x, y);
  nde_net_free(net);
  return rc;
}

typedef struct worker {
  int im2col;
  const nde_real *params, *x, *ref;
  size_t ref_scratch;
  nde_real *y;
  int rc, mismatches;
} worker;

/* Every round builds a network and checks its layout (cheap); every
 * RUN_EVERY-th round also runs it and compares the output bits. */
static void *worker_main(void *p) {
  worker *w = p;
  for (int r = 0; r < ROUNDS && !w->rc; r++) {
    const int run = r % RUN_EVERY == 0;
    size_t scratch;
    w->rc = run_net(w->im2col, w->params, w->x, run ? w->y : NULL, &scratch);
    if (!w->rc &&
        (scratch != w->ref_scratch || (run && memcmp(w->y, w->ref, out_len() * sizeof *w->y))))
      w->mismatches++;
  }
  return NULL;
}

/* Two threads build and run networks at the same time, one with Winograd
 * allowed and one without: every output equals that choice's reference
 * computed on one thread (the two references differ, so a network built
 * with the other thread's choice would be caught). */
START_TEST(winograd_choice_per_network) {
  nde_net *probe;
  ck_assert_int_eq(make_net(0, &probe), NDE_OK);
  const size_t np = nde_net_num_params(probe), nx = (size_t)BATCH * nde_net_in_numel(probe);
  nde_rng rng;
  nde_rng_seed(&rng, 13);
  nde_net_init(probe, &rng);
  nde_real *params = malloc(np * sizeof *params), *x = malloc(nx * sizeof *x);
  memcpy(params, nde_net_params(probe), np * sizeof *params);
  nde_net_free(probe);
  tu_fill_normal(x, nx, 1.0, &rng);
  nde_real *ref[2], *y[2];
  size_t ref_scratch[2];
  for (int k = 0; k < 2; k++) {
    ref[k] = malloc(out_len() * sizeof *ref[k]);
    y[k] = malloc(out_len() * sizeof *y[k]);
    ck_assert_int_eq(run_net(k, params, x, ref[k], &ref_scratch[k]), NDE_OK);
  }
  ck_assert_msg(memcmp(ref[0], ref[1], out_len() * sizeof *ref[0]) &&
                    ref_scratch[0] != ref_scratch[1],
                "Winograd and im2col agree: the test could not tell them apart");
  worker w[2];
  pthread_t tid[2];
  for (int k = 0; k < 2; k++) {
    w[k] = (worker){k, params, x, ref[k], ref_scratch[k], y[k], 0, 0};
    ck_assert_int_eq(pthread_create(&tid[k], NULL, worker_main, &w[k]), 0);
  }
  for (int k = 0; k < 2; k++) pthread_join(tid[k], NULL);
  for (int k = 0; k < 2; k++) {
    ck_assert_int_eq(w[k].rc, NDE_OK);
    ck_assert_msg(w[k].mismatches == 0, "%s thread: %d of %d networks differ from its reference",
                  k ? "im2col" : "Winograd", w[k].mismatches, ROUNDS);
  }
  for (int k = 0; k < 2; k++) {
    free(ref[k]);
    free(y[k]);
  }
  free(params);
  free(x);
}
END_TEST

Suite *threads_suite(void) {
  Suite *s = suite_create("threads");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, winograd_choice_per_network);
  suite_add_tcase(s, tc);
  return s;
}
