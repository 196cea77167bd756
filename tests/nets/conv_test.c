/* conv2d and ConcatConv2d: forward against hand-computed numbers and an
 * independent direct (7-loop) convolution, finite-difference gradients,
 * consistency of partial vjps, initialization, and rejected specs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/conv_impl.h"
#include "nets/layer_impl.h"
#include "support/testutil.h"

#if NDE_REAL_IS_DOUBLE
#define FWD_TOL 1e-12
#else
#define FWD_TOL 2e-5
#endif

/* Finite-difference step. A convolution is linear in each single input or
 * parameter coordinate, so a central difference has NO truncation error and
 * only rounding error, about eps |loss| / h: with the generic 1e-6 of the
 * double build that noise alone reaches ~1e-6 relative on the smallest
 * gradient coordinates, so the single-layer checks use a larger step; in
 * the float build a step of 0.5 (with TU_FD_STEP's 1e-2 the rounding of
 * Winograd F(3x3)'s transforms alone gave relative errors up to 0.19).
 * STACK_FD_STEP is for the stack with tanh, whose truncation error is
 * O(h^2). */
#if NDE_REAL_IS_DOUBLE
#define CONV_FD_STEP 1e-3
#define STACK_FD_STEP 1e-4
#else
#define CONV_FD_STEP 0.5
#define STACK_FD_STEP TU_FD_STEP
#endif

#define ASSERT_MSG_HAS(s)                                                                     \
  ck_assert_msg(strstr(nde_last_error(), (s)) != NULL, "message '%s' lacks '%s'",           \
                nde_last_error(), (s))

/* Direct convolution in double, the definition written out:
 * y[b][o][oh][ow] = bias[o] + sum_{c,i,j} W[o][c][i][j] x[b][c][oh*s-p+i][ow*s-p+j]. */
static void naive_conv(int n, int cin, int h, int w, int cout, int kh, int kw, int s, int p,
                       const double *x, const double *W, const double *bias, double *y) {
  const int ho = (h + 2 * p - kh) / s + 1, wo = (w + 2 * p - kw) / s + 1;
  for (int b = 0; b < n; b++)
    for (int o = 0; o < cout; o++)
      for (int oh = 0; oh < ho; oh++)
        for (int ow = 0; ow < wo; ow++) {
          double acc = bias ? bias[o] : 0;
          for (int c = 0; c < cin; c++)
            for (int i = 0; i < kh; i++)
              for (int j = 0; j < kw; j++) {
                const int ih = oh * s - p + i, iw = ow * s - p + j;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                acc += W[((o * cin + c) * kh + i) * kw + j] *
                       x[((b * cin + c) * h + ih) * w + iw];
              }
          y[((b * cout + o) * ho + oh) * wo + ow] = acc;
        }
}

typedef struct conv_case {
  int cin, h, w, cout, kh, kw, stride, pad, n, bias;
} conv_case;

static nde_layer_spec spec_of(const conv_case *k, int concat) {
  nde_layer_spec s = concat ? nde_spec_concat_conv2d(k->cout, k->kh, k->stride, k->pad)
                            : nde_spec_conv2d(k->cout, k->kh, k->stride, k->pad);
  s.kw = k->kw;
  s.bias = k->bias;
  return s;
}

/* Forward of a one-layer net (max batch n + 1, run at batch n) against
 * naive_conv; for ConcatConv2d the reference convolves [t 1, x] (time channel
 * first) with the full weight. Returns the max abs error scaled by 1 + |y|. */
static double forward_vs_naive(const conv_case *k, int concat, double t, unsigned long seed) {
  nde_layer_spec s = spec_of(k, concat);
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(k->cin, k->h, k->w), k->n + 1, &s, 1, &net),
                   NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  ck_assert_int_eq(nde_net_init(net, &rng), NDE_OK);
  const int ho = (k->h + 2 * k->pad - k->kh) / k->stride + 1;
  const int wo = (k->w + 2 * k->pad - k->kw) / k->stride + 1;
  nde_shape os = nde_net_out_shape(net);
  ck_assert_int_eq(os.c, k->cout);
  ck_assert_int_eq(os.h, ho);
  ck_assert_int_eq(os.w, wo);
  const int cw = k->cin + (concat ? 1 : 0); /* channels the kernel sees */
  const size_t nw = (size_t)k->cout * cw * k->kh * k->kw;
  ck_assert_uint_eq(nde_net_num_params(net), nw + (k->bias ? (size_t)k->cout : 0));

  const size_t nx = (size_t)k->n * k->cin * k->h * k->w, ny = (size_t)k->n * k->cout * ho * wo;
  const size_t nxa = (size_t)k->n * cw * k->h * k->w;
  nde_real *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
  double *xa = malloc(nxa * sizeof *xa), *Wd = malloc(nw * sizeof *Wd);
  double *bd = malloc((size_t)k->cout * sizeof *bd), *yr = malloc(ny * sizeof *yr);
  tu_fill_normal(x, nx, 1.0, &rng);
  const nde_real *p = nde_net_params(net);
  for (size_t i = 0; i < nw; i++) Wd[i] = p[i];
  for (int o = 0; o < k->cout; o++) bd[o] = k->bias ? p[nw + o] : 0;
  for (int b = 0; b < k->n; b++)
    for (int c = 0; c < cw; c++)
      for (int q = 0; q < k->h * k->w; q++) {
        const int cx = concat ? c - 1 : c;
        xa[((size_t)b * cw + c) * k->h * k->w + q] =
            cx < 0 ? t : x[((size_t)b * k->cin + cx) * k->h * k->w + q];
      }
  naive_conv(k->n, cw, k->h, k->w, k->cout, k->kh, k->kw, k->stride, k->pad, xa, Wd,
             k->bias ? bd : NULL, yr);
  ck_assert_int_eq(nde_net_forward(net, t, k->n, x, y), NDE_OK);
  double worst = 0;
  for (size_t i = 0; i < ny; i++) worst = fmax(worst, fabs(y[i] - yr[i]) / (1 + fabs(yr[i])));
  free(x);
  free(y);
  free(xa);
  free(Wd);
  free(bd);
  free(yr);
  nde_net_free(net);
  return worst;
}

