/* Winograd's minimal filtering F(2x2, 3x3) for the 3x3, stride-1, pad-1
 * convolutions (the ODE function's ConcatConv2d, the ResNet blocks), after
 * Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016).
 *
 * WHY. On the ODE-Net's 64-channel 6x6 maps the im2col product is one gemm
 * of 2 * 64 * 576 * 36 flops per sample; Winograd F(2x2, 3x3) replaces it by
 * 16 gemms of 2 * 64 * 64 * 9 flops per sample, 2.25x fewer, and its
 * transformed input (16 * Cin * 9 values per sample) is 2.25x smaller than
 * the im2col columns (9 * Cin * 36). Measured with OpenBLAS SkylakeX
 * kernels on one thread: the 16 gemms of 64 samples take 0.73 ms against
 * the im2col gemm's 1.50 ms.
 *
 * MATH. An output tile Y (2x2, pixels (2a + i, 2b + j)) of the correlation
 * of a 4x4 input tile d (pixels (2a - 1 + u, 2b - 1 + v), zero outside the
 * plane: the padding) with a 3x3 filter g is
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * with
 *   B^T = [1  0 -1  0]    G = [ 1    0    0 ]    A^T = [1 1  1  0]
 *         [0  1  1  0]        [1/2  1/2  1/2]          [0 1 -1 -1]
 *         [0 -1  1  0]        [1/2 -1/2  1/2]
 *         [0  1  0 -1]        [ 0    0    1 ]
 * Summed over input channels, each of the 16 entries xi = 4 r + s of the
 * transformed tiles is a matrix product: with U[xi][co][c] = (G g_{co,c}
 * G^T)[r][s] and V[xi][c][col] = (B^T d_{c,col} B)[r][s] (col runs over the
 * tiles of every sample), M[xi] = U[xi] V[xi] (Cout x tiles), and the
 * output tiles are A^T M A. The adjoints, for the vjp:
 *   dM = A dY A^T,   dV[xi] = U[xi]^T dM[xi],   dd = B dV B^T (added into
 *   the input plane; overlapping tiles add up),
 *   dU[xi] = dM[xi] V[xi]^T,   dg = G^T dU G.
 * In exact arithmetic this is the convolution; in floating point the
 * rounding differs (the transforms add and subtract up to 4 terms).
 *
 * LAYOUT (conv_impl.h's CHWN: the sample innermost). Tiles are numbered
 * tau = a * (Wo / 2) + b and V[xi] is Cin x (tiles * n) with column
 * tau * n + sample, so every transform is a loop over the n samples of a
 * few long runs, which the compiler vectorizes; the planes come in and go
 * out through nets/im2col.c's transpose, one channel at a time. */
#include <string.h>

#include "nets/conv_impl.h"

/* The sample loops read and write up to 16 runs each, all distinct (one
 * plane position or one transformed entry per run), so no iteration
 * depends on another: tell GCC, which cannot prove it from the pointers. */
#if defined(__GNUC__) && !defined(__clang__)
#define NDE_INDEPENDENT _Pragma("GCC ivdep")
#else
#define NDE_INDEPENDENT
#endif

/* The transforms are adds and subtracts over the samples, memory- and
 * issue-bound at SSE2's 4 floats: with GCC on x86-64 Linux each is also
 * compiled for AVX2 and AVX-512 and the loader picks the widest the CPU has
 * (ifunc). There are no multiplies to fuse, so every version rounds the
 * same way. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NDE_WIDE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NDE_WIDE_CLONES
#endif

int nde_wino_applies(const nde_conv_geom *g) {
  return g->kh == 3 && g->kw == 3 && g->stride == 1 && g->pad == 1 && g->ho == g->h &&
         g->wo == g->w && g->h % 2 == 0 && g->w % 2 == 0;
}

void nde_wino_weights(int cout, int cin, const nde_real *W, size_t ldw, nde_real *U) {
  const size_t xs = (size_t)cout * cin; /* one U[xi] */
  for (int co = 0; co < cout; co++)
    for (int c = 0; c < cin; c++) {
      const nde_real *g = W + (size_t)co * ldw + (size_t)c * 9;
      double t[4][3]; /* G g */
      for (int v = 0; v < 3; v++) {
        const double g0 = g[v], g1 = g[3 + v], g2 = g[6 + v];
        t[0][v] = g0;
        t[1][v] = 0.5 * (g0 + g1 + g2);
        t[2][v] = 0.5 * (g0 - g1 + g2);
        t[3][v] = g2;
      }
      nde_real *u = U + (size_t)co * cin + c;
      for (int r = 0; r < 4; r++) { /* (G g) G^T */
        const double a = t[r][0], b = t[r][1], e = t[r][2];
        u[(size_t)(4 * r + 0) * xs] = (nde_real)a;
        u[(size_t)(4 * r + 1) * xs] = (nde_real)(0.5 * (a + b + e));
        u[(size_t)(4 * r + 2) * xs] = (nde_real)(0.5 * (a - b + e));
        u[(size_t)(4 * r + 3) * xs] = (nde_real)e;
      }
    }
}

