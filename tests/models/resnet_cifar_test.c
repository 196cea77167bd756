/* Pre-activation CIFAR ResNets (NDE_MODEL_RESNET20/32/44/56): parameter and
 * state counts, shapes on CIFAR and Fashion-MNIST sizes, whole-model
 * gradients against finite differences of the loss (BatchNorm in training
 * and evaluation mode, with RMAN), evaluation with running statistics,
 * argument errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

#define ASSERT_OK(call) ck_assert_msg((call) == NDE_OK, "%s", nde_last_error())
#define ASSERT_MSG_HAS(s)                                                                          \
  ck_assert_msg(strstr(nde_last_error(), (s)) != NULL, "message '%s' lacks '%s'",                  \
                nde_last_error(), (s))

static const int kinds[4] = {NDE_MODEL_RESNET20, NDE_MODEL_RESNET32, NDE_MODEL_RESNET44,
                             NDE_MODEL_RESNET56};

/* Parameters at 3x32x32, K = 10, c = 16 (BN 2 per channel, bias-free convs):
 *   stem 3 x 16 x 9                                     =    432
 *   stage 1: n blocks of 2 x 32 + 2 x 9 x 16 x 16       =  4,672 each
 *   stage 2: 32 + 9x16x32 + 64 + 9x32x32 + 16x32        = 14,432, then n - 1 of
 *            2 x 64 + 2 x 9 x 32 x 32                   = 18,560
 *   stage 3: 64 + 9x32x64 + 128 + 9x64x64 + 32x64       = 57,536, then n - 1 of
 *            2 x 128 + 2 x 9 x 64 x 64                  = 73,984
 *   final BN 128, Linear 64 x 10 + 10 = 650
 * total = 97,216 n - 19,366:
 *   n = 3: 272,282   n = 5: 466,714   n = 7: 661,146   n = 9: 855,578.
 * BatchNorm state (mean, var per channel): stage 1 64 per block, stage 2
 * 96 then 128, stage 3 192 then 256, final 128: 448 n + 32. */
static const size_t counts[4] = {272282, 466714, 661146, 855578};
static const size_t states[4] = {1376, 2272, 3168, 4064};

START_TEST(parameter_and_state_counts) {
  for (int i = 0; i < 4; i++) {
    nde_model_options o = nde_model_options_default(kinds[i]);
    ck_assert(o.in.c == 3 && o.in.h == 32 && o.in.w == 32 && o.width == 64 && o.nclasses == 10);
    o.max_batch = 1;
    nde_model *m;
    ASSERT_OK(nde_model_create(&o, &m));
    const int n = 3 + 2 * i;
    ck_assert_uint_eq(nde_model_num_params(m), 97216 * (size_t)n - 19366);
    ck_assert_uint_eq(nde_model_num_params(m), counts[i]);
    ck_assert_uint_eq(nde_model_num_state(m), 448 * (size_t)n + 32);
    ck_assert_uint_eq(nde_model_num_state(m), states[i]);
    nde_real *st;
    size_t ns;
    ASSERT_OK(nde_model_state(m, &st, &ns));
    ck_assert(st != NULL && ns == states[i]);
    ck_assert_ptr_null(nde_model_ode(m));
    nde_model_free(m);
  }
  /* RMAN attractors live on the 64 pooled features, after the linear layer. */
  nde_model_options o = nde_model_options_default(NDE_MODEL_RESNET20);
  o.max_batch = 1;
  o.attractors = 16;
  nde_model *m;
  ASSERT_OK(nde_model_create(&o, &m));
  ck_assert_uint_eq(nde_model_num_params(m), 272282 + 16 * 64);
  size_t off, cnt;
  ASSERT_OK(nde_model_attractor_slice(m, &off, &cnt));
  ck_assert(off == 272282 && cnt == 1024);
  nde_model_free(m);
  /* Fashion-MNIST input: the stem has 1 x 16 x 9 = 144 weights. */
  o = nde_model_options_default(NDE_MODEL_RESNET20);
  o.in = nde_shape_chw(1, 28, 28);
  o.max_batch = 1;
  ASSERT_OK(nde_model_create(&o, &m));
  ck_assert_uint_eq(nde_model_num_params(m), 272282 - 288);
  nde_model_free(m);
  /* The other models keep their defaults and counts. */
  o = nde_model_options_default(NDE_MODEL_ODENET);
  ck_assert(o.in.c == 1 && o.in.h == 28 && o.in.w == 28);
}
END_TEST

