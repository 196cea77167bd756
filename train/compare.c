/* Comparing configurations over seeds: mean and sample standard deviation,
 * Welch's t-test and verdicts on claims (formulas in nde/train.h). The
 * t distribution's tail comes from GSL. */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>

#include "common/error_impl.h"
#include "nde/train.h"

static int check_values(const double *x, int n, const char *where, const char *name) {
  if (n < 0) return nde_error(NDE_ERR_ARG, "%s: %s has n = %d values", where, name, n);
  if (n > 0 && !x) return nde_error(NDE_ERR_NULL, "%s: %s is NULL with n = %d", where, name, n);
  for (int i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return nde_error(NDE_ERR_NONFINITE, "%s: %s[%d] = %g is not finite", where, name, i, x[i]);
  return NDE_OK;
}

int nde_mean_sd(const double *x, int n, double *mean, double *sd) {
  int rc = check_values(x, n, "nde_mean_sd", "x");
  if (rc) return rc;
  /* gsl_stats_sd divides by n - 1 (the sample standard deviation) */
  double mu = n > 0 ? gsl_stats_mean(x, 1, (size_t)n) : NAN;
  if (mean) *mean = mu;
  if (sd) *sd = n > 1 ? gsl_stats_sd_m(x, 1, (size_t)n, mu) : NAN;
  return NDE_OK;
}

int nde_welch_test(const double *x1, int n1, const double *x2, int n2, nde_welch *out) {
  static const char *where = "nde_welch_test";
  NDE_CHECK_NULL(out, where);
  int rc = check_values(x1, n1, where, "x1");
  if (!rc) rc = check_values(x2, n2, where, "x2");
  if (rc) return rc;
  nde_welch w = {n1, n2, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
  nde_mean_sd(x1, n1, &w.mean1, &w.sd1);
  nde_mean_sd(x2, n2, &w.mean2, &w.sd2);
  w.diff = w.mean1 - w.mean2;
  if (n1 >= 2 && n2 >= 2) {
    const double v1 = w.sd1 * w.sd1 / n1, v2 = w.sd2 * w.sd2 / n2, se2 = v1 + v2;
    if (se2 > 0) {
      w.t = w.diff / sqrt(se2);
      w.df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1));
      w.p = 2 * gsl_cdf_tdist_Q(fabs(w.t), w.df);
      if (w.p > 1) w.p = 1;
    }
  }
  *out = w;
  return NDE_OK;
}

int nde_welch_verdict(const nde_welch *w, int direction, double alpha, nde_verdict *verdict) {
  static const char *where = "nde_welch_verdict";
  NDE_CHECK_NULL(w, where);
  NDE_CHECK_NULL(verdict, where);
  if (direction != -1 && direction != 1)
    return nde_error(NDE_ERR_ARG, "%s: direction = %d must be -1 or +1", where, direction);
  if (!(alpha > 0 && alpha < 1))
    return nde_error(NDE_ERR_ARG, "%s: level alpha = %g must be in (0, 1)", where, alpha);
  if (isnan(w->p))
    *verdict = NDE_VERDICT_NA;
  else if (w->p >= alpha)
    *verdict = NDE_VERDICT_UNRESOLVED;
  else
    *verdict =
        (w->diff > 0 ? 1 : -1) == direction ? NDE_VERDICT_SUPPORTED : NDE_VERDICT_CONTRADICTED;
  return NDE_OK;
}

int nde_interval_verdict(const double *x, int n, double value, double k, nde_verdict *verdict) {
  static const char *where = "nde_interval_verdict";
  NDE_CHECK_NULL(verdict, where);
  if (!(k > 0) || !isfinite(value))
    return nde_error(NDE_ERR_ARG, "%s: k = %g must be > 0 and value = %g finite", where, k, value);
  double mean, sd;
  int rc = nde_mean_sd(x, n, &mean, &sd);
  if (rc) return rc;
  if (n < 2)
    *verdict = NDE_VERDICT_NA;
  else
    *verdict = fabs(value - mean) <= k * sd ? NDE_VERDICT_SUPPORTED : NDE_VERDICT_CONTRADICTED;
  return NDE_OK;
}

const char *nde_verdict_name(int verdict) {
  switch (verdict) {
  case NDE_VERDICT_SUPPORTED: return "supported";
  case NDE_VERDICT_CONTRADICTED: return "contradicted";
  case NDE_VERDICT_UNRESOLVED: return "not resolved at this sample size";
  default: return "n/a";
  }
}
