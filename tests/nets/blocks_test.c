/* Residual block and the networks of docs/methods.md section 1: parameter counts, shapes,
 * layout of the composite layer inside the parent's vectors, finite-difference
 * gradients, errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

#define ASSERT_MSG_HAS(s)                                                                          \
  ck_assert_msg(strstr(nde_last_error(), (s)) != NULL, "message '%s' lacks '%s'",                  \
                nde_last_error(), (s))

#define ASSERT_OK(call) ck_assert_msg((call) == NDE_OK, "%s", nde_last_error())

/* Finite-difference check for networks with ReLUs.
 *
 * A central difference is meaningless for a coordinate whose +-h step moves
 * some ReLU input across 0, and normalization makes that common: one input
 * or one gamma/beta shifts every value of a group or channel. Such a
 * coordinate shows a jump between its one-sided slopes,
 *   |L(+h) - 2 L(0) + L(-h)| / h  (= h |L''| where smooth, ~|slope jump| at a kink),
 * so it is skipped when that exceeds KG_KINK times its gradient's size (the
 * vjp plays no part in choosing what is skipped), and at most KG_MAX_SKIP of
 * the coordinates may be skipped.
 *
 * Double build (the real gradient test): h = 1e-5 (about eps^(1/3):
 * roundoff ~eps|L|/h ~1e-10, truncation ~h^2), and EVERY kept coordinate
 * must meet TU_GRAD_TOL = 1e-6 (relative, floor 1e-3 of the largest).
 * Float build (a smoke test of the float path): the outputs carry float
 * roundoff, so h must be large (3e-3), and then a ReLU kink lies within h of
 * a large share of the coordinates of a deep stack; some kinks give no jump
 * (one exactly at the point averages the two slopes), so a per-coordinate
 * bound fails at random for correct code (measured: 2-20 of 20 seeds). The
 * float build therefore asserts the norm-wise relative error
 * ||an - fd|| / ||fd|| over the kept coordinates <= TU_GRAD_TOL (measured
 * <= 1e-2 over 20 seeds for every network below; a wrong term gives O(1)). */
#if NDE_REAL_IS_DOUBLE
#define KG_STEP 1e-5
#define KG_FLOOR 1e-3
#define KG_KINK 1e-3
#define KG_MAX_SKIP 0.05
#define KG_PER_COORDINATE 1
#else
#define KG_STEP 3e-3
#define KG_FLOOR 1e-2
#define KG_KINK 5e-2
#define KG_MAX_SKIP 0.5
#define KG_PER_COORDINATE 0
#endif

typedef struct kg_result {
  double err_x, err_p;  /* max relative error over the kept coordinates */
  double sq_err, sq_fd; /* sums of (an - fd)^2 and fd^2 over the kept coordinates */
  size_t skipped, total;
} kg_result;

static double kg_loss(nde_net *net, double t, int n, const nde_real *x, const nde_real *w) {
  ck_assert_msg(nde_net_forward(net, t, n, x, NULL) == NDE_OK, "%s", nde_last_error());
  const nde_real *y = nde_net_output(net);
  size_t m = (size_t)n * nde_net_out_numel(net);
  double s = 0;
  for (size_t i = 0; i < m; i++) s += (double)w[i] * y[i];
  return s;
}

