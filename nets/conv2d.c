/* 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d) and
 * torchdiffeq's ConcatConv2d, on NCHW batches.
 *
 *   y[b][co][oh][ow] = bias[co] + sum_{c,i,j} W[co][c][i][j] x[b][c][ih][iw],
 *   ih = oh * stride - pad + i, iw = ow * stride - pad + j,
 *
 * with x = 0 in the padding. Parameters, in the layer's slice: W
 * (Cout x Cin' x kh x kw, row-major) then bias (Cout), where Cin' = Cin for
 * conv2d and Cin + 1 for ConcatConv2d.
 *
 * ConcatConv2d (DESIGN 4.1) convolves [t 1, x]: the input with a constant
 * channel equal to t put FIRST, as torchdiffeq's `torch.cat([tt, x], 1)`.
 * So weight channel 0 (W[co][0][.][.]) is the time channel and channels
 * 1..Cin act on x. The time channel is zero-padded like the others (as
 * torchdiffeq's), so near the border fewer of its taps see t.
 *
 * Method (layout in nets/conv_impl.h): im2col the whole batch into cols
 * (K = Cin*kh*kw rows, Ho*Wo*n columns, the sample innermost), ONE gemm
 * Ymat = W_x cols (Cout x Ho*Wo*n), then transpose back to NCHW adding the
 * bias. A 1x1 stride-1 unpadded conv skips im2col (cols is then just the
 * input transposed). The time channel does NOT go through the gemm: its im2col rows are
 * t * mask (mask = 1 where the tap is inside the plane, nets/im2col.c), the
 * same for every sample, so its contribution is the per-pixel term
 *   T[co][p] = t * sum_{i,j} W[co][0][i][j] mask[(i,j)][p],
 * added with the bias (Cout*kh*kw*Ho*Wo flops instead of n times that, and
 * cols has no constant rows).
 *
 * vjp with dY (NCHW) transposed to dYmat (Cout x Ho*Wo*n), using the cols
 * kept by forward:
 *   dW_x += dYmat cols^T                         (one gemm)
 *   dbias[co] += sum_{b,p} dY[b][co][p]
 *   dW_t[co][i][j] += t sum_p mask[(i,j)][p] sum_b dY[b][co][p]
 *   dcols = W_x^T dYmat, dx = col2im(dcols)     (one gemm; t is not an input)
 * All buffers are allocated in setup for max_batch. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/blas_impl.h"
#include "nets/conv_impl.h"
#include "nets/layer_impl.h"

typedef struct conv_impl {
  nde_conv_geom g;
  int cout;
  int concat;    /* ConcatConv2d: weight channel 0 is time */
  int kt;        /* weight entries of the time channel per output channel (kh*kw or 0) */
  int kx;        /* Cin*kh*kw: the gemm's inner dimension */
  int kfull;     /* kt + kx: length of one output channel's weights */
  int pointwise; /* 1x1, stride 1, pad 0: cols is the CHWN input itself */
  int flip;      /* input cotangent as a convolution of dY (see conv_vjp) */
  nde_conv_geom gt; /* geometry of that convolution (flip only) */
  int npix;      /* Ho*Wo */
  nde_real *plane; /* h*w*max_batch: one channel in CHWN (unused if pointwise) */
  nde_real *cols;  /* kx x npix*n, kept from forward for the weight gradient */
  nde_real *dcols; /* kx x npix*n; flip: Cout*kh*kw x h*w*n (im2col of dY) */
  nde_real *omat;  /* Cout x npix*n: Ymat in forward, dYmat in vjp; flip: also Cin x h*w*n */
  nde_real *wflip; /* flip: Cin x Cout*kh*kw, the weights flipped and transposed */
  nde_real *add;   /* Cout*npix: bias + time term, per output pixel */
  nde_real *sums;  /* Cout*npix: dY summed over the batch */
  nde_real *ones;  /* max_batch ones, to sum with gemv */
  nde_real *mask;  /* kt*npix: taps inside the plane (ConcatConv2d only) */
  int last_n;      /* batch of the last forward (0: none yet) */
  int cols_zero_n;  /* batch whose padding zeros cols holds (0: none), see nde_im2col */
  int dcols_zero_n; /* the same for dcols in the flip path */
  double t;        /* time of the last forward */
} conv_impl;

static void conv_destroy(nde_layer *L) {
  conv_impl *C = L->impl;
  if (!C) return;
  free(C->plane);
  free(C->cols);
  free(C->dcols);
  free(C->omat);
  free(C->add);
  free(C->sums);
  free(C->ones);
  free(C->mask);
  free(C->wflip);
  free(C);
  L->impl = NULL;
}

