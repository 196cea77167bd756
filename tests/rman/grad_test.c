/* RMAN gradients against central finite differences of the loss
 * (alpha/n) sum_i E(x_i), for the features x and the attractors m, on random
 * data and at the S -> 0 edge (one attractor barely active).
 *
 * Double build: the fourth-order stencil
 *   f'(v) ~ [8 (f(v+h) - f(v-h)) - (f(v+2h) - f(v-2h))] / (12 h),
 * whose truncation error O(h^4) allows h = 1e-3 away from the relu kink,
 * where a central difference is limited by the rounding of the O(10) loss
 * (measured at c = 64, h = 16: 1e-6 with h = 1e-6, 1e-7 with h = 1e-4; the
 * stencil: 1e-7 with h = 1e-4, 9e-9 with h = 1e-3). Threshold 1e-7 relative.
 * Float build: the energy is evaluated in double from the nde_real inputs, so
 * a central difference dividing by the step actually taken (v + h rounded to
 * float minus v - h rounded) stays accurate with h = 1e-6; threshold 1e-4
 * (the gradients are stored as float). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "support/testutil.h"

#if NDE_REAL_IS_DOUBLE
#define RMAN_GRAD_TOL 1e-7
#else
#define RMAN_GRAD_TOL 1e-4
#endif
/* Steps (double build): away from the kink and at the S -> 0 edge, where the
 * barely active score is 1e-4 and the step must not cross zero. */
#if NDE_REAL_IS_DOUBLE
#define STEP_FAR 1e-3
#define STEP_EDGE 1e-6
#else
#define STEP_FAR 1e-6
#define STEP_EDGE 1e-6
#endif

static double loss_of(nde_rman *r, int n, const nde_real *x, const nde_real *m, double alpha) {
  nde_rman_result res;
  ck_assert_int_eq(nde_rman_energy(r, n, x, m, alpha, NULL, NULL, &res), NDE_OK);
  return res.loss;
}

/* Finite differences over every coordinate of v (x or m). */
static void fd(nde_rman *r, int n, nde_real *x, nde_real *m, double alpha, nde_real *v, size_t nv,
               double step, double *out) {
  for (size_t q = 0; q < nv; q++) {
    nde_real keep = v[q];
#if NDE_REAL_IS_DOUBLE
    double f[4];
    const double off[4] = {step, -step, 2 * step, -2 * step};
    for (int k = 0; k < 4; k++) {
      v[q] = keep + off[k];
      f[k] = loss_of(r, n, x, m, alpha);
    }
    out[q] = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * step);
#else
    nde_real vp = (nde_real)(keep + step), vm = (nde_real)(keep - step);
    v[q] = vp;
    double lp = loss_of(r, n, x, m, alpha);
    v[q] = vm;
    double lm = loss_of(r, n, x, m, alpha);
    out[q] = (lp - lm) / ((double)vp - (double)vm);
#endif
    v[q] = keep;
  }
}

/* Analytic vs finite-difference gradients; returns the two relative errors
 * (tu_max_rel_err) and prints them for the record. */
static void gradcheck(const char *name, int c, int h, int n, nde_real *x, nde_real *m, int empty,
                      double step, double *err_x, double *err_m) {
  nde_rman_options o = nde_rman_options_default();
  o.empty = empty;
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(c, h, &o, &r), NDE_OK);
  const double alpha = 0.37;
  size_t nx = (size_t)n * c, nm = (size_t)h * c;
  nde_real *dx = calloc(nx, sizeof *dx), *dm = calloc(nm, sizeof *dm);
  double *an = malloc((nx + nm) * sizeof *an), *num = malloc((nx + nm) * sizeof *num);
  ck_assert(dx && dm && an && num);
  nde_rman_result res;
  ck_assert_int_eq(nde_rman_energy(r, n, x, m, alpha, dx, dm, &res), NDE_OK);
  for (size_t q = 0; q < nx; q++) an[q] = dx[q];
  for (size_t q = 0; q < nm; q++) an[nx + q] = dm[q];
  fd(r, n, x, m, alpha, x, nx, step, num);
  fd(r, n, x, m, alpha, m, nm, step, num + nx);
  *err_x = tu_max_rel_err(an, num, nx);
  /* all-zero attractor gradients (skipped empty samples) compare exactly */
  double gm = 0;
  for (size_t q = 0; q < nm; q++) gm = fmax(gm, fabs(num[nx + q]));
  *err_m = gm > 0 ? tu_max_rel_err(an + nx, num + nx, nm) : 0;
  if (gm == 0)
    for (size_t q = 0; q < nm; q++) ck_assert(an[nx + q] == 0);
  printf("rman gradcheck %-26s n=%d c=%d h=%d empty=%d step %.0e: err_x %.2e err_m %.2e\n", name, n,
         c, h, res.n_empty, step, *err_x, *err_m);
  free(dx);
  free(dm);
  free(an);
  free(num);
  nde_rman_free(r);
}

/* Random x and m, redrawing any sample of x that has a score m_j^T x within
 * `margin` of the relu kink, so no difference step crosses it. */
static void random_case(int c, int h, int n, uint64_t seed, nde_real *x, nde_real *m) {
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  tu_fill_normal(m, (size_t)h * c, 1.0, &rng);
  const double margin = 5e-2; /* > 2 STEP_FAR |x_k| for every coordinate */
  for (int i = 0; i < n; i++) {
    for (int tries = 0;; tries++) {
      ck_assert(tries < 1000);
      tu_fill_normal(x + (size_t)i * c, (size_t)c, 1.0, &rng);
      int ok = 1;
      for (int j = 0; j < h && ok; j++) {
        double s = 0;
        for (int k = 0; k < c; k++) s += (double)m[(size_t)j * c + k] * x[(size_t)i * c + k];
        ok = fabs(s) > margin;
      }
      if (ok) break;
    }
  }
}

