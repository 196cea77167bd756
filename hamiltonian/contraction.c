/* Contraction constants of CH-NODE (Zakwan et al. 2022, Theorem 1; docs/methods.md
 * section 5).
 *
 * The Jacobian of f = (J - gamma I)(K tanh(K^T y + b) + kappa^2 y) is
 * (J - gamma I) Q with Q = K D K^T + kappa^2 I, D = diag(tanh') in [0, I], so
 * c1 I <= Q <= c2 I with c1 = lambda_min(M^T M) = kappa^2 and
 * c2 = max_j lambda_max(K_j^T K_j) + lambda_max(M^T M). The paper bounds the
 * matrix measure mu_2((J - gamma I) Q) <= -c1 (gamma sqrt(1 - alpha^2) - alpha)
 * = -rho with alpha = (c2 - c1)/(c2 + c1), hence contraction for
 * gamma > alpha / sqrt(1 - alpha^2). For forward Euler,
 * ||I + h F||^2 <= 1 - 2 h rho + h^2 ||F||^2 and ||F|| <= sqrt(1 + gamma^2) c2,
 * so each step contracts when h <= 2 rho / ((1 + gamma^2) c2^2).
 *
 * 1 - alpha^2 is computed as 4 c1 c2 / (c1 + c2)^2 (no cancellation when
 * c2 >> c1, which is the usual case: kappa = 0.02 gives c1 = 4e-4). The
 * eigenvalues are GSL's (gsl_eigen_symm on a copy of K^T K); GSL's error
 * handler is left alone: the sizes are fixed at create, so the calls cannot
 * fail on arguments, and their status is still checked. */
#include <gsl/gsl_eigen.h>
#include <math.h>
#include <string.h>

#include "hamiltonian/ham_impl.h"

/* lambda_max(B^T B) of a d x d row-major block B (ld ldb), d = nf or (H2)
 * m, with the ham's GSL workspace of that order. */
static int lambda_max_btb(nde_ham *ham, int d, const double *b, int ldb, double *out) {
  gsl_matrix *mm = ham->eig_m;
  gsl_matrix_view v = gsl_matrix_submatrix(mm, 0, 0, (size_t)d, (size_t)d);
  for (int r = 0; r < d; r++)
    for (int c = 0; c < d; c++) {
      double s = 0;
      for (int k = 0; k < d; k++) s += b[k * ldb + r] * b[k * ldb + c];
      gsl_matrix_set(&v.matrix, (size_t)r, (size_t)c, s);
    }
  gsl_vector_view ev = gsl_vector_subvector(ham->eig_v, 0, (size_t)d);
  gsl_eigen_symm_workspace *ws = d == ham->nf ? ham->eig_ws : ham->eig_ws_m;
  int st = gsl_eigen_symm(&v.matrix, &ev.vector, ws);
  if (st) return nde_error(NDE_ERR_NUMERIC, "CH-NODE: gsl_eigen_symm failed (status %d)", st);
  double mx = -INFINITY;
  for (int k = 0; k < d; k++) mx = fmax(mx, gsl_vector_get(&ev.vector, (size_t)k));
  *out = mx;
  return NDE_OK;
}

static int compute(nde_ham *ham, double gamma, int set_auto, nde_ham_contraction *c) {
  memset(c, 0, sizeof *c);
  int nf = ham->nf, m = ham->m;
  /* Non-finite entries would send the QR iteration astray: refuse them. */
  for (size_t k = 0; k < ham->np; k++)
    if (!isfinite(ham->theta[k]))
      return nde_error(NDE_ERR_NONFINITE, "%s block: parameter %zu (layer %zu) is not finite",
                       nde_ham_kind_name(ham->o.kind), k, k / ham->lp);
  double lmax = 0;
  for (int j = 0; j < ham->o.nlayers; j++) {
    const double *p = nde_ham_layer(ham, j);
    double l1 = 0, l2 = 0;
    int rc;
    if (ham->o.kind == NDE_HAM_H2) {
      /* blockdiag(Kp, Kq)^T blockdiag(Kp, Kq) = blockdiag(Kp^T Kp, Kq^T Kq). */
      if ((rc = lambda_max_btb(ham, m, p, m, &l1))) return rc;
      if ((rc = lambda_max_btb(ham, m, p + (size_t)m * m, m, &l2))) return rc;
    } else if ((rc = lambda_max_btb(ham, nf, p, nf, &l1))) {
      return rc;
    }
    lmax = fmax(lmax, fmax(l1, l2));
  }
  double k2 = ham->o.kind == NDE_HAM_CHNODE ? ham->o.kappa * ham->o.kappa : 0.0;
  c->lambda_max_ktk = lmax;
  c->c1 = k2;
  c->c2 = lmax + k2;
  double sum = c->c1 + c->c2;
  double s2 = sum > 0 ? 4 * c->c1 * c->c2 / (sum * sum) : 0; /* 1 - alpha^2 */
  c->alpha = sum > 0 ? (c->c2 - c->c1) / sum : 1.0;
  if (s2 > 1) s2 = 1; /* rounding when c1 = c2 */
  c->gamma_min = s2 > 0 ? c->alpha / sqrt(s2) : INFINITY;
  if (set_auto) {
    /* The reference: gamma = 1 / sqrt(1 - alpha^2 - 1e-6); keep it finite
     * and above gamma_min when 1 - alpha^2 is itself tiny. */
    double eps = s2 > 2e-6 ? 1e-6 : 0.5 * s2;
    gamma = 1.0 / sqrt(s2 - eps);
  }
  c->gamma = gamma;
  /* c1 = 0 (no M term, or the other kinds) certifies nothing: rho = 0. */
  c->rho = c->c1 > 0 ? c->c1 * (gamma * sqrt(s2) - c->alpha) : 0.0;
  c->h_euler = c->rho > 0 ? 2 * c->rho / ((1 + gamma * gamma) * c->c2 * c->c2) : 0.0;
  return NDE_OK;
}

int nde_ham_update_gamma(nde_ham *ham, nde_ham_contraction *info) {
  NDE_CHECK_NULL(ham, "nde_ham_update_gamma");
  int chn = ham->o.kind == NDE_HAM_CHNODE;
  int set_auto = chn && ham->o.gamma_auto;
  nde_ham_contraction c;
  int rc = compute(ham, ham->gamma, set_auto, &c);
  if (rc) return rc;
  if (set_auto) {
    if (!isfinite(c.gamma))
      return nde_error(NDE_ERR_NUMERIC,
                       "CH-NODE: gamma = %g is not finite (c1 = %g, c2 = %g): parameters "
                       "non-finite?",
                       c.gamma, c.c1, c.c2);
    ham->gamma = c.gamma;
    nde_ham_build_amat(ham);
  }
  ham->con = c;
  if (info) *info = c;
  return NDE_OK;
}

int nde_ham_set_gamma(nde_ham *ham, double gamma) {
  NDE_CHECK_NULL(ham, "nde_ham_set_gamma");
  if (ham->o.kind != NDE_HAM_CHNODE)
    return nde_error(NDE_ERR_KIND, "nde_ham_set_gamma: %s has no gamma (CH-NODE only)",
                     nde_ham_kind_name(ham->o.kind));
  if (!isfinite(gamma))
    return nde_error(NDE_ERR_ARG, "nde_ham_set_gamma: gamma = %g must be finite", gamma);
  ham->o.gamma_auto = 0;
  ham->o.gamma = gamma;
  ham->gamma = gamma;
  nde_ham_build_amat(ham);
  return NDE_OK;
}
