/* Private to nets/: reductions in double shared by GroupNorm and BatchNorm.
 * Four independent accumulators: the compiler may not reassociate
 * floating-point additions, so a single accumulator is one serial chain
 * bound by the add latency; four chains run about 4x faster and their
 * rounding error grows no faster. */
#ifndef NDE_NETS_REDUCE_IMPL_H
#define NDE_NETS_REDUCE_IMPL_H

#include <stddef.h>

#include "nde/common.h"

static inline double sum4(const nde_real *x, size_t m) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  size_t j = 0;
  for (; j + 4 <= m; j += 4) {
    a0 += x[j];
    a1 += x[j + 1];
    a2 += x[j + 2];
    a3 += x[j + 3];
  }
  for (; j < m; j++) a0 += x[j];
  return (a0 + a1) + (a2 + a3);
}

/* sum (x - mu)^2 */
static inline double sqdev4(const nde_real *x, size_t m, double mu) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  size_t j = 0;
  for (; j + 4 <= m; j += 4) {
    const double d0 = x[j] - mu, d1 = x[j + 1] - mu, d2 = x[j + 2] - mu, d3 = x[j + 3] - mu;
    a0 += d0 * d0;
    a1 += d1 * d1;
    a2 += d2 * d2;
    a3 += d3 * d3;
  }
  for (; j < m; j++) a0 += (x[j] - mu) * (x[j] - mu);
  return (a0 + a1) + (a2 + a3);
}

/* *s = sum dy, *sd = sum dy (x - mu) */
static inline void dydev4(const nde_real *dy, const nde_real *x, size_t m, double mu, double *s,
                   double *sd) {
  double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  size_t j = 0;
  for (; j + 2 <= m; j += 2) {
    a0 += dy[j];
    a1 += dy[j + 1];
    b0 += dy[j] * (x[j] - mu);
    b1 += dy[j + 1] * (x[j + 1] - mu);
  }
  for (; j < m; j++) {
    a0 += dy[j];
    b0 += dy[j] * (x[j] - mu);
  }
  *s = a0 + a1;
  *sd = b0 + b1;
}

#endif
