/* Winograd's minimal filtering F(m x m, 3 x 3), m = 2 or 3, for the 3x3,
 * stride-1, pad-1 convolutions (the ODE function's ConcatConv2d, the ResNet
 * blocks), after Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks" (2016).
 *
 * WHY. On the ODE-Net's 64-channel 6x6 maps the im2col product is one gemm
 * of 2 * 64 * 576 * 36 flops per sample. F(2x2, 3x3) replaces it by 16
 * gemms over 9 tiles (2.25x fewer flops), F(3x3, 3x3) by 25 gemms over 4
 * tiles (3.24x fewer), and the transformed input (a^2 * Cin * tiles values
 * per sample, a = m + 2: 144 or 100 per channel) is smaller than the im2col
 * columns (324 per channel). Measured with OpenBLAS SkylakeX kernels on one
 * thread, 64 samples: the im2col gemm 1.50 ms, F(2x2) 0.73 ms.
 *
 * MATH. An output tile Y (m x m, pixels (m a + i, m b + j)) of the
 * correlation of an a x a input tile d (pixels (m a - 1 + u, m b - 1 + v),
 * zero outside the plane: the padding) with a 3x3 filter g is
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A.
 * F(2x2, 3x3) (interpolation points 0, 1, -1, infinity):
 *   B^T = [1  0 -1  0]    G = [ 1    0    0 ]    A^T = [1 1  1  0]
 *         [0  1  1  0]        [1/2  1/2  1/2]          [0 1 -1 -1]
 *         [0 -1  1  0]        [1/2 -1/2  1/2]
 *         [0  1  0 -1]        [ 0    0    1 ]
 * F(3x3, 3x3) (points 0, 1, -1, 2, infinity; Toom-Cook as in Lavin's
 * wincnn, checked in exact arithmetic against the correlation):
 *   B^T = [2 -1 -2  1  0]    G = [ 1/2   0    0 ]    A^T = [1 1  1 1 0]
 *         [0 -2 -1  1  0]        [-1/2 -1/2 -1/2]          [0 1 -1 2 0]
 *         [0  2 -3  1  0]        [-1/6  1/6 -1/6]          [0 1  1 4 1]
 *         [0 -1  0  1  0]        [ 1/6  1/3  2/3]
 *         [0  2 -1 -2  1]        [  0    0    1 ]
 * Summed over input channels, each of the a^2 entries xi = a r + s of the
 * transformed tiles is a matrix product: with U[xi][co][c] = (G g_{co,c}
 * G^T)[r][s] and V[xi][c][col] = (B^T d_{c,col} B)[r][s] (col runs over the
 * tiles of every sample), M[xi] = U[xi] V[xi] (Cout x tiles), and the
 * output tiles are A^T M A. The adjoints, for the vjp:
 *   dM = A dY A^T,   dV[xi] = U[xi]^T dM[xi],   dd = B dV B^T (added into
 *   the input plane; overlapping tiles add up),
 *   dU[xi] = dM[xi] V[xi]^T,   dg = G^T dU G.
 * Each two-sided product is a 1-D transform along the columns, then along
 * the rows; the 1-D transforms below are these matrices written out.
 * In exact arithmetic this is the convolution; in floating point the
 * rounding differs (the transforms add up to 5 terms).
 *
 * LAYOUT (conv_impl.h's CHWN: the sample innermost). Tiles are numbered
 * tau = a * (Wo / m) + b and V[xi] is Cin x (tiles * n) with column
 * tau * n + sample, so every transform is a loop over the n samples of a
 * few long runs, which the compiler vectorizes; the planes come in and go
 * out through nets/im2col.c's transpose, one channel at a time. */
#include <string.h>

#include "nets/conv_impl.h"

/* The sample loops read and write up to 25 runs each, all distinct (one
 * plane position or one transformed entry per run), so no iteration
 * depends on another: tell GCC, which cannot prove it from the pointers. */
#if defined(__GNUC__) && !defined(__clang__)
#define NDE_INDEPENDENT _Pragma("GCC ivdep")
#define NDE_INLINE static inline __attribute__((always_inline))
#else
#define NDE_INDEPENDENT
#define NDE_INLINE static inline
#endif

