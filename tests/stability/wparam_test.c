/* Weight parametrizations: spectra inside the guaranteed bounds over sizes,
 * seeds and bound pairs; finite-difference gradients of the weight maps, the
 * soft-SVD penalty and the stable dense layer; error paths. */
#include <math.h>
#include <stdlib.h>

#include "support/testutil.h"

#define TOL_W (NDE_REAL_IS_DOUBLE ? 1e-10 : 2e-5) /* W is stored as nde_real */

typedef struct {
  int r, c;
} size2;
static const size2 sizes[] = {{3, 3}, {2, 5}, {5, 2}, {1, 1}, {4, 4}};
#define NSIZES 5
static const double bounds[][2] = {{0.5, 0.9}, {1.1, 1.5}, {0.0, 1.0}, {0.7, 0.7}};
#define NBOUNDS 4

static void as_double(const nde_real *a, double *d, int n) {
  for (int i = 0; i < n; i++) d[i] = a[i];
}

/* Eigenvalues need a workspace of exactly the matrix size. */
static int eig_of(int n, const double *A, double *re, double *im) {
  nde_spectrum *e;
  int rc = nde_spectrum_create(n, &e);
  if (!rc) rc = nde_spectrum_eig(e, A, re, im, NULL, NULL);
  nde_spectrum_free(e);
  return rc;
}

/* Check the spectrum of W against what the kind guarantees. */
static void check_spectrum(nde_wparam *w, int kind, int R, int C, const nde_real *theta,
                           double smin, double smax, nde_spectrum *sp) {
  nde_real W[25];
  double Wd[25], sv[5], re[5], im[5];
  ck_assert_int_eq(nde_wparam_weight(w, theta, W), NDE_OK);
  as_double(W, Wd, R * C);
  nde_wparam_bounds b;
  ck_assert_int_eq(nde_wparam_bounds_at(w, theta, &b), NDE_OK);
  const int k = R < C ? R : C;
  switch (kind) {
  case NDE_WPARAM_SOFTSVD:
  case NDE_WPARAM_SPECTRAL:
    ck_assert_int_eq(b.kind, NDE_WBOUND_SINGULAR);
    ck_assert_int_eq(nde_spectrum_svd(sp, R, C, Wd, sv), NDE_OK);
    for (int i = 0; i < k; i++)
      ck_assert_msg(sv[i] >= b.lo - TOL_W && sv[i] <= b.hi + TOL_W,
                    "%s %dx%d: sv %g outside [%g, %g]", nde_wparam_kind_name(kind), R, C, sv[i],
                    b.lo, b.hi);
    if (kind == NDE_WPARAM_SPECTRAL) ck_assert(b.lo >= smin - 1e-15 && b.hi <= smax + 1e-15);
    break;
  case NDE_WPARAM_GERSHGORIN:
    ck_assert_int_eq(b.kind, NDE_WBOUND_DISC);
    ck_assert_double_eq_tol(b.center, 0.5 * (smin + smax), 1e-15);
    ck_assert_int_eq(eig_of(R, Wd, re, im), NDE_OK);
    for (int i = 0; i < R; i++)
      ck_assert_msg(hypot(re[i] - b.center, im[i]) <= b.radius + TOL_W,
                    "gershgorin: eig %g%+gi outside disc", re[i], im[i]);
    break;
  case NDE_WPARAM_PF: {
    ck_assert_int_eq(b.kind, NDE_WBOUND_RHO);
    ck_assert(b.lo >= smin - 1e-15 && b.hi <= smax + 1e-15);
    for (int i = 0; i < R; i++) {
      double rs = 0;
      for (int j = 0; j < C; j++) {
        ck_assert(Wd[i * C + j] >= 0);
        rs += Wd[i * C + j];
      }
      ck_assert(rs >= b.lo - TOL_W && rs <= b.hi + TOL_W);
    }
    if (R == C) {
      ck_assert_int_eq(eig_of(R, Wd, re, im), NDE_OK);
      double rho = hypot(re[0], im[0]);
      ck_assert_msg(rho >= b.lo - TOL_W && rho <= b.hi + TOL_W, "pf: rho %g outside [%g, %g]", rho,
                    b.lo, b.hi);
    }
    break;
  }
  default: ck_assert_int_eq(b.kind, NDE_WBOUND_NONE);
  }
}

