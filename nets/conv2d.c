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
 * ConcatConv2d (docs/methods.md section 1) convolves [t 1, x]: the input with a constant
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
 *
 * WINOGRAD. A 3x3, stride-1, pad-1 convolution of a plane divisible into
 * 3x3 or 2x2 tiles (the ODE function's, the ResNet blocks') instead
 * computes its x part by Winograd's F(3x3, 3x3) or F(2x2, 3x3)
 * (nets/winograd.c: 25 or 16 gemms, 3.24x or 2.25x fewer flops in all),
 * chunked the same way; the time channel and the bias stay the per-pixel
 * addend above. ODE-Net training step (odenet_step, alternating runs on a
 * loaded host): im2col 0.40-0.55 s -> F(2x2) 0.32-0.42 s (f evaluation
 * 4.6-6.6 ms -> 3.1-3.9 ms); F(2x2) 0.315 / 0.334 s -> F(3x3) 0.281 /
 * 0.285 s (min / median of 8 runs each). A layer whose spec.conv_algo is
 * NDE_CONV_IM2COL keeps the im2col path; the choice is the layer's own,
 * fixed at setup (no process-wide switch).
 *
 * MEMORY: CHUNKS OF SAMPLES. The columns of a whole batch can be far larger
 * than the layer's input and output (Cin*kh*kw / (stride^2) times the
 * input: 88 MB for the ODE-Net stem's 4x4 stride-2 conv at 26x26, batch
 * 128, float). Every formula above is a sum over samples b, so the batch is
 * processed in chunks of `chunk` samples (the layout is the same with n
 * replaced by the chunk's size and x, y, dx, dY offset to its first
 * sample); the weight and bias gradients accumulate over the chunks. chunk
 * is chosen in setup from max_batch (see CHUNK_BYTES below): temporaries of
 * a few MB while the gemm's N = Ho*Wo*chunk stays in the thousands.
 *   - If the whole max_batch fits one chunk, cols is the layer's own buffer
 *     and kept from forward for dW_x, as above (small layers).
 *   - Otherwise cols lives in the network's scratch arena and vjp rebuilds
 *     each chunk's columns from the stored input x before its dW_x gemm:
 *     one more im2col (memory bound, a small fraction of the gemm time)
 *     instead of keeping Cin*kh*kw*Ho*Wo values per sample.
 * dcols, omat and plane are per-call temporaries in the scratch arena in
 * both cases. add, sums, ones, mask and wflip are small and the layer's. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/blas_impl.h"
#include "common/parallel_impl.h"
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
  int chunk;     /* samples per chunk (see MEMORY above) */
  int keep;      /* chunk >= max_batch: cols is own and kept from forward */
  /* Offsets (in values) of the temporaries in the network's scratch arena,
   * each sized for `chunk` samples:
   *   cols   kx x npix*chunk (only when !keep)
   *   dcols  kx x npix*chunk; flip: Cout*kh*kw x h*w*chunk (im2col of dY)
   *   omat   Cout x npix*chunk: Ymat in forward, dYmat in vjp; flip: also Cin x h*w*chunk
   *   plane  max(h*w, npix)*chunk: one channel in CHWN (unused if pointwise)
   * cols and dcols share one region: within a chunk of vjp, dcols is
   * written only after the dW_x gemm has read cols. */
  size_t off_cols, off_omat, off_plane;
  nde_real *cols;  /* keep: kx x npix*max_batch, kept from forward for the weight gradient */
  nde_real *wflip; /* flip: Cin x Cout*kh*kw, the weights flipped and transposed */
  nde_real *add;   /* Cout*npix: bias + time term, per output pixel */
  nde_real *sums;  /* Cout*npix: dY summed over the batch */
  nde_real *ones;  /* max_batch ones, to sum with gemv */
  nde_real *mask;  /* kt*npix: taps inside the plane (ConcatConv2d only) */
  /* Winograd F(m x m, 3x3) path (nets/winograd.c), for 3x3 stride-1 pad-1
   * convolutions of planes of m x m tiles; nxi = (m + 2)^2 products. V, M
   * and the CHWN output in the arena (off_cols: V / dV, nxi x Cin x
   * tiles*chunk; off_omat: the CHWN output or its cotangent; off_M: M / dM,
   * nxi x Cout x tiles*chunk; off_plane; off_dU). */
  int wino;         /* the tile m, 0: im2col */
  int nxi;
  size_t off_M;
  nde_real *U;      /* nxi x Cout x Cin: the transformed weights */
  nde_real *Useen;  /* Cout x Cin*9: the weights U was computed from */
  int U_valid;      /* Useen holds weights (0: U not computed yet) */
  size_t off_dU;    /* arena: nxi x Cout x Cin, the weight cotangent before the transform */
  nde_real *zeros;  /* chunk zeros: the padding */
  nde_real *sink;   /* chunk values: the padding's share of dx, dropped */
  int last_n;      /* batch of the last forward (0: none yet) */
  int cols_zero_n;  /* keep: batch whose padding zeros cols holds (0: none), see nde_im2col */
  double t;        /* time of the last forward */
} conv_impl;