/* The transforms are short sums over the samples, issue-bound at SSE2's 4
 * floats: with GCC on x86-64 Linux each is also compiled for AVX2 and
 * AVX-512 and the loader picks the widest the CPU has (ifunc). Without
 * fused multiply-adds, so that every version rounds the same way. The
 * cloned functions are static: GCC (12) gives a global ifunc and its
 * resolver default visibility whatever -fvisibility says, which would
 * export them from libnde.so. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NDE_WIDE_CLONES \
  __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
#else
#define NDE_WIDE_CLONES
#endif

enum { AMAX = 5 }; /* the largest tile, m = 3 */

/* F(3x3) where it pays: its products take 1.44x fewer flops than F(2x2)'s,
 * but its transforms round more (float, 64 channels: 3e-6 of the largest
 * output against 3e-7 for F(2x2) and im2col), so only on inputs of at least
 * MIN_CIN3 channels, where the products dominate. ODE-Net training step
 * (odenet_step, min / median of 8 alternating runs): F(2x2) 0.315 / 0.334 s,
 * F(3x3) in chunks of 32 samples 0.281 / 0.285 s. */
enum { MIN_CIN3 = 16 };

int nde_wino_tile(const nde_conv_geom *g) {
  if (!(g->kh == 3 && g->kw == 3 && g->stride == 1 && g->pad == 1 && g->ho == g->h &&
        g->wo == g->w))
    return 0;
  if (g->cin >= MIN_CIN3 && g->h % 3 == 0 && g->w % 3 == 0) return 3;
  if (g->h % 2 == 0 && g->w % 2 == 0) return 2;
  return 0;
}

/* ---- the 1-D transforms: y = T x on a vectors of one sample ---- */

/* y = B^T x (a = m + 2 values) */
NDE_INLINE void bt_1d(const int m, const nde_real *x, nde_real *y) {
  if (m == 2) {
    y[0] = x[0] - x[2];
    y[1] = x[1] + x[2];
    y[2] = x[2] - x[1];
    y[3] = x[1] - x[3];
  } else {
    y[0] = 2 * x[0] - x[1] - 2 * x[2] + x[3];
    y[1] = -2 * x[1] - x[2] + x[3];
    y[2] = 2 * x[1] - 3 * x[2] + x[3];
    y[3] = x[3] - x[1];
    y[4] = 2 * x[1] - x[2] - 2 * x[3] + x[4];
  }
}

/* y = B x, the adjoint of bt_1d */
NDE_INLINE void b_1d(const int m, const nde_real *x, nde_real *y) {
  if (m == 2) {
    y[0] = x[0];
    y[1] = x[1] - x[2] + x[3];
    y[2] = x[1] + x[2] - x[0];
    y[3] = -x[3];
  } else {
    y[0] = 2 * x[0];
    y[1] = -x[0] - 2 * x[1] + 2 * x[2] - x[3] + 2 * x[4];
    y[2] = -2 * x[0] - x[1] - 3 * x[2] - x[4];
    y[3] = x[0] + x[1] + x[2] + x[3] - 2 * x[4];
    y[4] = x[4];
  }
}

/* y = A^T x (m values from a) */
NDE_INLINE void at_1d(const int m, const nde_real *x, nde_real *y) {
  if (m == 2) {
    y[0] = x[0] + x[1] + x[2];
    y[1] = x[1] - x[2] - x[3];
  } else {
    y[0] = x[0] + x[1] + x[2] + x[3];
    y[1] = x[1] - x[2] + 2 * x[3];
    y[2] = x[1] + x[2] + 4 * x[3] + x[4];
  }
}

/* y = A x (a values from m), the adjoint of at_1d */
NDE_INLINE void a_1d(const int m, const nde_real *x, nde_real *y) {
  if (m == 2) {
    y[0] = x[0];
    y[1] = x[0] + x[1];
    y[2] = x[0] - x[1];
    y[3] = -x[1];
  } else {
    y[0] = x[0];
    y[1] = x[0] + x[1] + x[2];
    y[2] = x[0] - x[1] + x[2];
    y[3] = x[0] + 2 * x[1] + 4 * x[2];
    y[4] = x[2];
  }
}