void nde_wino_weights_adjoint(int cout, int cin, const nde_real *dU, nde_real *grad, size_t ldw) {
  const size_t xs = (size_t)cout * cin;
  for (int co = 0; co < cout; co++)
    for (int c = 0; c < cin; c++) {
      const nde_real *du = dU + (size_t)co * cin + c;
      double t[4][3]; /* dU G: row r of dU (4) times G (4x3) */
      for (int r = 0; r < 4; r++) {
        const double u0 = du[(size_t)(4 * r) * xs], u1 = du[(size_t)(4 * r + 1) * xs],
                     u2 = du[(size_t)(4 * r + 2) * xs], u3 = du[(size_t)(4 * r + 3) * xs];
        t[r][0] = u0 + 0.5 * (u1 + u2);
        t[r][1] = 0.5 * (u1 - u2);
        t[r][2] = 0.5 * (u1 + u2) + u3;
      }
      nde_real *g = grad + (size_t)co * ldw + (size_t)c * 9;
      for (int v = 0; v < 3; v++) { /* G^T (dU G) */
        g[v] += (nde_real)(t[0][v] + 0.5 * (t[1][v] + t[2][v]));
        g[3 + v] += (nde_real)(0.5 * (t[1][v] - t[2][v]));
        g[6 + v] += (nde_real)(0.5 * (t[1][v] + t[2][v]) + t[3][v]);
      }
    }
}

/* The 16 plane runs of tile (a, b): plane positions (2a - 1 + u, 2b - 1 + v),
 * `outside` for those in the padding. */
static void tile_runs(const nde_conv_geom *g, int n, nde_real *plane, int a, int b,
                      nde_real *outside, nde_real *p[16]) {
  for (int u = 0; u < 4; u++)
    for (int v = 0; v < 4; v++) {
      const int ih = 2 * a - 1 + u, iw = 2 * b - 1 + v;
      const int in = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w;
      p[4 * u + v] = in ? plane + ((size_t)ih * g->w + iw) * n : outside;
    }
}

NDE_WIDE_CLONES
void nde_wino_input(const nde_conv_geom *g, int n, const nde_real *x, size_t lds,
                    nde_real *plane, const nde_real *zeros, nde_real *V) {
  const int th = g->h / 2, tw = g->w / 2;
  const size_t T = (size_t)th * tw * n, xs = nde_wino_stride((size_t)g->cin * T), hw = (size_t)g->h * g->w;
  for (int c = 0; c < g->cin; c++) {
    nde_conv_transpose(n, (int)hw, x + (size_t)c * hw, lds, plane, (size_t)n, NULL);
    for (int a = 0; a < th; a++)
      for (int b = 0; b < tw; b++) {
        nde_real *d[16];
        tile_runs(g, n, plane, a, b, (nde_real *)zeros, d);
        nde_real *o = V + (size_t)c * T + (size_t)(a * tw + b) * n;
        NDE_INDEPENDENT
        for (int s = 0; s < n; s++) {
          nde_real r[4][4]; /* B^T d: rows combined */
          for (int v = 0; v < 4; v++) {
            const nde_real d0 = d[v][s], d1 = d[4 + v][s], d2 = d[8 + v][s], d3 = d[12 + v][s];
            r[0][v] = d0 - d2;
            r[1][v] = d1 + d2;
            r[2][v] = d2 - d1;
            r[3][v] = d1 - d3;
          }
          for (int u = 0; u < 4; u++) { /* (B^T d) B: columns combined */
            o[(size_t)(4 * u + 0) * xs + s] = r[u][0] - r[u][2];
            o[(size_t)(4 * u + 1) * xs + s] = r[u][1] + r[u][2];
            o[(size_t)(4 * u + 2) * xs + s] = r[u][2] - r[u][1];
            o[(size_t)(4 * u + 3) * xs + s] = r[u][1] - r[u][3];
          }
        }
      }
  }
}