/* Geometries: 3x3 pad 0, the stem's 4x4 stride 2 pad 1, pointwise 1x1,
 * non-square input and kernel, large stride and padding, 1x1 with stride
 * and padding (not the pointwise shortcut), no bias, the ODE-function 3x3
 * pad 1. Between them they take every input-cotangent path of conv_vjp
 * (pointwise, col2im at strides 1 and > 1, flipped convolution). */
static const conv_case CASES[] = {
    {2, 5, 5, 3, 3, 3, 1, 0, 2, 1}, {3, 8, 8, 2, 4, 4, 2, 1, 3, 1}, {4, 3, 5, 3, 1, 1, 1, 0, 2, 1},
    {2, 4, 7, 3, 3, 3, 1, 1, 2, 1}, {2, 7, 6, 2, 2, 3, 3, 2, 2, 1}, {2, 5, 4, 2, 1, 1, 2, 1, 2, 1},
    {3, 6, 6, 4, 3, 3, 1, 1, 3, 0}, {1, 1, 1, 2, 3, 3, 1, 1, 1, 1}, {2, 3, 3, 2, 5, 5, 1, 3, 2, 1},
    /* a batch beyond one transpose tile and not a multiple of the SIMD block */
    {3, 5, 7, 2, 3, 3, 1, 1, 19, 1},
    /* stride 1 with dx by col2im: padding beyond the kernel; a non-square kernel */
    {2, 4, 3, 2, 1, 1, 1, 1, 2, 1}, {3, 5, 6, 2, 3, 2, 1, 1, 2, 1},
    /* the Winograd path, F(2x2) tiles (3x3, stride 1, pad 1, even planes): a non-square
     * plane; a batch not a multiple of any vector width; a single tile, all
     * of whose taps but the centre four are padding */
    {4, 4, 6, 3, 3, 3, 1, 1, 5, 1}, {3, 6, 8, 5, 3, 3, 1, 1, 19, 1}, {2, 2, 2, 2, 3, 3, 1, 1, 3, 1},
    /* F(3x3) tiles (at least 16 input channels): one row of tiles; no bias */
    {16, 3, 6, 4, 3, 3, 1, 1, 2, 1}, {16, 6, 6, 3, 3, 3, 1, 1, 5, 0},
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

START_TEST(conv_forward_vs_naive) {
  const conv_case *k = &CASES[_i];
  double e = forward_vs_naive(k, 0, 0.0, 100 + (unsigned long)_i);
  ck_assert_msg(e <= FWD_TOL, "case %d: conv2d forward error %g", _i, e);
}
END_TEST

START_TEST(concat_forward_vs_naive) {
  const conv_case *k = &CASES[_i];
  /* t = 0 would hide a misplaced time channel; use two nonzero times. */
  double e1 = forward_vs_naive(k, 1, 0.7, 200 + (unsigned long)_i);
  double e2 = forward_vs_naive(k, 1, -1.3, 300 + (unsigned long)_i);
  ck_assert_msg(e1 <= FWD_TOL && e2 <= FWD_TOL, "case %d: concat_conv2d forward error %g, %g", _i,
                e1, e2);
}
END_TEST

/* The blocked (SIMD) transpose against the definition, on sizes around the
 * block and tile edges, with leading dimensions larger than the extents. */
START_TEST(transpose_matches_definition) {
  const int sizes[] = {1, 2, 3, 4, 5, 8, 15, 16, 17, 33, 40};
  const int ns = (int)(sizeof sizes / sizeof sizes[0]);
  nde_real src[45 * 45], dst[45 * 45], add[45];
  for (int k = 0; k < 45 * 45; k++) src[k] = (nde_real)(k % 97) - 40;
  for (int k = 0; k < 45; k++) add[k] = (nde_real)(0.5 * k);
  for (int a = 0; a < ns; a++)
    for (int b = 0; b < ns; b++)
      for (int with_add = 0; with_add < 2; with_add++) {
        const int rows = sizes[a], cols = sizes[b];
        const size_t lds = (size_t)cols + 3, ldd = (size_t)rows + 2;
        for (int k = 0; k < 45 * 45; k++) dst[k] = -999;
        nde_conv_transpose(rows, cols, src, lds, dst, ldd, with_add ? add : NULL);
        for (int j = 0; j < cols; j++)
          for (size_t i = 0; i < ldd; i++) {
            const nde_real got = dst[j * ldd + i];
            if ((int)i < rows)
              ck_assert_msg(got == src[i * lds + j] + (with_add ? add[i] : 0),
                            "%dx%d add %d: (%d,%zu)", rows, cols, with_add, j, i);
            else
              ck_assert_msg(got == -999, "%dx%d: wrote outside at (%d,%zu)", rows, cols, j, i);
          }
      }
}
END_TEST

/* col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>. */
START_TEST(col2im_is_adjoint_of_im2col) {
  const conv_case *k = &CASES[_i];
  nde_conv_geom g = {k->cin, k->h, k->w, k->kh, k->kw, k->stride, k->pad, 0, 0};
  g.ho = (k->h + 2 * k->pad - k->kh) / k->stride + 1;
  g.wo = (k->w + 2 * k->pad - k->kw) / k->stride + 1;
  const size_t nx = (size_t)k->n * k->cin * k->h * k->w;
  const size_t nc = (size_t)k->cin * k->kh * k->kw * g.ho * g.wo * k->n;
  nde_real *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *dx);
  nde_real *cols = malloc(nc * sizeof *cols), *c = malloc(nc * sizeof *c);
  nde_real *plane = malloc((size_t)k->h * k->w * k->n * sizeof *plane);
  nde_rng rng;
  nde_rng_seed(&rng, 600 + (unsigned long)_i);
  tu_fill_normal(x, nx, 1, &rng);
  tu_fill_normal(c, nc, 1, &rng);
  nde_im2col(&g, k->n, x, plane, cols, 0);
  nde_col2im(&g, k->n, c, plane, dx);
  double lhs = 0, rhs = 0, scale = 0;
  for (size_t q = 0; q < nc; q++) {
    lhs += (double)cols[q] * c[q];
    scale += fabs((double)cols[q] * c[q]);
  }
  for (size_t q = 0; q < nx; q++) rhs += (double)x[q] * dx[q];
  ck_assert_msg(fabs(lhs - rhs) <= 1e-5 * (1 + scale), "case %d: <im2col x, c> %g vs <x, col2im c> %g",
                _i, lhs, rhs);
  free(x);
  free(dx);
  free(cols);
  free(c);
  free(plane);
}
END_TEST