/* Check coordinates [0, m) of v (analytic gradient an); returns the max error. */
static double kg_part(nde_net *net, double t, int n, const nde_real *x, const nde_real *w,
                      nde_real *v, const nde_real *an, size_t m, double L0, kg_result *r) {
  double *fd = malloc((m ? m : 1) * sizeof *fd), *jump = malloc((m ? m : 1) * sizeof *jump);
  double scale = 0, worst = 0;
  for (size_t i = 0; i < m; i++) {
    nde_real keep = v[i];
    v[i] = keep + (nde_real)KG_STEP;
    double lp = kg_loss(net, t, n, x, w);
    v[i] = keep - (nde_real)KG_STEP;
    double lm = kg_loss(net, t, n, x, w);
    v[i] = keep;
    fd[i] = (lp - lm) / (2 * KG_STEP);
    jump[i] = fabs(lp - 2 * L0 + lm) / KG_STEP;
    scale = fmax(scale, fabs(fd[i]));
  }
  const double floor_ = fmax(KG_FLOOR * scale, 1e-30);
  for (size_t i = 0; i < m; i++) {
    if (jump[i] > KG_KINK * fmax(fabs(fd[i]), floor_)) {
      r->skipped++;
      continue;
    }
    worst = fmax(worst, fabs(an[i] - fd[i]) / fmax(fmax(fabs(an[i]), fabs(fd[i])), floor_));
    r->sq_err += (an[i] - fd[i]) * (an[i] - fd[i]);
    r->sq_fd += fd[i] * fd[i];
  }
  free(fd);
  free(jump);
  return worst;
}

/* Same point and loss as tu_gradcheck_net: init from seed, parameters moved
 * by 0.1 N(0, 1), x ~ N(0, 1), loss = sum w_i y_i with w ~ N(0, 1). */
static kg_result kink_gradcheck(nde_net *net, double t, int n, unsigned long seed) {
  kg_result r = {0, 0, 0, 0, 0, 0};
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  ASSERT_OK(nde_net_init(net, &rng));
  size_t nx = (size_t)n * nde_net_in_numel(net), ny = (size_t)n * nde_net_out_numel(net);
  size_t np = nde_net_num_params(net);
  nde_real *x = malloc(nx * sizeof *x), *w = malloc(ny * sizeof *w), *dx = malloc(nx * sizeof *dx);
  nde_real *g = calloc(np ? np : 1, sizeof *g), *p = nde_net_params(net);
  for (size_t i = 0; i < np; i++) p[i] += (nde_real)(0.1 * nde_rng_normal(&rng));
  tu_fill_normal(x, nx, 1.0, &rng);
  tu_fill_normal(w, ny, 1.0, &rng);
  ASSERT_OK(nde_net_forward(net, t, n, x, NULL));
  ASSERT_OK(nde_net_vjp(net, n, w, dx, g));
  double L0 = kg_loss(net, t, n, x, w);
  r.err_x = kg_part(net, t, n, x, w, x, dx, nx, L0, &r);
  r.err_p = kg_part(net, t, n, x, w, p, g, np, L0, &r);
  r.total = nx + np;
  free(x);
  free(w);
  free(dx);
  free(g);
  return r;
}

static void gradcheck(nde_net *net, double t, int n, unsigned long seed, const char *what) {
  kg_result r = kink_gradcheck(net, t, n, seed);
  double normwise = sqrt(r.sq_err / fmax(r.sq_fd, 1e-300));
  int ok = KG_PER_COORDINATE ? (r.err_x <= TU_GRAD_TOL && r.err_p <= TU_GRAD_TOL)
                             : normwise <= TU_GRAD_TOL;
  ck_assert_msg(ok && r.skipped <= KG_MAX_SKIP * r.total && r.sq_fd > 0,
                "%s: max err_x %g err_p %g, norm-wise %g, %zu of %zu coordinates skipped at "
                "ReLU kinks",
                what, r.err_x, r.err_p, normwise, r.skipped, r.total);
}

/* ---------------- residual block ---------------- */

START_TEST(resblock_param_counts) {
  nde_layer_spec s = nde_spec_resblock(NDE_NORM_GROUP, 32);
  nde_net *net;
  ASSERT_OK(nde_net_create(nde_shape_chw(64, 6, 6), 1, &s, 1, &net));
  /* 2 GroupNorms (2 x 128) + 2 bias-free 3x3 convs (2 x 36,864). */
  ck_assert_uint_eq(nde_net_num_params(net), 73984);
  ck_assert_uint_eq(nde_net_num_state(net), 0);
  nde_shape o = nde_net_out_shape(net);
  ck_assert(o.c == 64 && o.h == 6 && o.w == 6);
  nde_net_free(net);
  s = nde_spec_resblock(NDE_NORM_BATCH, 0);
  ASSERT_OK(nde_net_create(nde_shape_chw(16, 4, 4), 1, &s, 1, &net));
  ck_assert_uint_eq(nde_net_num_params(net), 2 * 9 * 16 * 16 + 4 * 16);
  ck_assert_uint_eq(nde_net_num_state(net), 4 * 16); /* two BatchNorms: mean, var */
  nde_net_free(net);
}
END_TEST

