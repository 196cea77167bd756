/* Shared helpers of the hamiltonian runner (header-only). */
#ifndef NDE_TESTS_HAM_TEST_H
#define NDE_TESTS_HAM_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

static const int ht_kinds[5] = {NDE_HAM_R1, NDE_HAM_H1_J1, NDE_HAM_H1_J2, NDE_HAM_H2,
                                NDE_HAM_CHNODE};

/* A block of the given kind with K ~ N(0, sk^2), b ~ N(0, sb^2). */
static inline nde_ham *ht_make(int kind, int nf, int N, double h, double kappa, int max_batch,
                               double sk, double sb, uint64_t seed) {
  nde_ham_options o = nde_ham_options_default(kind);
  o.nf = nf;
  o.nlayers = N;
  o.h = h;
  o.kappa = kappa;
  o.max_batch = max_batch;
  nde_ham *ham = NULL;
  ck_assert_int_eq(nde_ham_create(&o, &ham), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  ck_assert_int_eq(nde_ham_init(ham, &rng, sk, sb), NDE_OK);
  return ham;
}

static inline void ht_fill(double *x, size_t n, double scale, nde_rng *rng) {
  for (size_t i = 0; i < n; i++) x[i] = scale * nde_rng_normal(rng);
}

static inline double ht_dot(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static inline double ht_dist(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
  return sqrt(s);
}

static inline double ht_norm(const double *a, size_t n) { return sqrt(ht_dot(a, a, n)); }

#endif
