/* Sufficient stability conditions of docs/methods.md section 6, each reporting the bound it
 * computed and never claiming more than its theorem gives.
 *
 * 1. Global exponential stability of 0. If b*(x) = 0 for all x and
 *    ||A*(x)||_2 <= c < 1 for all x, then ||f(x)|| = ||A*(x) x|| <= c ||x||
 *    and ||x_k|| <= c^k ||x_0||. A bound valid for all x:
 *    ||A*(x)|| <= prod_i ||Lambda_i|| ||W_i|| <= prod_i lambda_sup_i ||W_i||.
 * 2. Contraction. ||f(x) - f(y)|| <= prod_i Lip(sigma_i) ||W_i|| ||x - y||;
 *    a product < 1 makes f a contraction, with a unique fixed point
 *    attracting every orbit (Banach).
 * 3. Local asymptotic stability of a fixed point x_e of a map that is C^1
 *    near x_e: rho(J(x_e)) < 1 (and rho > 1 makes x_e unstable).
 * Samples only ever refute a premise (a lower bound on a supremum); they
 * never establish one. */
#include <string.h>

#define KINK_TOL 1e-9

#include "stability/stability_impl.h"

const char *nde_stab_verdict_name(int verdict) {
  switch (verdict) {
  case NDE_STAB_HOLDS: return "holds";
  case NDE_STAB_UNDECIDED: return "undecided";
  case NDE_STAB_FAILS: return "fails";
  case NDE_STAB_NOT_APPLICABLE: return "n/a";
  default: return "unknown";
  }
}

static int check_square(nde_pwa *p, const char *where) {
  if (p->nin != p->nout || !p->sp_n)
    return nde_error(NDE_ERR_SHAPE,
                     "%s: the network maps R^%d to R^%d; a map x -> f(x) needs equal dimensions",
                     where, p->nin, p->nout);
  return NDE_OK;
}

/* Largest ||M(x_s)||_2 over the samples, where M is A* (use_jacobian = 0)
 * or J at points where f is differentiable (use_jacobian = 1). */
static int sample_norms(nde_pwa *p, const nde_real *params, int ns, const double *xs,
                        int use_jacobian, double *best, int *arg) {
  const int n = p->nin;
  *best = NAN;
  *arg = -1;
  for (int s = 0; s < ns; s++) {
    const double *x = xs + (size_t)s * n;
    int rc;
    if (use_jacobian) {
      double margin;
      if ((rc = nde_pwa_kink_margin(p, params, x, &margin))) return rc;
      if (!(margin > 0)) continue; /* one-sided Jacobian: not a witness */
      rc = nde_pwa_eval(p, params, x, NULL, NULL, NULL, p->Jx);
    } else {
      rc = nde_pwa_eval(p, params, x, NULL, p->Jx, NULL, NULL);
    }
    if (rc) return nde_error_wrap(rc, "sample %d: ", s);
    if ((rc = nde_spectrum_svd(p->sp_n, n, n, p->Jx, p->sv))) return rc;
    if (*arg < 0 || p->sv[0] > *best) {
      *best = p->sv[0];
      *arg = s;
    }
  }
  return NDE_OK;
}

static int common_args(nde_pwa *p, const nde_real *params, int ns, const double *xs,
                       nde_stab_cond *out, const char *where) {
  NDE_CHECK_NULL(p, where);
  NDE_CHECK_NULL(params, where);
  NDE_CHECK_NULL(out, where);
  if (ns < 0 || (ns > 0 && !xs))
    return nde_error(NDE_ERR_ARG, "%s: %d samples with %s sample array", where, ns,
                     xs ? "a" : "a NULL");
  return check_square(p, where);
}

int nde_stab_global_origin(nde_pwa *p, const nde_real *params, int nsamples, const double *samples,
                           nde_stab_cond *out) {
  int rc = common_args(p, params, nsamples, samples, out, "nde_stab_global_origin");
  if (rc) return rc;
  nde_stab_cond c = {NDE_STAB_UNDECIDED, NAN, NAN, -1};
  if ((rc = nde_pwa_bounds(p, params, &c.bound, NULL))) return rc;
  if ((rc = sample_norms(p, params, nsamples, samples, 0, &c.sampled, &c.witness)))
    return nde_error_wrap(rc, "nde_stab_global_origin: ");
  if (!p->homogeneous)
    c.verdict = NDE_STAB_NOT_APPLICABLE;
  else if (c.bound < 1)
    c.verdict = NDE_STAB_HOLDS;
  else if (c.witness >= 0 && c.sampled >= 1)
    c.verdict = NDE_STAB_FAILS;
  *out = c;
  return NDE_OK;
}

int nde_stab_contraction(nde_pwa *p, const nde_real *params, int nsamples, const double *samples,
                         nde_stab_cond *out) {
  int rc = common_args(p, params, nsamples, samples, out, "nde_stab_contraction");
  if (rc) return rc;
  nde_stab_cond c = {NDE_STAB_UNDECIDED, NAN, NAN, -1};
  if ((rc = nde_pwa_bounds(p, params, NULL, &c.bound))) return rc;
  if ((rc = sample_norms(p, params, nsamples, samples, 1, &c.sampled, &c.witness)))
    return nde_error_wrap(rc, "nde_stab_contraction: ");
  if (c.bound < 1)
    c.verdict = NDE_STAB_HOLDS;
  else if (c.witness >= 0 && c.sampled > 1)
    c.verdict = NDE_STAB_FAILS;
  *out = c;
  return NDE_OK;
}

int nde_stab_local(nde_pwa *p, const nde_real *params, const double *xe, double tol,
                   nde_stab_cond *out) {
  int rc = common_args(p, params, 0, NULL, out, "nde_stab_local");
  if (rc) return rc;
  NDE_CHECK_NULL(xe, "nde_stab_local");
  if (!(tol >= 0)) return nde_error(NDE_ERR_ARG, "nde_stab_local: tolerance %g must be >= 0", tol);
  const int n = p->nin;
  nde_stab_cond c = {NDE_STAB_NOT_APPLICABLE, NAN, NAN, -1};
  if ((rc = nde_pwa_eval(p, params, xe, p->fx, NULL, NULL, p->Jx)))
    return nde_error_wrap(rc, "nde_stab_local: ");
  double margin, res = 0;
  for (int i = 0; i < n; i++) res = fmax(res, fabs(p->fx[i] - xe[i]));
  if ((rc = nde_pwa_kink_margin(p, params, xe, &margin))) return rc;
  nde_matrix_summary ms;
  if ((rc = nde_spectrum_summary(p->sp_n, p->Jx, &ms)))
    return nde_error_wrap(rc, "nde_stab_local: ");
  c.bound = ms.rho;
  /* A root is only known to rounding and solver accuracy, so a kink closer
   * than KINK_TOL (1 + ||x_e||) cannot be excluded: treat it as on the kink. */
  if (res <= tol && margin > KINK_TOL * (1 + nde_stab_norm_inf(xe, n))) {
    if (ms.rho < 1)
      c.verdict = NDE_STAB_HOLDS;
    else if (ms.rho > 1)
      c.verdict = NDE_STAB_FAILS;
    else
      c.verdict = NDE_STAB_UNDECIDED;
  }
  *out = c;
  return NDE_OK;
}