static void conv_destroy(nde_layer *L) {
  conv_impl *C = L->impl;
  if (!C) return;
  free(C->cols);
  free(C->add);
  free(C->sums);
  free(C->ones);
  free(C->mask);
  free(C->wflip);
  free(C->U);
  free(C->Useen);
  free(C->zeros);
  free(C->sink);
  free(C);
  L->impl = NULL;
}

static nde_real *alloc_reals(size_t n) { return malloc((n ? n : 1) * sizeof(nde_real)); }

/* A count, not a setting: the layers' choices are their own (spec.conv_algo). */
static long winograd_setups;
long nde_conv_winograd_setups(void) { return __atomic_load_n(&winograd_setups, __ATOMIC_RELAXED); }

/* Chunk size (see MEMORY above). A chunk's temporaries should fit
 * CHUNK_BYTES, but its gemms keep at least MIN_GEMM_COLS columns
 * (Ho*Wo*chunk), below which BLAS's per-call costs (packing the weights,
 * waking its threads) dominate. The batch is then cut into equal chunks no
 * smaller than that.
 *
 * Why 2 MB: this machine streams DRAM at about 18 GB/s (bench: a 16 MB
 * memcpy) against 80 GB/s within 4 MB, and im2col columns are written once
 * and read once by the gemm's packing, so columns that stay in cache cost
 * a fraction of columns that go to DRAM. With 8 MB / 2304 columns (the
 * ODE function's columns then kept whole from forward) `odenet_step
 * --split 2` took 0.75-0.89 s per step and 233 MiB; with 2 MB / 1152,
 * 0.70-0.74 s and 199 MiB; ResNet-6 0.31-0.40 s, 279 MiB before and
 * 0.30-0.35 s, 129 MiB after (three alternating runs each). 2 MB / 576
 * saved 10 MB more but cost ResNet-6 10% (smaller gemms on 2 BLAS threads).
 * At batch 128 in two slices of 64, float: the ODE function's convs run in
 * 2 chunks of 32 (1152 columns) and rebuild their columns in vjp; the
 * stem's conv4x4 at 26x26 in 4 chunks of 8 per stem chunk of 32. */
#ifndef NDE_CONV_CHUNK_BYTES
#define NDE_CONV_CHUNK_BYTES (2 << 20)
#endif
#define CHUNK_BYTES ((size_t)(NDE_CONV_CHUNK_BYTES))
#ifndef NDE_CONV_MIN_GEMM_COLS
#define NDE_CONV_MIN_GEMM_COLS 1152
#endif
#define MIN_GEMM_COLS NDE_CONV_MIN_GEMM_COLS
/* The Winograd path's gemms have Cin (not 9 Cin) as inner dimension and a
 * fraction of the columns (tiles, not pixels), and its chunks stay within
 * CHUNK_BYTES (rounded down): F(3x3)'s 25 gemms for 64 channels and 32
 * samples of 4 tiles took 0.17 ms on one thread, for 64 samples 0.52-0.70
 * (their V and M no longer fit the 2 MB L2); ODE-Net step 0.281 s with
 * chunks of 32, 0.306 with 64 (min of 8 alternating runs). */
