/* Spectral parametrization (Zhang et al. 2018): W = U[:, :k] diag(s) V[:k, :]
 * with U = H(u_1) ... H(u_R), V = H(v_1) ... H(v_C), H(u) = I - 2 u u^T / (u^T u)
 * (exactly orthogonal), s_j = smax - (smax - smin) sigmoid(p_j);
 * theta = [u_1 .. u_R | v_1 .. v_C | p].
 *
 * Gradient through a product Q = H_1 ... H_m with dL/dQ = G: writing
 * Q = P_i H_i S_i (P_i = H_1..H_{i-1}, S_i = H_{i+1}..H_m),
 *   dL/dH_i = M_i = A_i S_i^T,  A_i = P_i^T G,
 * and for H(u) with r = u^T u,
 *   dL/du = -(2/r)(M + M^T) u + (4/r^2)(u^T M u) u.
 * Since each H is symmetric and an involution, A_{i+1} = H_i A_i and
 * A_i = H_i A_{i+1}; S_{i-1} = H_i S_i. So one forward pass forms A_m, and
 * one backward pass walks i = m..1 updating A and S by rank-one
 * reflections: O(m n^2) time, two n x n buffers, and M_i u = A_i (S_i^T u),
 * M_i^T u = S_i (A_i^T u) never form M_i. */
#include <string.h>

#include "stability/stability_impl.h"

/* Q <- Q H(u) (right), Q: n x n. */
static void reflect_right(double *Q, int n, const double *u, double r, double *tmp) {
  for (int i = 0; i < n; i++) {
    double d = 0;
    for (int j = 0; j < n; j++) d += Q[i * n + j] * u[j];
    tmp[i] = d;
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) Q[i * n + j] -= 2 / r * tmp[i] * u[j];
}

/* A <- H(u) A (left), A: n x n. */
static void reflect_left(double *A, int n, const double *u, double r, double *tmp) {
  for (int j = 0; j < n; j++) {
    double d = 0;
    for (int i = 0; i < n; i++) d += u[i] * A[i * n + j];
    tmp[j] = d;
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) A[i * n + j] -= 2 / r * u[i] * tmp[j];
}

/* Reflector i of a set stored as nde_real rows, converted to double in u. */
static int load(const nde_real *t, int n, int i, double *u, double *r) {
  double s = 0;
  for (int j = 0; j < n; j++) {
    u[j] = t[(size_t)i * n + j];
    s += u[j] * u[j];
  }
  *r = s;
  return s > 0 && isfinite(s);
}

static int product(const nde_real *t, int n, double *Q, double *u, double *tmp, const char *which) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) Q[i * n + j] = i == j;
  for (int i = 0; i < n; i++) {
    double r;
    if (!load(t, n, i, u, &r))
      return nde_error(NDE_ERR_NUMERIC,
                       "spectral parametrization: Householder vector %s_%d is zero or not finite",
                       which, i + 1);
    reflect_right(Q, n, u, r, tmp);
  }
  return NDE_OK;
}

int nde_wparam_spectral_weight(nde_wparam *w, const nde_real *theta) {
  const int R = w->rows, C = w->cols, k = w->k;
  const nde_real *tu = theta, *tv = theta + (size_t)R * R, *tp = tv + (size_t)C * C;
  int rc = product(tu, R, w->U, w->va, w->vb, "u");
  if (!rc) rc = product(tv, C, w->V, w->va, w->vb, "v");
  if (rc) return rc;
  for (int j = 0; j < k; j++) w->s[j] = nde_stab_bounded(w->smin, w->smax, tp[j], &w->ds[j]);
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) {
      double acc = 0;
      for (int j = 0; j < k; j++) acc += w->U[r * R + j] * w->s[j] * w->V[j * C + c];
      w->Wd[r * C + c] = acc;
    }
  return NDE_OK;
}

/* dt (n reflectors of length n) += gradient of the product given dQ. */
static void product_vjp(const nde_real *t, int n, const double *dQ, double *A, double *S, double *u,
                        double *t1, double *t2, nde_real *dt) {
  memcpy(A, dQ, (size_t)n * n * sizeof(double));
  double r;
  for (int i = 0; i < n - 1; i++) { /* A_n = H_{n-1} ... H_1 dQ */
    load(t, n, i, u, &r);
    reflect_left(A, n, u, r, t1);
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) S[i * n + j] = i == j;
  for (int i = n - 1; i >= 0; i--) {
    load(t, n, i, u, &r);
    /* Mu = A (S^T u), MTu = S (A^T u), uMu = u . Mu */
    for (int j = 0; j < n; j++) {
      double a = 0, b = 0;
      for (int q = 0; q < n; q++) {
        a += S[q * n + j] * u[q];
        b += A[q * n + j] * u[q];
      }
      t1[j] = a;
      t2[j] = b;
    }
    double uMu = 0;
    for (int q = 0; q < n; q++) {
      double Mu = 0, MTu = 0;
      for (int j = 0; j < n; j++) {
        Mu += A[q * n + j] * t1[j];
        MTu += S[q * n + j] * t2[j];
      }
      uMu += u[q] * Mu;
      dt[(size_t)i * n + q] += (nde_real)(-2 / r * (Mu + MTu));
    }
    for (int q = 0; q < n; q++) dt[(size_t)i * n + q] += (nde_real)(4 / (r * r) * uMu * u[q]);
    if (i == 0) break;
    reflect_left(S, n, u, r, t1); /* S_{i-1} = H_i S_i */
    double r2;
    load(t, n, i - 1, u, &r2);
    reflect_left(A, n, u, r2, t1); /* A_{i-1} = H_{i-1} A_i */
  }
}

int nde_wparam_spectral_vjp(nde_wparam *w, const nde_real *theta, nde_real *dtheta) {
  int rc = nde_wparam_spectral_weight(w, theta);
  if (rc) return rc;
  const int R = w->rows, C = w->cols, k = w->k;
  const double *G = w->Gd;
  memset(w->dU, 0, (size_t)R * R * sizeof(double));
  memset(w->dV, 0, (size_t)C * C * sizeof(double));
  nde_real *dp = dtheta + (size_t)R * R + (size_t)C * C;
  for (int j = 0; j < k; j++) {
    double dsj = 0;
    for (int r = 0; r < R; r++) {
      double acc = 0;
      for (int c = 0; c < C; c++) acc += G[r * C + c] * w->V[j * C + c];
      w->dU[r * R + j] = w->s[j] * acc;
      dsj += w->U[r * R + j] * acc;
    }
    for (int c = 0; c < C; c++) {
      double acc = 0;
      for (int r = 0; r < R; r++) acc += w->U[r * R + j] * G[r * C + c];
      w->dV[j * C + c] = w->s[j] * acc;
    }
    dp[j] += (nde_real)(dsj * w->ds[j]);
  }
  product_vjp(theta, R, w->dU, w->Ma, w->Mb, w->vc, w->va, w->vb, dtheta);
  product_vjp(theta + (size_t)R * R, C, w->dV, w->Ma, w->Mb, w->vc, w->va, w->vb,
              dtheta + (size_t)R * R);
  return NDE_OK;
}