/* loop index: kind - 1 (softsvd, spectral, gershgorin, pf) */
START_TEST(spectra_inside_bounds) {
  const int kind = _i + 1;
  nde_spectrum *sp;
  ck_assert_int_eq(nde_spectrum_create(5, &sp), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 50 + _i);
  int checked = 0;
  for (int z = 0; z < NSIZES; z++)
    for (int bi = 0; bi < NBOUNDS; bi++)
      for (int seed = 0; seed < 3; seed++) {
        const int R = sizes[z].r, C = sizes[z].c;
        if (kind == NDE_WPARAM_GERSHGORIN && R != C) continue;
        double smin = bounds[bi][0], smax = bounds[bi][1];
        if (kind == NDE_WPARAM_GERSHGORIN && bi == 2) smin = -0.5; /* discs may cross 0 */
        nde_wparam *w;
        ck_assert_int_eq(nde_wparam_create(kind, R, C, smin, smax, &w), NDE_OK);
        ck_assert_int_eq(nde_wparam_get_kind(w), kind);
        size_t np = nde_wparam_num_params(w);
        nde_real *theta = malloc(np * sizeof *theta);
        ck_assert_int_eq(nde_wparam_init(w, theta, &rng), NDE_OK);
        double pen;
        ck_assert_int_eq(nde_wparam_penalty(w, theta, &pen, NULL), NDE_OK);
        ck_assert(
            pen <=
            (NDE_REAL_IS_DOUBLE ? 1e-20 : 1e-10)); /* orthonormal at init (softsvd), 0 otherwise */
        check_spectrum(w, kind, R, C, theta, smin, smax, sp);
        if (kind == NDE_WPARAM_SOFTSVD) {
          /* At init the singular values are s, inside [smin, smax] itself. */
          nde_wparam_bounds b;
          nde_wparam_bounds_at(w, theta, &b);
          ck_assert(b.lo >= smin - 1e-6 && b.hi <= smax + 1e-6);
        }
        /* Far from init (large random theta) the guarantees still hold. */
        for (size_t q = 0; q < np; q++) theta[q] += (nde_real)(0.5 * nde_rng_normal(&rng));
        if (kind == NDE_WPARAM_SOFTSVD) {
          ck_assert_int_eq(nde_wparam_penalty(w, theta, &pen, NULL), NDE_OK);
          ck_assert(pen > 1e-3);
        }
        check_spectrum(w, kind, R, C, theta, smin, smax, sp);
        free(theta);
        nde_wparam_free(w);
        checked++;
      }
  ck_assert_int_ge(checked, 12);
  nde_spectrum_free(sp);
}
END_TEST

/* Central differences of L(theta) = sum_ij G_ij W_ij(theta) (and of the
 * penalty) against nde_wparam_vjp (nde_wparam_penalty). */
static double loss_at(nde_wparam *w, const nde_real *theta, const double *G, int n, int penalty) {
  if (penalty) {
    double v;
    nde_wparam_penalty(w, theta, &v, NULL);
    return v;
  }
  nde_real W[64];
  nde_wparam_weight(w, theta, W);
  double s = 0;
  for (int i = 0; i < n; i++) s += G[i] * W[i];
  return s;
}

START_TEST(wparam_gradcheck) {
  const int kind = _i % 5, R = _i < 5 ? 3 : 2, C = _i < 5 ? 3 : 4;
  if (kind == NDE_WPARAM_GERSHGORIN && R != C) return;
  nde_wparam *w;
  ck_assert_int_eq(nde_wparam_create(kind, R, C, 0.3, 1.2, &w), NDE_OK);
  const size_t np = nde_wparam_num_params(w);
  nde_real *theta = malloc(np * sizeof *theta), *g = calloc(np, sizeof *g), dW[64];
  double *an = malloc(np * sizeof *an), *fd = malloc(np * sizeof *fd), G[64];
  nde_rng rng;
  nde_rng_seed(&rng, 70 + _i);
  nde_wparam_init(w, theta, &rng);
  for (size_t q = 0; q < np; q++) {
    theta[q] += (nde_real)(0.3 * nde_rng_normal(&rng));
    /* keep Gershgorin's |w| kink out of the difference quotient */
    if (kind == NDE_WPARAM_GERSHGORIN && fabs(theta[q]) < 0.05)
      theta[q] = theta[q] < 0 ? -0.05f : 0.05f;
  }
  for (int i = 0; i < R * C; i++) dW[i] = (nde_real)(G[i] = nde_rng_normal(&rng));
  for (int pen = 0; pen < (kind == NDE_WPARAM_SOFTSVD ? 2 : 1); pen++) {
    for (size_t q = 0; q < np; q++) g[q] = 0;
    if (pen) {
      double v;
      ck_assert_int_eq(nde_wparam_penalty(w, theta, &v, g), NDE_OK);
    } else {
      ck_assert_int_eq(nde_wparam_vjp(w, theta, dW, g), NDE_OK);
    }
    for (size_t q = 0; q < np; q++) {
      nde_real keep = theta[q];
      theta[q] = keep + (nde_real)TU_FD_STEP;
      double lp = loss_at(w, theta, G, R * C, pen);
      theta[q] = keep - (nde_real)TU_FD_STEP;
      double lm = loss_at(w, theta, G, R * C, pen);
      theta[q] = keep;
      fd[q] = (lp - lm) / (2 * TU_FD_STEP);
      an[q] = g[q];
    }
    double err = tu_max_rel_err(an, fd, np);
    ck_assert_msg(err <= TU_GRAD_TOL, "%s %dx%d%s: max rel err %g", nde_wparam_kind_name(kind), R,
                  C, pen ? " penalty" : "", err);
  }
  /* vjp accumulates */
  for (size_t q = 0; q < np; q++) g[q] = 1;
  nde_wparam_vjp(w, theta, dW, g);
  nde_real *g2 = calloc(np, sizeof *g2);
  nde_wparam_vjp(w, theta, dW, g2);
  for (size_t q = 0; q < np; q++)
    ck_assert_double_eq_tol(g[q], 1 + g2[q], 1e-5 * (1 + fabs(g2[q])));
  free(g2);
  free(theta);
  free(g);
  free(an);
  free(fd);
  nde_wparam_free(w);
}
END_TEST

