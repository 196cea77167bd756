/* Residual block with a change of shape (spec.out channels, spec.stride):
 * parameter and state layout, the projection shortcut on the pre-activated
 * input, finite-difference gradients (BatchNorm in training and evaluation
 * mode, GroupNorm), the pre-activation CIFAR ResNet stem/body/trunk
 * constructors, errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/conv_impl.h"
#include "support/testutil.h"

#define ASSERT_OK(call) ck_assert_msg((call) == NDE_OK, "%s", nde_last_error())
#define ASSERT_MSG_HAS(s)                                                                          \
  ck_assert_msg(strstr(nde_last_error(), (s)) != NULL, "message '%s' lacks '%s'",                  \
                nde_last_error(), (s))

static nde_layer_spec down(nde_norm_kind norm, int groups, int out, int stride) {
  nde_layer_spec s = nde_spec_resblock(norm, groups);
  s.out = out;
  s.stride = stride;
  return s;
}

static int shape_is(nde_shape s, int c, int h, int w) { return s.c == c && s.h == h && s.w == w; }

/* ---- finite differences across ReLU kinks ----
 *
 * loss = sum_i w_i y_i at a random point (init from seed, parameters moved
 * by 0.1 N(0, 1), x ~ N(0, 1), w ~ N(0, 1)). A central difference is wrong
 * for a coordinate whose +-h step moves some ReLU input across 0 (with
 * normalization one input or one gamma/beta moves a whole channel): a kink
 * at distance d < h with slope jump D puts it off by D (h - d) / (2h),
 * anything from 0 to D/2, so no threshold on the second difference can
 * separate the kinks from the 1e-6 tolerance.
 *
 * Double build (the real test, h = 1e-5: roundoff ~eps |L| / h, truncation
 * h^2 L''' / 6): every coordinate within TU_GRAD_TOL = 1e-6 (relative,
 * floor 1e-3 of the largest). A coordinate the central difference c(h)
 * fails must match one of the estimates that hold where it does not
 * (a wrong gradient matches none of them), computed only for it:
 *   Richardson (4 c(h/2) - c(h)) / 3           smooth, large L''' (error h^4)
 *   (4 L(+-h/2) - L(+-h) - 3 L(0)) / (+-h)    a kink on the other side only
 *                                              (the point itself is smooth)
 *   c(h/10)                                    kinks on both sides beyond h/10
 * and at most 10% of the coordinates may need them. Nothing is skipped.
 * Float build (a smoke test of the float path): h must be large (3e-3) and
 * float roundoff hides the kinks' signature, so coordinates whose second
 * difference |L+ - 2 L0 + L-| / h exceeds 5e-2 of their slope are skipped
 * (at most half) and the norm-wise error ||an - fd|| / ||fd|| over the kept
 * ones is held to TU_GRAD_TOL (a wrong term gives O(1)). */
#if NDE_REAL_IS_DOUBLE
#define FD_H 1e-5
#define FD_FLOOR 1e-3
#else
#define FD_H 3e-3
#define FD_FLOOR 1e-2
#define FD_KINK 5e-2
#endif

typedef struct fd_stats {
  double worst;           /* max relative error (double: per coordinate) */
  double sq_err, sq_fd;   /* float: norm-wise sums over kept coordinates */
  size_t fallback, total; /* double: coordinates that needed a fallback; float: skipped */
} fd_stats;

static double wsum(nde_net *net, int n, const nde_real *x, const nde_real *w) {
  ASSERT_OK(nde_net_forward(net, 0, n, x, NULL));
  const nde_real *y = nde_net_output(net);
  double s = 0;
  for (size_t i = 0; i < (size_t)n * nde_net_out_numel(net); i++) s += (double)w[i] * y[i];
  return s;
}

/* The loss with *v moved by step (v points into x or the parameters). */
static double wsum_at(nde_net *net, int n, const nde_real *x, const nde_real *w, nde_real *v,
                      double step) {
  nde_real keep = *v;
  *v = (nde_real)(keep + step);
  double l = wsum(net, n, x, w);
  *v = keep;
  return l;
}

static double rel(double a, double b, double fl) {
  return fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), fl);
}