static nde_real *alloc_reals(size_t n) { return malloc((n ? n : 1) * sizeof(nde_real)); }

static int conv_setup_common(nde_layer *L, int concat) {
  const nde_layer_spec *s = &L->spec;
  if (s->out < 1)
    return nde_layer_error(L, NDE_ERR_ARG, "output channels %d must be >= 1", s->out);
  if (s->kh < 1 || s->kw < 1)
    return nde_layer_error(L, NDE_ERR_ARG, "kernel %dx%d must be at least 1x1", s->kh, s->kw);
  if (s->stride < 1) return nde_layer_error(L, NDE_ERR_ARG, "stride %d must be >= 1", s->stride);
  if (s->pad < 0) return nde_layer_error(L, NDE_ERR_ARG, "padding %d must be >= 0", s->pad);
  const long long hp = (long long)L->in.h + 2LL * s->pad, wp = (long long)L->in.w + 2LL * s->pad;
  if (hp < s->kh || wp < s->kw)
    return nde_layer_error(L, NDE_ERR_SHAPE,
                           "input %dx%d with padding %d is smaller than the %dx%d kernel "
                           "(output would be empty)",
                           L->in.h, L->in.w, s->pad, s->kh, s->kw);
  const long long ho = (hp - s->kh) / s->stride + 1, wo = (wp - s->kw) / s->stride + 1;
  /* BLAS and the kernels index with int: every extent they see must fit,
   * and the buffers must be addressable. Checked in double (exact enough
   * for a threshold, and free of integer overflow). */
  const double dkx = (double)L->in.c * s->kh * s->kw, dpix = (double)ho * wo;
  const double dcols = dpix * L->max_batch;
  const double dkt = (double)s->out * s->kh * s->kw; /* rows of the flipped im2col */
  const double limits[] = {dkx + (double)s->kh * s->kw, dkt, dcols, dpix * s->out,
                           (double)L->in.c * L->in.h * L->in.w};
  int fits = (dkx > dkt ? dkx : dkt) * dcols * sizeof(nde_real) <= (double)(SIZE_MAX / 4);
  for (size_t q = 0; q < sizeof limits / sizeof limits[0]; q++) fits = fits && limits[q] <= INT32_MAX;
  if (!fits)
    return nde_layer_error(L, NDE_ERR_ARG,
                           "convolution too large: %.0f x %.0f im2col columns for input "
                           "(%d,%d,%d) at batch %d exceed the int range of BLAS",
                           dkx, dcols, L->in.c, L->in.h, L->in.w, L->max_batch);
  const long long kt = concat ? (long long)s->kh * s->kw : 0;
  const long long kx = (long long)dkx, cols_n = (long long)dcols;

  conv_impl *C = calloc(1, sizeof *C);
  if (!C) return nde_layer_error(L, NDE_ERR_NOMEM, "out of memory");
  L->impl = C;
  C->g = (nde_conv_geom){L->in.c, L->in.h, L->in.w, s->kh, s->kw, s->stride, s->pad, (int)ho,
                         (int)wo};
  C->cout = s->out;
  C->concat = concat;
  C->kt = (int)kt;
  C->kx = (int)kx;
  C->kfull = (int)(kt + kx);
  C->pointwise = s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
  C->npix = (int)(ho * wo);
  /* At stride 1, square kernel k, k - 1 <= 2 pad <= 2 (k - 1) ("same"
   * convolutions included), the output plane is at least the input plane,
   * and dx is computed as a convolution of dY instead of by col2im (see
   * conv_vjp): no more flops, half the memory traffic. (A non-square kernel
   * would need a different padding per dimension there.) */
  C->flip = !C->pointwise && s->stride == 1 && s->kh == s->kw && s->kh - 1 <= 2 * s->pad &&
            s->pad <= s->kh - 1;
  if (C->flip)
    C->gt = (nde_conv_geom){s->out, (int)ho, (int)wo, s->kh, s->kw, 1, s->kh - 1 - s->pad,
                            L->in.h, L->in.w};

  const size_t mb = (size_t)L->max_batch, npix = (size_t)C->npix;
  const size_t ncol = npix * mb;
  /* In order, stopping at the first failure (the columns are the largest). */
  int ok = (C->cols = nde_alloc_big((size_t)kx * ncol)) != NULL;
  if (C->flip) {
    /* gt's output plane h*w is at most npix, so ncol bounds its columns too */
    const size_t cmax = (size_t)(s->out > L->in.c ? s->out : L->in.c);
    ok = ok && (C->dcols = nde_alloc_big((size_t)dkt * ncol)) != NULL;
    ok = ok && (C->omat = nde_alloc_big(cmax * ncol)) != NULL;
    ok = ok && (C->wflip = alloc_reals((size_t)L->in.c * (size_t)dkt)) != NULL;
  } else {
    ok = ok && (C->dcols = nde_alloc_big((size_t)kx * ncol)) != NULL;
    ok = ok && (C->omat = nde_alloc_big((size_t)s->out * ncol)) != NULL;
  }
  ok = ok && (C->add = alloc_reals((size_t)s->out * npix)) != NULL;
  ok = ok && (C->sums = alloc_reals((size_t)s->out * npix)) != NULL;
  ok = ok && (C->ones = alloc_reals(mb)) != NULL;
  for (size_t b = 0; ok && b < mb; b++) C->ones[b] = 1;
  /* one channel plane of x, or (flip) of dY, whose plane npix is the larger */
  const size_t hw = (size_t)L->in.h * L->in.w;
  if (ok && !C->pointwise) ok = (C->plane = alloc_reals((hw > npix ? hw : npix) * mb)) != NULL;
  if (ok && concat) {
    ok = (C->mask = alloc_reals((size_t)kt * npix)) != NULL;
    if (ok) nde_conv_inside_mask(&C->g, C->mask);
  }
  if (!ok) {
    conv_destroy(L);
    return nde_layer_error(L, NDE_ERR_NOMEM,
                           "out of memory for %lld x %lld im2col columns at batch %d", kx,
                           cols_n, L->max_batch);
  }
  L->out = nde_shape_chw(s->out, (int)ho, (int)wo);
  L->nparam = (size_t)s->out * (size_t)C->kfull + (s->bias ? (size_t)s->out : 0);
  L->nstate = 0;
  return NDE_OK;
}