START_TEST(names_parse_and_round_trip) {
  const char *names[4] = {"resnet20", "resnet32", "resnet44", "resnet56"};
  for (int i = 0; i < 4; i++) {
    int k = 0;
    ASSERT_OK(nde_model_kind_parse(names[i], &k));
    ck_assert_int_eq(k, kinds[i]);
    ck_assert_str_eq(nde_model_kind_name(kinds[i]), names[i]);
  }
  int k = 0;
  ASSERT_OK(nde_model_kind_parse("resnet6", &k));
  ck_assert_int_eq(k, NDE_MODEL_RESNET6);
  ASSERT_OK(nde_model_kind_parse("odenet", &k));
  ck_assert_int_eq(k, NDE_MODEL_ODENET);
  ck_assert_int_eq(nde_model_kind_parse("resnet21", &k), NDE_ERR_KIND);
  ASSERT_MSG_HAS("unknown model 'resnet21'");
  ASSERT_MSG_HAS("resnet56");
  ck_assert_str_eq(nde_model_kind_name(99), "unknown");
}
END_TEST

START_TEST(output_shapes_fashion_and_cifar) {
  /* 1x28x28: 28 -> 28 -> 14 -> 7, 3x32x32: 32 -> 32 -> 16 -> 8; logits
   * n x K, pooled features n x 64, nonnegative (means of ReLU outputs). */
  const nde_shape ins[2] = {nde_shape_chw(1, 28, 28), nde_shape_chw(3, 32, 32)};
  for (int t = 0; t < 2; t++) {
    nde_model_options o = nde_model_options_default(NDE_MODEL_RESNET20);
    o.in = ins[t];
    o.nclasses = 7;
    o.max_batch = 2;
    nde_model *m;
    ASSERT_OK(nde_model_create(&o, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 3 + t);
    ASSERT_OK(nde_model_init(m, &rng));
    const size_t nx = 2 * nde_shape_numel(ins[t]);
    nde_real *x = malloc(nx * sizeof *x);
    tu_fill_normal(x, nx, 1.0, &rng);
    int labels[2] = {6, 0};
    nde_model_result r;
    ASSERT_OK(nde_model_forward(m, 2, x, labels, 0, 1, &r));
    ck_assert(isfinite(r.loss) && r.loss > 0 && r.nerr >= 0 && r.nerr <= 2);
    ck_assert(r.fwd.nfe == 0); /* no ODE block */
    const nde_real *f = nde_model_features(m), *z = nde_model_logits(m);
    double fs = 0;
    for (int i = 0; i < 2 * 64; i++) {
      ck_assert(f[i] >= 0);
      fs += f[i];
    }
    ck_assert(fs > 0);
    for (int i = 0; i < 2 * 7; i++) ck_assert(isfinite(z[i]));
    nde_ode_stats bw;
    ASSERT_OK(nde_model_backward(m, &bw));
    ck_assert(bw.nfe == 0);
    free(x);
    nde_model_free(m);
  }
}
END_TEST

/* ---- whole-model gradient against finite differences of the loss ---- */

/* A tiny ResNet-20: width 8 (stages 2, 4, 8), 3x6x6 input (6 -> 3 -> 2),
 * 3 classes, 2 attractors, batch 3. */
typedef struct tiny {
  nde_model *m;
  nde_real x[3 * 3 * 36];
  int labels[3];
} tiny;

static const double alpha = 0.05; /* large enough that the RMAN term matters */

static void tiny_make(tiny *t, int kind, unsigned long seed) {
  nde_model_options o = nde_model_options_default(kind);
  o.in = nde_shape_chw(3, 6, 6);
  o.width = 8;
  o.nclasses = 3;
  o.attractors = 2;
  o.max_batch = 3;
  ASSERT_OK(nde_model_create(&o, &t->m));
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  ASSERT_OK(nde_model_init(t->m, &rng));
  /* move BN gamma/beta and every weight off their init */
  nde_real *p = nde_model_params(t->m);
  for (size_t i = 0; i < nde_model_num_params(t->m); i++)
    p[i] += (nde_real)(0.1 * nde_rng_normal(&rng));
  tu_fill_normal(t->x, sizeof t->x / sizeof *t->x, 1.0, &rng);
  t->labels[0] = 0, t->labels[1] = 2, t->labels[2] = 1;
}

static double loss_of(nde_model *m, int n, const nde_real *x, const int *labels) {
  nde_model_result r;
  ASSERT_OK(nde_model_forward(m, n, x, labels, alpha, 0, &r));
  return r.loss;
}

/* Analytic gradient (double copy) at the model's current point. */
static double *grad_of(nde_model *m, int n, const nde_real *x, const int *labels) {
  nde_model_result r;
  ASSERT_OK(nde_model_forward(m, n, x, labels, alpha, 1, &r));
  ASSERT_OK(nde_model_backward(m, NULL));
  size_t np = nde_model_num_params(m);
  double *g = malloc(np * sizeof *g);
  for (size_t i = 0; i < np; i++) g[i] = nde_model_grads(m)[i];
  return g;
}

#if NDE_REAL_IS_DOUBLE
/* Central differences at coordinates idx[0..k), h = 1e-5 (roundoff
 * ~eps |L| / h, truncation h^2 L''' / 6), floor 1e-3 of the largest, every
 * coordinate within 1e-6. A ReLU (or RMAN relu) kink within h of the point
 * puts a central difference off by up to half the slope jump, and a deep
 * BatchNorm network crosses many: a full-width ResNet-20 has ~40,000 ReLU
 * inputs per sample, so 1-20% of the coordinates see one. As in
 * tests/nets/resblock_down_test.c, a coordinate the central difference
 * fails must match one of the estimates that hold where it does not:
 *   Richardson (4 c(h/2) - c(h)) / 3   smooth but large L''' (error h^4)
 *   (4 L(+-h/2) - L(+-h) - 3 L(0)) / (+-h)   a kink on the other side only
 *   c(h/10)                            kinks on both sides, none within h/10
 * (a wrong gradient matches none of them); at most 25% may need them. */
static double loss_at(nde_model *m, int n, const nde_real *x, const int *labels, size_t i,
                      double step) {
  nde_real *p = nde_model_params(m), keep = p[i];
  p[i] = keep + step;
  double l = loss_of(m, n, x, labels);
  p[i] = keep;
  return l;
}

static double rel(double a, double b, double fl) {
  return fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), fl);
}