START_TEST(gradcheck_random_small) {
  enum { C = 6, H = 4, N = 5 };
  nde_real x[N * C], m[H * C];
  random_case(C, H, N, 101, x, m);
  double ex, em;
  gradcheck("random small", C, H, N, x, m, NDE_RMAN_EMPTY_ZERO, STEP_FAR, &ex, &em);
  ck_assert_msg(ex <= RMAN_GRAD_TOL && em <= RMAN_GRAD_TOL, "err_x %g err_m %g", ex, em);
}
END_TEST

/* The ODE-Net use: 64 pooled channels, 16 attractors. */
START_TEST(gradcheck_random_odenet_shape) {
  enum { C = 64, H = 16, N = 4 };
  static nde_real x[N * C], m[H * C];
  random_case(C, H, N, 202, x, m);
  double ex, em;
  gradcheck("random c=64 h=16", C, H, N, x, m, NDE_RMAN_EMPTY_ZERO, STEP_FAR, &ex, &em);
  ck_assert_msg(ex <= RMAN_GRAD_TOL && em <= RMAN_GRAD_TOL, "err_x %g err_m %g", ex, em);
}
END_TEST

/* Attractor m0 = u + eps x / ||x||^2 with u orthogonal to x: s_0 = eps. */
static void edge_case(int with_active_partner, nde_real *x, nde_real *m) {
  const nde_real xv[3] = {1, 0.5, -0.25};
  double xx = 1 + 0.25 + 0.0625, eps = 1e-4; /* 100 x STEP_EDGE */
  const double u[3] = {0.5, -1, 0};          /* u . x = 0 */
  for (int k = 0; k < 3; k++) {
    x[k] = xv[k];
    m[k] = (nde_real)(u[k] + eps * xv[k] / xx);
  }
  const nde_real off[3] = {-1, 0, 0.2};   /* s = -1.05: inactive */
  const nde_real on[3] = {0.8, 0.9, 0.3}; /* s = 1.175: active */
  for (int k = 0; k < 3; k++) {
    m[3 + k] = off[k];
    m[6 + k] = with_active_partner ? on[k] : off[k] * 2;
  }
}

START_TEST(gradcheck_edge_one_barely_active) {
  nde_real x[3], m[9];
  edge_case(0, x, m);
  nde_rman *r;
  ck_assert_int_eq(nde_rman_create(3, 3, NULL, &r), NDE_OK);
  double a[3], g[3];
  ck_assert_int_eq(nde_rman_attract(r, 1, x, m, a, g, NULL), NDE_OK);
  ck_assert(a[0] == 1 && a[1] == 0 && a[2] == 0); /* g = m_0 however small s_0 is */
  nde_rman_free(r);
  double ex, em;
  gradcheck("edge: one barely active", 3, 3, 1, x, m, NDE_RMAN_EMPTY_ZERO, STEP_EDGE, &ex, &em);
  ck_assert_msg(ex <= RMAN_GRAD_TOL && em <= RMAN_GRAD_TOL, "err_x %g err_m %g", ex, em);
}
END_TEST

START_TEST(gradcheck_edge_barely_active_beside_active) {
  nde_real x[3], m[9];
  edge_case(1, x, m);
  double ex, em;
  gradcheck("edge: barely + active", 3, 3, 1, x, m, NDE_RMAN_EMPTY_ZERO, STEP_EDGE, &ex, &em);
  ck_assert_msg(ex <= RMAN_GRAD_TOL && em <= RMAN_GRAD_TOL, "err_x %g err_m %g", ex, em);
}
END_TEST

/* Batches containing empty samples, under both policies. */
START_TEST(gradcheck_with_empty_samples) {
  enum { C = 3, H = 2, N = 3 };
  nde_real m[H * C] = {1, 0.5, 0, 0.2, 1, -0.3};
  nde_real x[N * C] = {1,  2,  0.5, /* active */ -1, -0.5, 0.7, /* empty: s = (-1.25, -0.91) */
                       -2, -1, 1};                              /* empty: s = (-2.5, -1.7) */
  for (int pol = 0; pol < 2; pol++) {
    double ex, em;
    gradcheck(pol ? "empty samples, SKIP" : "empty samples, ZERO", C, H, N, x, m,
              pol ? NDE_RMAN_EMPTY_SKIP : NDE_RMAN_EMPTY_ZERO, STEP_FAR, &ex, &em);
    ck_assert_msg(ex <= RMAN_GRAD_TOL && em <= RMAN_GRAD_TOL, "policy %d: err_x %g err_m %g", pol,
                  ex, em);
  }
  /* All samples empty under SKIP: a constant loss, zero gradients. */
  nde_real xe[C] = {-1, -0.5, 0.7};
  double ex, em;
  gradcheck("all empty, SKIP", C, H, 1, xe, m, NDE_RMAN_EMPTY_SKIP, STEP_FAR, &ex, &em);
  ck_assert(em == 0);
}
END_TEST

Suite *rman_grad_suite(void) {
  Suite *s = suite_create("rman_grad");
  TCase *tc = tcase_create("finite_differences");
  tcase_add_test(tc, gradcheck_random_small);
  tcase_add_test(tc, gradcheck_random_odenet_shape);
  tcase_add_test(tc, gradcheck_edge_one_barely_active);
  tcase_add_test(tc, gradcheck_edge_barely_active_beside_active);
  tcase_add_test(tc, gradcheck_with_empty_samples);
  suite_add_tcase(s, tc);
  return s;
}