static int conv2d_setup(nde_layer *L) { return conv_setup_common(L, 0); }
static int concat_conv2d_setup(nde_layer *L) { return conv_setup_common(L, 1); }

static int conv_forward(nde_layer *L, const nde_layer_ctx *ctx, double t, int n,
                        const nde_real *x, nde_real *y) {
  conv_impl *C = L->impl;
  const nde_real *W = ctx->params + L->param_off;
  const nde_real *Wx = W + C->kt; /* weights acting on x (after the time channel) */
  const int npix = C->npix, ncol = npix * n, cout = C->cout;

  /* 1. im2col (a pointwise conv's cols IS the input transposed to CHWN). */
  const size_t feat = nde_shape_numel(L->in);
  if (C->pointwise) {
    nde_conv_transpose(n, (int)feat, x, feat, C->cols, (size_t)n, NULL);
  } else {
    nde_im2col(&C->g, n, x, C->plane, C->cols, C->cols_zero_n == n);
    C->cols_zero_n = n;
  }

  /* 2. Ymat = W_x cols: Cout x (Ho*Wo*n). */
  nde_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, ncol, C->kx, 1, Wx, C->kfull, C->cols,
           ncol, 0, C->omat, ncol);

  /* 3. Per-pixel addend: bias[co] + t * sum_ij W_t[co][ij] mask[ij][p]. */
  const nde_real *bias = L->spec.bias ? W + (size_t)cout * C->kfull : NULL;
  for (int co = 0; co < cout; co++) {
    const nde_real *wt = W + (size_t)co * C->kfull;
    nde_real *a = C->add + (size_t)co * npix;
    for (int p = 0; p < npix; p++) {
      double v = bias ? bias[co] : 0;
      if (C->concat) {
        double s = 0;
        for (int k = 0; k < C->kt; k++) s += (double)wt[k] * C->mask[(size_t)k * npix + p];
        v += t * s;
      }
      a[p] = (nde_real)v;
    }
  }

  /* 4. CHWN -> NCHW with the addend: y[b][co*npix + p] = Ymat[co*npix + p][b] + add. */
  nde_conv_transpose(cout * npix, n, C->omat, (size_t)n, y, (size_t)cout * npix, C->add);
  C->last_n = n;
  C->t = t;
  return NDE_OK;
}

