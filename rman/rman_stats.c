/* Attractor statistics of the RMAN paper: effective attractors and their Gram
 * matrix (Table 2, Figure 4 colours), average attraction strength per
 * attractor and per pair (Figure 4 radii; pair definition in nde/rman.h),
 * the fraction of solely attracted outputs (section 4.3) and the mean norm of
 * the pooled outputs (Figure 3b). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_impl.h"
#include "rman/rman_impl.h"

int nde_rman_stats_create(int c, int h, const nde_rman_options *opts, nde_rman_stats **out) {
  NDE_CHECK_NULL(out, "nde_rman_stats_create");
  *out = NULL;
  if (c <= 0 || h <= 0)
    return nde_error(NDE_ERR_ARG, "nde_rman_stats_create: c = %d and h = %d must be >= 1", c, h);
  nde_rman_options o = opts ? *opts : nde_rman_options_default();
  int rc = rman_check_options(&o, "nde_rman_stats_create");
  if (rc) return rc;
  nde_rman_stats *st = calloc(1, sizeof *st);
  if (!st) return nde_error(NDE_ERR_NOMEM, "nde_rman_stats_create: no memory");
  st->c = c;
  st->h = h;
  st->opts_ = o;
  size_t hh = (size_t)h * h;
  st->effective = calloc((size_t)h, sizeof *st->effective);
  st->norm2 = calloc((size_t)h, sizeof *st->norm2);
  st->gram = calloc(hh, sizeof *st->gram);
  st->strength = calloc((size_t)h, sizeof *st->strength);
  st->pair_strength = calloc(hh, sizeof *st->pair_strength);
  st->pair_fraction = calloc(hh, sizeof *st->pair_fraction);
  st->sum_a_ = calloc((size_t)h, sizeof *st->sum_a_);
  st->sum_pair_ = calloc(hh, sizeof *st->sum_pair_);
  st->count_pair_ = calloc(hh, sizeof *st->count_pair_);
  /* x (c), m (h*c), s (h), a (h), g (c) */
  st->scratch_ = malloc(((size_t)2 * c + (size_t)h * c + 2 * (size_t)h) * sizeof *st->scratch_);
  if (!st->effective || !st->norm2 || !st->gram || !st->strength || !st->pair_strength ||
      !st->pair_fraction || !st->sum_a_ || !st->sum_pair_ || !st->count_pair_ || !st->scratch_) {
    nde_rman_stats_free(st);
    return nde_error(NDE_ERR_NOMEM, "nde_rman_stats_create: no memory for h = %d, c = %d", h, c);
  }
  *out = st;
  return NDE_OK;
}

void nde_rman_stats_free(nde_rman_stats *st) {
  if (!st) return;
  free(st->effective);
  free(st->norm2);
  free(st->gram);
  free(st->strength);
  free(st->pair_strength);
  free(st->pair_fraction);
  free(st->sum_a_);
  free(st->sum_pair_);
  free(st->count_pair_);
  free(st->scratch_);
  free(st);
}

void nde_rman_stats_reset(nde_rman_stats *st) {
  if (!st) return;
  size_t h = (size_t)st->h, hh = h * h;
  st->n = st->n_empty = st->n_solely = 0;
  st->solely_fraction = st->norm_mean = st->norm_std = 0;
  st->norm_m2_ = 0;
  memset(st->strength, 0, h * sizeof *st->strength);
  memset(st->sum_a_, 0, h * sizeof *st->sum_a_);
  memset(st->pair_strength, 0, hh * sizeof *st->pair_strength);
  memset(st->pair_fraction, 0, hh * sizeof *st->pair_fraction);
  memset(st->sum_pair_, 0, hh * sizeof *st->sum_pair_);
  memset(st->count_pair_, 0, hh * sizeof *st->count_pair_);
}

