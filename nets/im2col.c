/* Data movement for the batched convolution (layout in nets/conv_impl.h):
 * NCHW <-> CHWN transposes, im2col and its adjoint col2im, and the
 * inside-the-plane mask used for ConcatConv2d's time channel.
 *
 * All of these are memory bound; they are written so that the innermost
 * work is a long contiguous copy / add (vectorized by the compiler or done
 * by memcpy / memset) and never allocate. */
#include <stdint.h>
#include <string.h>

#include "nets/conv_impl.h"

/* Output positions o in [0, nout) whose input coordinate o * stride - pad + k
 * lies in [0, len): the half-open range [*lo, *hi) (empty gives lo == hi). */
static void valid_range(int nout, int stride, int pad, int k, int len, int *lo, int *hi) {
  int first = pad - k; /* need o * stride >= first */
  int a = first <= 0 ? 0 : (first + stride - 1) / stride;
  int last = len - 1 + pad - k; /* need o * stride <= last */
  int b = last < 0 ? 0 : last / stride + 1;
  if (b > nout) b = nout;
  if (a > b) a = b;
  *lo = a;
  *hi = b;
}

/* Transpose: TILE x TILE tiles (so a tile's source and destination rows
 * stay in L1 even when the row stride is a multiple of 4 KiB, where larger
 * tiles thrash the cache sets), each made of V x V register blocks: with SSE
 * a 4 x 4 float block is 4 loads, 8 shuffles and 4 stores, a 2 x 2 double
 * block 2 loads, 2 unpacks and 2 stores. Edges and other targets use the
 * scalar loop. */
enum { TILE = 16 };

#if defined(__SSE2__) && !NDE_REAL_IS_DOUBLE
#include <xmmintrin.h>
enum { V = 4 };
static inline void tr_block(const float *s, size_t lds, float *d, size_t ldd, const float *add) {
  __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + lds), r2 = _mm_loadu_ps(s + 2 * lds),
         r3 = _mm_loadu_ps(s + 3 * lds);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  if (add) {
    const __m128 a = _mm_loadu_ps(add);
    r0 = _mm_add_ps(r0, a);
    r1 = _mm_add_ps(r1, a);
    r2 = _mm_add_ps(r2, a);
    r3 = _mm_add_ps(r3, a);
  }
  _mm_storeu_ps(d, r0);
  _mm_storeu_ps(d + ldd, r1);
  _mm_storeu_ps(d + 2 * ldd, r2);
  _mm_storeu_ps(d + 3 * ldd, r3);
}
#elif defined(__SSE2__) && NDE_REAL_IS_DOUBLE
#include <emmintrin.h>
enum { V = 2 };
static inline void tr_block(const double *s, size_t lds, double *d, size_t ldd,
                            const double *add) {
  const __m128d r0 = _mm_loadu_pd(s), r1 = _mm_loadu_pd(s + lds);
  __m128d c0 = _mm_unpacklo_pd(r0, r1), c1 = _mm_unpackhi_pd(r0, r1);
  if (add) {
    const __m128d a = _mm_loadu_pd(add);
    c0 = _mm_add_pd(c0, a);
    c1 = _mm_add_pd(c1, a);
  }
  _mm_storeu_pd(d, c0);
  _mm_storeu_pd(d + ldd, c1);
}
#else
enum { V = 1 };
static inline void tr_block(const nde_real *s, size_t lds, nde_real *d, size_t ldd,
                            const nde_real *add) {
  (void)lds;
  (void)ldd;
  *d = *s + (add ? *add : 0);
}
#endif

/* Scalar transpose of the source block rows [i0, i1) x columns [j0, j1). */
static void tr_scalar(const nde_real *restrict src, size_t lds, nde_real *restrict dst, size_t ldd,
                      const nde_real *restrict row_add, int i0, int i1, int j0, int j1) {
  for (int j = j0; j < j1; j++) {
    nde_real *restrict d = dst + (size_t)j * ldd;
    for (int i = i0; i < i1; i++) d[i] = src[(size_t)i * lds + j] + (row_add ? row_add[i] : 0);
  }
}

void nde_conv_transpose(int rows, int cols, const nde_real *restrict src, size_t lds,
                        nde_real *restrict dst, size_t ldd, const nde_real *restrict row_add) {
  for (int i0 = 0; i0 < rows; i0 += TILE) {
    const int i1 = i0 + TILE < rows ? i0 + TILE : rows;
    const int iv = i0 + (i1 - i0) / V * V; /* rows [i0, iv) go in V x V blocks */
    for (int j0 = 0; j0 < cols; j0 += TILE) {
      const int j1 = j0 + TILE < cols ? j0 + TILE : cols;
      const int jv = j0 + (j1 - j0) / V * V;
      for (int j = j0; j < jv; j += V)
        for (int i = i0; i < iv; i += V)
          tr_block(src + (size_t)i * lds + j, lds, dst + (size_t)j * ldd + i, ldd,
                   row_add ? row_add + i : NULL);
      tr_scalar(src, lds, dst, ldd, row_add, i0, iv, jv, j1);
      tr_scalar(src, lds, dst, ldd, row_add, iv, i1, j0, j1);
    }
  }
}

