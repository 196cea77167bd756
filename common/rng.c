/* xoshiro256** seeded by splitmix64; see nde/common.h. */
#include <math.h>

#include "nde/common.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nde_rng_seed(nde_rng *rng, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t nde_rng_next(nde_rng *rng) {
  uint64_t *s = rng->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double nde_rng_uniform(nde_rng *rng) { return (double)(nde_rng_next(rng) >> 11) * 0x1.0p-53; }

double nde_rng_uniform_range(nde_rng *rng, double lo, double hi) {
  return lo + (hi - lo) * nde_rng_uniform(rng);
}

/* Box-Muller without caching the second value, so the stream position depends
 * only on the number of calls (simple to checkpoint). */
double nde_rng_normal(nde_rng *rng) {
  double u1 = nde_rng_uniform(rng), u2 = nde_rng_uniform(rng);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

/* Lemire-style rejection: unbiased integers in [0, n). */
uint64_t nde_rng_below(nde_rng *rng, uint64_t n) {
  if (n == 0) return 0;
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = nde_rng_next(rng);
  while (x >= limit);
  return x % n;
}
