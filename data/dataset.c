/* Datasets in memory: creation, per-channel statistics and conversion of one
 * sample to normalized nde_real. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_impl.h"
#include "data/data_impl.h"

int nde_dataset_create(int n, int c, int h, int w, int num_classes, nde_dataset **out) {
  NDE_CHECK_NULL(out, "nde_dataset_create");
  *out = NULL;
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || num_classes <= 0)
    return nde_error(NDE_ERR_ARG,
                     "nde_dataset_create: n = %d, shape (%d, %d, %d) and num_classes = %d must "
                     "all be >= 1",
                     n, c, h, w, num_classes);
  size_t per = (size_t)c * h * w;
  if (per > NDE_DATA_MAX_BYTES / (size_t)n)
    return nde_error(NDE_ERR_ARG, "nde_dataset_create: %d samples of %zu bytes exceed 16 GiB", n,
                     per);
  nde_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) return nde_error(NDE_ERR_NOMEM, "nde_dataset_create: no memory");
  ds->n = n;
  ds->c = c;
  ds->h = h;
  ds->w = w;
  ds->num_classes = num_classes;
  ds->pixels = calloc(per * (size_t)n, 1);
  ds->labels = calloc((size_t)n, sizeof *ds->labels);
  if (!ds->pixels || !ds->labels) {
    nde_dataset_free(ds);
    return nde_error(NDE_ERR_NOMEM, "nde_dataset_create: no memory for %d samples of %zu bytes", n,
                     per);
  }
  *out = ds;
  return NDE_OK;
}

void nde_dataset_free(nde_dataset *ds) {
  if (!ds) return;
  free(ds->pixels);
  free(ds->labels);
  free(ds->coarse);
  free(ds);
}

int nde_data_channel_stats(const nde_dataset *ds, double *mean, double *std) {
  NDE_CHECK_NULL(ds, "nde_data_channel_stats");
  NDE_CHECK_NULL(mean, "nde_data_channel_stats");
  NDE_CHECK_NULL(std, "nde_data_channel_stats");
  size_t plane = (size_t)ds->h * ds->w, per = (size_t)ds->c * plane;
  /* A byte histogram per channel makes the sums exact whatever the set size. */
  for (int k = 0; k < ds->c; k++) {
    uint64_t hist[256] = {0};
    for (int i = 0; i < ds->n; i++) {
      const uint8_t *p = ds->pixels + (size_t)i * per + (size_t)k * plane;
      for (size_t q = 0; q < plane; q++) hist[p[q]]++;
    }
    double count = (double)plane * ds->n, m = 0;
    for (int v = 0; v < 256; v++) m += (double)hist[v] * (v / 255.0);
    m /= count;
    double var = 0;
    for (int v = 0; v < 256; v++) {
      double d = v / 255.0 - m;
      var += (double)hist[v] * d * d;
    }
    mean[k] = m;
    std[k] = sqrt(var / count);
  }
  return NDE_OK;
}

int data_check_norm(int c, const double *mean, const double *std, const char *where) {
  if ((mean == NULL) != (std == NULL))
    return nde_error(NDE_ERR_ARG, "%s: give both mean and std or neither", where);
  if (!mean) return NDE_OK;
  for (int k = 0; k < c; k++)
    if (!isfinite(mean[k]) || !isfinite(std[k]) || !(std[k] > 0))
      return nde_error(NDE_ERR_ARG, "%s: channel %d has mean %g, std %g (std must be > 0)", where,
                       k, mean[k], std[k]);
  return NDE_OK;
}

int nde_data_get(const nde_dataset *ds, int i, const double *mean, const double *std,
                 nde_real *out) {
  static const char *where = "nde_data_get";
  NDE_CHECK_NULL(ds, where);
  NDE_CHECK_NULL(out, where);
  if (i < 0 || i >= ds->n)
    return nde_error(NDE_ERR_ARG, "%s: sample %d outside [0, %d)", where, i, ds->n);
  int rc = data_check_norm(ds->c, mean, std, where);
  if (rc) return rc;
  size_t plane = (size_t)ds->h * ds->w;
  const uint8_t *p = ds->pixels + (size_t)i * ds->c * plane;
  for (int k = 0; k < ds->c; k++) {
    double sh = mean ? mean[k] : 0, sc = mean ? 1.0 / std[k] : 1.0;
    for (size_t q = 0; q < plane; q++)
      out[(size_t)k * plane + q] = (nde_real)((p[(size_t)k * plane + q] / 255.0 - sh) * sc);
  }
  return NDE_OK;
}