static void fd_part(nde_net *net, int n, const nde_real *x, const nde_real *w, nde_real *v,
                    const nde_real *an, size_t m, double L0, fd_stats *st) {
  double *lp = malloc(m * sizeof *lp), *lm = malloc(m * sizeof *lm), scale = 0;
  for (size_t i = 0; i < m; i++) {
    lp[i] = wsum_at(net, n, x, w, &v[i], FD_H);
    lm[i] = wsum_at(net, n, x, w, &v[i], -FD_H);
    scale = fmax(scale, fabs(lp[i] - lm[i]) / (2 * FD_H));
  }
  const double fl = fmax(FD_FLOOR * scale, 1e-30);
  for (size_t i = 0; i < m; i++) {
    const double fd = (lp[i] - lm[i]) / (2 * FD_H);
#if NDE_REAL_IS_DOUBLE
    double e = rel(an[i], fd, fl);
    if (e > TU_GRAD_TOL) {
      st->fallback++;
      const double lph = wsum_at(net, n, x, w, &v[i], FD_H / 2);
      const double lmh = wsum_at(net, n, x, w, &v[i], -FD_H / 2);
      e = fmin(e, rel(an[i], (4 * (lph - lmh) / FD_H - fd) / 3, fl));
      e = fmin(e, rel(an[i], (4 * lph - lp[i] - 3 * L0) / FD_H, fl));
      e = fmin(e, rel(an[i], -(4 * lmh - lm[i] - 3 * L0) / FD_H, fl));
    }
    if (e > TU_GRAD_TOL) {
      const double c3 =
          (wsum_at(net, n, x, w, &v[i], FD_H / 10) - wsum_at(net, n, x, w, &v[i], -FD_H / 10)) /
          (FD_H / 5);
      e = fmin(e, rel(an[i], c3, fl));
    }
    st->worst = fmax(st->worst, e);
    st->sq_fd += fd * fd;
#else
    if (fabs(lp[i] - 2 * L0 + lm[i]) / FD_H > FD_KINK * fmax(fabs(fd), fl)) {
      st->fallback++; /* skipped */
      continue;
    }
    st->worst = fmax(st->worst, rel(an[i], fd, fl));
    st->sq_err += (an[i] - fd) * (an[i] - fd);
    st->sq_fd += fd * fd;
#endif
  }
  st->total += m;
  free(lp);
  free(lm);
}

/* Checks input and parameter gradients; returns the error that is asserted. */
static double gradcheck(nde_net *net, int n, unsigned long seed, const char *what) {
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  ASSERT_OK(nde_net_init(net, &rng));
  size_t nx = (size_t)n * nde_net_in_numel(net), ny = (size_t)n * nde_net_out_numel(net);
  size_t np = nde_net_num_params(net);
  nde_real *x = malloc(nx * sizeof *x), *w = malloc(ny * sizeof *w), *dx = malloc(nx * sizeof *dx);
  nde_real *g = calloc(np, sizeof *g), *p = nde_net_params(net);
  for (size_t i = 0; i < np; i++) p[i] += (nde_real)(0.1 * nde_rng_normal(&rng));
  tu_fill_normal(x, nx, 1.0, &rng);
  tu_fill_normal(w, ny, 1.0, &rng);
  ASSERT_OK(nde_net_forward(net, 0, n, x, NULL));
  ASSERT_OK(nde_net_vjp(net, n, w, dx, g));
  double L0 = wsum(net, n, x, w);
  fd_stats sx = {0, 0, 0, 0, 0}, sp = {0, 0, 0, 0, 0};
  fd_part(net, n, x, w, x, dx, nx, L0, &sx);
  fd_part(net, n, x, w, p, g, np, L0, &sp);
  const size_t odd = sx.fallback + sp.fallback, total = sx.total + sp.total;
#if NDE_REAL_IS_DOUBLE
  const double err = fmax(sx.worst, sp.worst);
  const int ok = err <= TU_GRAD_TOL && odd <= total / 10;
  printf("resblock_down gradcheck %s: max rel err dx %.2e dtheta %.2e; %zu of %zu coordinates "
         "needed a fallback estimate\n",
         what, sx.worst, sp.worst, odd, total);
#else
  const double err = sqrt((sx.sq_err + sp.sq_err) / fmax(sx.sq_fd + sp.sq_fd, 1e-300));
  const int ok = err <= TU_GRAD_TOL && odd <= total / 2;
  printf("resblock_down gradcheck %s: norm-wise rel err %.2e; %zu of %zu coordinates skipped at "
         "kinks\n",
         what, err, odd, total);
#endif
  ck_assert_msg(ok && sp.sq_fd > 0 && sx.sq_fd > 0,
                "%s: error %g (dx %g, dtheta %g), %zu of %zu coordinates at kinks or failing", what,
                err, sx.worst, sp.worst, odd, total);
  free(x);
  free(w);
  free(dx);
  free(g);
  return err;
}