static double fd_check(nde_model *m, int n, const nde_real *x, const int *labels, const double *g,
                       const size_t *idx, size_t k, size_t *fallback) {
  const double h = 1e-5;
  double L0 = loss_of(m, n, x, labels), scale = 0, worst = 0;
  double *lp = malloc(k * sizeof *lp), *lm = malloc(k * sizeof *lm);
  for (size_t j = 0; j < k; j++) {
    lp[j] = loss_at(m, n, x, labels, idx[j], h);
    lm[j] = loss_at(m, n, x, labels, idx[j], -h);
    scale = fmax(scale, fabs(lp[j] - lm[j]) / (2 * h));
  }
  const double fl = 1e-3 * scale;
  *fallback = 0;
  for (size_t j = 0; j < k; j++) {
    const double a = g[idx[j]], c1 = (lp[j] - lm[j]) / (2 * h);
    double e = rel(a, c1, fl);
    if (e > TU_GRAD_TOL) {
      (*fallback)++;
      const double lph = loss_at(m, n, x, labels, idx[j], h / 2);
      const double lmh = loss_at(m, n, x, labels, idx[j], -h / 2);
      const double c2 = (lph - lmh) / h;
      e = fmin(e, rel(a, (4 * c2 - c1) / 3, fl));
      e = fmin(e, rel(a, (4 * lph - lp[j] - 3 * L0) / h, fl));
      e = fmin(e, rel(a, -(4 * lmh - lm[j] - 3 * L0) / h, fl));
    }
    if (e > TU_GRAD_TOL) {
      const double c3 =
          (loss_at(m, n, x, labels, idx[j], h / 10) - loss_at(m, n, x, labels, idx[j], -h / 10)) /
          (h / 5);
      e = fmin(e, rel(a, c3, fl));
    }
    worst = fmax(worst, e);
  }
  ck_assert(scale > 0);
  ck_assert_msg(*fallback <= k / 4, "%zu of %zu coordinates failed the central difference",
                *fallback, k);
  free(lp);
  free(lm);
  return worst;
}
#else
/* Float: a directional check float can resolve. Along the gradient,
 * L(theta + eps g) - L(theta - eps g) = 2 eps |g|^2 + O(eps^3) (the
 * curvature term cancels in the symmetric difference), eps = 1e-4 / |g|. */