/* Writing cols. The columns (megabytes) are written once here and read
 * once, by the gemm's packing, on the next call. On the measured machine
 * (shared L3) they do not survive in cache between calls, so ordinary
 * stores first read every destination line from memory (read for
 * ownership) only to overwrite it; non-temporal (streaming) stores skip that
 * read. ODE-function shape, float, 10.6 MB of columns: im2col 0.75 -> 0.54 ms
 * (mean over 95 calls interleaved with the gemm), the gemm unchanged.
 * Only for large matrices (STREAM_MIN_BYTES) written in long runs
 * (STREAM_MIN_RUN): a chunk of a few MB that the gemm reads right away is
 * better left in cache, and with few samples per chunk the runs are short
 * (at stride 2, n values per output pixel), where streaming stores of
 * partial cache lines are very slow (the ODE-Net stem's conv4x4 in chunks
 * of 15 samples took 4x as long with them).
 * Without SSE2, memcpy / memset. */
enum { STREAM_MIN_BYTES = 8 << 20, STREAM_MIN_RUN = 256 };
#if defined(__SSE2__)
#include <emmintrin.h>
#if NDE_REAL_IS_DOUBLE
enum { SV = 2 };
static inline void stream_one(double *d, const double *s) { _mm_stream_pd(d, _mm_loadu_pd(s)); }
static inline void stream_zero_one(double *d) { _mm_stream_pd(d, _mm_setzero_pd()); }
#else
enum { SV = 4 };
static inline void stream_one(float *d, const float *s) { _mm_stream_ps(d, _mm_loadu_ps(s)); }
static inline void stream_zero_one(float *d) { _mm_stream_ps(d, _mm_setzero_ps()); }
#endif
static void stream_copy(nde_real *restrict d, const nde_real *restrict s, size_t n) {
  size_t k = 0;
  for (; k < n && ((uintptr_t)(d + k) & 15); k++) d[k] = s[k]; /* to a 16-byte boundary */
  for (; k + SV <= n; k += SV) stream_one(d + k, s + k);
  for (; k < n; k++) d[k] = s[k];
}
static void stream_zero(nde_real *d, size_t n) {
  size_t k = 0;
  for (; k < n && ((uintptr_t)(d + k) & 15); k++) d[k] = 0;
  for (; k + SV <= n; k += SV) stream_zero_one(d + k);
  for (; k < n; k++) d[k] = 0;
}
/* Streaming stores are weakly ordered: fence before the gemm reads them. */
static void stream_fence(void) { _mm_sfence(); }
#else
static void stream_copy(nde_real *restrict d, const nde_real *restrict s, size_t n) {
  memcpy(d, s, n * sizeof *d);
}
static void stream_zero(nde_real *d, size_t n) { memset(d, 0, n * sizeof *d); }
static void stream_fence(void) {}
#endif

static void plain_copy(nde_real *restrict d, const nde_real *restrict s, size_t n) {
  memcpy(d, s, n * sizeof *d);
}
static void plain_zero(nde_real *d, size_t n) { memset(d, 0, n * sizeof *d); }

/* count runs of pix values, source runs sstep apart, destination runs
 * contiguous (a strided convolution's row). The runs are short (pix is
 * the chunk's sample count, 16 in the ODE-Net stem on two threads), so a
 * memcpy call per run cost more than the copy: the stem's 4x4 stride-2
 * convolution made ~170k such calls per 16-sample chunk. */
static void copy_pixels(nde_real *restrict d, const nde_real *restrict s, int count, size_t pix,
                        size_t sstep) {
  enum { B = 16 / sizeof(nde_real) }; /* values per 16-byte block */
  for (int k = 0; k < count; k++, d += pix, s += sstep) {
    size_t b = 0;
    for (; b + B <= pix; b += B) memcpy(d + b, s + b, B * sizeof *d); /* one vector move */
    for (; b < pix; b++) d[b] = s[b];
  }
}