NDE_WIDE_CLONES
void nde_wino_input_adjoint(const nde_conv_geom *g, int n, const nde_real *dV, nde_real *plane,
                            nde_real *sink, nde_real *dx, size_t ldd) {
  const int th = g->h / 2, tw = g->w / 2;
  const size_t T = (size_t)th * tw * n, xs = nde_wino_stride((size_t)g->cin * T), hw = (size_t)g->h * g->w;
  for (int c = 0; c < g->cin; c++) {
    memset(plane, 0, hw * (size_t)n * sizeof *plane);
    memset(sink, 0, (size_t)n * sizeof *sink); /* kept small: no denormals, no overflow */
    for (int a = 0; a < th; a++)
      for (int b = 0; b < tw; b++) {
        nde_real *d[16];
        tile_runs(g, n, plane, a, b, sink, d);
        const nde_real *e = dV + (size_t)c * T + (size_t)(a * tw + b) * n;
        NDE_INDEPENDENT
        for (int s = 0; s < n; s++) {
          nde_real q[4][4]; /* B dV: rows combined */
          for (int v = 0; v < 4; v++) {
            const nde_real e0 = e[(size_t)v * xs + s], e1 = e[(size_t)(4 + v) * xs + s],
                           e2 = e[(size_t)(8 + v) * xs + s], e3 = e[(size_t)(12 + v) * xs + s];
            q[0][v] = e0;
            q[1][v] = e1 - e2 + e3;
            q[2][v] = e1 + e2 - e0;
            q[3][v] = -e3;
          }
          for (int u = 0; u < 4; u++) { /* (B dV) B^T: columns combined */
            d[4 * u + 0][s] += q[u][0];
            d[4 * u + 1][s] += q[u][1] - q[u][2] + q[u][3];
            d[4 * u + 2][s] += q[u][1] + q[u][2] - q[u][0];
            d[4 * u + 3][s] -= q[u][3];
          }
        }
      }
    nde_conv_transpose((int)hw, n, plane, (size_t)n, dx + (size_t)c * hw, ldd, NULL);
  }
}

NDE_WIDE_CLONES
void nde_wino_output(const nde_conv_geom *g, int cout, int n, const nde_real *M, nde_real *Y) {
  const int th = g->h / 2, tw = g->w / 2;
  const size_t T = (size_t)th * tw * n, xs = nde_wino_stride((size_t)cout * T), npix = (size_t)g->h * g->w;
  for (int co = 0; co < cout; co++)
    for (int a = 0; a < th; a++)
      for (int b = 0; b < tw; b++) {
        const nde_real *m = M + (size_t)co * T + (size_t)(a * tw + b) * n;
        nde_real *y0 = Y + ((size_t)co * npix + (size_t)(2 * a) * g->w + 2 * b) * n;
        nde_real *y1 = y0 + (size_t)g->w * n; /* the tile's second row */
        NDE_INDEPENDENT
        for (int s = 0; s < n; s++) {
          nde_real r[2][4]; /* A^T M */
          for (int v = 0; v < 4; v++) {
            const nde_real m0 = m[(size_t)v * xs + s], m1 = m[(size_t)(4 + v) * xs + s],
                           m2 = m[(size_t)(8 + v) * xs + s], m3 = m[(size_t)(12 + v) * xs + s];
            r[0][v] = m0 + m1 + m2;
            r[1][v] = m1 - m2 - m3;
          }
          y0[s] = r[0][0] + r[0][1] + r[0][2];
          y0[n + s] = r[0][1] - r[0][2] - r[0][3];
          y1[s] = r[1][0] + r[1][1] + r[1][2];
          y1[n + s] = r[1][1] - r[1][2] - r[1][3];
        }
      }
}

NDE_WIDE_CLONES
void nde_wino_output_adjoint(const nde_conv_geom *g, int cout, int n, const nde_real *dY,
                             nde_real *dM) {
  const int th = g->h / 2, tw = g->w / 2;
  const size_t T = (size_t)th * tw * n, xs = nde_wino_stride((size_t)cout * T), npix = (size_t)g->h * g->w;
  for (int co = 0; co < cout; co++)
    for (int a = 0; a < th; a++)
      for (int b = 0; b < tw; b++) {
        nde_real *m = dM + (size_t)co * T + (size_t)(a * tw + b) * n;
        const nde_real *y0 = dY + ((size_t)co * npix + (size_t)(2 * a) * g->w + 2 * b) * n;
        const nde_real *y1 = y0 + (size_t)g->w * n;
        NDE_INDEPENDENT
        for (int s = 0; s < n; s++) {
          nde_real t[2][4]; /* dY A^T: each row of the 2x2 tile to 4 columns */
          const nde_real e[2][2] = {{y0[s], y0[n + s]}, {y1[s], y1[n + s]}};
          for (int i = 0; i < 2; i++) {
            t[i][0] = e[i][0];
            t[i][1] = e[i][0] + e[i][1];
            t[i][2] = e[i][0] - e[i][1];
            t[i][3] = -e[i][1];
          }
          for (int v = 0; v < 4; v++) { /* A (dY A^T) */
            m[(size_t)v * xs + s] = t[0][v];
            m[(size_t)(4 + v) * xs + s] = t[0][v] + t[1][v];
            m[(size_t)(8 + v) * xs + s] = t[0][v] - t[1][v];
            m[(size_t)(12 + v) * xs + s] = -t[1][v];
          }
        }
      }
}