/* The stable dense layer: loss = sum v . y over a batch, gradients in x and
 * in [theta | b] against central differences. */
START_TEST(sdense_gradcheck) {
  const int kind = _i, in = 3, out = 3, n = 4;
  nde_sdense *l;
  ck_assert_int_eq(nde_sdense_create(kind, in, out, 0.2, 0.9, 1, n, &l), NDE_OK);
  ck_assert_ptr_nonnull(nde_sdense_wparam(l));
  const size_t np = nde_sdense_num_params(l);
  ck_assert_uint_eq(np, nde_wparam_num_params(nde_sdense_wparam(l)) + out);
  nde_real *par = malloc(np * sizeof *par), *g = calloc(np, sizeof *g);
  nde_real x[12], v[12], y[12], dx[12];
  double *an = malloc((np + 12) * sizeof *an), *fd = malloc((np + 12) * sizeof *fd);
  nde_rng rng;
  nde_rng_seed(&rng, 90 + _i);
  ck_assert_int_eq(nde_sdense_init(l, par, &rng), NDE_OK);
  if (kind == NDE_WPARAM_GERSHGORIN)
    for (size_t q = 0; q < np - out; q++)
      if (fabs(par[q]) < 0.05) par[q] = par[q] < 0 ? -0.05f : 0.05f;
  tu_fill_normal(x, 12, 1, &rng);
  tu_fill_normal(v, 12, 1, &rng);
  ck_assert_int_eq(nde_sdense_forward(l, par, n, x, y), NDE_OK);
  ck_assert_int_eq(nde_sdense_vjp(l, par, n, v, dx, g), NDE_OK);
  for (size_t q = 0; q < np + 12; q++) {
    nde_real *t = q < np ? &par[q] : &x[q - np];
    nde_real keep = *t;
    double lp = 0, lm = 0;
    *t = keep + (nde_real)TU_FD_STEP;
    nde_sdense_forward(l, par, n, x, y);
    for (int i = 0; i < 12; i++) lp += (double)v[i] * y[i];
    *t = keep - (nde_real)TU_FD_STEP;
    nde_sdense_forward(l, par, n, x, y);
    for (int i = 0; i < 12; i++) lm += (double)v[i] * y[i];
    *t = keep;
    fd[q] = (lp - lm) / (2 * TU_FD_STEP);
    an[q] = q < np ? g[q] : dx[q - np];
  }
  double ep = tu_max_rel_err(an, fd, np), ex = tu_max_rel_err(an + np, fd + np, 12);
  ck_assert_msg(ep <= TU_GRAD_TOL && ex <= TU_GRAD_TOL, "sdense %s: err_p %g err_x %g",
                nde_wparam_kind_name(kind), ep, ex);
  free(par);
  free(g);
  free(an);
  free(fd);
  nde_sdense_free(l);
}
END_TEST