/* ---------------- the block ---------------- */

START_TEST(down_block_counts_and_shapes) {
  nde_net *net;
  /* The paper's stage-2 entry: BN(16) 32 + conv3x3 16->32 4,608 + BN(32) 64
   * + conv3x3 32->32 9,216 + conv1x1 16->32 512 = 14,432; state 2 x 16 + 2 x 32. */
  nde_layer_spec s = down(NDE_NORM_BATCH, 0, 32, 2);
  ASSERT_OK(nde_net_create(nde_shape_chw(16, 32, 32), 1, &s, 1, &net));
  ck_assert_uint_eq(nde_net_num_params(net), 14432);
  ck_assert_uint_eq(nde_net_num_state(net), 96);
  ck_assert(shape_is(nde_net_out_shape(net), 32, 16, 16));
  nde_net_free(net);
  /* stage-3 entry: 64 + 18,432 + 128 + 36,864 + 2,048 = 57,536 */
  s = down(NDE_NORM_BATCH, 0, 64, 2);
  ASSERT_OK(nde_net_create(nde_shape_chw(32, 16, 16), 1, &s, 1, &net));
  ck_assert_uint_eq(nde_net_num_params(net), 57536);
  ck_assert(shape_is(nde_net_out_shape(net), 64, 8, 8));
  nde_net_free(net);
  /* Odd sizes: both branches give floor((H - 1) / 2) + 1 (7 -> 4, 5 -> 3). */
  ASSERT_OK(nde_net_create(nde_shape_chw(4, 7, 5), 1, &s, 1, &net));
  ck_assert(shape_is(nde_net_out_shape(net), 64, 4, 3));
  nde_net_free(net);
  /* Channels change at stride 1, and stride 2 at the same channels: both
   * take the projection (GroupNorm: 2 x 2C + ... ). */
  s = down(NDE_NORM_GROUP, 2, 6, 1);
  ASSERT_OK(nde_net_create(nde_shape_chw(4, 5, 5), 1, &s, 1, &net));
  ck_assert_uint_eq(nde_net_num_params(net), 8 + 9 * 4 * 6 + 12 + 9 * 6 * 6 + 4 * 6);
  ck_assert_uint_eq(nde_net_num_state(net), 0);
  ck_assert(shape_is(nde_net_out_shape(net), 6, 5, 5));
  nde_net_free(net);
  s = down(NDE_NORM_GROUP, 2, 0, 3);
  ASSERT_OK(nde_net_create(nde_shape_chw(4, 7, 7), 1, &s, 1, &net));
  ck_assert_uint_eq(nde_net_num_params(net), 2 * 8 + 2 * 9 * 16 + 16);
  ck_assert(shape_is(nde_net_out_shape(net), 4, 3, 3));
  nde_net_free(net);
  /* out = C at stride 1 is the same-shape block: identity shortcut, no projection. */
  s = down(NDE_NORM_GROUP, 2, 4, 1);
  ASSERT_OK(nde_net_create(nde_shape_chw(4, 3, 3), 1, &s, 1, &net));
  ck_assert_uint_eq(nde_net_num_params(net), 2 * 8 + 2 * 9 * 16);
  nde_net_free(net);
}
END_TEST