/* x = [1 2 3; 4 5 6; 7 8 9], W = [1 2; 3 4], bias 0.5.
 * stride 1, pad 0: y = [37 47; 67 77] + 0.5.
 * stride 2, pad 1: the taps inside the plane give
 *   y00 = 4*1, y01 = 3*2 + 4*3, y10 = 2*4 + 4*7, y11 = 1*5 + 2*6 + 3*8 + 4*9. */
START_TEST(conv_forward_by_hand) {
  const nde_real x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const nde_real w[] = {1, 2, 3, 4, 0.5};
  const double want[2][4] = {{37.5, 47.5, 67.5, 77.5}, {4.5, 18.5, 36.5, 77.5}};
  for (int v = 0; v < 2; v++) {
    nde_layer_spec s = nde_spec_conv2d(1, 2, v ? 2 : 1, v ? 1 : 0);
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_chw(1, 3, 3), 1, &s, 1, &net), NDE_OK);
    ck_assert_uint_eq(nde_net_num_params(net), 5);
    memcpy(nde_net_params(net), w, sizeof w);
    nde_real y[4];
    ck_assert_int_eq(nde_net_forward(net, 0, 1, x, y), NDE_OK);
    for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(y[i], want[v][i], 1e-5);
    nde_net_free(net);
  }
}
END_TEST

/* ConcatConv2d 1x1, pad 1, on a 2x2 input: weights (w_t, w_x) = (2, 3),
 * bias -1. Interior pixels give 2 t + 3 x - 1; the border ring reads only
 * padding, where the time channel is zero-padded too, so it is the bias. */
START_TEST(concat_forward_by_hand) {
  nde_layer_spec s = nde_spec_concat_conv2d(1, 1, 1, 1);
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(1, 2, 2), 1, &s, 1, &net), NDE_OK);
  ck_assert_uint_eq(nde_net_num_params(net), 3);
  const nde_real w[] = {2, 3, -1};
  memcpy(nde_net_params(net), w, sizeof w);
  const nde_real x[] = {1, 2, 3, 4};
  nde_real y[16];
  const double t = 0.25;
  ck_assert_int_eq(nde_net_forward(net, t, 1, x, y), NDE_OK);
  for (int oh = 0; oh < 4; oh++)
    for (int ow = 0; ow < 4; ow++) {
      const int in = oh >= 1 && oh <= 2 && ow >= 1 && ow <= 2;
      const double want = in ? 2 * t + 3 * x[(oh - 1) * 2 + (ow - 1)] - 1 : -1;
      ck_assert_double_eq_tol(y[oh * 4 + ow], want, 1e-6);
    }
  nde_net_free(net);
}
END_TEST

static void gradcheck_case(const conv_case *k, int concat, double t, unsigned long seed,
                           double *ex, double *ep) {
  nde_layer_spec s = spec_of(k, concat);
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(k->cin, k->h, k->w), k->n, &s, 1, &net), NDE_OK);
  ck_assert_int_eq(tu_gradcheck_net(net, t, k->n, seed, CONV_FD_STEP, ex, ep), NDE_OK);
  nde_net_free(net);
}

START_TEST(conv_gradcheck) {
  double ex, ep;
  gradcheck_case(&CASES[_i], 0, 0.0, 400 + (unsigned long)_i, &ex, &ep);
  ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL, "conv2d case %d: err_x %g err_p %g", _i,
                ex, ep);
}
END_TEST

START_TEST(concat_gradcheck) {
  /* at t = 0 the time weights get zero gradient; at t != 0 they are tested */
  const double ts[] = {0.0, 0.6, -1.7};
  for (int q = 0; q < 3; q++) {
    double ex, ep;
    gradcheck_case(&CASES[_i], 1, ts[q], 500 + (unsigned long)(10 * _i + q), &ex, &ep);
    ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL,
                  "concat_conv2d case %d t=%g: err_x %g err_p %g", _i, ts[q], ex, ep);
  }
}
END_TEST

/* A stem-like stack (conv, relu, strided conv, ConcatConv) checks that the
 * layers compose: each one's input cotangent feeds the previous one. */