#define MIN_WINO_COLS 128

/* n values rounded up to a multiple of 64 bytes. */
static size_t align64(size_t n) {
  const size_t q = 64 / sizeof(nde_real);
  return (n + q - 1) / q * q;
}

/* Samples per chunk (see MEMORY above) for temporaries of `bytes` per
 * sample and gemms of `cols` columns per sample: within CHUNK_BYTES, but
 * at least min_cols columns, then the batch cut into equal chunks, of at
 * least that size (round_up = 0) or at most (1). */
static size_t chunk_size(size_t bytes, size_t min_cols, size_t cols, size_t mb, int round_up) {
  size_t chunk = CHUNK_BYTES / bytes;
  const size_t min_chunk = (min_cols + cols - 1) / cols;
  if (chunk < min_chunk) chunk = min_chunk;
  if (chunk > mb) chunk = mb;
  const size_t nchunks = round_up ? (mb + chunk - 1) / chunk : mb / chunk; /* >= 1 */
  return (mb + nchunks - 1) / nchunks;
}

static int conv_setup_common(nde_layer *L, int concat) {
  const nde_layer_spec *s = &L->spec;
  if (s->out < 1)
    return nde_layer_error(L, NDE_ERR_ARG, "output channels %d must be >= 1", s->out);
  if (s->kh < 1 || s->kw < 1)
    return nde_layer_error(L, NDE_ERR_ARG, "kernel %dx%d must be at least 1x1", s->kh, s->kw);
  if (s->stride < 1) return nde_layer_error(L, NDE_ERR_ARG, "stride %d must be >= 1", s->stride);
  if (s->pad < 0) return nde_layer_error(L, NDE_ERR_ARG, "padding %d must be >= 0", s->pad);
  if (s->conv_algo != NDE_CONV_AUTO && s->conv_algo != NDE_CONV_IM2COL)
    return nde_layer_error(L, NDE_ERR_ARG,
                           "convolution algorithm %d is neither NDE_CONV_AUTO (0) nor "
                           "NDE_CONV_IM2COL (1)",
                           s->conv_algo);
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

  C->wino = s->conv_algo == NDE_CONV_AUTO ? nde_wino_tile(&C->g) : 0;
  if (C->wino) {
    C->flip = 0;
    C->nxi = (C->wino + 2) * (C->wino + 2);
    __atomic_fetch_add(&winograd_setups, 1, __ATOMIC_RELAXED);
  }

  const size_t mb = (size_t)L->max_batch, npix = (size_t)C->npix;
  const size_t hw = (size_t)L->in.h * L->in.w, pmax = hw > npix ? hw : npix;
  int ok = 1;
  size_t off = 0; /* the arena, each piece on a 64-byte boundary */
  if (C->wino) {
    /* Values per sample: V (dV), M (dM), the CHWN output, one channel's plane. */
    const size_t tiles = npix / ((size_t)C->wino * C->wino), ncc = (size_t)s->out * L->in.c;
    const size_t nxi = (size_t)C->nxi;
    const size_t ps_v = nxi * L->in.c * tiles, ps_m = nxi * s->out * tiles;
    const size_t ps_omat = (size_t)s->out * npix;
    const size_t chunk =
        chunk_size((ps_v + ps_m + ps_omat + hw) * sizeof(nde_real), MIN_WINO_COLS, tiles, mb, 1);
    C->chunk = (int)chunk;
    C->off_cols = off;
    off += align64(nxi * nde_wino_stride(ps_v / nxi * chunk));
    C->off_M = off;
    off += align64(nxi * nde_wino_stride(ps_m / nxi * chunk));
    C->off_omat = off;
    off += align64(ps_omat * chunk);
    C->off_plane = off;
    off += align64(hw * chunk);
    C->off_dU = off;
    off += align64(nxi * ncc);
    ok = (C->U = alloc_reals(nxi * ncc)) != NULL &&
         (C->Useen = alloc_reals(9 * ncc)) != NULL &&
         (C->zeros = calloc(chunk, sizeof(nde_real))) != NULL &&
         (C->sink = alloc_reals(chunk)) != NULL;
  } else {
    /* Values per sample of each temporary (gt's output plane h*w is at most
     * npix in the flip case, so npix bounds its columns too). */
    const size_t cmax = (size_t)(s->out > L->in.c ? s->out : L->in.c);
    const size_t ps_cols = (size_t)kx * npix;
    const size_t ps_dcols = (C->flip ? (size_t)dkt : (size_t)kx) * npix;
    const size_t ps_omat = (C->flip ? cmax : (size_t)s->out) * npix;
    const size_t ps_plane = C->pointwise ? 0 : pmax;
    const size_t ps_cd = ps_cols > ps_dcols ? ps_cols : ps_dcols; /* cols and dcols share */
    const size_t chunk =
        chunk_size((ps_cd + ps_omat + ps_plane) * sizeof(nde_real), MIN_GEMM_COLS, npix, mb, 0);
    C->chunk = (int)chunk;
    C->keep = chunk == mb;
    C->off_cols = off; /* dcols too; cols only when not kept */
    off += align64((C->keep ? ps_dcols : ps_cd) * chunk);
    C->off_omat = off;
    off += align64(ps_omat * chunk);
    C->off_plane = off;
    off += align64(ps_plane * chunk);
    if (C->keep) ok = (C->cols = nde_alloc_big(ps_cols * mb)) != NULL;
    if (C->flip) ok = ok && (C->wflip = alloc_reals((size_t)L->in.c * (size_t)dkt)) != NULL;
  }
  L->scratch = off;
  ok = ok && (C->add = alloc_reals((size_t)s->out * npix)) != NULL;
  ok = ok && (C->sums = alloc_reals((size_t)s->out * npix)) != NULL;
  ok = ok && (C->ones = alloc_reals(mb)) != NULL;
  for (size_t b = 0; ok && b < mb; b++) C->ones[b] = 1;
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

/* ---- the Winograd path (nets/winograd.c) ---- */

/* U from the x weights (Wx rows kfull apart), recomputed only when they
 * changed since the last call: an ODE solve evaluates the field dozens of
 * times with the same parameters. */
static void wino_update_weights(conv_impl *C, const nde_real *Wx) {
  const int cout = C->cout, kx = C->kx;
  int same = C->U_valid;
  for (int co = 0; same && co < cout; co++)
    same = !memcmp(C->Useen + (size_t)co * kx, Wx + (size_t)co * C->kfull, (size_t)kx * sizeof *Wx);
  if (same) return;
  for (int co = 0; co < cout; co++)
    memcpy(C->Useen + (size_t)co * kx, Wx + (size_t)co * C->kfull, (size_t)kx * sizeof *Wx);
  nde_wino_weights(C->wino, cout, C->g.cin, C->Useen, (size_t)kx, C->U);
  C->U_valid = 1;
}

/* The products of one Winograd step: C_xi = op(A_xi) op(B_xi) + beta C_xi
 * for xi < nxi, the matrices sa, sb, sc values apart. They are independent,
 * so when BLAS has several threads (a whole batch evaluated on one thread)
 * each thread takes a share of them with a single-threaded BLAS instead:
 * at this size (64 x 288 x 64) a 2-thread gemm is far from twice as fast. */
typedef struct wino_gemms {
  int nxi, nslices;
  CBLAS_TRANSPOSE ta, tb;
  int m, n, k, lda, ldb, ldc;
  const nde_real *A, *B;
  nde_real *C;
  size_t sa, sb, sc;
  nde_real beta;
} wino_gemms;

static int wino_gemm_slice(void *arg, int s) {
  const wino_gemms *g = arg;
  const int x1 = (int)nde_slice_start(g->nxi, g->nslices, s + 1);
  for (int xi = (int)nde_slice_start(g->nxi, g->nslices, s); xi < x1; xi++)
    nde_gemm(CblasRowMajor, g->ta, g->tb, g->m, g->n, g->k, 1, g->A + xi * g->sa, g->lda,
             g->B + xi * g->sb, g->ldb, g->beta, g->C + xi * g->sc, g->ldc);
  return NDE_OK;
}

static void run_wino_gemms(wino_gemms *g) {
  const int t = nde_blas_threads();
  g->nslices = t < g->nxi ? t : g->nxi;
  if (g->nslices > NDE_MAX_SLICES) g->nslices = NDE_MAX_SLICES;
  nde_run_slices(g->nslices, wino_gemm_slice, g); /* cannot fail: the slices return 0 */
}

/* y = the convolution of x by Wx, plus C->add: per chunk, V = the input
 * transform, M[xi] = U[xi] V[xi] (nxi gemms), the output transform into the
 * CHWN omat, and the transpose to NCHW that adds C->add. */
static void wino_forward(nde_layer *L, const nde_layer_ctx *ctx, const nde_real *Wx, int n,
                         const nde_real *x, nde_real *y) {
  conv_impl *C = L->impl;
  const int cout = C->cout, cin = C->g.cin, npix = C->npix;
  const size_t feat = nde_shape_numel(L->in), ofeat = (size_t)cout * npix;
  nde_real *V = ctx->scratch + C->off_cols, *M = ctx->scratch + C->off_M;
  nde_real *omat = ctx->scratch + C->off_omat, *plane = ctx->scratch + C->off_plane;
  wino_update_weights(C, Wx);
  for (int b0 = 0; b0 < n; b0 += C->chunk) {
    const int nb = n - b0 < C->chunk ? n - b0 : C->chunk, T = npix / (C->wino * C->wino) * nb;
    nde_wino_input(C->wino, &C->g, nb, x + (size_t)b0 * feat, feat, plane, C->zeros, V);
    wino_gemms g = {C->nxi, 0, CblasNoTrans, CblasNoTrans, cout, T, cin, cin, T, T, C->U, V, M,
                    (size_t)cout * cin, nde_wino_stride((size_t)cin * T), nde_wino_stride((size_t)cout * T), 0};
    run_wino_gemms(&g); /* M[xi] = U[xi] V[xi] */
    nde_wino_output(C->wino, &C->g, cout, nb, M, omat);
    nde_conv_transpose(cout * npix, nb, omat, (size_t)nb, y + (size_t)b0 * ofeat, ofeat, C->add);
  }
}

/* The vjp's chunks: dM from dY; with grad, dU[xi] += dM[xi] V[xi]^T (V
 * rebuilt from x) and the bias / time sums; with dx, dV[xi] = U[xi]^T dM[xi]
 * and its input-transform adjoint. grad's x weights get G^T dU G at the end. */
static void wino_vjp(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
                     const nde_real *dy, nde_real *dx, nde_real *grad, int sums_needed) {
  conv_impl *C = L->impl;
  const int cout = C->cout, cin = C->g.cin, npix = C->npix;
  const size_t feat = nde_shape_numel(L->in), ofeat = (size_t)cout * npix;
  nde_real *V = ctx->scratch + C->off_cols, *M = ctx->scratch + C->off_M;
  nde_real *omat = ctx->scratch + C->off_omat, *plane = ctx->scratch + C->off_plane;
  nde_real *dU = ctx->scratch + C->off_dU;
  for (int b0 = 0; b0 < n; b0 += C->chunk) {
    const int nb = n - b0 < C->chunk ? n - b0 : C->chunk, T = npix / (C->wino * C->wino) * nb;
    nde_conv_transpose(nb, cout * npix, dy + (size_t)b0 * ofeat, ofeat, omat, (size_t)nb, NULL);
    nde_wino_output_adjoint(C->wino, &C->g, cout, nb, omat, M);
    if (grad) {
      nde_wino_input(C->wino, &C->g, nb, x + (size_t)b0 * feat, feat, plane, C->zeros, V);
      wino_gemms g = {C->nxi, 0, CblasNoTrans, CblasTrans, cout, cin, T, T, T, cin, M, V, dU,
                      nde_wino_stride((size_t)cout * T), nde_wino_stride((size_t)cin * T), (size_t)cout * cin, b0 ? 1 : 0};
      run_wino_gemms(&g); /* dU[xi] (+)= dM[xi] V[xi]^T */
      if (sums_needed)
        nde_gemv(CblasRowMajor, CblasNoTrans, cout * npix, nb, 1, omat, nb, C->ones, 1,
                 b0 ? 1 : 0, C->sums, 1);
    }
    if (dx) {
      wino_gemms g = {C->nxi, 0, CblasTrans, CblasNoTrans, cin, T, cout, cin, T, T, C->U, M, V,
                      (size_t)cout * cin, nde_wino_stride((size_t)cout * T), nde_wino_stride((size_t)cin * T), 0};
      run_wino_gemms(&g); /* dV[xi] = U[xi]^T dM[xi], over V (which dU has used) */
      nde_wino_input_adjoint(C->wino, &C->g, nb, V, plane, C->sink, dx + (size_t)b0 * feat, feat);
    }
  }
  if (grad) nde_wino_weights_adjoint(C->wino, cout, cin, dU, grad + C->kt, (size_t)C->kfull);
}

static int conv_forward(nde_layer *L, const nde_layer_ctx *ctx, double t, int n,
                        const nde_real *x, nde_real *y) {
  conv_impl *C = L->impl;
  const nde_real *W = ctx->params + L->param_off;
  const nde_real *Wx = W + C->kt; /* weights acting on x (after the time channel) */
  const int npix = C->npix, cout = C->cout;

  /* Per-pixel addend: bias[co] + t * sum_ij W_t[co][ij] mask[ij][p]. */
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

  if (C->wino) {
    wino_forward(L, ctx, Wx, n, x, y);
  } else {
    const size_t feat = nde_shape_numel(L->in), ofeat = (size_t)cout * npix;
    nde_real *cols = C->keep ? C->cols : ctx->scratch + C->off_cols;
    nde_real *omat = ctx->scratch + C->off_omat, *plane = ctx->scratch + C->off_plane;
    for (int b0 = 0; b0 < n; b0 += C->chunk) {
      const int nb = n - b0 < C->chunk ? n - b0 : C->chunk, ncol = npix * nb;
      const nde_real *xs = x + (size_t)b0 * feat;
      /* 1. im2col (a pointwise conv's cols IS the input transposed to CHWN);
       * only the layer's own cols keeps its padding zeros between calls. */
      if (C->pointwise) {
        nde_conv_transpose(nb, (int)feat, xs, feat, cols, (size_t)nb, NULL);
      } else {
        nde_im2col(&C->g, nb, xs, plane, cols, C->keep && C->cols_zero_n == nb);
        if (C->keep) C->cols_zero_n = nb;
      }
      /* 2. Ymat = W_x cols: Cout x (Ho*Wo*nb). */
      nde_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, ncol, C->kx, 1, Wx, C->kfull, cols,
               ncol, 0, omat, ncol);
      /* 3. CHWN -> NCHW with the addend: y[b][co*npix + p] = Ymat[co*npix + p][b] + add. */
      nde_conv_transpose(cout * npix, nb, omat, (size_t)nb, y + (size_t)b0 * ofeat, ofeat, C->add);
    }
  }
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
  const int npix = C->npix, cout = C->cout, cin = C->g.cin, kk = C->g.kh * C->g.kw;
  const size_t feat = nde_shape_numel(L->in), ofeat = (size_t)cout * npix;
  const int sums_needed = grad && (L->spec.bias || C->concat);
  nde_real *cols = C->keep ? C->cols : ctx->scratch + C->off_cols;
  nde_real *dcols = ctx->scratch + C->off_cols, *omat = ctx->scratch + C->off_omat;
  nde_real *plane = ctx->scratch + C->off_plane;

  if (dx && C->flip) {
    /* Wf[c][co][i'][j'] = W[co][c][kh-1-i'][kw-1-j'] (see the flip step below) */
    const int kt = cout * kk;
    for (int c = 0; c < cin; c++)
      for (int co = 0; co < cout; co++) {
        const nde_real *w = W + (size_t)co * C->kfull + C->kt + (size_t)c * kk;
        nde_real *f = C->wflip + (size_t)c * kt + (size_t)co * kk;
        for (int q = 0; q < kk; q++) f[q] = w[kk - 1 - q]; /* (i, j) -> (kh-1-i, kw-1-j) */
      }
  }

  if (C->wino) {
    wino_vjp(L, ctx, n, x, dy, dx, grad, sums_needed);
  } else {
    for (int b0 = 0; b0 < n; b0 += C->chunk) {
      const int nb = n - b0 < C->chunk ? n - b0 : C->chunk, ncol = npix * nb;
      const nde_real *dys = dy + (size_t)b0 * ofeat;
      nde_real *dxs = dx ? dx + (size_t)b0 * feat : NULL;

      /* dYmat (Cout*npix x nb, i.e. Cout x ncol) from NCHW dy (the flipped
       * dx path reads dy itself). */
      if (grad || !C->flip)
        nde_conv_transpose(nb, cout * npix, dys, ofeat, omat, (size_t)nb, NULL);

      if (grad) {
        /* This chunk's columns: kept from forward, or rebuilt from x. */
        if (!C->keep) {
          const nde_real *xs = x + (size_t)b0 * feat;
          if (C->pointwise)
            nde_conv_transpose(nb, (int)feat, xs, feat, cols, (size_t)nb, NULL);
          else
            nde_im2col(&C->g, nb, xs, plane, cols, 0);
        }
        /* dW_x += dYmat cols^T, written into the x part of each weight row. */
        nde_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, C->kx, ncol, 1, omat, ncol, cols,
                 ncol, 1, grad + C->kt, C->kfull);
        /* sums[co][p] (+)= sum_b dY[b][co][p]: dYmat (Cout*npix rows of nb) times ones. */
        if (sums_needed)
          nde_gemv(CblasRowMajor, CblasNoTrans, cout * npix, nb, 1, omat, nb, C->ones, 1,
                   b0 ? 1 : 0, C->sums, 1);
      }

      if (dx && C->flip) {
        /* At stride 1, dx[b][c][ih][iw] = sum_{co,i,j} W[co][c][i][j] dY[b][co][ih+p-i][iw+p-j];
         * with i' = kh-1-i, j' = kw-1-j this is a convolution of dY (pad
         * p' = kh-1-p) by Wf[c][co][i'][j'] = W[co][c][kh-1-i'][kw-1-j']: im2col
         * of dY (written once, streamed), one gemm with a small output
         * (Cin x h*w*nb), a transpose. col2im instead writes and rereads a
         * Cin*kh*kw x npix*nb matrix (and BLAS first clears it). */
        const int kt = cout * kk, xcol = C->g.h * C->g.w * nb;
        nde_im2col(&C->gt, nb, dys, plane, dcols, 0);
        nde_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cin, xcol, kt, 1, C->wflip, kt, dcols,
                 xcol, 0, omat, xcol);
        nde_conv_transpose(cin * C->g.h * C->g.w, nb, omat, (size_t)nb, dxs, feat, NULL);
      } else if (dx) {
        /* dcols = W_x^T dYmat, then col2im into CHWN and transpose to NCHW. */
        nde_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, C->kx, ncol, cout, 1, W + C->kt, C->kfull,
                 omat, ncol, 0, dcols, ncol);
        if (C->pointwise)
          nde_conv_transpose((int)feat, nb, dcols, (size_t)nb, dxs, feat, NULL);
        else
          nde_col2im(&C->g, nb, dcols, plane, dxs);
      }
    }
  }

  if (sums_needed) {
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