START_TEST(same_shape_block_unchanged_by_explicit_out) {
  /* out = 0 and out = C (stride 1) build the same block: same values from the
   * same seed and the same outputs. */
  nde_layer_spec a = nde_spec_resblock(NDE_NORM_BATCH, 0), b = down(NDE_NORM_BATCH, 0, 3, 1);
  nde_net *na, *nb;
  ASSERT_OK(nde_net_create(nde_shape_chw(3, 4, 4), 2, &a, 1, &na));
  ASSERT_OK(nde_net_create(nde_shape_chw(3, 4, 4), 2, &b, 1, &nb));
  nde_rng r1, r2;
  nde_rng_seed(&r1, 5);
  nde_rng_seed(&r2, 5);
  ASSERT_OK(nde_net_init(na, &r1));
  ASSERT_OK(nde_net_init(nb, &r2));
  ck_assert_uint_eq(nde_net_num_params(na), nde_net_num_params(nb));
  ck_assert(memcmp(nde_net_params(na), nde_net_params(nb),
                   nde_net_num_params(na) * sizeof(nde_real)) == 0);
  nde_real x[96], ya[96], yb[96];
  tu_fill_normal(x, 96, 1.0, &r1);
  ASSERT_OK(nde_net_forward(na, 0, 2, x, ya));
  ASSERT_OK(nde_net_forward(nb, 0, 2, x, yb));
  ck_assert(memcmp(ya, yb, sizeof ya) == 0);
  nde_net_free(na);
  nde_net_free(nb);
}
END_TEST

START_TEST(projection_sees_preactivated_input) {
  /* Slice layout [norm1 (2C) | conv3x3 C->C' | norm2 (2C') | conv3x3 C'->C' |
   * conv1x1 C->C']. With the last 3x3 conv zero, the block is exactly
   * conv1x1_s(relu(norm1(x))): compare with that network built from layers. */
  const int C = 3, Co = 5, n = 2, H = 5;
  nde_layer_spec s = down(NDE_NORM_GROUP, 1, Co, 2);
  nde_net *net, *ref;
  ASSERT_OK(nde_net_create(nde_shape_chw(C, H, H), n, &s, 1, &net));
  nde_layer_spec proj = nde_spec_conv2d(Co, 1, 2, 0);
  proj.bias = 0;
  const nde_layer_spec r[] = {nde_spec_groupnorm(1), nde_spec_act(NDE_LAYER_RELU), proj};
  ASSERT_OK(nde_net_create(nde_shape_chw(C, H, H), n, r, 3, &ref));
  const size_t pn1 = 2 * C, pc1 = 9 * C * Co, pn2 = 2 * Co, pc2 = 9 * Co * Co, pp = C * Co;
  ck_assert_uint_eq(nde_net_num_params(net), pn1 + pc1 + pn2 + pc2 + pp);
  ck_assert_uint_eq(nde_net_num_params(ref), pn1 + pp);
  nde_rng rng;
  nde_rng_seed(&rng, 17);
  ASSERT_OK(nde_net_init(net, &rng));
  nde_real *p = nde_net_params(net), *q = nde_net_params(ref);
  tu_fill_normal(p, nde_net_num_params(net), 0.5, &rng); /* gamma/beta away from 1/0 */
  memset(p + pn1 + pc1 + pn2, 0, pc2 * sizeof *p);
  memcpy(q, p, pn1 * sizeof *p);
  memcpy(q + pn1, p + pn1 + pc1 + pn2 + pc2, pp * sizeof *p);
  nde_real x[2 * 3 * 25], y[2 * 5 * 9], yr[2 * 5 * 9];
  tu_fill_normal(x, sizeof x / sizeof *x, 1.0, &rng);
  for (int i = 0; i < 10; i++) x[i] += 3; /* x itself must not enter the shortcut */
  ASSERT_OK(nde_net_forward(net, 0, n, x, y));
  ASSERT_OK(nde_net_forward(ref, 0, n, x, yr));
  for (size_t i = 0; i < sizeof y / sizeof *y; i++) ck_assert_double_eq_tol(y[i], yr[i], 1e-5);
  /* The residual branch adds to it once its last conv is nonzero. */
  p[pn1 + pc1 + pn2] = 1;
  ASSERT_OK(nde_net_forward(net, 0, n, x, y));
  double diff = 0;
  for (size_t i = 0; i < sizeof y / sizeof *y; i++) diff = fmax(diff, fabs(y[i] - yr[i]));
  ck_assert(diff > 1e-3);
  nde_net_free(net);
  nde_net_free(ref);
}
END_TEST