START_TEST(stack_gradcheck) {
  nde_layer_spec s[] = {nde_spec_conv2d(3, 3, 1, 0), nde_spec_act(NDE_LAYER_TANH),
                        nde_spec_conv2d(3, 4, 2, 1), nde_spec_concat_conv2d(2, 3, 1, 1)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 8, 8), 2, s, 4, &net), NDE_OK);
  double ex, ep;
  ck_assert_int_eq(tu_gradcheck_net(net, 0.4, 2, 77, STACK_FD_STEP, &ex, &ep), NDE_OK);
  ck_assert_msg(ex <= TU_GRAD_TOL && ep <= TU_GRAD_TOL, "stack: err_x %g err_p %g", ex, ep);
  nde_net_free(net);
}
END_TEST

/* vjp with only dx, only grad, both, and twice after one forward agree (the
 * columns kept by forward survive a vjp), and grad accumulates; on a 5x4
 * plane (im2col) and a 6x4 one (Winograd). */
START_TEST(partial_vjps_agree) {
  for (int q = 0; q < 4; q++) {
    const int concat = q % 2, h = q < 2 ? 5 : 6;
    nde_layer_spec s = nde_spec_conv2d(3, 3, 1, 1);
    if (concat) s.kind = NDE_LAYER_CONCAT_CONV2D;
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_chw(2, h, 4), 3, &s, 1, &net), NDE_OK);
    nde_rng rng;
    nde_rng_seed(&rng, 9);
    nde_net_init(net, &rng);
    const size_t nx = 3 * 2 * h * 4, ny = 3 * 3 * h * 4, np = nde_net_num_params(net);
    nde_real *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
    nde_real *dx1 = malloc(nx * sizeof *dx1), *dx2 = malloc(nx * sizeof *dx2);
    nde_real *g1 = calloc(np, sizeof *g1), *g2 = calloc(np, sizeof *g2);
    tu_fill_normal(x, nx, 1, &rng);
    tu_fill_normal(dy, ny, 1, &rng);
    ck_assert_int_eq(nde_net_forward(net, 0.5, 3, x, NULL), NDE_OK);
    ck_assert_int_eq(nde_net_vjp(net, 3, dy, dx1, g1), NDE_OK);
    ck_assert_int_eq(nde_net_vjp(net, 3, dy, dx2, NULL), NDE_OK);
    ck_assert_int_eq(nde_net_vjp(net, 3, dy, NULL, g2), NDE_OK);
    ck_assert_int_eq(nde_net_vjp(net, 3, dy, NULL, NULL), NDE_OK);
    for (size_t i = 0; i < nx; i++) ck_assert(dx1[i] == dx2[i]);
    for (size_t i = 0; i < np; i++) ck_assert(g1[i] == g2[i]);
    ck_assert_int_eq(nde_net_vjp(net, 3, dy, NULL, g2), NDE_OK);
    for (size_t i = 0; i < np; i++) ck_assert_double_eq_tol(g2[i], 2 * g1[i], 1e-5 * (1 + fabs(g1[i])));
    free(x);
    free(dy);
    free(dx1);
    free(dx2);
    free(g1);
    free(g2);
    nde_net_free(net);
  }
}
END_TEST

/* Largest |a - b| over n values, relative to the largest |b|. */
static double rel_maxdiff(const nde_real *a, const nde_real *b, size_t n) {
  double d = 0, m = 0;
  for (size_t i = 0; i < n; i++) {
    d = fmax(d, fabs((double)a[i] - b[i]));
    m = fmax(m, fabs((double)b[i]));
  }
  return d / (m > 0 ? m : 1);
}

/* The Winograd path is taken exactly for 3x3, stride-1, pad-1 convolutions
 * of planes of 2x2 or 3x3 tiles, and there agrees with the im2col path (forward, dx,
 * gradient, ConcatConv2d's time channel included) up to rounding, also
 * after the weights change between calls (its transformed weights are
 * cached). The ODE function's shape (F(3x3)) runs in two chunks; 32 to 16
 * channels on 6x8 (F(2x2)) in two; 16 to 8 on 9x3 (F(3x3)). */
#if NDE_REAL_IS_DOUBLE
#define WINO_TOL 1e-12
#else
#define WINO_TOL 2e-5
#endif
START_TEST(winograd_tile_choice) {
  static const struct {
    int cin, h, w, k, stride, pad, tile;
  } cases[] = {{64, 6, 6, 3, 1, 1, 3}, {16, 3, 9, 3, 1, 1, 3}, {15, 6, 6, 3, 1, 1, 2},
               {64, 6, 8, 3, 1, 1, 2}, {64, 9, 6, 3, 1, 1, 3}, {64, 5, 6, 3, 1, 1, 0},
               {64, 6, 6, 3, 2, 1, 0}, {64, 6, 6, 3, 1, 0, 0}, {64, 6, 6, 5, 1, 2, 0}};
  for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
    const int k = cases[q].k, s = cases[q].stride, p = cases[q].pad;
    const int ho = (cases[q].h + 2 * p - k) / s + 1, wo = (cases[q].w + 2 * p - k) / s + 1;
    const nde_conv_geom g = {cases[q].cin, cases[q].h, cases[q].w, k, k, s, p, ho, wo};
    ck_assert_msg(nde_wino_tile(&g) == cases[q].tile, "case %zu: tile %d, want %d", q,
                  nde_wino_tile(&g), cases[q].tile);
  }
}
END_TEST

