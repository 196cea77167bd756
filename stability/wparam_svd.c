/* Soft-SVD parametrization: W = U diag(s) V with free U (rows x k) and
 * V (k x cols), k = min(rows, cols), s_j = smax - (smax - smin) sigmoid(p_j);
 * theta = [U | V | p] row-major. Orthogonality is only encouraged, by
 *   P = ||U^T U - I||_F^2 + ||V V^T - I||_F^2,
 *   dP/dU = 4 U (U^T U - I),  dP/dV = 4 (V V^T - I) V.
 * vjp with G = dL/dW:
 *   dU_rj = s_j sum_c G_rc V_jc,  dV_jc = s_j sum_r U_rj G_rc,
 *   ds_j = sum_rc U_rj G_rc V_jc,  dp_j = ds_j ds_j/dp_j. */
#include <string.h>

#include "stability/stability_impl.h"

int nde_wparam_softsvd_weight(nde_wparam *w, const nde_real *theta) {
  const int R = w->rows, C = w->cols, k = w->k;
  const nde_real *tU = theta, *tV = theta + (size_t)R * k, *tp = tV + (size_t)k * C;
  for (int i = 0; i < R * k; i++) w->U[i] = tU[i];
  for (int i = 0; i < k * C; i++) w->V[i] = tV[i];
  for (int j = 0; j < k; j++) w->s[j] = nde_stab_bounded(w->smin, w->smax, tp[j], &w->ds[j]);
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) {
      double acc = 0;
      for (int j = 0; j < k; j++) acc += w->U[r * k + j] * w->s[j] * w->V[j * C + c];
      w->Wd[r * C + c] = acc;
    }
  return NDE_OK;
}

int nde_wparam_softsvd_vjp(nde_wparam *w, const nde_real *theta, nde_real *dtheta) {
  nde_wparam_softsvd_weight(w, theta);
  const int R = w->rows, C = w->cols, k = w->k;
  const double *G = w->Gd;
  nde_real *dU = dtheta, *dV = dtheta + (size_t)R * k, *dp = dV + (size_t)k * C;
  for (int r = 0; r < R; r++)
    for (int j = 0; j < k; j++) {
      double acc = 0;
      for (int c = 0; c < C; c++) acc += G[r * C + c] * w->V[j * C + c];
      dU[r * k + j] += (nde_real)(w->s[j] * acc);
    }
  for (int j = 0; j < k; j++) {
    double dsj = 0;
    for (int c = 0; c < C; c++) {
      double acc = 0;
      for (int r = 0; r < R; r++) acc += w->U[r * k + j] * G[r * C + c];
      dV[j * C + c] += (nde_real)(w->s[j] * acc);
      dsj += acc * w->V[j * C + c];
    }
    dp[j] += (nde_real)(dsj * w->ds[j]);
  }
  return NDE_OK;
}

int nde_wparam_softsvd_penalty(nde_wparam *w, const nde_real *theta, double *value,
                               nde_real *dtheta) {
  nde_wparam_softsvd_weight(w, theta);
  const int R = w->rows, C = w->cols, k = w->k;
  double *EU = w->Ma, *EV = w->Mb; /* U^T U - I and V V^T - I, k x k */
  double val = 0;
  for (int a = 0; a < k; a++)
    for (int b = 0; b < k; b++) {
      double u = 0, v = 0;
      for (int r = 0; r < R; r++) u += w->U[r * k + a] * w->U[r * k + b];
      for (int c = 0; c < C; c++) v += w->V[a * C + c] * w->V[b * C + c];
      EU[a * k + b] = u - (a == b);
      EV[a * k + b] = v - (a == b);
      val += EU[a * k + b] * EU[a * k + b] + EV[a * k + b] * EV[a * k + b];
    }
  *value = val;
  if (!dtheta) return NDE_OK;
  nde_real *dU = dtheta, *dV = dtheta + (size_t)R * k;
  for (int r = 0; r < R; r++)
    for (int b = 0; b < k; b++) {
      double acc = 0;
      for (int a = 0; a < k; a++) acc += w->U[r * k + a] * EU[a * k + b];
      dU[r * k + b] += (nde_real)(4 * acc);
    }
  for (int a = 0; a < k; a++)
    for (int c = 0; c < C; c++) {
      double acc = 0;
      for (int b = 0; b < k; b++) acc += EV[a * k + b] * w->V[b * C + c];
      dV[a * C + c] += (nde_real)(4 * acc);
    }
  return NDE_OK;
}

/* Orthonormalize the k vectors of length len stored with stride `vs`
 * between vectors and `es` between elements (columns of U: vs = 1, es = k;
 * rows of V: vs = C, es = 1) by classical Gram-Schmidt applied twice
 * ("twice is enough"). A vector that collapses (probability 0 for Gaussian
 * draws) is replaced by the next basis vector and tried again. */
static void orthonormalize(double *a, int k, int len, int vs, int es) {
  for (int j = 0; j < k; j++) {
    for (int attempt = 0; attempt <= len; attempt++) {
      for (int pass = 0; pass < 2; pass++)
        for (int q = 0; q < j; q++) {
          double d = 0;
          for (int e = 0; e < len; e++) d += a[q * vs + e * es] * a[j * vs + e * es];
          for (int e = 0; e < len; e++) a[j * vs + e * es] -= d * a[q * vs + e * es];
        }
      double nrm = 0;
      for (int e = 0; e < len; e++) nrm += a[j * vs + e * es] * a[j * vs + e * es];
      nrm = sqrt(nrm);
      if (nrm > 1e-8) {
        for (int e = 0; e < len; e++) a[j * vs + e * es] /= nrm;
        break;
      }
      for (int e = 0; e < len; e++) a[j * vs + e * es] = e == (j + attempt) % len;
    }
  }
}

int nde_wparam_softsvd_init(nde_wparam *w, nde_real *theta, nde_rng *rng) {
  const int R = w->rows, C = w->cols, k = w->k;
  for (int i = 0; i < R * k; i++) w->U[i] = nde_rng_normal(rng);
  for (int i = 0; i < k * C; i++) w->V[i] = nde_rng_normal(rng);
  orthonormalize(w->U, k, R, 1, k);
  orthonormalize(w->V, k, C, C, 1);
  nde_real *tU = theta, *tV = theta + (size_t)R * k, *tp = tV + (size_t)k * C;
  for (int i = 0; i < R * k; i++) tU[i] = (nde_real)w->U[i];
  for (int i = 0; i < k * C; i++) tV[i] = (nde_real)w->V[i];
  for (int j = 0; j < k; j++) tp[j] = (nde_real)nde_rng_normal(rng);
  return NDE_OK;
}
