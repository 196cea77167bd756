/* Private to nets/: reductions shared by GroupNorm and BatchNorm.
 *
 * Eight independent partial sums in the network's scalar type, added in
 * double at the end. The compiler may not reassociate floating-point
 * additions, so a single accumulator is one serial chain bound by the add
 * latency; written as a lane array the loop becomes vector arithmetic
 * (two 4-float SSE registers). The sums are over one GroupNorm group
 * (72 values in the ODE function) or one BatchNorm plane (at most 784), so
 * each lane adds at most ~100 terms: in float a relative error of ~1e-5 at
 * worst, below float's resolution of the normalized output. A GroupNorm
 * forward over an ODE-Net batch (295k floats) took 0.35 ms with four
 * double accumulators and 0.16 ms like this (one thread, same results to
 * 2e-7 relative). */
#ifndef NDE_NETS_REDUCE_IMPL_H
#define NDE_NETS_REDUCE_IMPL_H

#include <stddef.h>

#include "nde/common.h"

enum { NDE_RED_LANES = 8 };

static inline double lanes_total(const nde_real *a) {
  return (((double)a[0] + a[1]) + ((double)a[2] + a[3])) +
         (((double)a[4] + a[5]) + ((double)a[6] + a[7]));
}

/* sum x */
static inline double sum4(const nde_real *x, size_t m) {
  nde_real a[NDE_RED_LANES] = {0};
  size_t j = 0;
  for (; j + NDE_RED_LANES <= m; j += NDE_RED_LANES)
    for (int l = 0; l < NDE_RED_LANES; l++) a[l] += x[j + l];
  double s = lanes_total(a);
  for (; j < m; j++) s += x[j];
  return s;
}

/* sum (x - mu)^2, with mu rounded to nde_real (two passes, mean first,
 * so no E[x^2] - E[x]^2 cancellation) */
static inline double sqdev4(const nde_real *x, size_t m, double mu_) {
  const nde_real mu = (nde_real)mu_;
  nde_real a[NDE_RED_LANES] = {0};
  size_t j = 0;
  for (; j + NDE_RED_LANES <= m; j += NDE_RED_LANES)
    for (int l = 0; l < NDE_RED_LANES; l++) {
      const nde_real d = x[j + l] - mu;
      a[l] += d * d;
    }
  double s = lanes_total(a);
  for (; j < m; j++) s += ((double)x[j] - mu) * ((double)x[j] - mu);
  return s;
}

/* *s = sum dy, *sd = sum dy (x - mu) */
static inline void dydev4(const nde_real *dy, const nde_real *x, size_t m, double mu_, double *s,
                          double *sd) {
  const nde_real mu = (nde_real)mu_;
  nde_real a[NDE_RED_LANES] = {0}, b[NDE_RED_LANES] = {0};
  size_t j = 0;
  for (; j + NDE_RED_LANES <= m; j += NDE_RED_LANES)
    for (int l = 0; l < NDE_RED_LANES; l++) {
      a[l] += dy[j + l];
      b[l] += dy[j + l] * (x[j + l] - mu);
    }
  double s0 = lanes_total(a), s1 = lanes_total(b);
  for (; j < m; j++) {
    s0 += dy[j];
    s1 += (double)dy[j] * ((double)x[j] - mu);
  }
  *s = s0;
  *sd = s1;
}

#endif