START_TEST(winograd_matches_im2col) {
  static const struct {
    int cin, h, w, cout, n, k, stride, pad, wino;
  } cases[] = {{64, 6, 6, 64, 64, 3, 1, 1, 1}, {5, 4, 8, 7, 3, 3, 1, 1, 1},
               {32, 6, 8, 16, 40, 3, 1, 1, 1}, {16, 9, 3, 8, 7, 3, 1, 1, 1},
               {3, 5, 6, 4, 2, 3, 1, 1, 0},    {3, 6, 6, 4, 2, 3, 2, 1, 0},
               {3, 6, 6, 4, 2, 3, 1, 0, 0},    {3, 6, 6, 4, 2, 5, 1, 2, 0}};
  for (size_t q = 0; q < 2 * sizeof cases / sizeof cases[0]; q++) {
    const int concat = (int)(q % 2), n = cases[q / 2].n;
    nde_layer_spec s = nde_spec_conv2d(cases[q / 2].cout, cases[q / 2].k, cases[q / 2].stride,
                                       cases[q / 2].pad);
    if (concat) s.kind = NDE_LAYER_CONCAT_CONV2D;
    const nde_shape in = nde_shape_chw(cases[q / 2].cin, cases[q / 2].h, cases[q / 2].w);
    nde_net *wn, *cn;
    const long before = nde_conv_winograd_setups();
    ck_assert_int_eq(nde_net_create(in, n, &s, 1, &wn), NDE_OK);
    ck_assert_int_eq(nde_conv_winograd_setups() - before, cases[q / 2].wino);
    s.conv_algo = NDE_CONV_IM2COL;
    ck_assert_int_eq(nde_net_create(in, n, &s, 1, &cn), NDE_OK);
    ck_assert_int_eq(nde_conv_winograd_setups() - before, cases[q / 2].wino);
    nde_rng rng;
    nde_rng_seed(&rng, 60 + q);
    nde_net_init(wn, &rng);
    const size_t np = nde_net_num_params(wn), nin = (size_t)n * nde_net_in_numel(wn),
                 nout = (size_t)n * nde_net_out_numel(wn);
    nde_real *x = malloc(nin * sizeof *x), *dy = malloc(nout * sizeof *dy);
    nde_real *y1 = malloc(nout * sizeof *y1), *y2 = malloc(nout * sizeof *y2);
    nde_real *dx1 = malloc(nin * sizeof *dx1), *dx2 = malloc(nin * sizeof *dx2);
    nde_real *g1 = malloc(np * sizeof *g1), *g2 = malloc(np * sizeof *g2);
    ck_assert(x && dy && y1 && y2 && dx1 && dx2 && g1 && g2);
    tu_fill_normal(x, nin, 1, &rng);
    tu_fill_normal(dy, nout, 1, &rng);
    for (int round = 0; round < 2; round++) {
      if (round) /* new weights: the cached transform must follow */
        for (size_t i = 0; i < np; i++) nde_net_params(wn)[i] = (nde_real)(1.5 * nde_net_params(wn)[i] - 0.01);
      memcpy(nde_net_params(cn), nde_net_params(wn), np * sizeof(nde_real));
      memset(g1, 0, np * sizeof *g1);
      memset(g2, 0, np * sizeof *g2);
      ck_assert_int_eq(nde_net_forward(wn, 0.3, n, x, y1), NDE_OK);
      ck_assert_int_eq(nde_net_forward(cn, 0.3, n, x, y2), NDE_OK);
      ck_assert_int_eq(nde_net_vjp(wn, n, dy, dx1, g1), NDE_OK);
      ck_assert_int_eq(nde_net_vjp(cn, n, dy, dx2, g2), NDE_OK);
      const double ey = rel_maxdiff(y1, y2, nout), ex = rel_maxdiff(dx1, dx2, nin),
                   eg = rel_maxdiff(g1, g2, np);
      ck_assert_msg(ey <= WINO_TOL && ex <= WINO_TOL && eg <= WINO_TOL,
                    "case %zu concat %d round %d: y %g dx %g grad %g", q / 2, concat, round, ey,
                    ex, eg);
    }
    free(x);
    free(dy);
    free(y1);
    free(y2);
    free(dx1);
    free(dx2);
    free(g1);
    free(g2);
    nde_net_free(wn);
    nde_net_free(cn);
  }
}
END_TEST

/* The layer keeps the padding zeros of its im2col buffers between calls at
 * the same batch; changing the batch between calls must still give exactly
 * what a fresh layer computes (forward, and dx by the flipped convolution). */
START_TEST(batch_changes_between_calls) {
  for (int stride = 1; stride <= 2; stride++) {
    nde_layer_spec s = nde_spec_concat_conv2d(3, 3, stride, 1);
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 5, 4), 4, &s, 1, &net), NDE_OK);
    nde_rng rng;
    nde_rng_seed(&rng, 21);
    nde_net_init(net, &rng);
    const size_t nin = nde_net_in_numel(net), nout = nde_net_out_numel(net);
    nde_real x[4 * 40], dy[4 * 60], y1[4 * 60], y2[4 * 60], dx1[4 * 40], dx2[4 * 40];
    const int ns[] = {4, 1, 3, 4, 2, 2};
    for (int q = 0; q < 6; q++) {
      const int n = ns[q];
      tu_fill_normal(x, (size_t)n * nin, 1, &rng);
      tu_fill_normal(dy, (size_t)n * nout, 1, &rng);
      ck_assert_int_eq(nde_net_forward(net, 0.3, n, x, y1), NDE_OK);
      ck_assert_int_eq(nde_net_vjp(net, n, dy, dx1, NULL), NDE_OK);
      nde_net *fresh;
      ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 5, 4), 4, &s, 1, &fresh), NDE_OK);
      memcpy(nde_net_params(fresh), nde_net_params(net), nde_net_num_params(net) * sizeof(nde_real));
      ck_assert_int_eq(nde_net_forward(fresh, 0.3, n, x, y2), NDE_OK);
      ck_assert_int_eq(nde_net_vjp(fresh, n, dy, dx2, NULL), NDE_OK);
      for (size_t i = 0; i < (size_t)n * nout; i++) ck_assert_msg(y1[i] == y2[i], "call %d: y[%zu]", q, i);
      for (size_t i = 0; i < (size_t)n * nin; i++) ck_assert_msg(dx1[i] == dx2[i], "call %d: dx[%zu]", q, i);
      nde_net_free(fresh);
    }
    nde_net_free(net);
  }
}
END_TEST