/* y = G x (a values from 3), in double: the weights are transformed once */
static void g_1d(int m, const double *x, double *y) {
  if (m == 2) {
    y[0] = x[0];
    y[1] = 0.5 * (x[0] + x[1] + x[2]);
    y[2] = 0.5 * (x[0] - x[1] + x[2]);
    y[3] = x[2];
  } else {
    y[0] = 0.5 * x[0];
    y[1] = -0.5 * (x[0] + x[1] + x[2]);
    y[2] = (-x[0] + x[1] - x[2]) / 6;
    y[3] = (x[0] + 2 * x[1] + 4 * x[2]) / 6;
    y[4] = x[2];
  }
}

/* y = G^T x (3 values from a), the adjoint of g_1d */
static void gt_1d(int m, const double *x, double *y) {
  if (m == 2) {
    y[0] = x[0] + 0.5 * (x[1] + x[2]);
    y[1] = 0.5 * (x[1] - x[2]);
    y[2] = 0.5 * (x[1] + x[2]) + x[3];
  } else {
    y[0] = 0.5 * x[0] - 0.5 * x[1] - x[2] / 6 + x[3] / 6;
    y[1] = -0.5 * x[1] + x[2] / 6 + x[3] / 3;
    y[2] = -0.5 * x[1] - x[2] / 6 + 2 * x[3] / 3 + x[4];
  }
}

/* ---- weights ---- */

void nde_wino_weights(int m, int cout, int cin, const nde_real *W, size_t ldw, nde_real *U) {
  const int a = m + 2;
  const size_t xs = (size_t)cout * cin; /* one U[xi] */
  for (int co = 0; co < cout; co++)
    for (int c = 0; c < cin; c++) {
      const nde_real *g = W + (size_t)co * ldw + (size_t)c * 9;
      double col[3], t[AMAX][3], row[3], u[AMAX];
      for (int v = 0; v < 3; v++) { /* t = G g, column by column */
        double tc[AMAX];
        for (int k = 0; k < 3; k++) col[k] = g[3 * k + v];
        g_1d(m, col, tc);
        for (int r = 0; r < a; r++) t[r][v] = tc[r];
      }
      nde_real *dst = U + (size_t)co * cin + c;
      for (int r = 0; r < a; r++) { /* (G g) G^T, row by row */
        for (int k = 0; k < 3; k++) row[k] = t[r][k];
        g_1d(m, row, u);
        for (int s = 0; s < a; s++) dst[(size_t)(a * r + s) * xs] = (nde_real)u[s];
      }
    }
}

void nde_wino_weights_adjoint(int m, int cout, int cin, const nde_real *dU, nde_real *grad,
                              size_t ldw) {
  const int a = m + 2;
  const size_t xs = (size_t)cout * cin;
  for (int co = 0; co < cout; co++)
    for (int c = 0; c < cin; c++) {
      const nde_real *du = dU + (size_t)co * cin + c;
      double t[AMAX][3], row[AMAX], col[AMAX], dg[3];
      for (int r = 0; r < a; r++) { /* dU G, row by row */
        for (int s = 0; s < a; s++) row[s] = du[(size_t)(a * r + s) * xs];
        gt_1d(m, row, t[r]);
      }
      nde_real *g = grad + (size_t)co * ldw + (size_t)c * 9;
      for (int v = 0; v < 3; v++) { /* G^T (dU G), column by column */
        for (int r = 0; r < a; r++) col[r] = t[r][v];
        gt_1d(m, col, dg);
        for (int k = 0; k < 3; k++) g[3 * k + v] += (nde_real)dg[k];
      }
    }
}

/* ---- inputs and outputs ---- */

/* The a x a plane runs of tile (ta, tb): plane positions (m ta - 1 + u,
 * m tb - 1 + v), `outside` for those in the padding. */
static void tile_runs(const nde_conv_geom *g, int m, int n, nde_real *plane, int ta, int tb,
                      nde_real *outside, nde_real **p) {
  const int a = m + 2;
  for (int u = 0; u < a; u++)
    for (int v = 0; v < a; v++) {
      const int ih = m * ta - 1 + u, iw = m * tb - 1 + v;
      const int in = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w;
      p[a * u + v] = in ? plane + ((size_t)ih * g->w + iw) * n : outside;
    }
}