START_TEST(resblock_is_identity_when_last_conv_is_zero) {
  /* Sub-layer layout in the block's slice: norm (2C), conv (9C^2), norm (2C),
   * conv (9C^2). With the last conv zero the block is exactly the identity. */
  const int C = 4, n = 2, m = n * C * 9;
  nde_layer_spec s[] = {nde_spec_groupnorm(2), nde_spec_resblock(NDE_NORM_GROUP, 2)};
  nde_net *net;
  ASSERT_OK(nde_net_create(nde_shape_chw(C, 3, 3), n, s, 2, &net));
  size_t off, cnt;
  ASSERT_OK(nde_net_layer_params(net, 1, &off, &cnt));
  ck_assert_uint_eq(off, 2 * C);
  ck_assert_uint_eq(cnt, 2 * 2 * C + 2 * 9 * C * C);
  nde_rng rng;
  nde_rng_seed(&rng, 61);
  ASSERT_OK(nde_net_init(net, &rng));
  nde_real *p = nde_net_params(net);
  /* The first conv was initialized (nonzero, bounded by 1/sqrt(9C)). */
  const nde_real *w1 = p + off + 2 * C;
  double bound = 1 / sqrt(9.0 * C), amax = 0;
  for (int i = 0; i < 9 * C * C; i++) amax = fmax(amax, fabs(w1[i]));
  ck_assert(amax > 0 && amax <= bound);
  memset(p + off + cnt - 9 * C * C, 0, 9 * C * C * sizeof *p);
  nde_real x[72], y[72], h[72];
  tu_fill_normal(x, m, 1.0, &rng);
  nde_layer_spec g = nde_spec_groupnorm(2);
  nde_net *gn;
  ASSERT_OK(nde_net_create(nde_shape_chw(C, 3, 3), n, &g, 1, &gn));
  memcpy(nde_net_params(gn), p, 2 * C * sizeof *p);
  ASSERT_OK(nde_net_forward(gn, 0, n, x, h));
  ASSERT_OK(nde_net_forward(net, 0, n, x, y));
  for (int i = 0; i < m; i++) ck_assert_double_eq_tol(y[i], h[i], 1e-6);
  /* With a nonzero last conv the residual branch contributes. */
  p[off + cnt - 1] = 0.5;
  ASSERT_OK(nde_net_forward(net, 0, n, x, y));
  double diff = 0;
  for (int i = 0; i < m; i++) diff = fmax(diff, fabs(y[i] - h[i]));
  ck_assert(diff > 1e-3);
  nde_net_free(gn);
  nde_net_free(net);
}
END_TEST

START_TEST(resblock_gradcheck_groupnorm) {
  nde_layer_spec s[] = {nde_spec_resblock(NDE_NORM_GROUP, 2)};
  nde_net *net;
  ASSERT_OK(nde_net_create(nde_shape_chw(4, 3, 3), 2, s, 1, &net));
  gradcheck(net, 0, 2, 71, "resblock GN");
  nde_net_free(net);
}
END_TEST

START_TEST(resblock_gradcheck_batchnorm) {
  for (int mode = 1; mode >= 0; mode--) {
    nde_layer_spec s[] = {nde_spec_resblock(NDE_NORM_BATCH, 0)};
    nde_net *net;
    ASSERT_OK(nde_net_create(nde_shape_chw(4, 3, 3), 3, s, 1, &net));
    nde_net_set_training(net, mode);
    gradcheck(net, 0, 3, 72 + mode, mode ? "resblock BN training" : "resblock BN eval");
    nde_net_free(net);
  }
}
END_TEST

