/* Batched layer kernels of the Hamiltonian vector fields (double, row-major,
 * one sample per row, so every product over the batch is one dgemm).
 *
 * Notation per sample: z = K^T y + b, s = tanh(z), D = diag(1 - s^2).
 * In row form (Y is n x nf) z^T = y^T K + b^T, so Z = Y K + 1 b^T and a
 * per-sample product M v is the row product V M^T.
 *
 * The Hamiltonian kinds share one building block, the potential gradient
 *   g(x) = K tanh(K^T x + b) = grad_x 1^T log cosh(K^T x + b),
 * whose vector-Jacobian product for a cotangent u is
 *   (dg/dx)^T u = K D K^T u,
 *   dL/dK = u s^T + x (D K^T u)^T,   dL/db = D K^T u,
 * (for L = u^T g: dL/dK[r][c] = u_r s_c + x_r (1 - s_c^2) (K^T u)_c).
 * H1 and CH-NODE are f = A (g(y) + kappa^2 y) with A = J or J1 - gamma I,
 * so their vjp is the block's with u = A^T a (plus kappa^2 u); H2 applies
 * the block to p and to q separately with signs from J1. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "hamiltonian/ham_impl.h"

/* C = alpha op(A) op(B) + beta C, row-major. */
static void gemm(int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda,
                 const double *b, int ldb, double beta, double *c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* tanh through one exp: (1 - e^{-2|z|}) / (1 + e^{-2|z|}) with the sign of
 * z. Within 2.3e-16 of libm's tanh (absolute) and about 1.7x faster; tanh
 * dominates the cost of these fields (nf^2 multiply-adds per nf tanh). */
static inline double ham_tanh(double z) {
  double t = exp(-2.0 * fabs(z)), r = (1.0 - t) / (1.0 + t);
  return z < 0 ? -r : r;
}

/* s = tanh(x K + b) for n rows of d values (x and s with leading dims). */
static void acts_block(int n, int d, const double *x, int ldx, const double *k, const double *b,
                       double *s, int lds) {
  gemm(0, 0, n, d, d, 1.0, x, ldx, k, d, 0.0, s, lds);
  for (int i = 0; i < n; i++) {
    double *row = s + (size_t)i * lds;
    for (int c = 0; c < d; c++) row[c] = ham_tanh(row[c] + b[c]);
  }
}

/* ja += coef (dg/dx)^T u and, with gk, gk += coef dL/dK, gb += coef dL/db,
 * for the potential gradient g of (K, b) at rows x with activations s.
 * v: n x d scratch. */
static void pot_vjp(int n, int d, const double *x, int ldx, const double *s, int lds,
                    const double *k, const double *u, int ldu, double coef, double *ja, int ldja,
                    double *gk, double *gb, double *v) {
  gemm(0, 0, n, d, d, 1.0, u, ldu, k, d, 0.0, v, d); /* rows of K^T u */
  for (int i = 0; i < n; i++) {
    const double *srow = s + (size_t)i * lds;
    double *vrow = v + (size_t)i * d;
    for (int c = 0; c < d; c++) vrow[c] *= 1.0 - srow[c] * srow[c];
  }
  gemm(0, 1, n, d, d, coef, v, d, k, d, 1.0, ja, ldja);
  if (!gk) return;
  gemm(1, 0, d, d, n, coef, u, ldu, s, lds, 1.0, gk, d);
  gemm(1, 0, d, d, n, coef, x, ldx, v, d, 1.0, gk, d);
  for (int i = 0; i < n; i++) {
    const double *vrow = v + (size_t)i * d;
    for (int c = 0; c < d; c++) gb[c] += coef * vrow[c];
  }
}

void nde_ham_build_amat(nde_ham *ham) {
  int nf = ham->nf, m = ham->m, kind = ham->o.kind;
  memset(ham->amat, 0, (size_t)nf * nf * sizeof *ham->amat);
  if (kind == NDE_HAM_H1_J2) {
    for (int r = 0; r < nf; r++)
      for (int c = 0; c < nf; c++) ham->amat[r * nf + c] = c > r ? 1.0 : (c < r ? -1.0 : 0.0);
    return;
  }
  if (kind == NDE_HAM_H1_J1 || kind == NDE_HAM_CHNODE) {
    for (int k = 0; k < m; k++) {
      ham->amat[k * nf + k + m] = -1.0;
      ham->amat[(k + m) * nf + k] = 1.0;
    }
    if (kind == NDE_HAM_CHNODE)
      for (int k = 0; k < nf; k++) ham->amat[k * nf + k] = -ham->gamma;
  }
}

void nde_ham_acts(const nde_ham *ham, int j, int n, const double *y, double *s) {
  int nf = ham->nf, m = ham->m;
  const double *p = nde_ham_layer(ham, j);
  if (ham->o.kind == NDE_HAM_H2) {
    const double *kp = p, *kq = p + (size_t)m * m, *bp = kq + (size_t)m * m, *bq = bp + m;
    acts_block(n, m, y, nf, kp, bp, s, nf);
    acts_block(n, m, y + m, nf, kq, bq, s + m, nf);
  } else {
    acts_block(n, nf, y, nf, p, p + (size_t)nf * nf, s, nf);
  }
}

void nde_ham_rhs_from_acts(const nde_ham *ham, int j, int n, const double *y, const double *s,
                           double *f) {
  int nf = ham->nf, m = ham->m, kind = ham->o.kind;
  const double *p = nde_ham_layer(ham, j);
  size_t len = (size_t)n * nf;
  if (kind == NDE_HAM_R1) {
    memcpy(f, s, len * sizeof *f);
  } else if (kind == NDE_HAM_H2) {
    const double *kp = p, *kq = p + (size_t)m * m;
    gemm(0, 1, n, m, m, -1.0, s + m, nf, kq, m, 0.0, f, nf); /* dp = -Kq s_q */
    gemm(0, 1, n, m, m, 1.0, s, nf, kp, m, 0.0, f + m, nf);  /* dq = +Kp s_p */
  } else {
    double *g = ham->wu; /* g = K s (+ kappa^2 y), then f = A g */
    double beta = 0.0;
    if (kind == NDE_HAM_CHNODE) {
      double k2 = ham->o.kappa * ham->o.kappa;
      for (size_t i = 0; i < len; i++) g[i] = k2 * y[i];
      beta = 1.0;
    }
    gemm(0, 1, n, nf, nf, 1.0, s, nf, p, nf, beta, g, nf);
    gemm(0, 1, n, nf, nf, 1.0, g, nf, ham->amat, nf, 0.0, f, nf);
  }
}

void nde_ham_vjp_from_acts(nde_ham *ham, int j, int n, const double *y, const double *s,
                           const double *a, double scale, double *ja, double *g) {
  int nf = ham->nf, m = ham->m, kind = ham->o.kind;
  const double *p = nde_ham_layer(ham, j);
  double *gp = g ? g + (size_t)j * ham->lp : NULL;
  size_t len = (size_t)n * nf;
  if (kind == NDE_HAM_R1) {
    /* f = tanh(K^T y + b): (df/dy)^T a = K D a, dL/dK = y (D a)^T, dL/db = D a. */
    double *v = ham->wv;
    for (size_t i = 0; i < len; i++) v[i] = a[i] * (1.0 - s[i] * s[i]);
    gemm(0, 1, n, nf, nf, scale, v, nf, p, nf, 1.0, ja, nf);
    if (gp) {
      double *gb = gp + (size_t)nf * nf;
      gemm(1, 0, nf, nf, n, scale, y, nf, v, nf, 1.0, gp, nf);
      for (int i = 0; i < n; i++)
        for (int c = 0; c < nf; c++) gb[c] += scale * v[(size_t)i * nf + c];
    }
  } else if (kind == NDE_HAM_H2) {
    /* f_p = -g_q(q), f_q = g_p(p): a_q drives the p-block, a_p the q-block. */
    const double *kp = p, *kq = p + (size_t)m * m;
    double *gkp = gp, *gkq = gp ? gp + (size_t)m * m : NULL;
    double *gbp = gp ? gp + (size_t)2 * m * m : NULL, *gbq = gp ? gbp + m : NULL;
    pot_vjp(n, m, y, nf, s, nf, kp, a + m, nf, scale, ja, nf, gkp, gbp, ham->wv);
    pot_vjp(n, m, y + m, nf, s + m, nf, kq, a, nf, -scale, ja + m, nf, gkq, gbq, ham->wv);
  } else {
    /* u = A^T a (rows: U = a A), then the potential block and kappa^2 u. */
    double *u = ham->wu;
    gemm(0, 0, n, nf, nf, 1.0, a, nf, ham->amat, nf, 0.0, u, nf);
    pot_vjp(n, nf, y, nf, s, nf, p, u, nf, scale, ja, nf, gp, gp ? gp + (size_t)nf * nf : NULL,
            ham->wv);
    if (kind == NDE_HAM_CHNODE)
      cblas_daxpy((int)len, scale * ham->o.kappa * ham->o.kappa, u, 1, ja, 1);
  }
}

void nde_ham_jvp_from_acts(nde_ham *ham, int j, int n, const double *s, const double *v,
                           double *jv) {
  int nf = ham->nf, m = ham->m, kind = ham->o.kind;
  const double *p = nde_ham_layer(ham, j);
  size_t len = (size_t)n * nf;
  double *t = ham->wv;
  if (kind == NDE_HAM_R1) {
    gemm(0, 0, n, nf, nf, 1.0, v, nf, p, nf, 0.0, jv, nf);
    for (size_t i = 0; i < len; i++) jv[i] *= 1.0 - s[i] * s[i];
  } else if (kind == NDE_HAM_H2) {
    const double *kp = p, *kq = p + (size_t)m * m;
    /* dp = -Kq D_q Kq^T v_q */
    gemm(0, 0, n, m, m, 1.0, v + m, nf, kq, m, 0.0, t, m);
    for (int i = 0; i < n; i++)
      for (int c = 0; c < m; c++) {
        double sc = s[(size_t)i * nf + m + c];
        t[(size_t)i * m + c] *= 1.0 - sc * sc;
      }
    gemm(0, 1, n, m, m, -1.0, t, m, kq, m, 0.0, jv, nf);
    /* dq = Kp D_p Kp^T v_p */
    gemm(0, 0, n, m, m, 1.0, v, nf, kp, m, 0.0, t, m);
    for (int i = 0; i < n; i++)
      for (int c = 0; c < m; c++) {
        double sc = s[(size_t)i * nf + c];
        t[(size_t)i * m + c] *= 1.0 - sc * sc;
      }
    gemm(0, 1, n, m, m, 1.0, t, m, kp, m, 0.0, jv + m, nf);
  } else {
    double *g = ham->wu;
    gemm(0, 0, n, nf, nf, 1.0, v, nf, p, nf, 0.0, t, nf);
    for (size_t i = 0; i < len; i++) t[i] *= 1.0 - s[i] * s[i];
    double beta = 0.0;
    if (kind == NDE_HAM_CHNODE) {
      double k2 = ham->o.kappa * ham->o.kappa;
      for (size_t i = 0; i < len; i++) g[i] = k2 * v[i];
      beta = 1.0;
    }
    gemm(0, 1, n, nf, nf, 1.0, t, nf, p, nf, beta, g, nf);
    gemm(0, 1, n, nf, nf, 1.0, g, nf, ham->amat, nf, 0.0, jv, nf);
  }
}

/* H2's symplectic Euler step (p first, then q at the new p):
 *   p' = p - h g_q(q),   q' = q + h g_p(p'),
 * with g_p, g_q the potential gradients of (Kp, bp) and (Kq, bq). Each half
 * is a shear with a symmetric Jacobian block, so the step is symplectic. */
void nde_ham_h2_step(nde_ham *ham, int j, int n, const double *y0, double *y1, double *s) {
  int nf = ham->nf, m = ham->m;
  double h = ham->o.h;
  const double *p = nde_ham_layer(ham, j);
  const double *kp = p, *kq = p + (size_t)m * m, *bp = kq + (size_t)m * m, *bq = bp + m;
  memcpy(y1, y0, (size_t)n * nf * sizeof *y1);
  acts_block(n, m, y0 + m, nf, kq, bq, s + m, nf);
  gemm(0, 1, n, m, m, -h, s + m, nf, kq, m, 1.0, y1, nf);
  acts_block(n, m, y1, nf, kp, bp, s, nf);
  gemm(0, 1, n, m, m, h, s, nf, kp, m, 1.0, y1 + m, nf);
}

/* Reverse of the two halves: first q' = q + h g_p(p') sends a_q' into a_p'
 * (and the (Kp, bp) gradient), then p' = p - h g_q(q) sends the total a_p'
 * into a_q (and the (Kq, bq) gradient). The halves read and write disjoint
 * columns of a, so the update is in place. */
void nde_ham_h2_step_vjp(nde_ham *ham, int j, int n, const double *y0, const double *y1,
                         const double *s, double *a, double *g) {
  int nf = ham->nf, m = ham->m;
  double h = ham->o.h;
  const double *p = nde_ham_layer(ham, j);
  const double *kp = p, *kq = p + (size_t)m * m;
  double *gp = g ? g + (size_t)j * ham->lp : NULL;
  double *gkp = gp, *gkq = gp ? gp + (size_t)m * m : NULL;
  double *gbp = gp ? gp + (size_t)2 * m * m : NULL, *gbq = gp ? gbp + m : NULL;
  pot_vjp(n, m, y1, nf, s, nf, kp, a + m, nf, h, a, nf, gkp, gbp, ham->wv);
  pot_vjp(n, m, y0 + m, nf, s + m, nf, kq, a, nf, -h, a + m, nf, gkq, gbq, ham->wv);
}