/* Large layers run the batch in chunks of samples whose columns are rebuilt
 * in vjp (nets/conv2d.c, MEMORY); at max_batch 1 the same layer keeps its
 * one sample's columns from forward. Both must give the same y, dx and
 * parameter gradient (the latter summed over samples) up to rounding.
 * Shapes, with their float chunk sizes at these batches (2 MB chunks of
 * at least 1152 gemm columns): a 4x4 stride-2 conv at 26x26 like the
 * ODE-Net stem's (8 chunks of 10), the stem's first conv3x3 at 28x28 (10
 * of 10), the ODE function's ConcatConv3x3 at 6x6 (9 of 34, flipped input
 * vjp, the last partial) and a 1x1 conv (8 of 17, the last partial). */
START_TEST(chunked_batch_matches_per_sample) {
  static const struct {
    int concat, cin, h, cout, k, stride, pad, n;
  } cases[] = {{0, 16, 26, 64, 4, 2, 1, 80},
               {0, 1, 28, 64, 3, 1, 0, 100},
               {1, 64, 6, 64, 3, 1, 1, 300},
               {0, 64, 16, 64, 1, 1, 0, 129}};
  for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
    const int n = cases[q].n;
    nde_layer_spec s = cases[q].concat
                           ? nde_spec_concat_conv2d(cases[q].cout, cases[q].k, cases[q].stride,
                                                    cases[q].pad)
                           : nde_spec_conv2d(cases[q].cout, cases[q].k, cases[q].stride, cases[q].pad);
    const nde_shape in = nde_shape_chw(cases[q].cin, cases[q].h, cases[q].h);
    nde_net *big, *one;
    ck_assert_int_eq(nde_net_create(in, n, &s, 1, &big), NDE_OK);
    ck_assert_int_eq(nde_net_create(in, 1, &s, 1, &one), NDE_OK);
    nde_rng rng;
    nde_rng_seed(&rng, 40 + q);
    nde_net_init(big, &rng);
    const size_t np = nde_net_num_params(big);
    memcpy(nde_net_params(one), nde_net_params(big), np * sizeof(nde_real));
    const size_t nin = nde_net_in_numel(big), nout = nde_net_out_numel(big);
    nde_real *x = malloc((size_t)n * nin * sizeof *x), *dy = malloc((size_t)n * nout * sizeof *dy);
    nde_real *y1 = malloc((size_t)n * nout * sizeof *y1), *y2 = malloc(nout * sizeof *y2);
    nde_real *dx1 = malloc((size_t)n * nin * sizeof *dx1), *dx2 = malloc(nin * sizeof *dx2);
    nde_real *g1 = calloc(np, sizeof *g1), *g2 = calloc(np, sizeof *g2);
    ck_assert(x && dy && y1 && y2 && dx1 && dx2 && g1 && g2);
    tu_fill_normal(x, (size_t)n * nin, 1, &rng);
    tu_fill_normal(dy, (size_t)n * nout, 1, &rng);
    ck_assert_int_eq(nde_net_forward(big, 0.7, n, x, y1), NDE_OK);
    ck_assert_int_eq(nde_net_vjp(big, n, dy, dx1, g1), NDE_OK);
    double ey = 0, my = 0, ex = 0, mx = 0;
    for (int b = 0; b < n; b++) {
      ck_assert_int_eq(nde_net_forward(one, 0.7, 1, x + (size_t)b * nin, y2), NDE_OK);
      ck_assert_int_eq(nde_net_vjp(one, 1, dy + (size_t)b * nout, dx2, g2), NDE_OK);
      for (size_t i = 0; i < nout; i++) {
        ey = fmax(ey, fabs((double)y1[(size_t)b * nout + i] - y2[i]));
        my = fmax(my, fabs((double)y2[i]));
      }
      for (size_t i = 0; i < nin; i++) {
        ex = fmax(ex, fabs((double)dx1[(size_t)b * nin + i] - dx2[i]));
        mx = fmax(mx, fabs((double)dx2[i]));
      }
    }
    double eg = 0, mg = 0;
    for (size_t i = 0; i < np; i++) {
      eg = fmax(eg, fabs((double)g1[i] - g2[i]));
      mg = fmax(mg, fabs((double)g2[i]));
    }
    ck_assert_msg(ey <= FWD_TOL * my && ex <= FWD_TOL * mx && eg <= 10 * FWD_TOL * mg,
                  "case %zu: max |diff| y %g (of %g), dx %g (of %g), grad %g (of %g)", q, ey, my,
                  ex, mx, eg, mg);
    free(x), free(dy), free(y1), free(y2), free(dx1), free(dx2), free(g1), free(g2);
    nde_net_free(big);
    nde_net_free(one);
  }
}
END_TEST

/* Networks sharing one scratch arena (nde_net_share_scratch), called
 * interleaved (forward A, forward B, vjp A, vjp B: B's calls overwrite the
 * arena between A's), give the results of unshared twins bit for bit:
 * nothing in the arena outlives a call. A's conv runs in chunks whose
 * columns live in the arena, B's keeps its own. Freeing in either order is
 * checked by valgrind; a NULL list is an error. */
