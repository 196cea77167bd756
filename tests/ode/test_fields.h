/* User vector fields shared by the ode and adjoint runners (header-only so
 * both runners can use them). Every field acts on each sample of a batch
 * independently. */
#ifndef NDE_TESTS_ODE_FIELDS_H
#define NDE_TESTS_ODE_FIELDS_H

#include <math.h>
#include <string.h>

#include "nde/adjoint.h"

/* Scalar growth y' = lambda y (dim 1, theta = lambda). */
typedef struct tf_scalar {
  double lambda;
} tf_scalar;

static inline int tf_scalar_rhs(double t, int n, const double *y, double *ydot, void *u) {
  (void)t;
  const tf_scalar *p = u;
  for (int i = 0; i < n; i++) ydot[i] = p->lambda * y[i];
  return 0;
}
static inline int tf_scalar_vjp(double t, int n, const double *y, const double *a, double *ja,
                                double *g, void *u) {
  (void)t;
  const tf_scalar *p = u;
  for (int i = 0; i < n; i++) {
    ja[i] = p->lambda * a[i];
    if (g) g[0] += y[i] * a[i];
  }
  return 0;
}

/* Harmonic oscillator x' = v, v' = -w^2 x (dim 2, theta = w). */
typedef struct tf_osc {
  double w;
} tf_osc;

static inline int tf_osc_rhs(double t, int n, const double *y, double *ydot, void *u) {
  (void)t;
  const tf_osc *p = u;
  for (int i = 0; i < n; i++) {
    ydot[2 * i] = y[2 * i + 1];
    ydot[2 * i + 1] = -p->w * p->w * y[2 * i];
  }
  return 0;
}

/* Time-dependent y' = cos(t) y, y(t) = y0 exp(sin t - sin t0) (dim 1). */
static inline int tf_cos_rhs(double t, int n, const double *y, double *ydot, void *u) {
  (void)u;
  for (int i = 0; i < n; i++) ydot[i] = cos(t) * y[i];
  return 0;
}

/* Nonlinear field f(y) = tanh(A y + b) - c y on dim d <= 8, theta = (A
 * row-major, b): np = d^2 + d. vjp with z = A y + b, s = 1 - tanh(z)^2,
 * u = s a: ja = A^T u - c a, gA += u y^T, gb += u; jvp: s (A v) - c v. */
typedef struct tf_tanh {
  int d;
  double c;
  double theta[72];
  int fail_rhs_after; /* > 0: rhs returns fail_code for t >= fail_t after this many calls */
  int fail_code;
  double fail_t;
  int fail_vjp;       /* != 0: vjp returns it */
  long calls;
} tf_tanh;

static inline void tf_tanh_z(const tf_tanh *p, const double *y, double *z) {
  for (int r = 0; r < p->d; r++) {
    double s = p->theta[p->d * p->d + r];
    for (int c = 0; c < p->d; c++) s += p->theta[r * p->d + c] * y[c];
    z[r] = s;
  }
}

static inline int tf_tanh_rhs(double t, int n, const double *y, double *ydot, void *u) {
  tf_tanh *p = u;
  p->calls++;
  if (p->fail_rhs_after > 0 && p->calls >= p->fail_rhs_after && t >= p->fail_t)
    return p->fail_code;
  double z[8];
  for (int i = 0; i < n; i++) {
    const double *yi = y + i * p->d;
    tf_tanh_z(p, yi, z);
    for (int r = 0; r < p->d; r++) ydot[i * p->d + r] = tanh(z[r]) - p->c * yi[r];
  }
  return 0;
}

static inline int tf_tanh_vjp(double t, int n, const double *y, const double *a, double *ja,
                              double *g, void *u) {
  (void)t;
  tf_tanh *p = u;
  if (p->fail_vjp) return p->fail_vjp;
  int d = p->d;
  double z[8], w[8];
  for (int i = 0; i < n; i++) {
    const double *yi = y + i * d, *ai = a + i * d;
    tf_tanh_z(p, yi, z);
    for (int r = 0; r < d; r++) {
      double th = tanh(z[r]);
      w[r] = (1 - th * th) * ai[r];
    }
    for (int c = 0; c < d; c++) {
      double s = -p->c * ai[c];
      for (int r = 0; r < d; r++) s += p->theta[r * d + c] * w[r];
      ja[i * d + c] = s;
    }
    if (g) {
      for (int r = 0; r < d; r++) {
        for (int c = 0; c < d; c++) g[r * d + c] += w[r] * yi[c];
        g[d * d + r] += w[r];
      }
    }
  }
  return 0;
}

static inline int tf_tanh_jvp(double t, int n, const double *y, const double *v, double *jv,
                              void *u) {
  (void)t;
  tf_tanh *p = u;
  int d = p->d;
  double z[8];
  for (int i = 0; i < n; i++) {
    const double *yi = y + i * d, *vi = v + i * d;
    tf_tanh_z(p, yi, z);
    for (int r = 0; r < d; r++) {
      double th = tanh(z[r]), s = 0;
      for (int c = 0; c < d; c++) s += p->theta[r * d + c] * vi[c];
      jv[i * d + r] = (1 - th * th) * s - p->c * vi[r];
    }
  }
  return 0;
}

/* Contracting field y' = -k (y - tanh(W y + b)) (docs/methods.md section 3: the hard case for
 * the backsolve), dim d <= 8, theta = (W row-major, b): np = d^2 + d. The
 * bias keeps the attracting fixed point away from 0, so dL/dtheta stays
 * O(1) while dL/dy0 ~ e^{-k T}. */
typedef struct tf_contract {
  int d;
  double k;
  double theta[72];
} tf_contract;

static inline void tf_contract_z(const tf_contract *p, const double *y, double *z) {
  int d = p->d;
  for (int r = 0; r < d; r++) {
    double s = p->theta[d * d + r];
    for (int c = 0; c < d; c++) s += p->theta[r * d + c] * y[c];
    z[r] = s;
  }
}

static inline int tf_contract_rhs(double t, int n, const double *y, double *ydot, void *u) {
  (void)t;
  const tf_contract *p = u;
  int d = p->d;
  double z[8];
  for (int i = 0; i < n; i++) {
    tf_contract_z(p, y + i * d, z);
    for (int r = 0; r < d; r++) ydot[i * d + r] = -p->k * (y[i * d + r] - tanh(z[r]));
  }
  return 0;
}

/* f = -k y + k tanh(z), z = W y + b, s = k (1 - tanh(z)^2) a:
 * ja = -k a + W^T s, gW += s y^T, gb += s. */
static inline int tf_contract_vjp(double t, int n, const double *y, const double *a, double *ja,
                                  double *g, void *u) {
  (void)t;
  const tf_contract *p = u;
  int d = p->d;
  double z[8], w[8];
  for (int i = 0; i < n; i++) {
    const double *yi = y + i * d, *ai = a + i * d;
    tf_contract_z(p, yi, z);
    for (int r = 0; r < d; r++) {
      double th = tanh(z[r]);
      w[r] = p->k * (1 - th * th) * ai[r];
    }
    for (int c = 0; c < d; c++) {
      double s = -p->k * ai[c];
      for (int r = 0; r < d; r++) s += p->theta[r * d + c] * w[r];
      ja[i * d + c] = s;
    }
    if (g)
      for (int r = 0; r < d; r++) {
        for (int c = 0; c < d; c++) g[r * d + c] += w[r] * yi[c];
        g[d * d + r] += w[r];
      }
  }
  return 0;
}

#endif