int nde_rman_stats_set_attractors(nde_rman_stats *st, const nde_real *m) {
  static const char *where = "nde_rman_stats_set_attractors";
  NDE_CHECK_NULL(st, where);
  NDE_CHECK_NULL(m, where);
  const int c = st->c, h = st->h;
  double *md = st->scratch_ + 2 * (size_t)c;
  int rc = rman_to_double(m, (size_t)h * c, md, where, "m");
  if (rc) return rc;
  for (int i = 0; i < h; i++)
    for (int j = 0; j <= i; j++) {
      double d = 0;
      for (int k = 0; k < c; k++) d += md[(size_t)i * c + k] * md[(size_t)j * c + k];
      st->gram[(size_t)i * h + j] = st->gram[(size_t)j * h + i] = d;
    }
  st->n_effective = 0;
  for (int j = 0; j < h; j++) {
    st->norm2[j] = st->gram[(size_t)j * h + j];
    if (st->norm2[j] > st->opts_.effective_threshold) st->effective[st->n_effective++] = j;
  }
  for (int j = st->n_effective; j < h; j++) st->effective[j] = -1;
  return NDE_OK;
}

int nde_rman_stats_add(nde_rman_stats *st, int n, const nde_real *x, const nde_real *m) {
  static const char *where = "nde_rman_stats_add";
  NDE_CHECK_NULL(st, where);
  NDE_CHECK_NULL(x, where);
  NDE_CHECK_NULL(m, where);
  if (n <= 0) return nde_error(NDE_ERR_BATCH, "%s: batch size n = %d must be >= 1", where, n);
  const int c = st->c, h = st->h;
  double *xd = st->scratch_, *g = xd + c, *md = g + c, *s = md + (size_t)h * c, *a = s + h;
  int rc = rman_to_double(m, (size_t)h * c, md, where, "m");
  if (rc) return rc;
  /* Validate all of x first so that a failure leaves the running sums as they were. */
  for (size_t q = 0; q < (size_t)n * c; q++)
    if (!isfinite((double)x[q]))
      return nde_error(NDE_ERR_NONFINITE, "%s: x[%zu] (sample %zu) = %g is not finite", where, q,
                       q / (size_t)c, (double)x[q]);

  for (int i = 0; i < n; i++) {
    double nrm2 = 0;
    for (int k = 0; k < c; k++) {
      xd[k] = (double)x[(size_t)i * c + k];
      nrm2 += xd[k] * xd[k];
    }
    /* Welford's update of the mean and squared deviations of ||x||: no
       cancellation when the spread is small against the mean. */
    st->n++;
    double nrm = sqrt(nrm2), d = nrm - st->norm_mean;
    st->norm_mean += d / (double)st->n;
    st->norm_m2_ += d * (nrm - st->norm_mean);
    double S = rman_assign(c, h, md, xd, s, a, g);
    if (S == 0) {
      st->n_empty++;
      continue;
    }
    /* strongest (j1) and second strongest active (j2) attractors */
    int j1 = -1, j2 = -1;
    for (int j = 0; j < h; j++) {
      st->sum_a_[j] += a[j];
      if (a[j] <= 0) continue;
      if (j1 < 0 || a[j] > a[j1]) {
        j2 = j1;
        j1 = j;
      } else if (j2 < 0 || a[j] > a[j2]) {
        j2 = j;
      }
    }
    if (a[j1] > st->opts_.solely_threshold) st->n_solely++;
    st->count_pair_[(size_t)j1 * h + j1]++;
    if (j2 >= 0) {
      double v = a[j1] + a[j2];
      st->sum_pair_[(size_t)j1 * h + j2] += v;
      st->sum_pair_[(size_t)j2 * h + j1] += v;
      st->count_pair_[(size_t)j1 * h + j2]++;
      st->count_pair_[(size_t)j2 * h + j1]++;
    }
  }

  /* Refresh the means over everything added so far. */
  const double inv = 1.0 / (double)st->n;
  for (int i = 0; i < h; i++) {
    st->strength[i] = st->sum_a_[i] * inv;
    for (int j = 0; j < h; j++) {
      size_t q = (size_t)i * h + j;
      st->pair_strength[q] = i == j ? st->strength[i] : st->sum_pair_[q] * inv;
      st->pair_fraction[q] = (double)st->count_pair_[q] * inv;
    }
  }
  st->solely_fraction = (double)st->n_solely * inv;
  st->norm_std = sqrt(st->norm_m2_ * inv);
  return NDE_OK;
}