START_TEST(shared_scratch_matches_own) {
  nde_layer_spec sa[] = {nde_spec_conv2d(8, 4, 2, 1), nde_spec_act(NDE_LAYER_RELU)};
  nde_layer_spec sb = nde_spec_concat_conv2d(8, 3, 1, 1);
  const nde_shape ina = nde_shape_chw(16, 26, 26), inb = nde_shape_chw(8, 6, 6);
  const int n = 100; /* 10 chunks of 10 */
  nde_net *a[2], *b[2];
  for (int k = 0; k < 2; k++) {
    ck_assert_int_eq(nde_net_create(ina, n, sa, 2, &a[k]), NDE_OK);
    ck_assert_int_eq(nde_net_create(inb, 3, &sb, 1, &b[k]), NDE_OK);
  }
  ck_assert_uint_gt(nde_net_scratch_size(a[0]), nde_net_scratch_size(b[0]));
  nde_net *both[] = {a[1], NULL, b[1], a[1]};
  ck_assert_int_eq(nde_net_share_scratch(both, 4), NDE_OK);
  ck_assert_int_eq(nde_net_share_scratch(NULL, 1), NDE_ERR_NULL);
  nde_rng rng;
  nde_rng_seed(&rng, 9);
  nde_net_init(a[0], &rng);
  nde_net_init(b[0], &rng);
  memcpy(nde_net_params(a[1]), nde_net_params(a[0]), nde_net_num_params(a[0]) * sizeof(nde_real));
  memcpy(nde_net_params(b[1]), nde_net_params(b[0]), nde_net_num_params(b[0]) * sizeof(nde_real));
  const size_t nxa = (size_t)n * nde_net_in_numel(a[0]), nya = (size_t)n * nde_net_out_numel(a[0]);
  const size_t nxb = 3 * nde_net_in_numel(b[0]), nyb = 3 * nde_net_out_numel(b[0]);
  nde_real *xa = malloc(nxa * sizeof *xa), *dya = malloc(nya * sizeof *dya);
  nde_real *xb = malloc(nxb * sizeof *xb), *dyb = malloc(nyb * sizeof *dyb);
  nde_real *dxa[2], *dxb[2];
  ck_assert(xa && dya && xb && dyb);
  tu_fill_normal(xa, nxa, 1, &rng);
  tu_fill_normal(dya, nya, 1, &rng);
  tu_fill_normal(xb, nxb, 1, &rng);
  tu_fill_normal(dyb, nyb, 1, &rng);
  for (int k = 0; k < 2; k++) {
    dxa[k] = malloc(nxa * sizeof *dxa[k]);
    dxb[k] = malloc(nxb * sizeof *dxb[k]);
    nde_net_zero_grad(a[k]);
    nde_net_zero_grad(b[k]);
    ck_assert_int_eq(nde_net_forward(a[k], 0, n, xa, NULL), NDE_OK);
    ck_assert_int_eq(nde_net_forward(b[k], 0.5, 3, xb, NULL), NDE_OK);
    ck_assert_int_eq(nde_net_vjp(a[k], n, dya, dxa[k], nde_net_grads(a[k])), NDE_OK);
    ck_assert_int_eq(nde_net_vjp(b[k], 3, dyb, dxb[k], nde_net_grads(b[k])), NDE_OK);
  }
  ck_assert_mem_eq(nde_net_output(a[0]), nde_net_output(a[1]), nya * sizeof(nde_real));
  ck_assert_mem_eq(nde_net_output(b[0]), nde_net_output(b[1]), nyb * sizeof(nde_real));
  ck_assert_mem_eq(dxa[0], dxa[1], nxa * sizeof(nde_real));
  ck_assert_mem_eq(dxb[0], dxb[1], nxb * sizeof(nde_real));
  ck_assert_mem_eq(nde_net_grads(a[0]), nde_net_grads(a[1]),
                   nde_net_num_params(a[0]) * sizeof(nde_real));
  ck_assert_mem_eq(nde_net_grads(b[0]), nde_net_grads(b[1]),
                   nde_net_num_params(b[0]) * sizeof(nde_real));
  nde_net_free(a[1]); /* the arena lives on in b[1] */
  ck_assert_int_eq(nde_net_forward(b[1], 0.5, 3, xb, NULL), NDE_OK);
  ck_assert_mem_eq(nde_net_output(b[0]), nde_net_output(b[1]), nyb * sizeof(nde_real));
  nde_net_free(b[1]);
  nde_net_free(a[0]);
  nde_net_free(b[0]);
  for (int k = 0; k < 2; k++) free(dxa[k]), free(dxb[k]);
  free(xa), free(dya), free(xb), free(dyb);
}
END_TEST

/* PyTorch init: U(-1/sqrt(fan_in), +) with fan_in counting the time channel. */
START_TEST(init_bounds) {
  for (int concat = 0; concat < 2; concat++) {
    nde_layer_spec s = concat ? nde_spec_concat_conv2d(8, 3, 1, 1) : nde_spec_conv2d(8, 3, 1, 1);
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_chw(4, 6, 6), 2, &s, 1, &net), NDE_OK);
    const int cw = 4 + concat;
    ck_assert_uint_eq(nde_net_num_params(net), (size_t)8 * cw * 9 + 8);
    nde_rng rng;
    nde_rng_seed(&rng, 3);
    nde_net_init(net, &rng);
    const double bound = 1 / sqrt(cw * 9.0);
    double maxabs = 0;
    for (size_t i = 0; i < nde_net_num_params(net); i++) {
      ck_assert(fabs(nde_net_params(net)[i]) <= bound);
      maxabs = fmax(maxabs, fabs(nde_net_params(net)[i]));
    }
    ck_assert(maxabs > 0.8 * bound); /* it is the uniform range, not something narrower */
    nde_net_free(net);
  }
}
END_TEST