START_TEST(wparam_errors) {
  nde_wparam *w = (nde_wparam *)1;
  ck_assert_int_eq(nde_wparam_create(9, 2, 2, 0, 1, &w), NDE_ERR_KIND);
  ck_assert_ptr_null(w);
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_SPECTRAL, 0, 2, 0, 1, &w), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_SPECTRAL, 2, 2, 1, 0.5, &w), NDE_ERR_ARG);
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_SOFTSVD, 2, 2, -0.1, 0.5, &w), NDE_ERR_ARG);
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_PF, 2, 2, NAN, 0.5, &w), NDE_ERR_ARG);
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_GERSHGORIN, 2, 3, 0, 1, &w), NDE_ERR_SHAPE);
  ck_assert(strstr(nde_last_error(), "square") != NULL);
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_GERSHGORIN, 2, 2, -1, 1, &w), NDE_OK);
  nde_wparam_free(w);
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_PLAIN, 2, 2, 5, -5, &w),
                   NDE_OK); /* bounds unused */
  nde_wparam_free(w);
  /* A zero Householder vector has no reflection. */
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_SPECTRAL, 2, 2, 0, 1, &w), NDE_OK);
  nde_real theta[10] = {0, 0, 1, 0, 1, 0, 0, 1, 0, 0}, W[4], dW[4] = {1, 1, 1, 1}, g[10] = {0};
  ck_assert_int_eq(nde_wparam_weight(w, theta, W), NDE_ERR_NUMERIC);
  ck_assert(strstr(nde_last_error(), "u_1") != NULL);
  ck_assert_int_eq(nde_wparam_vjp(w, theta, dW, g), NDE_ERR_NUMERIC);
  theta[0] = (nde_real)NAN;
  ck_assert_int_eq(nde_wparam_weight(w, theta, W), NDE_ERR_NUMERIC);
  ck_assert_int_eq(nde_wparam_weight(w, NULL, W), NDE_ERR_NULL);
  ck_assert_int_eq(nde_wparam_vjp(w, theta, dW, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_wparam_init(w, theta, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_wparam_penalty(w, theta, NULL, NULL), NDE_ERR_NULL);
  nde_wparam_bounds b;
  ck_assert_int_eq(nde_wparam_bounds_at(w, theta, &b), NDE_ERR_NUMERIC);
  nde_wparam_free(w);
  /* Non-finite W from non-finite theta (plain). */
  ck_assert_int_eq(nde_wparam_create(NDE_WPARAM_PLAIN, 2, 2, 0, 0, &w), NDE_OK);
  theta[0] = (nde_real)INFINITY;
  ck_assert_int_eq(nde_wparam_weight(w, theta, W), NDE_ERR_NONFINITE);
  nde_wparam_free(w);
  nde_wparam_free(NULL);
  int k;
  ck_assert_int_eq(nde_wparam_kind_parse("spectral", &k), NDE_OK);
  ck_assert_int_eq(k, NDE_WPARAM_SPECTRAL);
  ck_assert_int_eq(nde_wparam_kind_parse("svd", &k), NDE_ERR_KIND);
  ck_assert_str_eq(nde_wparam_kind_name(42), "unknown");
  ck_assert_uint_eq(nde_wparam_num_params(NULL), 0);

  nde_sdense *l = (nde_sdense *)1;
  ck_assert_int_eq(nde_sdense_create(NDE_WPARAM_PF, 2, 2, 0, 1, 1, 0, &l), NDE_ERR_ARG);
  ck_assert_ptr_null(l);
  ck_assert_int_eq(nde_sdense_create(NDE_WPARAM_GERSHGORIN, 3, 2, 0, 1, 1, 2, &l), NDE_ERR_SHAPE);
  ck_assert(strstr(nde_last_error(), "nde_sdense_create") != NULL);
  ck_assert_int_eq(nde_sdense_create(NDE_WPARAM_PF, 2, 2, 0, 1, 0, 2, &l), NDE_OK);
  nde_real par[6] = {0}, x[6] = {0}, y[6], dy[6] = {0};
  ck_assert_int_eq(nde_sdense_vjp(l, par, 1, dy, NULL, NULL), NDE_ERR_STATE);
  ck_assert_int_eq(nde_sdense_forward(l, par, 3, x, y), NDE_ERR_BATCH);
  ck_assert_int_eq(nde_sdense_forward(l, par, 2, x, y), NDE_OK);
  ck_assert_int_eq(nde_sdense_vjp(l, par, 1, dy, NULL, NULL), NDE_ERR_STATE);
  ck_assert_int_eq(nde_sdense_forward(l, NULL, 2, x, y), NDE_ERR_NULL);
  nde_sdense_free(l);
  nde_sdense_free(NULL);
}
END_TEST

Suite *wparam_suite(void) {
  Suite *s = suite_create("wparam");
  TCase *tc = tcase_create("core");
  tcase_add_loop_test(tc, spectra_inside_bounds, 0, 4);
  tcase_add_loop_test(tc, wparam_gradcheck, 0, 10);
  tcase_add_loop_test(tc, sdense_gradcheck, 0, 5);
  tcase_add_test(tc, wparam_errors);
  suite_add_tcase(s, tc);
  return s;
}