static double descent_check(nde_model *m, int n, const nde_real *x, const int *labels,
                            const double *g) {
  size_t np = nde_model_num_params(m);
  nde_real *p = nde_model_params(m), *keep = malloc(np * sizeof *keep);
  double gg = 0;
  for (size_t i = 0; i < np; i++) gg += g[i] * g[i];
  const double eps = 1e-4 / sqrt(gg);
  memcpy(keep, p, np * sizeof *keep);
  for (size_t i = 0; i < np; i++) p[i] = (nde_real)(keep[i] - eps * g[i]);
  double lm = loss_of(m, n, x, labels);
  for (size_t i = 0; i < np; i++) p[i] = (nde_real)(keep[i] + eps * g[i]);
  double lp = loss_of(m, n, x, labels);
  memcpy(p, keep, np * sizeof *keep);
  free(keep);
  return fabs((lp - lm) - 2 * eps * gg) / (2 * eps * gg);
}
#endif

START_TEST(tiny_resnet20_gradcheck) {
  /* Every parameter (4,485 of them), BN in training mode and then in
   * evaluation mode (running statistics from the training passes). */
  for (int mode = 1; mode >= 0; mode--) {
    tiny t;
    tiny_make(&t, NDE_MODEL_RESNET20, 11);
    nde_model *m = t.m;
    /* stem 54 + stage 1 3 x 80 + stage 2 236 + 2 x 304 + stage 3 920 + 2 x 1,184
       + final BN 16 + linear 27 + attractors 16 */
    ck_assert_uint_eq(nde_model_num_params(m), 4485);
    if (!mode) {
      nde_model_result r;
      for (int i = 0; i < 3; i++) ASSERT_OK(nde_model_forward(m, 3, t.x, t.labels, alpha, 0, &r));
      ASSERT_OK(nde_model_set_training(m, 0));
    }
    double *g = grad_of(m, 3, t.x, t.labels);
#if NDE_REAL_IS_DOUBLE
    size_t np = nde_model_num_params(m), fallback;
    size_t *idx = malloc(np * sizeof *idx);
    for (size_t i = 0; i < np; i++) idx[i] = i;
    double e = fd_check(m, 3, t.x, t.labels, g, idx, np, &fallback);
    printf("resnet20 tiny (width 8, 3x6x6, h = 2) %s: max rel err %.2e over all %zu "
           "parameters, %zu needed a fallback estimate\n",
           mode ? "BN training" : "BN eval", e, np, fallback);
    ck_assert_double_le(e, TU_GRAD_TOL);
    free(idx);
#else
    double e = descent_check(m, 3, t.x, t.labels, g);
    printf("resnet20 tiny %s: directional derivative error %.2e\n",
           mode ? "BN training" : "BN eval", e);
    ck_assert_double_le(e, 5e-2);
#endif
    free(g);
    nde_model_free(m);
  }
}
END_TEST

