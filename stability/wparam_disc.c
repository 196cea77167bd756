/* Parametrizations that bound eigenvalues through row sums.
 *
 * Gershgorin (square, n x n): W_ii = c = (smin + smax)/2 and, off the
 * diagonal, W_ij = r w_ij / D_i with r = (smax - smin)/2 and
 * D_i = sum_{k != i} |w_ik| + eps (eps = 1e-8 keeps D_i > 0), so the i-th
 * Gershgorin disc has centre c and radius r sum|w_ik| / D_i < r: every
 * eigenvalue lies in |z - c| <= r. theta holds the n (n - 1) off-diagonal w
 * row by row. vjp, G = dL/dW:
 *   dw_ij = r G_ij / D_i - r sign(w_ij) / D_i^2 sum_{k != i} G_ik w_ik.
 *
 * Perron-Frobenius (rows x cols): W_ij = s_i pi_ij, pi_i. = softmax(w_i.),
 * s_i = smax - (smax - smin) sigmoid(q_i); W > 0 with row sums s_i, so for a
 * square W the Perron root rho(W) lies in [min_i s_i, max_i s_i]. theta =
 * [w (rows x cols) | q (rows)]. vjp:
 *   ds_i = sum_j G_ij pi_ij,  dw_ij = s_i pi_ij (G_ij - sum_k G_ik pi_ik),
 *   dq_i = ds_i ds_i/dq_i. */
#include "stability/stability_impl.h"

#define GERSH_EPS 1e-8

int nde_wparam_gershgorin_weight(nde_wparam *w, const nde_real *theta) {
  const int n = w->rows;
  const double c = 0.5 * (w->smin + w->smax), r = 0.5 * (w->smax - w->smin);
  for (int i = 0; i < n; i++) {
    const nde_real *row = theta + (size_t)i * (n - 1);
    double D = GERSH_EPS;
    for (int q = 0; q < n - 1; q++) D += fabs((double)row[q]);
    w->s[i] = D;
    for (int j = 0, q = 0; j < n; j++) w->Wd[i * n + j] = j == i ? c : r * row[q++] / D;
  }
  return NDE_OK;
}

int nde_wparam_gershgorin_vjp(nde_wparam *w, const nde_real *theta, nde_real *dtheta) {
  nde_wparam_gershgorin_weight(w, theta);
  const int n = w->rows;
  const double r = 0.5 * (w->smax - w->smin);
  const double *G = w->Gd;
  for (int i = 0; i < n; i++) {
    const nde_real *row = theta + (size_t)i * (n - 1);
    nde_real *drow = dtheta + (size_t)i * (n - 1);
    const double D = w->s[i];
    double gw = 0;
    for (int j = 0, q = 0; j < n; j++)
      if (j != i) gw += G[i * n + j] * row[q++];
    for (int j = 0, q = 0; j < n; j++) {
      if (j == i) continue;
      double v = row[q], sg = v > 0 ? 1 : (v < 0 ? -1 : 0);
      drow[q] += (nde_real)(r * G[i * n + j] / D - r * sg * gw / (D * D));
      q++;
    }
  }
  return NDE_OK;
}

/* pi = softmax of row (shifted by its max for range safety) into out. */
static void softmax(const nde_real *row, int m, double *out) {
  double mx = -INFINITY, sum = 0;
  for (int j = 0; j < m; j++) mx = fmax(mx, (double)row[j]);
  for (int j = 0; j < m; j++) sum += (out[j] = exp((double)row[j] - mx));
  for (int j = 0; j < m; j++) out[j] /= sum;
}

int nde_wparam_pf_weight(nde_wparam *w, const nde_real *theta) {
  const int R = w->rows, C = w->cols;
  const nde_real *q = theta + (size_t)R * C;
  for (int i = 0; i < R; i++) {
    w->s[i] = nde_stab_bounded(w->smin, w->smax, q[i], &w->ds[i]);
    softmax(theta + (size_t)i * C, C, w->Wd + (size_t)i * C);
    for (int j = 0; j < C; j++) w->Wd[i * C + j] *= w->s[i];
  }
  return NDE_OK;
}

int nde_wparam_pf_vjp(nde_wparam *w, const nde_real *theta, nde_real *dtheta) {
  const int R = w->rows, C = w->cols;
  const nde_real *q = theta + (size_t)R * C;
  const double *G = w->Gd;
  double *pi = w->va; /* one row of softmax values; va holds max(R, C) >= C */
  nde_real *dq = dtheta + (size_t)R * C;
  for (int i = 0; i < R; i++) {
    double dsdq, s = nde_stab_bounded(w->smin, w->smax, q[i], &dsdq);
    softmax(theta + (size_t)i * C, C, pi);
    double gp = 0;
    for (int j = 0; j < C; j++) gp += G[i * C + j] * pi[j];
    for (int j = 0; j < C; j++)
      dtheta[(size_t)i * C + j] += (nde_real)(s * pi[j] * (G[i * C + j] - gp));
    dq[i] += (nde_real)(gp * dsdq);
  }
  return NDE_OK;
}
