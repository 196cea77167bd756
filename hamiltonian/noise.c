/* Test-time corruptions of the CH-NODE experiment, after skimage's
 * random_noise as the reference code calls it: additive Gaussian noise of a
 * given variance, and salt-and-pepper replacing a fraction `amount` of the
 * values by the range ends (salt_vs_pepper = 0.5), both followed by
 * clipping every value to [lo, hi]. The caller chooses the range: the
 * normalized image range [(0 - mean)/std, (1 - mean)/std], or skimage's
 * [-1, 1] for inputs with negative values (what the reference ends up
 * using on normalized MNIST). */
#include <math.h>

#include "hamiltonian/ham_impl.h"

static int check_range(const nde_real *x, double lo, double hi, nde_rng *rng, const char *where) {
  NDE_CHECK_NULL(x, where);
  NDE_CHECK_NULL(rng, where);
  if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
    return nde_error(NDE_ERR_ARG, "%s: clip range [%g, %g] must be finite with lo < hi", where, lo,
                     hi);
  return NDE_OK;
}

static nde_real clip(double v, double lo, double hi) {
  return (nde_real)(v < lo ? lo : (v > hi ? hi : v));
}

int nde_ham_noise_gaussian(nde_real *x, size_t len, double variance, double lo, double hi,
                           nde_rng *rng) {
  int rc = check_range(x, lo, hi, rng, "nde_ham_noise_gaussian");
  if (rc) return rc;
  if (!(variance >= 0) || !isfinite(variance))
    return nde_error(NDE_ERR_ARG, "nde_ham_noise_gaussian: variance %g must be finite and >= 0",
                     variance);
  double sd = sqrt(variance);
  for (size_t i = 0; i < len; i++) x[i] = clip((double)x[i] + sd * nde_rng_normal(rng), lo, hi);
  return NDE_OK;
}

int nde_ham_noise_salt_pepper(nde_real *x, size_t len, double amount, double lo, double hi,
                              nde_rng *rng) {
  int rc = check_range(x, lo, hi, rng, "nde_ham_noise_salt_pepper");
  if (rc) return rc;
  if (!(amount >= 0 && amount <= 1))
    return nde_error(NDE_ERR_ARG, "nde_ham_noise_salt_pepper: amount %g outside [0, 1]", amount);
  for (size_t i = 0; i < len; i++) {
    double v = x[i];
    if (nde_rng_uniform(rng) < amount) v = nde_rng_uniform(rng) < 0.5 ? hi : lo;
    x[i] = clip(v, lo, hi);
  }
  return NDE_OK;
}
