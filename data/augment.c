/* Augmentation (random crop after padding, horizontal flip) and seeded
 * shuffling; every random choice comes from a caller's nde_rng so that a
 * seed fixes a whole training run. */
#include "common/error_impl.h"
#include "data/data_impl.h"

/* Bound on the padding so index arithmetic stays far from int overflow. */
#define MAX_PAD 4096

static int check_image(int c, int h, int w, const void *in, const void *out, const char *where) {
  NDE_CHECK_NULL(in, where);
  NDE_CHECK_NULL(out, where);
  if (c <= 0 || h <= 0 || w <= 0)
    return nde_error(NDE_ERR_SHAPE, "%s: image shape (%d, %d, %d) must be positive", where, c, h,
                     w);
  return NDE_OK;
}

int nde_data_crop(int c, int h, int w, int pad, int oy, int ox, const nde_real *in,
                  const nde_real *fill, nde_real *out) {
  static const char *where = "nde_data_crop";
  int rc = check_image(c, h, w, in, out, where);
  if (rc) return rc;
  if (pad < 0 || pad > MAX_PAD)
    return nde_error(NDE_ERR_ARG, "%s: pad = %d outside [0, %d]", where, pad, MAX_PAD);
  if (oy < 0 || oy > 2 * pad || ox < 0 || ox > 2 * pad)
    return nde_error(NDE_ERR_ARG, "%s: offset (%d, %d) outside [0, %d] for pad %d", where, oy, ox,
                     2 * pad, pad);
  if (in == out) return nde_error(NDE_ERR_ARG, "%s: in and out must not overlap", where);
  /* Output pixel (y, x) comes from input (y + dy, x + dx) with dy = oy - pad. */
  const int dy = oy - pad, dx = ox - pad;
  for (int k = 0; k < c; k++) {
    const nde_real f = fill ? fill[k] : 0;
    const nde_real *src = in + (size_t)k * h * w;
    nde_real *dst = out + (size_t)k * h * w;
    for (int y = 0; y < h; y++) {
      int sy = y + dy;
      nde_real *row = dst + (size_t)y * w;
      if (sy < 0 || sy >= h) {
        for (int x = 0; x < w; x++) row[x] = f;
        continue;
      }
      const nde_real *srow = src + (size_t)sy * w;
      for (int x = 0; x < w; x++) {
        int sx = x + dx;
        row[x] = (sx < 0 || sx >= w) ? f : srow[sx];
      }
    }
  }
  return NDE_OK;
}

int nde_data_random_crop(int c, int h, int w, int pad, const nde_real *in, const nde_real *fill,
                         nde_real *out, nde_rng *rng) {
  NDE_CHECK_NULL(rng, "nde_data_random_crop");
  if (pad < 0 || pad > MAX_PAD)
    return nde_error(NDE_ERR_ARG, "nde_data_random_crop: pad = %d outside [0, %d]", pad, MAX_PAD);
  int oy = (int)nde_rng_below(rng, (uint64_t)(2 * pad + 1));
  int ox = (int)nde_rng_below(rng, (uint64_t)(2 * pad + 1));
  return nde_data_crop(c, h, w, pad, oy, ox, in, fill, out);
}

int nde_data_hflip(int c, int h, int w, const nde_real *in, nde_real *out) {
  int rc = check_image(c, h, w, in, out, "nde_data_hflip");
  if (rc) return rc;
  /* Swap mirrored pairs so that in == out works; the middle column of an odd
     width maps to itself. */
  for (size_t r = 0; r < (size_t)c * h; r++) {
    const nde_real *s = in + r * w;
    nde_real *d = out + r * w;
    for (int x = 0, y = w - 1; x <= y; x++, y--) {
      nde_real a = s[x], b = s[y];
      d[x] = b;
      d[y] = a;
    }
  }
  return NDE_OK;
}

int nde_data_shuffle(int *idx, int n, nde_rng *rng) {
  NDE_CHECK_NULL(idx, "nde_data_shuffle");
  NDE_CHECK_NULL(rng, "nde_data_shuffle");
  if (n < 0) return nde_error(NDE_ERR_ARG, "nde_data_shuffle: n = %d must be >= 0", n);
  for (int i = n - 1; i > 0; i--) {
    int j = (int)nde_rng_below(rng, (uint64_t)i + 1);
    int t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return NDE_OK;
}

int nde_data_permutation(int *idx, int n, nde_rng *rng) {
  NDE_CHECK_NULL(idx, "nde_data_permutation");
  if (n < 0) return nde_error(NDE_ERR_ARG, "nde_data_permutation: n = %d must be >= 0", n);
  for (int i = 0; i < n; i++) idx[i] = i;
  return nde_data_shuffle(idx, n, rng);
}