START_TEST(bad_specs_rejected) {
  nde_net *net = NULL;
  nde_layer_spec s = nde_spec_conv2d(0, 3, 1, 1);
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 6, 6), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("layer 0 (conv2d)");
  ASSERT_MSG_HAS("output channels 0");
  ck_assert_ptr_null(net);

  s = nde_spec_conv2d(4, 3, 1, 1);
  s.kw = 0;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 6, 6), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("kernel 3x0");

  s = nde_spec_concat_conv2d(4, 3, 0, 1);
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 6, 6), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("concat_conv2d");
  ASSERT_MSG_HAS("stride 0");

  s = nde_spec_concat_conv2d(4, 3, 1, -1);
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 6, 6), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("padding -1");

  s = nde_spec_conv2d(4, 3, 1, 1);
  s.conv_algo = 2;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 6, 6), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("convolution algorithm 2 is neither NDE_CONV_AUTO (0) nor NDE_CONV_IM2COL (1)");
  s = nde_spec_resblock(NDE_NORM_GROUP, 2);
  s.conv_algo = -1;
  ck_assert_int_eq(nde_net_create(nde_shape_chw(2, 6, 6), 2, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("layer 0 (resblock)");
  ASSERT_MSG_HAS("convolution algorithm -1");

  /* 2x2 input, 3x3 kernel, no padding: empty output */
  s = nde_spec_conv2d(4, 3, 1, 0);
  nde_layer_spec stack[] = {nde_spec_act(NDE_LAYER_RELU), s};
  ck_assert_int_eq(nde_net_create(nde_shape_chw(1, 2, 2), 2, stack, 2, &net), NDE_ERR_SHAPE);
  ASSERT_MSG_HAS("layer 1 (conv2d)");
  ASSERT_MSG_HAS("input 2x2 with padding 0");
  ASSERT_MSG_HAS("3x3 kernel");
  ck_assert_ptr_null(net);

  /* gemm dimensions beyond int: 2^16 x 2^16 output pixels */
  s = nde_spec_conv2d(1, 1, 1, 0);
  ck_assert_int_eq(nde_net_create(nde_shape_chw(1, 65536, 65536), 1, &s, 1, &net), NDE_ERR_ARG);
  ASSERT_MSG_HAS("too large");

  /* within int range but beyond any address space (9*2^14 x 2^30 columns,
   * over 2^49 bytes): the allocation fails cleanly */
  s = nde_spec_conv2d(1, 3, 1, 1);
  ck_assert_int_eq(nde_net_create(nde_shape_chw(1 << 14, 256, 256), 1 << 14, &s, 1, &net),
                   NDE_ERR_NOMEM);
  ASSERT_MSG_HAS("out of memory");
  ck_assert_ptr_null(net);
}
END_TEST

/* The layer's own guard against a vjp without its forward (the network
 * checks this too, so it is reached through the operations table). */
START_TEST(layer_vjp_needs_forward) {
  nde_layer L;
  memset(&L, 0, sizeof L);
  L.ops = &nde_concat_conv2d_ops;
  L.spec = nde_spec_concat_conv2d(2, 3, 1, 1);
  L.max_batch = 2;
  L.in = nde_shape_chw(1, 4, 4);
  ck_assert_int_eq(L.ops->setup(&L), NDE_OK);
  nde_real p[2 * 2 * 9 + 2] = {0}, x[32] = {0}, y[64] = {0}, dy[64] = {0}, dx[32];
  nde_real *scratch = malloc((L.scratch ? L.scratch : 1) * sizeof *scratch); /* the net's arena */
  ck_assert_ptr_nonnull(scratch);
  nde_layer_ctx ctx = {p, NULL, 1, scratch};
  ck_assert_int_eq(L.ops->vjp(&L, &ctx, 1, x, y, dy, dx, NULL), NDE_ERR_STATE);
  ASSERT_MSG_HAS("last forward had batch 0");
  ck_assert_int_eq(L.ops->forward(&L, &ctx, 0.0, 2, x, y), NDE_OK);
  ck_assert_int_eq(L.ops->vjp(&L, &ctx, 1, x, y, dy, dx, NULL), NDE_ERR_STATE);
  ck_assert_int_eq(L.ops->vjp(&L, &ctx, 2, x, y, dy, dx, NULL), NDE_OK);
  L.ops->destroy(&L);
  ck_assert_ptr_null(L.impl);
  L.ops->destroy(&L); /* safe on a destroyed layer */
  free(scratch);
}
END_TEST

Suite *conv_suite(void) {
  Suite *s = suite_create("conv");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, transpose_matches_definition);
  tcase_add_loop_test(tc, col2im_is_adjoint_of_im2col, 0, NCASES);
  tcase_add_test(tc, conv_forward_by_hand);
  tcase_add_test(tc, concat_forward_by_hand);
  tcase_add_loop_test(tc, conv_forward_vs_naive, 0, NCASES);
  tcase_add_loop_test(tc, concat_forward_vs_naive, 0, NCASES);
  tcase_add_loop_test(tc, conv_gradcheck, 0, NCASES);
  tcase_add_loop_test(tc, concat_gradcheck, 0, NCASES);
  tcase_add_test(tc, stack_gradcheck);
  tcase_add_test(tc, partial_vjps_agree);
  tcase_add_test(tc, winograd_tile_choice);
  tcase_add_test(tc, winograd_matches_im2col);
  tcase_add_test(tc, batch_changes_between_calls);
  tcase_add_test(tc, chunked_batch_matches_per_sample);
  tcase_add_test(tc, shared_scratch_matches_own);
  tcase_add_test(tc, init_bounds);
  tcase_add_test(tc, bad_specs_rejected);
  tcase_add_test(tc, layer_vjp_needs_forward);
  suite_add_tcase(s, tc);
  return s;
}
