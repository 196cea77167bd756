/* Shared helpers for the Check runners: finite-difference gradient checks and
 * relative-error measures. */
#ifndef NDE_TESTUTIL_H
#define NDE_TESTUTIL_H

#include <check.h>
#include <stddef.h>

#include "nde/nde.h"

/* Central finite-difference step and pass threshold for the build's nde_real:
 * the double build is held to 1e-6 (max relative error <= 1e-6, docs/conventions.md section 7);
 * the float build gets a looser check. */
#if NDE_REAL_IS_DOUBLE
#define TU_FD_STEP 1e-6
#define TU_GRAD_TOL 1e-6
#else
#define TU_FD_STEP 1e-2
#define TU_GRAD_TOL 5e-2
#endif

/* Max over i of |a_i - b_i| / max(|a_i|, |b_i|, floor), floor = 1e-3 * max_i |b_i|
 * (so coordinates whose gradient is tiny relative to the rest are judged on
 * the gradient's scale, not their own). */
double tu_max_rel_err(const double *a, const double *b, size_t n);

/* Per-coordinate central finite-difference check of a network at time t on a
 * random batch of n samples: loss = sum_i w_i y_i with random w. Compares
 * nde_net_vjp's input cotangent and parameter gradient with central
 * differences of the loss (step h). Writes the max relative errors
 * (tu_max_rel_err) to *err_x and *err_p (0 when there are no parameters).
 * Parameters are initialized from the seed. Returns an nde status. */
int tu_gradcheck_net(nde_net *net, double t, int n, unsigned long seed, double h, double *err_x,
                     double *err_p);

/* Fill with N(0, scale^2) values. */
void tu_fill_normal(nde_real *x, size_t n, double scale, nde_rng *rng);

#endif