START_TEST(resblock_stack_offsets_gradcheck) {
  /* Two composite layers after a plain one: parameter and state offsets of
   * the sub-networks must follow the parent's layout. */
  nde_layer_spec s[] = {nde_spec_batchnorm(), nde_spec_resblock(NDE_NORM_GROUP, 2),
                        nde_spec_resblock(NDE_NORM_BATCH, 0)};
  nde_net *net;
  ASSERT_OK(nde_net_create(nde_shape_chw(4, 2, 3), 3, s, 3, &net));
  ck_assert_uint_eq(nde_net_num_state(net), 8 + 16);
  gradcheck(net, 0, 3, 74, "batchnorm + resblock GN + resblock BN");
  nde_net_free(net);
}
END_TEST

START_TEST(resblock_running_stats_live_in_parent_state) {
  const int C = 3, n = 4, hw = 4, M = n * hw;
  nde_layer_spec s[] = {nde_spec_resblock(NDE_NORM_BATCH, 0)};
  nde_net *net;
  ASSERT_OK(nde_net_create(nde_shape_chw(C, 2, 2), n, s, 1, &net));
  nde_rng rng;
  nde_rng_seed(&rng, 81);
  ASSERT_OK(nde_net_init(net, &rng));
  nde_real *st = nde_net_state(net);
  for (int c = 0; c < C; c++) {
    ck_assert(st[c] == 0 && st[C + c] == 1);             /* first BN */
    ck_assert(st[2 * C + c] == 0 && st[3 * C + c] == 1); /* second BN */
  }
  nde_real x[48];
  for (int i = 0; i < n * C * hw; i++) x[i] = (nde_real)(1 + nde_rng_normal(&rng));
  ASSERT_OK(nde_net_forward(net, 0, n, x, NULL));
  for (int c = 0; c < C; c++) {
    double s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++)
      for (int q = 0; q < hw; q++) s1 += x[(i * C + c) * hw + q];
    double mu = s1 / M;
    for (int i = 0; i < n; i++)
      for (int q = 0; q < hw; q++) s2 += pow(x[(i * C + c) * hw + q] - mu, 2);
    ck_assert_double_eq_tol(st[c], 0.1 * mu, 1e-5);
    ck_assert_double_eq_tol(st[C + c], 0.9 + 0.1 * s2 / (M - 1), 1e-5);
    ck_assert(st[3 * C + c] != 1); /* the second BN saw data too */
  }
  nde_real keep[12];
  memcpy(keep, st, sizeof keep);
  nde_net_set_training(net, 0);
  ASSERT_OK(nde_net_forward(net, 0, n, x, NULL));
  ck_assert(memcmp(keep, st, sizeof keep) == 0);
  nde_net_free(net);
}
END_TEST

START_TEST(resblock_follows_bind) {
  nde_layer_spec s[] = {nde_spec_resblock(NDE_NORM_GROUP, 1)};
  nde_net *net;
  ASSERT_OK(nde_net_create(nde_shape_chw(2, 2, 2), 1, s, 1, &net));
  nde_rng rng;
  nde_rng_seed(&rng, 91);
  ASSERT_OK(nde_net_init(net, &rng));
  size_t np = nde_net_num_params(net);
  nde_real x[8], y1[8], y2[8], dy[8];
  tu_fill_normal(x, 8, 1.0, &rng);
  tu_fill_normal(dy, 8, 1.0, &rng);
  ASSERT_OK(nde_net_forward(net, 0, 1, x, y1));
  nde_real *ext = calloc(np + 4, sizeof *ext), *gext = calloc(np + 4, sizeof *gext);
  memcpy(ext + 4, nde_net_params(net), np * sizeof *ext);
  memset(nde_net_params(net), 0, np * sizeof *ext); /* own storage must not matter */
  ASSERT_OK(nde_net_bind(net, ext + 4, gext + 4));
  ASSERT_OK(nde_net_forward(net, 0, 1, x, y2));
  for (int i = 0; i < 8; i++) ck_assert(y1[i] == y2[i]);
  ASSERT_OK(nde_net_vjp(net, 1, dy, NULL, nde_net_grads(net)));
  double gs = 0;
  for (size_t i = 0; i < np; i++) gs += fabs(gext[4 + i]);
  ck_assert(gs > 0);
  ck_assert(gext[0] == 0 && gext[3] == 0);
  free(ext);
  free(gext);
  nde_net_free(net);
}
END_TEST