START_TEST(full_width_resnet20_sampled_gradcheck) {
  /* The real ResNet-20 (width 64, 272,282 parameters at 3x32x32) on a
   * 3x16x16 batch of 2 (stages 16 -> 8 -> 4, cheaper than 32x32), K = 10:
   * double build: 120 coordinates spread over the whole vector (stem,
   * every stage, projections, final BN, linear); float build: descent. */
  nde_model_options o = nde_model_options_default(NDE_MODEL_RESNET20);
  o.in = nde_shape_chw(3, 16, 16);
  o.max_batch = 2;
  nde_model *m;
  ASSERT_OK(nde_model_create(&o, &m));
  const size_t np = nde_model_num_params(m);
  ck_assert_uint_eq(np, 272282);
  nde_rng rng;
  nde_rng_seed(&rng, 21);
  ASSERT_OK(nde_model_init(m, &rng));
  nde_real *p = nde_model_params(m);
  for (size_t i = 0; i < np; i++) p[i] += (nde_real)(0.05 * nde_rng_normal(&rng));
  nde_real x[2 * 3 * 256];
  tu_fill_normal(x, sizeof x / sizeof *x, 1.0, &rng);
  int labels[2] = {3, 8};
  double *g = grad_of(m, 2, x, labels);
#if NDE_REAL_IS_DOUBLE
  enum { K = 120 };
  size_t idx[K], fallback;
  for (size_t j = 0; j < K; j++) /* one coordinate in each of K equal strides */
    idx[j] = j * (np / K) + (size_t)(nde_rng_uniform(&rng) * (double)(np / K));
  idx[K - 1] = np - 1; /* the last linear bias */
  double e = fd_check(m, 2, x, labels, g, idx, K, &fallback);
  printf("resnet20 full width (3x16x16, batch 2): max rel err %.2e over %d sampled parameters, "
         "%zu needed a fallback estimate\n",
         e, K, fallback);
  ck_assert_double_le(e, TU_GRAD_TOL);
#else
  double e = descent_check(m, 2, x, labels, g);
  printf("resnet20 full width: directional derivative error %.2e\n", e);
  ck_assert_double_le(e, 5e-2);
#endif
  free(g);
  nde_model_free(m);
}
END_TEST

/* ---- evaluation mode ---- */

START_TEST(eval_uses_running_statistics) {
  tiny t;
  tiny_make(&t, NDE_MODEL_RESNET20, 13);
  nde_model *m = t.m;
  nde_real *st;
  size_t ns;
  ASSERT_OK(nde_model_state(m, &st, &ns));
  ck_assert_uint_eq(ns, 172); /* 448 n + 32 at width 64 scales to 56 n + 4 at width 8 */
  nde_model_result r1, r3;
  nde_real z1[3], z3[9];
  /* Training mode: batch statistics, so sample 0's logits depend on its
   * batch mates, and the running statistics (final BN included) move. */
  nde_real *keep = malloc(ns * sizeof *keep);
  memcpy(keep, st, ns * sizeof *keep);
  ASSERT_OK(nde_model_forward(m, 3, t.x, NULL, 0, 0, &r3));
  memcpy(z3, nde_model_logits(m), sizeof z3);
  ck_assert(st[ns - 16] != keep[ns - 16]); /* final BN running mean of channel 0 */
  ASSERT_OK(nde_model_forward(m, 1, t.x, NULL, 0, 0, &r1));
  memcpy(z1, nde_model_logits(m), sizeof z1);
  double d = 0;
  for (int k = 0; k < 3; k++) d = fmax(d, fabs(z1[k] - z3[k]));
  ck_assert_msg(d > 1e-3, "training-mode logits do not depend on the batch (%g)", d);
  /* Evaluation: per-sample (running statistics), and the state stays. */
  ASSERT_OK(nde_model_set_training(m, 0));
  memcpy(keep, st, ns * sizeof *keep);
  ASSERT_OK(nde_model_forward(m, 3, t.x, NULL, 0, 0, &r3));
  memcpy(z3, nde_model_logits(m), sizeof z3);
  ASSERT_OK(nde_model_forward(m, 1, t.x, NULL, 0, 0, &r1));
  memcpy(z1, nde_model_logits(m), sizeof z1);
  for (int k = 0; k < 3; k++) ck_assert_double_eq_tol(z1[k], z3[k], 1e-5);
  ck_assert(memcmp(keep, st, ns * sizeof *keep) == 0);
  /* ... and it reads them: a different final-BN running variance changes the
   * logits (scaling var by 4 halves the normalized values). */
  for (size_t c = 0; c < 8; c++) st[ns - 8 + c] *= 4;
  ASSERT_OK(nde_model_forward(m, 1, t.x, NULL, 0, 0, &r1));
  d = 0;
  for (int k = 0; k < 3; k++) d = fmax(d, fabs(nde_model_logits(m)[k] - z3[k]));
  ck_assert_msg(d > 1e-3, "eval logits ignore the running variance (%g)", d);
  /* Back in training mode the running statistics no longer matter. */
  ASSERT_OK(nde_model_set_training(m, 1));
  ASSERT_OK(nde_model_forward(m, 3, t.x, NULL, 0, 0, &r3));
  memcpy(z3, nde_model_logits(m), sizeof z3);
  for (size_t i = 0; i < ns; i++) st[i] = (nde_real)(i % 2 ? 7 : -3);
  ASSERT_OK(nde_model_forward(m, 3, t.x, NULL, 0, 0, &r3));
  for (int k = 0; k < 3; k++) ck_assert_double_eq_tol(nde_model_logits(m)[k], z3[k], 1e-6);
  free(keep);
  nde_model_free(m);
}
END_TEST

