/* Private to nets/: the data movement kernels behind conv2d and ConcatConv2d
 * (nets/im2col.c), shared with the layer code in nets/conv2d.c.
 *
 * LAYOUT. A convolution over a batch is computed as ONE matrix product
 *   Y[co][col] = sum_k W[co][k] cols[k][col],
 * k = (c, i, j) running over input channel c and kernel offset (i, j)
 * (k = (c * kh + i) * kw + j, the weight's own row-major order), and
 * col = (oh, ow, b) running over output pixel and sample with the SAMPLE
 * INNERMOST: col = (oh * Wo + ow) * n + b. With the sample innermost, the
 * entries of one cols row that come from one input row are, at stride 1, one
 * contiguous run of (valid ow) * n values of the input stored "CHWN"
 * (x_t[c][ih][iw][b]), so im2col is a few long memcpy's per row instead of
 * millions of runs of Wo values; col2im is the same runs added back. The
 * price is a transpose NCHW -> CHWN of the input (done one channel at a time
 * inside im2col, into a cache-sized plane) and CHWN -> NCHW of the output
 * (each the size of an activation, about 1/9 of cols at 3x3).
 *
 * The input entry behind cols[(c, i, j)][(oh, ow, b)] is
 *   x[b][c][ih][iw], ih = oh * stride - pad + i, iw = ow * stride - pad + j,
 * and zero when (ih, iw) lies in the padding. */
#ifndef NDE_NETS_CONV_IMPL_H
#define NDE_NETS_CONV_IMPL_H

#include <stddef.h>

#include "nde/common.h"

/* Geometry of one convolution (per sample). */
typedef struct nde_conv_geom {
  int cin, h, w;          /* input channels and plane */
  int kh, kw;             /* kernel */
  int stride, pad;        /* both dimensions */
  int ho, wo;             /* output plane: (h + 2 pad - kh) / stride + 1, same for w */
} nde_conv_geom;

/* dst[j * ldd + i] = src[i * lds + j] + (row_add ? row_add[i] : 0) for
 * i < rows, j < cols. src and dst must not overlap. */
void nde_conv_transpose(int rows, int cols, const nde_real *src, size_t lds, nde_real *dst,
                        size_t ldd, const nde_real *row_add);

/* cols (cin*kh*kw rows of ho*wo*n) from the NCHW batch x (n samples),
 * padding entries set to zero. Channel by channel: the channel's planes of
 * all samples are first transposed to CHWN into `plane` (h*w*n values of
 * workspace), which then stays in cache for its kh*kw cols rows.
 * The padding entries sit at the same places whenever g and n are the
 * same, so with zeros_kept != 0 they are assumed to hold the zeros of a
 * previous call on this buffer and are not written again. */
void nde_im2col(const nde_conv_geom *g, int n, const nde_real *x, nde_real *plane,
                nde_real *cols, int zeros_kept);

/* The adjoint of nde_im2col: dx (NCHW, n samples) is overwritten with the
 * sum, over every cols entry, of that entry added to the input value it was
 * copied from (padding entries are dropped). `plane` is h*w*n values of
 * workspace where each channel is accumulated in CHWN before going back. */
void nde_col2im(const nde_conv_geom *g, int n, const nde_real *dcols, nde_real *plane,
                nde_real *dx);

/* mask[(i * kw + j) * (ho*wo) + oh * wo + ow] = 1 if kernel offset (i, j) at
 * output pixel (oh, ow) reads an input pixel inside the plane, else 0
 * (it reads padding). This is the im2col row of a constant-one channel,
 * which gives ConcatConv2d's time channel its exact zero-padding behaviour. */
void nde_conv_inside_mask(const nde_conv_geom *g, nde_real *mask);

/* ---- Winograd F(m x m, 3 x 3), m = 2 or 3 (nets/winograd.c, where the
 * math is) ----
 * For 3x3, stride 1, pad 1 convolutions of planes divisible into m x m
 * tiles. With a = m + 2 and T = (h/m) * (w/m) * n tile columns (tile-major,
 * sample innermost), the transformed weights U are a^2 matrices Cout x Cin,
 * the transformed inputs V a^2 matrices Cin x T, their products M a^2
 * matrices Cout x T, each set stored one matrix after the other,
 * nde_wino_stride apart (U: Cout * Cin apart). */

/* Values from one matrix of a set to the next, for matrices of `values`
 * values: rounded up to 64 bytes, plus 64 bytes. The transforms read or
 * write all a^2 at once; 16 streams exactly a multiple of 4 KiB apart
 * (64 x 288 floats is 18 pages) all fall in one L1 set, which 12 ways
 * cannot hold, and the dM transform of F(2x2) ran at a third of its speed. */
static inline size_t nde_wino_stride(size_t values) {
  const size_t line = 64 / sizeof(nde_real);
  return (values + line - 1) / line * line + line;
}

/* The tile m for which the Winograd path computes g: 3 where both plane
 * sides are multiples of 3 and there are at least 16 input channels (fewer
 * products), else 2 where both sides are even; 0 when it does not apply. */
int nde_wino_tile(const nde_conv_geom *g);

/* U from the weights: filter (co, c) at W + co * ldw + c * 9 (row-major 3x3). */
void nde_wino_weights(int m, int cout, int cin, const nde_real *W, size_t ldw, nde_real *U);

/* grad (laid out as W above) += the adjoint of nde_wino_weights applied to dU. */
void nde_wino_weights_adjoint(int m, int cout, int cin, const nde_real *dU, nde_real *grad,
                              size_t ldw);

/* V from the NCHW batch x (n samples lds values apart); plane: h*w*n values
 * of workspace; zeros: n zero values (the padding). */
void nde_wino_input(int m, const nde_conv_geom *g, int n, const nde_real *x, size_t lds,
                    nde_real *plane, const nde_real *zeros, nde_real *V);

/* dx (NCHW, samples ldd values apart) overwritten with the adjoint of
 * nde_wino_input applied to dV; plane: h*w*n values, sink: n values of
 * workspace (where the padding's share goes). */
void nde_wino_input_adjoint(int m, const nde_conv_geom *g, int n, const nde_real *dV,
                            nde_real *plane, nde_real *sink, nde_real *dx, size_t ldd);

/* The output Y (CHWN: Cout x h*w x n) from M. */
void nde_wino_output(int m, const nde_conv_geom *g, int cout, int n, const nde_real *M,
                     nde_real *Y);

/* dM from the output cotangent dY (CHWN), the adjoint of nde_wino_output. */
void nde_wino_output_adjoint(int m, const nde_conv_geom *g, int cout, int n, const nde_real *dY,
                             nde_real *dM);

/* Tests only: how many convolution layers took the Winograd path so far. */
long nde_conv_winograd_setups(void);

#endif
