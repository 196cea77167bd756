/* CIFAR-10/100 binary version: fixed-size records, label byte(s) then the
 * 32x32 image as three 1024-byte colour planes (already CHW). */
#include <stdlib.h>
#include <string.h>

#include "common/error_impl.h"
#include "data/data_impl.h"

enum { CIFAR_SIDE = 32, CIFAR_PIXELS = 3 * 32 * 32 };

int nde_data_load_cifar(const char *const *paths, int npaths, int cifar100, nde_dataset **out) {
  static const char *where = "nde_data_load_cifar";
  NDE_CHECK_NULL(out, where);
  *out = NULL;
  NDE_CHECK_NULL(paths, where);
  if (npaths < 1) return nde_error(NDE_ERR_ARG, "%s: npaths = %d must be >= 1", where, npaths);
  for (int f = 0; f < npaths; f++)
    if (!paths[f]) return nde_error(NDE_ERR_NULL, "%s: paths[%d] is NULL", where, f);
  const size_t nlab = cifar100 ? 2 : 1, rec = nlab + CIFAR_PIXELS;
  const int nfine = cifar100 ? 100 : 10;

  nde_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) return nde_error(NDE_ERR_NOMEM, "%s: no memory", where);
  ds->c = 3;
  ds->h = ds->w = CIFAR_SIDE;
  ds->num_classes = nfine;
  uint8_t *buf = NULL;
  int rc = NDE_OK;
  for (int f = 0; f < npaths; f++) {
    size_t len;
    if ((rc = data_read_all(paths[f], &buf, &len))) goto fail;
    if (len == 0 || len % rec != 0) {
      rc = nde_error(NDE_ERR_FORMAT,
                     "'%s': truncated or not CIFAR-%d: %zu bytes is not a positive multiple of "
                     "the %zu-byte record",
                     paths[f], cifar100 ? 100 : 10, len, rec);
      goto fail;
    }
    size_t k = len / rec;
    if (k > (size_t)(0x7fffffff - ds->n)) {
      rc =
          nde_error(NDE_ERR_FORMAT, "'%s': too many records in all (more than 2^31 - 1)", paths[f]);
      goto fail;
    }
    for (size_t r = 0; r < k; r++) {
      const uint8_t *p = buf + r * rec;
      if (cifar100 && p[0] >= 20) {
        rc = nde_error(NDE_ERR_FORMAT, "'%s': record %zu has coarse label %d out of range [0, 20)",
                       paths[f], r, p[0]);
        goto fail;
      }
      if (p[nlab - 1] >= nfine) {
        rc = nde_error(NDE_ERR_FORMAT, "'%s': record %zu has label %d out of range [0, %d)",
                       paths[f], r, p[nlab - 1], nfine);
        goto fail;
      }
    }
    size_t n0 = (size_t)ds->n, n1 = n0 + k;
    uint8_t *px = realloc(ds->pixels, n1 * CIFAR_PIXELS);
    if (px) ds->pixels = px;
    int *lb = realloc(ds->labels, n1 * sizeof *lb);
    if (lb) ds->labels = lb;
    int *co = NULL;
    if (cifar100) {
      co = realloc(ds->coarse, n1 * sizeof *co);
      if (co) ds->coarse = co;
    }
    if (!px || !lb || (cifar100 && !co)) {
      rc = nde_error(NDE_ERR_NOMEM, "'%s': no memory for %zu images", paths[f], n1);
      goto fail;
    }
    for (size_t r = 0; r < k; r++) {
      const uint8_t *p = buf + r * rec;
      memcpy(ds->pixels + (n0 + r) * CIFAR_PIXELS, p + nlab, CIFAR_PIXELS);
      ds->labels[n0 + r] = p[nlab - 1];
      if (cifar100) ds->coarse[n0 + r] = p[0];
    }
    ds->n = (int)n1;
    free(buf);
    buf = NULL;
  }
  *out = ds;
  return NDE_OK;
fail:
  free(buf);
  nde_dataset_free(ds);
  return rc;
}