START_TEST(resblock_rejects_bad_args) {
  nde_net *net = (nde_net *)0x1;
  nde_layer_spec s[] = {nde_spec_dense(4), nde_spec_resblock(NDE_NORM_GROUP, 3)};
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 2, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("layer 1 (resblock)");
  ASSERT_MSG_HAS("4 channels are not divisible into 3 groups");
  ck_assert_ptr_null(net);
  s[1] = nde_spec_resblock(NDE_NORM_GROUP, 0);
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 2, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("groups 0");
  s[1] = nde_spec_resblock((nde_norm_kind)5, 2);
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 2, &net), NDE_ERR_KIND);
  ASSERT_MSG_HAS("norm kind 5");
  s[1] = nde_spec_resblock(NDE_NORM_BATCH, 0);
  s[1].momentum = -0.5;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 2, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("momentum");
  /* Training-mode BatchNorm inside a block propagates its error with context. */
  s[1].momentum = 0.1;
  ASSERT_OK(nde_net_create(nde_shape_vec(2), 1, s, 2, &net));
  nde_real x[2] = {1, 2};
  ck_assert_int_eq(nde_net_forward(net, 0, 1, x, NULL), NDE_ERR_BATCH);
  ASSERT_MSG_HAS("layer 1 (resblock): layer 0 (batchnorm)");
  nde_net_free(net);
}
END_TEST

/* ------------- the ODE-Net's networks (docs/methods.md section 1) ------------- */

START_TEST(odenet_and_resnet6_parameter_counts) {
  nde_net *stem, *f, *head, *body;
  ASSERT_OK(nde_net_create_odenet_stem(nde_shape_chw(1, 28, 28), 64, 32, 1, &stem));
  nde_shape st = nde_net_out_shape(stem);
  ck_assert(st.c == 64 && st.h == 6 && st.w == 6);
  ck_assert_uint_eq(nde_net_out_numel(stem), 2304);
  ASSERT_OK(nde_net_create_odefunc(st, 32, 1, &f));
  ASSERT_OK(nde_net_create_odenet_head(st, 32, 10, 1, &head));
  ASSERT_OK(nde_net_create_resnet6_body(st, 32, 1, &body));
  size_t ps = nde_net_num_params(stem), pf = nde_net_num_params(f);
  size_t ph = nde_net_num_params(head), pb = nde_net_num_params(body);
  ck_assert_uint_eq(ps, 132096);
  ck_assert_uint_eq(pf, 75392);
  ck_assert_uint_eq(ph, 778);
  ck_assert_uint_eq(pb, 6 * 73984);
  ck_assert_uint_eq(ps + pf + ph, 208266); /* ODE-Net */
  ck_assert_uint_eq(ps + pb + ph, 576778); /* ResNet-6 baseline */
  nde_shape o = nde_net_out_shape(f);
  ck_assert(o.c == 64 && o.h == 6 && o.w == 6);
  o = nde_net_out_shape(body);
  ck_assert(o.c == 64 && o.h == 6 && o.w == 6);
  ck_assert_uint_eq(nde_net_out_numel(head), 10);
  nde_net_free(stem);
  nde_net_free(f);
  nde_net_free(head);
  nde_net_free(body);
}
END_TEST