NDE_INLINE void input_m(const int m, const nde_conv_geom *g, int n, const nde_real *x,
                        size_t lds, nde_real *plane, const nde_real *zeros, nde_real *V) {
  const int a = m + 2, th = g->h / m, tw = g->w / m;
  const size_t T = (size_t)th * tw * n, xs = nde_wino_stride((size_t)g->cin * T);
  const size_t hw = (size_t)g->h * g->w;
  for (int c = 0; c < g->cin; c++) {
    nde_conv_transpose(n, (int)hw, x + (size_t)c * hw, lds, plane, (size_t)n, NULL);
    for (int ta = 0; ta < th; ta++)
      for (int tb = 0; tb < tw; tb++) {
        nde_real *d[AMAX * AMAX];
        tile_runs(g, m, n, plane, ta, tb, (nde_real *)zeros, d);
        nde_real *o = V + (size_t)c * T + (size_t)(ta * tw + tb) * n;
        NDE_INDEPENDENT
        for (int s = 0; s < n; s++) {
          nde_real r[AMAX][AMAX], col[AMAX], tc[AMAX];
          for (int v = 0; v < a; v++) { /* B^T d, column by column */
            for (int u = 0; u < a; u++) col[u] = d[a * u + v][s];
            bt_1d(m, col, tc);
            for (int u = 0; u < a; u++) r[u][v] = tc[u];
          }
          for (int u = 0; u < a; u++) { /* (B^T d) B, row by row */
            bt_1d(m, r[u], tc);
            for (int v = 0; v < a; v++) o[(size_t)(a * u + v) * xs + s] = tc[v];
          }
        }
      }
  }
}

NDE_INLINE void input_adjoint_m(const int m, const nde_conv_geom *g, int n, const nde_real *dV,
                                nde_real *plane, nde_real *sink, nde_real *dx, size_t ldd) {
  const int a = m + 2, th = g->h / m, tw = g->w / m;
  const size_t T = (size_t)th * tw * n, xs = nde_wino_stride((size_t)g->cin * T);
  const size_t hw = (size_t)g->h * g->w;
  for (int c = 0; c < g->cin; c++) {
    memset(plane, 0, hw * (size_t)n * sizeof *plane);
    memset(sink, 0, (size_t)n * sizeof *sink); /* kept small: no denormals, no overflow */
    for (int ta = 0; ta < th; ta++)
      for (int tb = 0; tb < tw; tb++) {
        nde_real *d[AMAX * AMAX];
        tile_runs(g, m, n, plane, ta, tb, sink, d);
        const nde_real *e = dV + (size_t)c * T + (size_t)(ta * tw + tb) * n;
        NDE_INDEPENDENT
        for (int s = 0; s < n; s++) {
          nde_real q[AMAX][AMAX], col[AMAX], tc[AMAX];
          for (int v = 0; v < a; v++) { /* B dV, column by column */
            for (int u = 0; u < a; u++) col[u] = e[(size_t)(a * u + v) * xs + s];
            b_1d(m, col, tc);
            for (int u = 0; u < a; u++) q[u][v] = tc[u];
          }
          for (int u = 0; u < a; u++) { /* (B dV) B^T, row by row, added in */
            b_1d(m, q[u], tc);
            for (int v = 0; v < a; v++) d[a * u + v][s] += tc[v];
          }
        }
      }
    nde_conv_transpose((int)hw, n, plane, (size_t)n, dx + (size_t)c * hw, ldd, NULL);
  }
}

NDE_INLINE void output_m(const int m, const nde_conv_geom *g, int cout, int n, const nde_real *M,
                         nde_real *Y) {
  const int a = m + 2, th = g->h / m, tw = g->w / m;
  const size_t T = (size_t)th * tw * n, xs = nde_wino_stride((size_t)cout * T);
  const size_t npix = (size_t)g->h * g->w;
  for (int co = 0; co < cout; co++)
    for (int ta = 0; ta < th; ta++)
      for (int tb = 0; tb < tw; tb++) {
        const nde_real *mm = M + (size_t)co * T + (size_t)(ta * tw + tb) * n;
        nde_real *y = Y + ((size_t)co * npix + (size_t)(m * ta) * g->w + m * tb) * n;
        NDE_INDEPENDENT
        for (int s = 0; s < n; s++) {
          nde_real r[3][AMAX], col[AMAX], tc[AMAX];
          for (int v = 0; v < a; v++) { /* A^T M, column by column */
            for (int u = 0; u < a; u++) col[u] = mm[(size_t)(a * u + v) * xs + s];
            at_1d(m, col, tc);
            for (int i = 0; i < m; i++) r[i][v] = tc[i];
          }
          for (int i = 0; i < m; i++) { /* (A^T M) A, row by row */
            at_1d(m, r[i], tc);
            for (int j = 0; j < m; j++) y[((size_t)i * g->w + j) * n + s] = tc[j];
          }
        }
      }
}