static int conv_vjp(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
                    const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad) {
  conv_impl *C = L->impl;
  if (C->last_n != n)
    return nde_layer_error(L, NDE_ERR_STATE,
                           "vjp at batch %d but the last forward had batch %d (0: none)", n,
                           C->last_n);
  if (!dx && !grad) return NDE_OK;
  const nde_real *W = ctx->params + L->param_off;
  const int npix = C->npix, ncol = npix * n, cout = C->cout;

  /* dYmat (Cout*npix x n, i.e. Cout x ncol) from NCHW dy (the flipped dx
   * path reads dy itself). */
  if (grad || !C->flip)
    nde_conv_transpose(n, cout * npix, dy, (size_t)cout * npix, C->omat, (size_t)n, NULL);

  if (grad) {
    /* dW_x += dYmat cols^T, written into the x part of each weight row. */
    nde_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, C->kx, ncol, 1, C->omat, ncol,
             C->cols, ncol, 1, grad + C->kt, C->kfull);
    if (L->spec.bias || C->concat) {
      /* sums[co][p] = sum_b dY[b][co][p]: dYmat (Cout*npix rows of n) times ones. */
      nde_gemv(CblasRowMajor, CblasNoTrans, cout * npix, n, 1, C->omat, n, C->ones, 1, 0, C->sums,
               1);
      for (int co = 0; co < cout; co++) {
        const nde_real *sc = C->sums + (size_t)co * npix;
        if (L->spec.bias) {
          double s = 0;
          for (int p = 0; p < npix; p++) s += sc[p];
          grad[(size_t)cout * C->kfull + co] += (nde_real)s;
        }
        for (int k = 0; k < C->kt; k++) {
          const nde_real *m = C->mask + (size_t)k * npix;
          double s = 0;
          for (int p = 0; p < npix; p++) s += (double)m[p] * sc[p];
          grad[(size_t)co * C->kfull + k] += (nde_real)(C->t * s);
        }
      }
    }
  }

  if (dx && C->flip) {
    /* At stride 1, dx[b][c][ih][iw] = sum_{co,i,j} W[co][c][i][j] dY[b][co][ih+p-i][iw+p-j];
     * with i' = kh-1-i, j' = kw-1-j this is a convolution of dY (pad
     * p' = kh-1-p) by Wf[c][co][i'][j'] = W[co][c][kh-1-i'][kw-1-j']: im2col
     * of dY (written once, streamed), one gemm with a small output
     * (Cin x h*w*n), a transpose. col2im instead writes and rereads a
     * Cin*kh*kw x npix*n matrix (and BLAS first clears it). */
    const int kk = C->g.kh * C->g.kw, cin = C->g.cin, kt = cout * kk;
    for (int c = 0; c < cin; c++)
      for (int co = 0; co < cout; co++) {
        const nde_real *w = W + (size_t)co * C->kfull + C->kt + (size_t)c * kk;
        nde_real *f = C->wflip + (size_t)c * kt + (size_t)co * kk;
        for (int q = 0; q < kk; q++) f[q] = w[kk - 1 - q]; /* (i, j) -> (kh-1-i, kw-1-j) */
      }
    const int xcol = C->g.h * C->g.w * n;
    nde_im2col(&C->gt, n, dy, C->plane, C->dcols, C->dcols_zero_n == n);
    C->dcols_zero_n = n;
    nde_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cin, xcol, kt, 1, C->wflip, kt, C->dcols,
             xcol, 0, C->omat, xcol);
    nde_conv_transpose(cin * C->g.h * C->g.w, n, C->omat, (size_t)n, dx,
                       (size_t)cin * C->g.h * C->g.w, NULL);
  } else if (dx) {
    /* dcols = W_x^T dYmat, then col2im into CHWN and transpose to NCHW. */
    nde_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, C->kx, ncol, cout, 1, W + C->kt, C->kfull,
             C->omat, ncol, 0, C->dcols, ncol);
    const size_t feat = nde_shape_numel(L->in);
    if (C->pointwise)
      nde_conv_transpose((int)feat, n, C->dcols, (size_t)n, dx, feat, NULL);
    else
      nde_col2im(&C->g, n, C->dcols, C->plane, dx);
  }
  return NDE_OK;
}

/* PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights, then
 * biases, fan_in = Cin' * kh * kw (Cin' counts the time channel). */
static int conv_init(nde_layer *L, nde_real *p, nde_real *s, nde_rng *rng) {
  conv_impl *C = L->impl;
  const double bound = 1.0 / sqrt((double)C->kfull);
  const size_t nw = (size_t)C->cout * C->kfull;
  nde_fill_uniform(p, nw, bound, rng);
  if (L->spec.bias) nde_fill_uniform(p + nw, (size_t)C->cout, bound, rng);
  return NDE_OK;
}

const nde_layer_ops nde_conv2d_ops = {"conv2d", conv2d_setup, conv_forward, conv_vjp, conv_init,
                                      conv_destroy, 0};
const nde_layer_ops nde_concat_conv2d_ops = {"concat_conv2d", concat_conv2d_setup, conv_forward,
                                             conv_vjp, conv_init, conv_destroy, 0};