/* ---- errors ---- */

START_TEST(resnet_cifar_errors) {
  nde_model *m = (nde_model *)0x1;
  nde_model_options o = nde_model_options_default(NDE_MODEL_RESNET32);
  o.max_batch = 1;
  o.width = 30; /* stages of width/4 channels */
  ck_assert_int_eq(nde_model_create(&o, &m), NDE_ERR_ARG);
  ASSERT_MSG_HAS("resnet32 needs a width divisible by 4");
  ASSERT_MSG_HAS("got 30");
  ck_assert_ptr_null(m);
  o.width = 0;
  ck_assert_int_eq(nde_model_create(&o, &m), NDE_ERR_ARG);
  o = nde_model_options_default(NDE_MODEL_RESNET44);
  o.max_batch = 1;
  o.in = nde_shape_chw(0, 32, 32);
  ck_assert_int_ne(nde_model_create(&o, &m), NDE_OK);
  ASSERT_MSG_HAS("model resnet44: preact resnet stem:");
  ck_assert_ptr_null(m);
  o.kind = NDE_MODEL_RESNET56 + 1;
  ck_assert_int_eq(nde_model_create(&o, &m), NDE_ERR_KIND);
  /* Training-mode BatchNorm with one value per channel: 3x1x1 input, batch 1. */
  o = nde_model_options_default(NDE_MODEL_RESNET20);
  o.in = nde_shape_chw(3, 1, 1);
  o.max_batch = 2;
  ASSERT_OK(nde_model_create(&o, &m));
  nde_rng rng;
  nde_rng_seed(&rng, 1);
  ASSERT_OK(nde_model_init(m, &rng));
  nde_real x[6] = {1, 2, 3, 4, 5, 6};
  int labels[2] = {0, 1};
  nde_model_result r;
  ck_assert_int_eq(nde_model_forward(m, 1, x, labels, 0, 1, &r), NDE_ERR_BATCH);
  ASSERT_MSG_HAS("residual body: layer 0 (resblock): layer 0 (batchnorm)");
  ck_assert_int_eq(nde_model_backward(m, NULL), NDE_ERR_STATE);
  ASSERT_OK(nde_model_forward(m, 2, x, labels, 0, 1, &r)); /* two values per channel */
  ASSERT_OK(nde_model_backward(m, NULL));
  ck_assert_int_eq(nde_model_forward(m, 3, x, labels, 0, 1, &r), NDE_ERR_BATCH);
  ASSERT_OK(nde_model_set_training(m, 0)); /* running statistics: batch 1 is fine */
  ASSERT_OK(nde_model_forward(m, 1, x, labels, 0, 0, &r));
  labels[0] = 10;
  ck_assert_int_eq(nde_model_forward(m, 1, x, labels, 0, 0, &r), NDE_ERR_ARG);
  nde_model_free(m);
}
END_TEST

Suite *resnet_cifar_suite(void) {
  Suite *s = suite_create("resnet_cifar");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, parameter_and_state_counts);
  tcase_add_test(tc, names_parse_and_round_trip);
  tcase_add_test(tc, output_shapes_fashion_and_cifar);
  tcase_add_test(tc, tiny_resnet20_gradcheck);
  tcase_add_test(tc, full_width_resnet20_sampled_gradcheck);
  tcase_add_test(tc, eval_uses_running_statistics);
  tcase_add_test(tc, resnet_cifar_errors);
  suite_add_tcase(s, tc);
  return s;
}