void nde_im2col(const nde_conv_geom *g, int n, const nde_real *restrict x,
                nde_real *restrict plane, nde_real *restrict cols, int zeros_kept) {
  const size_t rowlen = (size_t)g->ho * g->wo * n; /* one cols row */
  const size_t run = (g->stride == 1 ? (size_t)g->wo : 1) * n; /* values per copy, at most */
  const int stream = (size_t)g->cin * g->kh * g->kw * rowlen * sizeof(nde_real) >= STREAM_MIN_BYTES &&
                     run * sizeof(nde_real) >= STREAM_MIN_RUN;
  void (*copy)(nde_real *restrict, const nde_real *restrict, size_t) = stream ? stream_copy : plain_copy;
  void (*zero)(nde_real *, size_t) = stream ? stream_zero : plain_zero;
  const size_t pix = (size_t)n;                      /* one (oh, ow) block of a row */
  const size_t hw = (size_t)g->h * g->w;
  nde_real *row = cols;
  for (int c = 0; c < g->cin; c++) {
    /* channel c of every sample, CHWN: plane[(ih * w + iw) * n + b] */
    nde_conv_transpose(n, (int)hw, x + (size_t)c * hw, (size_t)g->cin * hw, plane, pix, NULL);
    for (int i = 0; i < g->kh; i++) {
      for (int j = 0; j < g->kw; j++, row += rowlen) {
        int ow0, ow1;
        valid_range(g->wo, g->stride, g->pad, j, g->w, &ow0, &ow1);
        for (int oh = 0; oh < g->ho; oh++) {
          nde_real *dst = row + (size_t)oh * g->wo * pix;
          const int ih = oh * g->stride - g->pad + i;
          if (ih < 0 || ih >= g->h || ow0 == ow1) {
            if (!zeros_kept) zero(dst, (size_t)g->wo * pix);
            continue;
          }
          if (!zeros_kept) zero(dst, (size_t)ow0 * pix);
          const nde_real *src = plane + ((size_t)ih * g->w + (ow0 * g->stride - g->pad + j)) * pix;
          if (g->stride == 1) {
            /* consecutive ow read consecutive iw: one run for the whole row */
            copy(dst + (size_t)ow0 * pix, src, (size_t)(ow1 - ow0) * pix);
          } else if (stream) {
            for (int ow = ow0; ow < ow1; ow++)
              copy(dst + (size_t)ow * pix, src + (size_t)(ow - ow0) * g->stride * pix, pix);
          } else {
            copy_pixels(dst + (size_t)ow0 * pix, src, ow1 - ow0, pix, (size_t)g->stride * pix);
          }
          if (!zeros_kept) zero(dst + (size_t)ow1 * pix, (size_t)(g->wo - ow1) * pix);
        }
      }
    }
  }
  if (stream) stream_fence();
}

/* d[k] += s[k], k < len: the inner loop of col2im (vectorized). */
static void add_run(nde_real *restrict d, const nde_real *restrict s, size_t len) {
  for (size_t k = 0; k < len; k++) d[k] += s[k];
}

void nde_col2im(const nde_conv_geom *g, int n, const nde_real *restrict dcols,
                nde_real *restrict plane, nde_real *restrict dx) {
  const size_t rowlen = (size_t)g->ho * g->wo * n;
  const size_t pix = (size_t)n;
  const size_t hw = (size_t)g->h * g->w;
  const nde_real *row = dcols;
  for (int c = 0; c < g->cin; c++) {
    memset(plane, 0, hw * pix * sizeof *plane);
    for (int i = 0; i < g->kh; i++) {
      for (int j = 0; j < g->kw; j++, row += rowlen) {
        int ow0, ow1;
        valid_range(g->wo, g->stride, g->pad, j, g->w, &ow0, &ow1);
        if (ow0 == ow1) continue;
        for (int oh = 0; oh < g->ho; oh++) {
          const int ih = oh * g->stride - g->pad + i;
          if (ih < 0 || ih >= g->h) continue;
          const nde_real *src = row + ((size_t)oh * g->wo + ow0) * pix;
          nde_real *dst = plane + ((size_t)ih * g->w + (ow0 * g->stride - g->pad + j)) * pix;
          if (g->stride == 1) {
            add_run(dst, src, (size_t)(ow1 - ow0) * pix);
          } else {
            for (int ow = ow0; ow < ow1; ow++)
              add_run(dst + (size_t)(ow - ow0) * g->stride * pix, src + (size_t)(ow - ow0) * pix,
                      pix);
          }
        }
      }
    }
    /* back to NCHW: dx[b][c][.] = plane[.][b] */
    nde_conv_transpose((int)hw, n, plane, pix, dx + (size_t)c * hw, (size_t)g->cin * hw, NULL);
  }
}

void nde_conv_inside_mask(const nde_conv_geom *g, nde_real *mask) {
  for (int i = 0; i < g->kh; i++)
    for (int j = 0; j < g->kw; j++)
      for (int oh = 0; oh < g->ho; oh++)
        for (int ow = 0; ow < g->wo; ow++) {
          const int ih = oh * g->stride - g->pad + i, iw = ow * g->stride - g->pad + j;
          *mask++ = (ih >= 0 && ih < g->h && iw >= 0 && iw < g->w) ? 1 : 0;
        }
}