START_TEST(down_block_state_layout) {
  /* State [norm1 mean (C), var (C), norm2 mean (C'), var (C')]: after one
   * training forward norm1's mean moved by 0.1 x the batch mean of x. */
  const int C = 2, Co = 4, n = 3, H = 4, hw = H * H;
  nde_layer_spec s[] = {nde_spec_act(NDE_LAYER_IDENTITY), down(NDE_NORM_BATCH, 0, Co, 2)};
  nde_net *net;
  ASSERT_OK(nde_net_create(nde_shape_chw(C, H, H), n, s, 2, &net));
  ck_assert_uint_eq(nde_net_num_state(net), 2 * C + 2 * Co);
  nde_rng rng;
  nde_rng_seed(&rng, 23);
  ASSERT_OK(nde_net_init(net, &rng));
  nde_real *st = nde_net_state(net), x[3 * 2 * 16];
  for (int c = 0; c < Co; c++) ck_assert(st[2 * C + c] == 0 && st[2 * C + Co + c] == 1);
  for (int i = 0; i < n * C * hw; i++) x[i] = (nde_real)(2 + nde_rng_normal(&rng));
  ASSERT_OK(nde_net_forward(net, 0, n, x, NULL));
  for (int c = 0; c < C; c++) {
    double mu = 0;
    for (int b = 0; b < n; b++)
      for (int q = 0; q < hw; q++) mu += x[(b * C + c) * hw + q];
    ck_assert_double_eq_tol(st[c], 0.1 * mu / (n * hw), 1e-5);
  }
  for (int c = 0; c < Co; c++) ck_assert(st[2 * C + Co + c] != 1); /* norm2 saw data */
  nde_net_free(net);
}
END_TEST

START_TEST(down_block_gradcheck_batchnorm) {
  for (int mode = 1; mode >= 0; mode--) {
    nde_layer_spec s = down(NDE_NORM_BATCH, 0, 4, 2);
    nde_net *net;
    ASSERT_OK(nde_net_create(nde_shape_chw(2, 5, 5), 3, &s, 1, &net));
    nde_net_set_training(net, mode);
    gradcheck(net, 3, 31 + mode, mode ? "BN training 2x5x5 -> 4x3x3" : "BN eval 2x5x5 -> 4x3x3");
    nde_net_free(net);
  }
}
END_TEST

START_TEST(down_block_gradcheck_groupnorm_and_stack) {
  nde_layer_spec s = down(NDE_NORM_GROUP, 2, 6, 1); /* projection at stride 1 */
  nde_net *net;
  ASSERT_OK(nde_net_create(nde_shape_chw(4, 3, 3), 2, &s, 1, &net));
  gradcheck(net, 2, 41, "GN 4x3x3 -> 6x3x3");
  nde_net_free(net);
  /* Offsets of params and state after a plain layer, block chained into a
   * same-shape block (as in a stage). */
  nde_layer_spec st[] = {nde_spec_batchnorm(), down(NDE_NORM_BATCH, 0, 4, 2),
                         nde_spec_resblock(NDE_NORM_BATCH, 0)};
  ASSERT_OK(nde_net_create(nde_shape_chw(2, 4, 4), 3, st, 3, &net));
  ck_assert_uint_eq(nde_net_num_state(net), 4 + 12 + 16);
  gradcheck(net, 3, 42, "BN + down block + block, training");
  nde_net_free(net);
}
END_TEST

/* ---------------- CIFAR ResNet stem / body / trunk ---------------- */

