/* IDX files (MNIST, Fashion-MNIST): magic 0x0000 08 D (unsigned bytes, D
 * dimensions), D big-endian uint32 sizes, then the bytes. Images are D = 3
 * (n, rows, cols), labels D = 1 (n). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_impl.h"
#include "data/data_impl.h"

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Check the header of an IDX file of ndim dimensions held in buf[0..len) and
 * return its sizes in dims; the payload must be exactly their product. */
static int parse_header(const char *path, const uint8_t *buf, size_t len, int ndim,
                        const char *what, uint32_t *dims) {
  size_t head = 4 + 4 * (size_t)ndim;
  if (len < 4)
    return nde_error(NDE_ERR_FORMAT, "'%s': truncated: %zu bytes, too short for an IDX magic", path,
                     len);
  uint32_t magic = be32(buf), want = 0x00000800u | (uint32_t)ndim;
  if (magic != want)
    return nde_error(NDE_ERR_FORMAT,
                     "'%s': bad magic 0x%08x, expected 0x%08x (IDX unsigned-byte %s, %d "
                     "dimension%s)",
                     path, (unsigned)magic, (unsigned)want, what, ndim, ndim > 1 ? "s" : "");
  if (len < head)
    return nde_error(NDE_ERR_FORMAT, "'%s': truncated header: %zu bytes, need %zu", path, len,
                     head);
  size_t total = 1;
  for (int d = 0; d < ndim; d++) {
    dims[d] = be32(buf + 4 + 4 * d);
    /* 2^31 - 1 keeps counts in an int; 2^16 is far beyond any image side. */
    uint32_t limit = d == 0 ? 0x7fffffffu : 65536u;
    if (dims[d] == 0 || dims[d] > limit)
      return nde_error(NDE_ERR_FORMAT, "'%s': wrong dimensions: size %d is %u (must be 1..%u)",
                       path, d, (unsigned)dims[d], (unsigned)limit);
    if ((size_t)dims[d] > NDE_DATA_MAX_BYTES / total)
      return nde_error(NDE_ERR_FORMAT, "'%s': wrong dimensions: payload exceeds %zu bytes", path,
                       NDE_DATA_MAX_BYTES);
    total *= dims[d];
  }
  if (len - head < total)
    return nde_error(NDE_ERR_FORMAT,
                     "'%s': truncated: %zu data bytes, the header announces %zu (%u %s)", path,
                     len - head, total, (unsigned)dims[0], what);
  if (len - head > total)
    return nde_error(NDE_ERR_FORMAT,
                     "'%s': %zu trailing bytes after the %zu data bytes the header announces", path,
                     len - head - total, total);
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
  uint8_t *ib = NULL, *lb = NULL;
  size_t il = 0, ll = 0;
  uint32_t idims[3] = {0, 0, 0}, ldims[1] = {0};
  nde_dataset *ds = NULL;
  int rc;
  if ((rc = data_read_all(labels_path, &lb, &ll))) goto done;
  if ((rc = parse_header(labels_path, lb, ll, 1, "labels", ldims))) goto done;
  if ((rc = data_read_all(images_path, &ib, &il))) goto done;
  if ((rc = parse_header(images_path, ib, il, 3, "images", idims))) goto done;
  if (idims[0] != ldims[0]) {
    rc = nde_error(NDE_ERR_FORMAT, "'%s' holds %u images but '%s' holds %u labels", images_path,
                   (unsigned)idims[0], labels_path, (unsigned)ldims[0]);
    goto done;
  }
  const uint8_t *lab = lb + 8;
  for (uint32_t i = 0; i < ldims[0]; i++)
    if (lab[i] >= num_classes) {
      rc = nde_error(NDE_ERR_FORMAT, "'%s': label %d of sample %u is out of range [0, %d)",
                     labels_path, lab[i], (unsigned)i, num_classes);
      goto done;
    }
  if ((rc = nde_dataset_create((int)idims[0], 1, (int)idims[1], (int)idims[2], num_classes, &ds)))
    goto done;
  memcpy(ds->pixels, ib + 16, (size_t)idims[0] * idims[1] * idims[2]);
  for (uint32_t i = 0; i < ldims[0]; i++) ds->labels[i] = lab[i];
done:
  free(ib);
  free(lb);
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