START_TEST(stem_and_head_shapes) {
  nde_net *stem, *feat, *lin;
  ASSERT_OK(nde_net_create_odenet_stem(nde_shape_chw(3, 32, 32), 64, 32, 2, &stem));
  nde_shape o = nde_net_out_shape(stem);
  ck_assert(o.c == 64 && o.h == 7 && o.w == 7);
  ck_assert_uint_eq(nde_net_num_params(stem), 132096 + 2 * 64 * 9);
  ASSERT_OK(nde_net_create_odenet_head_features(o, 32, 2, &feat));
  o = nde_net_out_shape(feat);
  ck_assert(o.c == 64 && o.h == 1 && o.w == 1);
  ck_assert_uint_eq(nde_net_num_params(feat), 128);
  ASSERT_OK(nde_net_create_linear_head(64, 100, 2, &lin));
  ck_assert_uint_eq(nde_net_num_params(lin), 6500);
  ck_assert_uint_eq(nde_net_out_numel(lin), 100);
  nde_net_free(stem);
  nde_net_free(feat);
  nde_net_free(lin);
}
END_TEST

START_TEST(head_equals_features_then_linear) {
  const nde_shape st = nde_shape_chw(4, 3, 3);
  const int n = 3, K = 5;
  nde_net *head, *feat, *lin;
  ASSERT_OK(nde_net_create_odenet_head(st, 2, K, n, &head));
  ASSERT_OK(nde_net_create_odenet_head_features(st, 2, n, &feat));
  ASSERT_OK(nde_net_create_linear_head(4, K, n, &lin));
  ck_assert_uint_eq(nde_net_num_params(head), nde_net_num_params(feat) + nde_net_num_params(lin));
  nde_rng rng;
  nde_rng_seed(&rng, 101);
  ASSERT_OK(nde_net_init(head, &rng));
  nde_real *p = nde_net_params(head);
  tu_fill_normal(p, nde_net_num_params(head), 0.5, &rng);
  memcpy(nde_net_params(feat), p, nde_net_num_params(feat) * sizeof *p);
  memcpy(nde_net_params(lin), p + nde_net_num_params(feat), nde_net_num_params(lin) * sizeof *p);
  nde_real x[108], z[12], y1[15], y2[15];
  tu_fill_normal(x, 108, 1.0, &rng);
  ASSERT_OK(nde_net_forward(head, 0, n, x, y1));
  ASSERT_OK(nde_net_forward(feat, 0, n, x, z));
  for (int i = 0; i < 12; i++) ck_assert(z[i] >= 0); /* mean of relu outputs */
  ASSERT_OK(nde_net_forward(lin, 0, n, z, y2));
  for (int i = 0; i < n * K; i++) ck_assert_double_eq_tol(y1[i], y2[i], 1e-6);
  nde_net_free(head);
  nde_net_free(feat);
  nde_net_free(lin);
}
END_TEST

START_TEST(odefunc_depends_on_t_and_gradcheck) {
  nde_net *f;
  ASSERT_OK(nde_net_create_odefunc(nde_shape_chw(4, 3, 3), 2, 2, &f));
  ck_assert_uint_eq(nde_net_num_params(f), 3 * 8 + 2 * (4 * 5 * 9 + 4));
  nde_rng rng;
  nde_rng_seed(&rng, 111);
  ASSERT_OK(nde_net_init(f, &rng));
  tu_fill_normal(nde_net_params(f), nde_net_num_params(f), 0.3, &rng);
  nde_real x[72], y1[72], y2[72];
  tu_fill_normal(x, 72, 1.0, &rng);
  ASSERT_OK(nde_net_forward(f, 0.3, 2, x, y1));
  ASSERT_OK(nde_net_forward(f, 0.7, 2, x, y2));
  double diff = 0;
  for (int i = 0; i < 72; i++) diff = fmax(diff, fabs(y1[i] - y2[i]));
  ck_assert_msg(diff > 1e-4, "odefunc output does not depend on t (max diff %g)", diff);
  gradcheck(f, 0.3, 2, 112, "odefunc c=4 G=2 t=0.3");
  nde_net_free(f);
}
END_TEST