START_TEST(preact_body_counts_and_shapes) {
  nde_net *stem, *body, *trunk;
  ASSERT_OK(nde_net_create_preact_resnet_stem(nde_shape_chw(3, 32, 32), 16, 1, &stem));
  ck_assert_uint_eq(nde_net_num_params(stem), 432); /* 3 x 16 x 9, no bias */
  ck_assert(shape_is(nde_net_out_shape(stem), 16, 32, 32));
  ASSERT_OK(nde_net_create_preact_resnet_body(nde_net_out_shape(stem), 3, 1, &body));
  /* ResNet-20: 3 x 4,672 + 14,432 + 2 x 18,560 + 57,536 + 2 x 73,984 = 271,072 */
  ck_assert_uint_eq(nde_net_num_params(body), 271072);
  ck_assert_uint_eq(nde_net_num_layers(body), 9);
  ck_assert(shape_is(nde_net_out_shape(body), 64, 8, 8));
  /* BN state: 3 x 64 + 96 + 2 x 128 + 192 + 2 x 256 */
  ck_assert_uint_eq(nde_net_num_state(body), 1248);
  ASSERT_OK(nde_net_create_preact_resnet_trunk(nde_shape_chw(16, 32, 32), 3, 1, &trunk));
  ck_assert_uint_eq(nde_net_num_params(trunk), 271072 + 128);
  ck_assert_uint_eq(nde_net_num_state(trunk), 1248 + 128);
  ck_assert(shape_is(nde_net_out_shape(trunk), 64, 8, 8));
  nde_net_free(stem);
  nde_net_free(body);
  nde_net_free(trunk);
  /* Fashion-MNIST sizes: 28 -> 28 -> 14 -> 7; ResNet-56 body (n = 9). */
  ASSERT_OK(nde_net_create_preact_resnet_stem(nde_shape_chw(1, 28, 28), 16, 1, &stem));
  ck_assert_uint_eq(nde_net_num_params(stem), 144);
  ASSERT_OK(nde_net_create_preact_resnet_body(nde_net_out_shape(stem), 9, 1, &body));
  ck_assert(shape_is(nde_net_out_shape(body), 64, 7, 7));
  ck_assert_uint_eq(nde_net_num_params(body), 9 * 4672 + 14432 + 8 * 18560 + 57536 + 8 * 73984);
  nde_shape o;
  ASSERT_OK(nde_net_layer_out_shape(body, 8, &o));
  ck_assert(shape_is(o, 16, 28, 28));
  ASSERT_OK(nde_net_layer_out_shape(body, 9, &o));
  ck_assert(shape_is(o, 32, 14, 14));
  nde_net_free(stem);
  nde_net_free(body);
}
END_TEST

START_TEST(preact_trunk_gradcheck) {
  /* n = 1 at 2 channels on 2x6x6: stages 2, 4, 8 channels, 6 -> 3 -> 2. */
  nde_net *trunk;
  ASSERT_OK(nde_net_create_preact_resnet_trunk(nde_shape_chw(2, 6, 6), 1, 2, &trunk));
  ck_assert(shape_is(nde_net_out_shape(trunk), 8, 2, 2));
  gradcheck(trunk, 2, 51, "preact trunk n=1 2x6x6");
  nde_net_free(trunk);
}
END_TEST