NDE_INLINE void output_adjoint_m(const int m, const nde_conv_geom *g, int cout, int n,
                                 const nde_real *dY, nde_real *dM) {
  const int a = m + 2, th = g->h / m, tw = g->w / m;
  const size_t T = (size_t)th * tw * n, xs = nde_wino_stride((size_t)cout * T);
  const size_t npix = (size_t)g->h * g->w;
  for (int co = 0; co < cout; co++)
    for (int ta = 0; ta < th; ta++)
      for (int tb = 0; tb < tw; tb++) {
        nde_real *mm = dM + (size_t)co * T + (size_t)(ta * tw + tb) * n;
        const nde_real *y = dY + ((size_t)co * npix + (size_t)(m * ta) * g->w + m * tb) * n;
        NDE_INDEPENDENT
        for (int s = 0; s < n; s++) {
          nde_real t[3][AMAX], e[3], tc[AMAX], col[3];
          for (int i = 0; i < m; i++) { /* dY A^T, row by row */
            for (int j = 0; j < m; j++) e[j] = y[((size_t)i * g->w + j) * n + s];
            a_1d(m, e, t[i]);
          }
          for (int v = 0; v < a; v++) { /* A (dY A^T), column by column */
            for (int i = 0; i < m; i++) col[i] = t[i][v];
            a_1d(m, col, tc);
            for (int u = 0; u < a; u++) mm[(size_t)(a * u + v) * xs + s] = tc[u];
          }
        }
      }
}

/* The entry points: one instance per tile size, so that each loop body is
 * straight-line code; each is cloned per instruction set and called
 * through a plain internal function (see NDE_WIDE_CLONES). */

NDE_WIDE_CLONES
static void wide_input(int m, const nde_conv_geom *g, int n, const nde_real *x, size_t lds,
                       nde_real *plane, const nde_real *zeros, nde_real *V) {
  if (m == 2)
    input_m(2, g, n, x, lds, plane, zeros, V);
  else
    input_m(3, g, n, x, lds, plane, zeros, V);
}

NDE_WIDE_CLONES
static void wide_input_adjoint(int m, const nde_conv_geom *g, int n, const nde_real *dV,
                               nde_real *plane, nde_real *sink, nde_real *dx, size_t ldd) {
  if (m == 2)
    input_adjoint_m(2, g, n, dV, plane, sink, dx, ldd);
  else
    input_adjoint_m(3, g, n, dV, plane, sink, dx, ldd);
}

NDE_WIDE_CLONES
static void wide_output(int m, const nde_conv_geom *g, int cout, int n, const nde_real *M,
                        nde_real *Y) {
  if (m == 2)
    output_m(2, g, cout, n, M, Y);
  else
    output_m(3, g, cout, n, M, Y);
}

NDE_WIDE_CLONES
static void wide_output_adjoint(int m, const nde_conv_geom *g, int cout, int n, const nde_real *dY,
                                nde_real *dM) {
  if (m == 2)
    output_adjoint_m(2, g, cout, n, dY, dM);
  else
    output_adjoint_m(3, g, cout, n, dY, dM);
}

void nde_wino_input(int m, const nde_conv_geom *g, int n, const nde_real *x, size_t lds,
                    nde_real *plane, const nde_real *zeros, nde_real *V) {
  wide_input(m, g, n, x, lds, plane, zeros, V);
}

void nde_wino_input_adjoint(int m, const nde_conv_geom *g, int n, const nde_real *dV,
                            nde_real *plane, nde_real *sink, nde_real *dx, size_t ldd) {
  wide_input_adjoint(m, g, n, dV, plane, sink, dx, ldd);
}

void nde_wino_output(int m, const nde_conv_geom *g, int cout, int n, const nde_real *M,
                     nde_real *Y) {
  wide_output(m, g, cout, n, M, Y);
}

void nde_wino_output_adjoint(int m, const nde_conv_geom *g, int cout, int n, const nde_real *dY,
                             nde_real *dM) {
  wide_output_adjoint(m, g, cout, n, dY, dM);
}
