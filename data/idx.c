/* IDX files (MNIST, Fashion-MNIST): magic 0x0000 08 D (unsigned bytes, D
 * dimensions), D big-endian uint32 sizes, then the bytes. Images are D = 3
 * (n, rows, cols), labels D = 1 (n). Read as a stream through zlib: header
 * first, then exactly the bytes it announces. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/error_impl.h"
#include "data/data_impl.h"

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Bytes read past the announced payload to tell how much follows: an exact
 * count for a few stray bytes, a bound on the work for a gzip bomb (whose
 * stream may inflate to any size: it is never inflated further). */
enum { TRAIL_PROBE = 4096 };

/* One IDX file opened through zlib (gzip or plain), header checked. The
 * header is read before anything is allocated for the data, and the data
 * are read straight into their destination, so a file can never make the
 * reader hold more than its header announces. */
typedef struct idx_file {
  gzFile f;
  const char *path, *what;
  int ndim;
  uint32_t dims[3];
  size_t total; /* payload bytes the header announces */
} idx_file;

/* Read up to n bytes (fewer only at the end of the data); *got says how
 * many. NDE_ERR_IO when zlib reports a read or decompression error. */
static int gz_read_upto(idx_file *x, uint8_t *dst, size_t n, size_t *got) {
  *got = 0;
  while (*got < n) {
    size_t want = n - *got;
    if (want > ((size_t)1 << 30)) want = (size_t)1 << 30; /* gzread counts in unsigned */
    int r = gzread(x->f, dst + *got, (unsigned)want);
    if (r < 0) {
      int errnum = 0;
      const char *msg = gzerror(x->f, &errnum);
      return nde_error(NDE_ERR_IO, "'%s': read failed after %zu bytes: %s", x->path, *got,
                       errnum == Z_ERRNO ? strerror(errno) : msg);
    }
    if (r == 0) break;
    *got += (size_t)r;
  }
  return NDE_OK;
}

static void idx_close(idx_file *x) {
  if (x->f) gzclose(x->f);
  x->f = NULL;
}

/* Deflate expands at most 1032:1, so a file of `size` bytes can hold at
 * most that many payload bytes compressed, and exactly size - header bytes
 * plain. A header announcing more is refused here, before the reader
 * allocates what it announces (a 20-byte file once claimed 2.4 GB). */
#define DEFLATE_MAX_RATIO 1032
static int idx_check_file_size(const idx_file *x, size_t hlen) {
  struct stat sb;
  if (stat(x->path, &sb) != 0 || !S_ISREG(sb.st_mode)) return NDE_OK; /* a pipe: not knowable */
  const size_t size = (size_t)sb.st_size;
  const int plain = gzdirect(x->f);
  const size_t most = plain ? (size > hlen ? size - hlen : 0)
                            : (size > SIZE_MAX / DEFLATE_MAX_RATIO ? SIZE_MAX
                                                                   : size * DEFLATE_MAX_RATIO);
  if (x->total > most)
    return nde_error(NDE_ERR_FORMAT,
                     "'%s': truncated: the header announces %zu data bytes, more than a %s file of %zu bytes "
                     "can hold (%zu)",
                     x->path, x->total, plain ? "plain" : "gzip", size, most);
  return NDE_OK;
}

/* Open path and check its header: magic of an unsigned-byte IDX file of
 * ndim dimensions, every size in range, the payload within
 * NDE_DATA_MAX_BYTES. */
static int idx_open(idx_file *x, const char *path, int ndim, const char *what) {
  memset(x, 0, sizeof *x);
  x->path = path;
  x->what = what;
  x->ndim = ndim;
  errno = 0;
  x->f = gzopen(path, "rb");
  if (!x->f)
    return nde_error(NDE_ERR_IO, "cannot open '%s': %s", path,
                     errno ? strerror(errno) : "zlib could not allocate its state");
  uint8_t head[16];
  const size_t hlen = 4 + 4 * (size_t)ndim;
  size_t got;
  int rc = gz_read_upto(x, head, 4, &got);
  if (rc) return rc;
  if (got < 4)
    return nde_error(NDE_ERR_FORMAT, "'%s': truncated: %zu bytes, too short for an IDX magic", path,
                     got);
  uint32_t magic = be32(head), want = 0x00000800u | (uint32_t)ndim;
  if (magic != want)
    return nde_error(NDE_ERR_FORMAT,
                     "'%s': bad magic 0x%08x, expected 0x%08x (IDX unsigned-byte %s, %d "
                     "dimension%s)",
                     path, (unsigned)magic, (unsigned)want, what, ndim, ndim > 1 ? "s" : "");
  if ((rc = gz_read_upto(x, head + 4, hlen - 4, &got))) return rc;
  if (got < hlen - 4)
    return nde_error(NDE_ERR_FORMAT, "'%s': truncated header: %zu bytes, need %zu", path, 4 + got,
                     hlen);
  size_t total = 1;
  for (int d = 0; d < ndim; d++) {
    x->dims[d] = be32(head + 4 + 4 * d);
    /* 2^31 - 1 keeps counts in an int; 2^16 is far beyond any image side. */
    uint32_t limit = d == 0 ? 0x7fffffffu : 65536u;
    if (x->dims[d] == 0 || x->dims[d] > limit)
      return nde_error(NDE_ERR_FORMAT, "'%s': wrong dimensions: size %d is %u (must be 1..%u)",
                       path, d, (unsigned)x->dims[d], (unsigned)limit);
    if ((size_t)x->dims[d] > NDE_DATA_MAX_BYTES / total)
      return nde_error(NDE_ERR_FORMAT, "'%s': wrong dimensions: payload exceeds %zu bytes", path,
                       NDE_DATA_MAX_BYTES);
    total *= x->dims[d];
  }
  x->total = total;
  return idx_check_file_size(x, hlen);
}