START_TEST(down_block_and_preact_errors) {
  nde_net *net = (nde_net *)0x1;
  nde_layer_spec s[] = {nde_spec_act(NDE_LAYER_IDENTITY), down(NDE_NORM_BATCH, 0, -2, 1)};
  ck_assert_int_eq(nde_net_create(nde_shape_chw(4, 4, 4), 1, s, 2, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("layer 1 (resblock): output channels -2");
  ck_assert_ptr_null(net);
  s[1] = down(NDE_NORM_BATCH, 0, 8, 0);
  ck_assert_int_eq(nde_net_create(nde_shape_chw(4, 4, 4), 1, s, 2, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("layer 1 (resblock): stride 0");
  /* GroupNorm: norm1 divides the input channels, norm2 the output ones. */
  s[1] = down(NDE_NORM_GROUP, 4, 6, 2);
  ck_assert_int_eq(nde_net_create(nde_shape_chw(4, 4, 4), 1, s, 2, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("layer 1 (resblock): residual branch: layer 1 (groupnorm): 6 channels are not "
                 "divisible into 4 groups");
  ck_assert_ptr_null(net);
  /* Training-mode BatchNorm inside the residual branch: one value per channel. */
  s[1] = down(NDE_NORM_BATCH, 0, 3, 2);
  ASSERT_OK(nde_net_create(nde_shape_chw(1, 1, 2), 1, s, 2, &net));
  nde_real x[2] = {1, 2};
  ck_assert_int_eq(nde_net_forward(net, 0, 1, x, NULL), NDE_ERR_BATCH);
  ASSERT_MSG_HAS("layer 1 (resblock): residual branch: layer 1 (batchnorm)");
  nde_net_free(net);
  net = (nde_net *)0x1;
  ck_assert_int_eq(nde_net_create_preact_resnet_body(nde_shape_chw(16, 8, 8), 0, 1, &net),
                   NDE_ERR_ARG);
  ASSERT_MSG_HAS("preact resnet body: 0 blocks per stage");
  ck_assert_ptr_null(net);
  ck_assert_int_eq(nde_net_create_preact_resnet_trunk(nde_shape_chw(16, 8, 8), 1001, 1, &net),
                   NDE_ERR_ARG);
  ASSERT_MSG_HAS("preact resnet trunk: 1001 blocks");
  ck_assert_int_eq(nde_net_create_preact_resnet_body(nde_shape_chw(1 << 30, 1, 1), 1, 1, &net),
                   NDE_ERR_SHAPE);
  ASSERT_MSG_HAS("input channels");
  ck_assert_int_eq(nde_net_create_preact_resnet_body(nde_shape_chw(0, 8, 8), 1, 1, &net),
                   NDE_ERR_SHAPE);
  ASSERT_MSG_HAS("preact resnet body:");
  ck_assert_int_eq(nde_net_create_preact_resnet_body(nde_shape_chw(4, 8, 8), 1, 1, NULL),
                   NDE_ERR_NULL);
  ck_assert_int_eq(nde_net_create_preact_resnet_stem(nde_shape_chw(3, 8, 8), 0, 1, &net),
                   NDE_ERR_ARG);
  ASSERT_MSG_HAS("preact resnet stem: layer 0 (conv2d)");
  ck_assert_ptr_null(net);
}
END_TEST

/* A block's spec.conv_algo reaches its convolutions: with NDE_CONV_AUTO its
 * two 3x3 stride-1 convolutions on a 6x6 plane take the Winograd path,
 * with NDE_CONV_IM2COL none does; the outputs agree up to rounding. */
START_TEST(conv_algo_reaches_block_convolutions) {
  const nde_shape in = nde_shape_chw(8, 6, 6);
  const int n = 3;
  nde_net *net[2];
  long setups[2];
  for (int k = 0; k < 2; k++) {
    nde_layer_spec s = nde_spec_resblock(NDE_NORM_GROUP, 2);
    s.conv_algo = k ? NDE_CONV_IM2COL : NDE_CONV_AUTO;
    const long before = nde_conv_winograd_setups();
    ck_assert_int_eq(nde_net_create(in, n, &s, 1, &net[k]), NDE_OK);
    setups[k] = nde_conv_winograd_setups() - before;
  }
  ck_assert_int_eq(setups[0], 2);
  ck_assert_int_eq(setups[1], 0);
  nde_rng rng;
  nde_rng_seed(&rng, 5);
  nde_net_init(net[0], &rng);
  const size_t np = nde_net_num_params(net[0]), len = (size_t)n * nde_shape_numel(in);
  memcpy(nde_net_params(net[1]), nde_net_params(net[0]), np * sizeof(nde_real));
  nde_real *x = malloc(len * sizeof *x), *y[2];
  tu_fill_normal(x, len, 1.0, &rng);
  double dmax = 0, ymax = 0;
  for (int k = 0; k < 2; k++) {
    y[k] = malloc(len * sizeof *y[k]);
    ck_assert_int_eq(nde_net_forward(net[k], 0.0, n, x, y[k]), NDE_OK);
  }
  for (size_t i = 0; i < len; i++) {
    dmax = fmax(dmax, fabs((double)y[0][i] - y[1][i]));
    ymax = fmax(ymax, fabs((double)y[1][i]));
  }
  ck_assert_msg(dmax <= (NDE_REAL_IS_DOUBLE ? 1e-12 : 1e-5) * ymax, "outputs differ by %g of %g",
                dmax, ymax);
  for (int k = 0; k < 2; k++) {
    free(y[k]);
    nde_net_free(net[k]);
  }
  free(x);
}
END_TEST

Suite *resblock_down_suite(void) {
  Suite *s = suite_create("resblock_down");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, down_block_counts_and_shapes);
  tcase_add_test(tc, same_shape_block_unchanged_by_explicit_out);
  tcase_add_test(tc, projection_sees_preactivated_input);
  tcase_add_test(tc, down_block_state_layout);
  tcase_add_test(tc, down_block_gradcheck_batchnorm);
  tcase_add_test(tc, down_block_gradcheck_groupnorm_and_stack);
  tcase_add_test(tc, preact_body_counts_and_shapes);
  tcase_add_test(tc, preact_trunk_gradcheck);
  tcase_add_test(tc, down_block_and_preact_errors);
  tcase_add_test(tc, conv_algo_reaches_block_convolutions);
  suite_add_tcase(s, tc);
  return s;
}