START_TEST(stem_head_body_gradcheck) {
  nde_net *stem, *head, *feat, *lin, *body;
  ASSERT_OK(nde_net_create_odenet_stem(nde_shape_chw(1, 10, 10), 4, 2, 1, &stem));
  nde_shape o = nde_net_out_shape(stem);
  ck_assert(o.c == 4 && o.h == 2 && o.w == 2);
  gradcheck(stem, 0, 1, 121, "stem 1x10x10 width 4");
  ASSERT_OK(nde_net_create_odenet_head(nde_shape_chw(4, 3, 3), 2, 3, 2, &head));
  gradcheck(head, 0, 2, 122, "head 4x3x3 -> 3");
  ASSERT_OK(nde_net_create_odenet_head_features(nde_shape_chw(4, 3, 3), 2, 2, &feat));
  gradcheck(feat, 0, 2, 123, "head features");
  ASSERT_OK(nde_net_create_linear_head(4, 3, 2, &lin));
  gradcheck(lin, 0, 2, 124, "linear head");
  ASSERT_OK(nde_net_create_resnet6_body(nde_shape_chw(4, 3, 3), 2, 1, &body));
  gradcheck(body, 0, 1, 125, "resnet6 body c=4");
  nde_net_free(stem);
  nde_net_free(head);
  nde_net_free(feat);
  nde_net_free(lin);
  nde_net_free(body);
}
END_TEST

START_TEST(blocks_reject_bad_args) {
  nde_net *net = (nde_net *)0x1;
  ck_assert_int_eq(nde_net_create_odefunc(nde_shape_chw(4, 3, 3), 3, 2, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("odefunc: layer 0 (groupnorm): 4 channels are not divisible into 3 groups");
  ck_assert_ptr_null(net);
  ck_assert_int_eq(nde_net_create_odefunc(nde_shape_chw(4, 3, 3), 2, 2, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_net_create_odenet_stem(nde_shape_chw(1, 28, 28), 64, 0, 1, &net),
                   NDE_ERR_ARG);
  ASSERT_MSG_HAS("odenet stem: layer 1 (groupnorm): groups 0");
  ck_assert_int_eq(nde_net_create_odenet_stem(nde_shape_chw(1, 28, 28), 0, 1, 1, &net),
                   NDE_ERR_ARG);
  ASSERT_MSG_HAS("odenet stem: layer 0 (conv2d)");
  ck_assert_ptr_null(net);
  ck_assert_int_eq(nde_net_create_odenet_head(nde_shape_chw(64, 6, 6), 32, 0, 1, &net),
                   NDE_ERR_ARG);
  ASSERT_MSG_HAS("odenet head: layer 3 (dense)");
  ck_assert_int_eq(nde_net_create_odenet_head_features(nde_shape_chw(6, 2, 2), 4, 1, &net),
                   NDE_ERR_ARG);
  ASSERT_MSG_HAS("odenet head features: layer 0 (groupnorm)");
  ck_assert_int_eq(nde_net_create_linear_head(0, 10, 1, &net), NDE_ERR_SHAPE);
  ASSERT_MSG_HAS("linear head:");
  ck_assert_int_eq(nde_net_create_resnet6_body(nde_shape_chw(6, 2, 2), 4, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("resnet6 body: layer 0 (resblock): layer 0 (groupnorm)");
  ck_assert_ptr_null(net);
}
END_TEST

Suite *blocks_suite(void) {
  Suite *s = suite_create("blocks");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, resblock_param_counts);
  tcase_add_test(tc, resblock_is_identity_when_last_conv_is_zero);
  tcase_add_test(tc, resblock_gradcheck_groupnorm);
  tcase_add_test(tc, resblock_gradcheck_batchnorm);
  tcase_add_test(tc, resblock_stack_offsets_gradcheck);
  tcase_add_test(tc, resblock_running_stats_live_in_parent_state);
  tcase_add_test(tc, resblock_follows_bind);
  tcase_add_test(tc, resblock_rejects_bad_args);
  tcase_add_test(tc, odenet_and_resnet6_parameter_counts);
  tcase_add_test(tc, stem_and_head_shapes);
  tcase_add_test(tc, head_equals_features_then_linear);
  tcase_add_test(tc, odefunc_depends_on_t_and_gradcheck);
  tcase_add_test(tc, stem_head_body_gradcheck);
  tcase_add_test(tc, blocks_reject_bad_args);
  suite_add_tcase(s, tc);
  return s;
}