/* The payload into dst (x->total bytes), then proof that nothing follows:
 * at most TRAIL_PROBE more bytes are inflated, and the stream must end
 * cleanly (a damaged or cut gzip stream is an error). Closes the file. */
static int idx_read_payload(idx_file *x, uint8_t *dst) {
  size_t got;
  int rc = gz_read_upto(x, dst, x->total, &got);
  if (rc) return rc;
  if (got < x->total)
    return nde_error(NDE_ERR_FORMAT,
                     "'%s': truncated: %zu data bytes, the header announces %zu (%u %s)", x->path,
                     got, x->total, (unsigned)x->dims[0], x->what);
  uint8_t probe[TRAIL_PROBE];
  if ((rc = gz_read_upto(x, probe, sizeof probe, &got))) return rc;
  if (got == sizeof probe)
    return nde_error(NDE_ERR_FORMAT,
                     "'%s': at least %d trailing bytes after the %zu data bytes the header "
                     "announces (not read further)",
                     x->path, TRAIL_PROBE, x->total);
  if (got > 0)
    return nde_error(NDE_ERR_FORMAT,
                     "'%s': %zu trailing bytes after the %zu data bytes the header announces",
                     x->path, got, x->total);
  /* A gzip stream cut short reads as a clean end on some zlib versions and
     as an error on others; gzclose_r reports Z_BUF_ERROR in the first case. */
  int zrc = gzclose(x->f);
  x->f = NULL;
  if (zrc != Z_OK)
    return nde_error(NDE_ERR_IO, "'%s': gzip stream ends early or is corrupt (zlib code %d)",
                     x->path, zrc);
  return NDE_OK;
}

int nde_data_load_idx(const char *images_path, const char *labels_path, int num_classes,
                      nde_dataset **out) {
  static const char *where = "nde_data_load_idx";
  NDE_CHECK_NULL(out, where);
  *out = NULL;
  NDE_CHECK_NULL(images_path, where);
  NDE_CHECK_NULL(labels_path, where);
  if (num_classes < 1 || num_classes > 256)
    return nde_error(NDE_ERR_ARG, "%s: num_classes = %d must lie in [1, 256] (byte labels)", where,
                     num_classes);
  idx_file li, ii;
  memset(&ii, 0, sizeof ii);
  uint8_t *lab = NULL;
  nde_dataset *ds = NULL;
  /* Both headers first: the counts must agree before any data is read. */
  int rc = idx_open(&li, labels_path, 1, "labels");
  if (!rc) rc = idx_open(&ii, images_path, 3, "images");
  if (!rc && ii.dims[0] != li.dims[0])
    rc = nde_error(NDE_ERR_FORMAT, "'%s' holds %u images but '%s' holds %u labels", images_path,
                   (unsigned)ii.dims[0], labels_path, (unsigned)li.dims[0]);
  if (!rc)
    rc = nde_dataset_create((int)ii.dims[0], 1, (int)ii.dims[1], (int)ii.dims[2], num_classes, &ds);
  if (!rc && !(lab = malloc(li.total)))
    rc = nde_error(NDE_ERR_NOMEM, "'%s': no memory for %zu labels", labels_path, li.total);
  if (!rc) rc = idx_read_payload(&li, lab);
  if (!rc) rc = idx_read_payload(&ii, ds->pixels);
  for (uint32_t i = 0; !rc && i < li.dims[0]; i++) {
    if (lab[i] >= num_classes)
      rc = nde_error(NDE_ERR_FORMAT, "'%s': label %d of sample %u is out of range [0, %d)",
                     labels_path, lab[i], (unsigned)i, num_classes);
    else
      ds->labels[i] = lab[i];
  }
  idx_close(&li);
  idx_close(&ii);
  free(lab);
  if (rc) {
    nde_dataset_free(ds);
    return rc;
  }
  *out = ds;
  return NDE_OK;
}

/* dir/name.gz when it exists, else dir/name when that exists, else the .gz
 * name (so that the error message names the file the package installs). */
static int pick(const char *dir, const char *name, char *path, size_t cap) {
  const char *sfx[2] = {".gz", ""};
  for (int k = 0; k < 2; k++) {
    int w = snprintf(path, cap, "%s/%s%s", dir, name, sfx[k]);
    if (w < 0 || (size_t)w >= cap)
      return nde_error(NDE_ERR_ARG,
                       "nde_data_load_fashion_mnist: path too long (%zu bytes max) for '%s' in "
                       "'%s'",
                       cap - 1, name, dir);
    FILE *f = fopen(path, "rb");
    if (f) {
      fclose(f);
      return NDE_OK;
    }
  }
  snprintf(path, cap, "%s/%s.gz", dir, name);
  return NDE_OK;
}

int nde_data_load_fashion_mnist(const char *dir, int train, nde_dataset **out) {
  NDE_CHECK_NULL(out, "nde_data_load_fashion_mnist");
  *out = NULL;
  if (!dir) dir = NDE_FASHION_MNIST_DIR;
  const char *pre = train ? "train" : "t10k";
  char iname[64], lname[64], ipath[4096], lpath[4096];
  snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", pre);
  snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", pre);
  int rc = pick(dir, iname, ipath, sizeof ipath);
  if (!rc) rc = pick(dir, lname, lpath, sizeof lpath);
  if (!rc) rc = nde_data_load_idx(ipath, lpath, 10, out);
  return rc;
}
