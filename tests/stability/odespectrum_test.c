/* Jacobians of networks by batched vjps (nde_stab_net_jacobian) against
 * finite differences and single-sample vjps, and the spectral summary of a
 * field's Jacobian (nde_stab_jacobian_spectrum) against closed forms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stab_util.h"

/* The ODE-Net's function network at a tiny size: c = 4 channels, 2 groups,
 * 3x3 maps (36 state values), parameters from the seed. */
static nde_net *tiny_odefunc(int max_batch, unsigned long seed) {
  nde_net *net;
  ck_assert_int_eq(nde_net_create_odefunc(nde_shape_chw(4, 3, 3), 2, max_batch, &net), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  ck_assert_int_eq(nde_net_init(net, &rng), NDE_OK);
  /* GroupNorm's default gamma = 1, beta = 0 (layers 0, 3, 6): perturb them
   * so the test also covers the affine part's derivative. */
  for (int l = 0; l <= 6; l += 3) {
    size_t off, cnt;
    ck_assert_int_eq(nde_net_layer_params(net, l, &off, &cnt), NDE_OK);
    ck_assert_uint_eq(cnt, 8); /* gamma, beta for 4 channels */
    nde_real *p = nde_net_params(net) + off;
    for (size_t k = 0; k < cnt; k++) p[k] += (nde_real)(0.3 * nde_rng_normal(&rng));
  }
  return net;
}

/* Central differences of f = net(t, .) at x, column by column (step h). */
static void fd_jacobian(nde_net *net, double t, const nde_real *x, double h, double *J) {
  const size_t n = nde_net_in_numel(net), m = nde_net_out_numel(net);
  nde_real *xp = malloc(n * sizeof *xp), *yp = malloc(m * sizeof *yp), *ym = malloc(m * sizeof *ym);
  for (size_t j = 0; j < n; j++) {
    memcpy(xp, x, n * sizeof *xp);
    xp[j] = (nde_real)(x[j] + h);
    ck_assert_int_eq(nde_net_forward(net, t, 1, xp, yp), NDE_OK);
    xp[j] = (nde_real)(x[j] - h);
    ck_assert_int_eq(nde_net_forward(net, t, 1, xp, ym), NDE_OK);
    const double step = (double)(nde_real)(x[j] + h) - (double)(nde_real)(x[j] - h);
    for (size_t i = 0; i < m; i++) J[i * n + j] = ((double)yp[i] - (double)ym[i]) / step;
  }
  free(xp);
  free(yp);
  free(ym);
}

/* Batch 5 against 36 rows: 7 full vjps and a last one with a single row, so
 * the clearing of the previous unit cotangents and the zero padding are both
 * exercised. Double build: every entry within 1e-6 (relative, floor 1e-3
 * max |J|) of central differences at h = 1e-6; the float build (h = 1e-2)
 * within TU_GRAD_TOL. */
START_TEST(net_jacobian_matches_finite_differences) {
  enum { N = 36 };
  for (unsigned long seed = 1; seed <= 3; seed++) {
    nde_net *net = tiny_odefunc(5, seed);
    nde_real x[N];
    nde_rng rng;
    nde_rng_seed(&rng, 100 + seed);
    tu_fill_normal(x, N, 1.0, &rng);
    const double t = 0.7;
    double *J = malloc(N * N * sizeof *J), *Jfd = malloc(N * N * sizeof *Jfd);
    ck_assert_int_eq(nde_stab_net_jacobian(net, t, x, J), NDE_OK);
    fd_jacobian(net, t, x, TU_FD_STEP, Jfd);
    double err = tu_max_rel_err(J, Jfd, N * N);
    ck_assert_msg(err <= TU_GRAD_TOL, "seed %lu: max rel err %g > %g", seed, err, TU_GRAD_TOL);
    /* A mapping of this size is not diagonal: J must have real content. */
    double amax = 0;
    for (int i = 0; i < N * N; i++) amax = fmax(amax, fabs(J[i]));
    ck_assert(amax > 1e-2);
    free(J);
    free(Jfd);
    nde_net_free(net);
  }
}
END_TEST

/* The batched construction equals single-sample vjps row by row (a network
 * created for batch 1), and t matters (ConcatConv's time channel). */
START_TEST(net_jacobian_batched_equals_rowwise) {
  enum { N = 36 };
  nde_net *big = tiny_odefunc(16, 4), *one = tiny_odefunc(1, 4);
  nde_real x[N], dy[N], dx[N];
  nde_rng rng;
  nde_rng_seed(&rng, 5);
  tu_fill_normal(x, N, 1.0, &rng);
  double *J = malloc(N * N * sizeof *J), *J1 = malloc(N * N * sizeof *J1),
         *Jt = malloc(N * N * sizeof *Jt);
  ck_assert_int_eq(nde_stab_net_jacobian(big, 0.3, x, J), NDE_OK);
  ck_assert_int_eq(nde_stab_net_jacobian(one, 0.3, x, J1), NDE_OK);
  ck_assert_int_eq(nde_net_forward(one, 0.3, 1, x, NULL), NDE_OK);
  double dmax = 0, dmax1 = 0, scale = 0;
  for (int i = 0; i < N; i++) {
    memset(dy, 0, sizeof dy);
    dy[i] = 1;
    ck_assert_int_eq(nde_net_vjp(one, 1, dy, dx, NULL), NDE_OK);
    for (int j = 0; j < N; j++) {
      dmax = fmax(dmax, fabs(J[i * N + j] - (double)dx[j]));
      dmax1 = fmax(dmax1, fabs(J1[i * N + j] - (double)dx[j]));
      scale = fmax(scale, fabs((double)dx[j]));
    }
  }
  const double tol = NDE_REAL_IS_DOUBLE ? 1e-13 : 1e-5;
  ck_assert_msg(dmax <= tol * scale, "batched vs row-wise: %g (scale %g)", dmax, scale);
  ck_assert_msg(dmax1 <= tol * scale, "batch-1 construction vs row-wise: %g", dmax1);
  ck_assert_int_eq(nde_stab_net_jacobian(big, 0.9, x, Jt), NDE_OK);
  double dt = 0;
  for (int i = 0; i < N * N; i++) dt = fmax(dt, fabs(Jt[i] - J[i]));
  ck_assert(dt > 1e-4 * scale);
  free(J);
  free(J1);
  free(Jt);
  nde_net_free(big);
  nde_net_free(one);
}
END_TEST

/* A linear field x -> W x (one bias-free dense layer) with a known spectrum:
 * W = Q B Q^T, Q a Householder reflection (orthogonal), B block diagonal
 *   [-0.5 2; -2 -0.5]  eigenvalues -0.5 +- 2i, symmetric part -0.5 (twice)
 *   [-1 4; 0 -2]       eigenvalues -1, -2; NON-NORMAL: symmetric part
 *                      [-1 2; 2 -2], eigenvalues (-3 +- sqrt 17) / 2
 *   0.3, -3            on the diagonal.
 * Orthogonal similarity keeps the eigenvalues, the symmetric part's
 * eigenvalues and the Frobenius norm, so: abscissa 0.3, rho 3,
 * mu2 = (-3 + sqrt 17) / 2 = 0.5616 > abscissa (stable eigenvalues of the
 * block, yet not a 2-norm contraction), mu2_min = (-3 - sqrt 17) / 2,
 * 5 of 6 eigenvalues with Re < 0, trace -6.7, ||W||_F^2 = 38.59. */
START_TEST(linear_field_spectrum_recovered) {
  enum { N = 6 };
  double Bm[N * N] = {0};
  Bm[0 * N + 0] = -0.5, Bm[0 * N + 1] = 2, Bm[1 * N + 0] = -2, Bm[1 * N + 1] = -0.5;
  Bm[2 * N + 2] = -1, Bm[2 * N + 3] = 4, Bm[3 * N + 3] = -2;
  Bm[4 * N + 4] = 0.3, Bm[5 * N + 5] = -3;
  const double u[N] = {1, -2, 0.5, 1.5, -1, 0.25};
  double uu = 0, Q[N * N], W[N * N];
  for (int i = 0; i < N; i++) uu += u[i] * u[i];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) Q[i * N + j] = (i == j) - 2 * u[i] * u[j] / uu;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < N; k++)
        for (int l = 0; l < N; l++) s += Q[i * N + k] * Bm[k * N + l] * Q[j * N + l];
      W[i * N + j] = s;
    }
  nde_layer_spec d = nde_spec_dense(N);
  d.bias = 0;
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(N), 4, &d, 1, &net), NDE_OK);
  su_set_dense(net, 0, W, NULL);
  nde_real x[N] = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6};
  double J[N * N], re[N], im[N], sym[N];
  ck_assert_int_eq(nde_stab_net_jacobian(net, 0, x, J), NDE_OK);
  const double tj = NDE_REAL_IS_DOUBLE ? 1e-14 : 1e-6;
  for (int i = 0; i < N * N; i++) ck_assert_double_eq_tol(J[i], W[i], tj * 4);

  nde_jac_summary s;
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, 0, NULL, 0, re, im, sym, &s), NDE_OK);
  const double te = NDE_REAL_IS_DOUBLE ? 1e-10 : 1e-5;
  const double want_re[N] = {0.3, -0.5, -0.5, -1, -2, -3}, want_im[N] = {0, 2, -2, 0, 0, 0};
  const double r17 = sqrt(17.0);
  const double want_sym[N] = {(-3 + r17) / 2, 0.3, -0.5, -0.5, -3, (-3 - r17) / 2};
  for (int i = 0; i < N; i++) {
    ck_assert_double_eq_tol(re[i], want_re[i], te);
    ck_assert_double_eq_tol(im[i], want_im[i], te);
    ck_assert_double_eq_tol(sym[i], want_sym[i], te);
  }
  ck_assert_int_eq(s.n, N);
  ck_assert_double_eq_tol(s.abscissa, 0.3, te);
  ck_assert_double_eq_tol(s.rho, 3, te);
  ck_assert_double_eq_tol(s.mu2, (-3 + r17) / 2, te);
  ck_assert_double_eq_tol(s.mu2_min, (-3 - r17) / 2, te);
  ck_assert_double_eq_tol(s.frac_neg, 5.0 / 6.0, 1e-15);
  ck_assert_double_eq_tol(s.frac_pos, 1.0 / 6.0, 1e-15);
  ck_assert_int_eq(s.nzero, 0);
  ck_assert_double_eq(s.zero_max, 0);
  ck_assert_double_eq_tol(s.nonzero_min, 0.3, te);
  /* a tolerance above 0.3 counts that eigenvalue as zero instead */
  nde_jac_summary s2;
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, 0, NULL, 0.5, NULL, NULL, NULL, &s2), NDE_OK);
  ck_assert_int_eq(s2.nzero, 1);
  ck_assert_double_eq_tol(s2.frac_pos, 0, 1e-15);
  ck_assert_double_eq_tol(s2.zero_max, 0.3, te);
  ck_assert_double_eq_tol(s2.nonzero_min, 1, te);
  ck_assert_double_eq_tol(s.trace, -6.7, te);
  ck_assert_double_eq_tol(s.fro, sqrt(38.59), te);
  /* Outputs are optional. */
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, 0, NULL, 0, NULL, NULL, NULL, &s2), NDE_OK);
  ck_assert_double_eq(s2.mu2, s.mu2);
  ck_assert_double_eq(s2.abscissa, s.abscissa);
  nde_net_free(net);
}
END_TEST

/* Random matrices: the eigenvalues agree with nde_spectrum_eig (GSL's
 * nonsymmv, an independent path), and alpha <= mu2, sum Re = trace =
 * sum of the symmetric part's eigenvalues, |alpha| <= rho, conjugate pairs. */
START_TEST(random_matrix_relations) {
  enum { N = 30 };
  nde_rng rng;
  nde_rng_seed(&rng, 11);
  nde_spectrum *sp;
  ck_assert_int_eq(nde_spectrum_create(N, &sp), NDE_OK);
  for (int trial = 0; trial < 4; trial++) {
    double A[N * N], re[N], im[N], sym[N], r2[N], i2[N];
    for (int i = 0; i < N * N; i++) A[i] = nde_rng_normal(&rng) - (i % (N + 1) == 0 ? 2 : 0);
    nde_jac_summary s;
    ck_assert_int_eq(nde_stab_jacobian_spectrum(N, A, 0, NULL, 0, re, im, sym, &s), NDE_OK);
    ck_assert_int_eq(nde_spectrum_eig(sp, A, r2, i2, NULL, NULL), NDE_OK);
    /* every eigenvalue of one list has a partner in the other */
    for (int i = 0; i < N; i++) {
      double best = INFINITY;
      for (int j = 0; j < N; j++) best = fmin(best, hypot(re[i] - r2[j], im[i] - i2[j]));
      ck_assert_msg(best < 1e-9, "eigenvalue %d (%g, %g) unmatched: %g", i, re[i], im[i], best);
    }
    double sre = 0, ssym = 0, sim = 0;
    for (int i = 0; i < N; i++) {
      sre += re[i], ssym += sym[i], sim += im[i];
      if (i) {
        ck_assert(re[i] <= re[i - 1]);
        ck_assert(sym[i] <= sym[i - 1]);
      }
    }
    ck_assert_double_eq_tol(sre, s.trace, 1e-9);
    ck_assert_double_eq_tol(ssym, s.trace, 1e-9);
    ck_assert_double_eq_tol(sim, 0, 1e-9);
    ck_assert_double_eq(s.abscissa, re[0]);
    ck_assert_double_eq(s.mu2, sym[0]);
    ck_assert_double_eq(s.mu2_min, sym[N - 1]);
    ck_assert_double_eq(s.mu2_full, s.mu2);
    ck_assert_int_eq(s.n, N);
    ck_assert_int_eq(s.k, 0);
    ck_assert_double_eq(s.null_resid, 0);
    ck_assert(s.abscissa <= s.mu2 + 1e-12);
    ck_assert(fabs(s.abscissa) <= s.rho + 1e-12);
    ck_assert_double_eq_tol(s.rho, hypot(r2[0], i2[0]), 1e-9);
    ck_assert(s.frac_neg > 0 && s.frac_neg < 1);
  }
  nde_spectrum_free(sp);
}
END_TEST

/* Deflation: J = Q A Q^T + N C Q^T on R^6 with [Q N] orthogonal (columns of
 * a Householder reflection), A the 4x4 blocks [-0.5 2; -2 -0.5] and
 * [-1 4; 0 -2] of the test above, C an arbitrary 2x4 coupling. Then J N = 0
 * (two structural zero eigenvalues, so alpha(J) = 0 and mu2(J) >= 0), while
 * on the complement: eigenvalues -0.5 +- 2i, -1, -2 (abscissa -0.5 < 0),
 * symmetric part eig(sym A) = -0.5, -0.5, (-3 +- sqrt 17) / 2. mu2_full
 * equals mu2 of the undeflated call; the full eigenvalues are the deflated
 * ones and two zeros. */
START_TEST(deflated_null_space) {
  enum { N = 6, K = 2 };
  const double u[N] = {0.5, 1, -1, 2, 0.25, -0.75};
  double uu = 0, H[N * N];
  for (int i = 0; i < N; i++) uu += u[i] * u[i];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) H[i * N + j] = (i == j) - 2 * u[i] * u[j] / uu;
  const double A[4][4] = {{-0.5, 2, 0, 0}, {-2, -0.5, 0, 0}, {0, 0, -1, 4}, {0, 0, 0, -2}};
  const double C[K][4] = {{1, -2, 0.5, 3}, {-1, 0.25, 2, -0.5}};
  double Nb[N * K], J[N * N];
  for (int i = 0; i < N; i++)
    for (int q = 0; q < K; q++) Nb[i * K + q] = H[i * N + 4 + q];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double v = 0;
      for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) v += H[i * N + a] * A[a][b] * H[j * N + b];
      for (int q = 0; q < K; q++)
        for (int b = 0; b < 4; b++) v += H[i * N + 4 + q] * C[q][b] * H[j * N + b];
      J[i * N + j] = v;
    }
  double re[N], im[N], sym[N], rf[N], imf[N], symf[N];
  nde_jac_summary s, sf;
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, K, Nb, 0, re, im, sym, &s), NDE_OK);
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, 0, NULL, 1e-8, rf, imf, symf, &sf), NDE_OK);
  ck_assert_int_eq(s.n, N - K);
  ck_assert_int_eq(s.k, K);
  ck_assert(s.null_resid < 1e-14);
  const double r17 = sqrt(17.0);
  const double want_re[] = {-0.5, -0.5, -1, -2}, want_im[] = {2, -2, 0, 0};
  const double want_sym[] = {(-3 + r17) / 2, -0.5, -0.5, (-3 - r17) / 2};
  for (int i = 0; i < N - K; i++) {
    ck_assert_double_eq_tol(re[i], want_re[i], 1e-10);
    ck_assert_double_eq_tol(im[i], want_im[i], 1e-10);
    ck_assert_double_eq_tol(sym[i], want_sym[i], 1e-10);
  }
  ck_assert_double_eq_tol(s.abscissa, -0.5, 1e-10);
  ck_assert_double_eq_tol(s.rho, hypot(0.5, 2), 1e-10);
  ck_assert_double_eq_tol(s.mu2, (-3 + r17) / 2, 1e-10);
  ck_assert_double_eq_tol(s.mu2_min, (-3 - r17) / 2, 1e-10);
  ck_assert_double_eq_tol(s.frac_neg, 1, 1e-15);
  ck_assert_double_eq_tol(s.frac_pos, 0, 1e-15);
  ck_assert_int_eq(s.nzero, 0);
  ck_assert_double_eq_tol(s.trace, -4, 1e-10);
  /* undeflated: the two zeros come first (largest real part), and the
   * whole-space log-norm is what the deflated call reports as mu2_full */
  ck_assert_double_eq_tol(sf.abscissa, 0, 1e-10);
  ck_assert_double_eq_tol(rf[0], 0, 1e-10);
  ck_assert_double_eq_tol(rf[1], 0, 1e-10);
  for (int i = 0; i < N - K; i++) ck_assert_double_eq_tol(rf[K + i], re[i], 1e-10);
  ck_assert_double_eq_tol(s.mu2_full, sf.mu2, 1e-12);
  /* the two zeros counted apart at zero_tol 1e-8: 4 of 6 negative, none
   * positive, and the gap between them and the rest (|-1| = 1) */
  ck_assert_int_eq(sf.nzero, 2);
  ck_assert_double_eq_tol(sf.frac_neg, 4.0 / 6.0, 1e-15);
  ck_assert_double_eq_tol(sf.frac_pos, 0, 1e-15);
  ck_assert(sf.zero_max < 1e-10);
  ck_assert_double_eq_tol(sf.nonzero_min, 1, 1e-10);
  ck_assert(sf.mu2 >= s.mu2 - 1e-12); /* compression can only lower lambda_max */
  ck_assert(sf.mu2 > 0);              /* the coupling C makes it strictly positive here */
  ck_assert_double_eq_tol(s.fro, sf.fro, 1e-14);

  /* errors of the deflation arguments */
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, K, NULL, 0, NULL, NULL, NULL, &s),
                   NDE_ERR_NULL);
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, -1, Nb, 0, NULL, NULL, NULL, &s), NDE_ERR_ARG);
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, N, Nb, 0, NULL, NULL, NULL, &s), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "deflated directions"));
  double Nbad[N * K];
  memcpy(Nbad, Nb, sizeof Nbad);
  for (int i = 0; i < N * K; i++) Nbad[i] *= 1.01; /* not unit columns */
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, K, Nbad, 0, NULL, NULL, NULL, &s), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "orthonormal"));
  for (int i = 0; i < N; i++) /* columns 0 and 1 of H: orthonormal, but J H e_0 != 0 */
    for (int q = 0; q < K; q++) Nbad[i * K + q] = H[i * N + q];
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, K, Nbad, 0, NULL, NULL, NULL, &s), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "not a null space"));
  Nbad[3] = NAN;
  ck_assert_int_eq(nde_stab_jacobian_spectrum(N, J, K, Nbad, 0, NULL, NULL, NULL, &s),
                   NDE_ERR_NONFINITE);
}
END_TEST

/* Non-square networks: J is out x in, rows from batches of min(max_batch,
 * out) copies (here 2 of max_batch 8, and 1 of max_batch 1). */
START_TEST(net_jacobian_non_square) {
  const double W[] = {1, 2, 3, -4, 5, -6};
  for (int mb = 1; mb <= 8; mb += 7) {
    nde_layer_spec d = nde_spec_dense(2);
    nde_net *net;
    ck_assert_int_eq(nde_net_create(nde_shape_vec(3), mb, &d, 1, &net), NDE_OK);
    const double b[] = {7, 8};
    su_set_dense(net, 0, W, b); /* the bias does not enter J */
    nde_real x[3] = {1, 1, 1};
    double J[6];
    ck_assert_int_eq(nde_stab_net_jacobian(net, 0, x, J), NDE_OK);
    for (int i = 0; i < 6; i++) ck_assert_double_eq_tol(J[i], W[i], 1e-6);
    nde_net_free(net);
  }
}
END_TEST

START_TEST(errors) {
  nde_layer_spec d = nde_spec_dense(2);
  d.bias = 0;
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 2, &d, 1, &net), NDE_OK);
  nde_real x[2] = {1, 2};
  double J[4] = {0};
  ck_assert_int_eq(nde_stab_net_jacobian(NULL, 0, x, J), NDE_ERR_NULL);
  ck_assert_int_eq(nde_stab_net_jacobian(net, 0, NULL, J), NDE_ERR_NULL);
  ck_assert_int_eq(nde_stab_net_jacobian(net, 0, x, NULL), NDE_ERR_NULL);
  x[1] = (nde_real)NAN;
  ck_assert_int_eq(nde_stab_net_jacobian(net, 0, x, J), NDE_ERR_NONFINITE);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "x[1]"));
  x[1] = 2;
  /* A non-finite weight reaches J (J = W for a linear layer). */
  const double Wn[] = {1, NAN, 0, 1};
  su_set_dense(net, 0, Wn, NULL);
  ck_assert_int_eq(nde_stab_net_jacobian(net, 0, x, J), NDE_ERR_NONFINITE);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "non-finite"));
  nde_net_free(net);

  nde_jac_summary s;
  const double A[4] = {1, 0, 0, 1}, An[4] = {1, INFINITY, 0, 1};
  ck_assert_int_eq(nde_stab_jacobian_spectrum(2, NULL, 0, NULL, 0, NULL, NULL, NULL, &s),
                   NDE_ERR_NULL);
  ck_assert_int_eq(nde_stab_jacobian_spectrum(2, A, 0, NULL, 0, NULL, NULL, NULL, NULL),
                   NDE_ERR_NULL);
  ck_assert_int_eq(nde_stab_jacobian_spectrum(0, A, 0, NULL, 0, NULL, NULL, NULL, &s), NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "dimension 0"));
  ck_assert_int_eq(nde_stab_jacobian_spectrum(2, An, 0, NULL, 0, NULL, NULL, NULL, &s),
                   NDE_ERR_NONFINITE);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "2x2"));
  ck_assert_int_eq(nde_stab_jacobian_spectrum(2, A, 0, NULL, -1e-3, NULL, NULL, NULL, &s),
                   NDE_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "zero_tol"));
  ck_assert_int_eq(nde_stab_jacobian_spectrum(2, A, 0, NULL, NAN, NULL, NULL, NULL, &s),
                   NDE_ERR_ARG);
}
END_TEST

Suite *odespectrum_suite(void) {
  Suite *s = suite_create("odespectrum");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, net_jacobian_matches_finite_differences);
  tcase_add_test(tc, net_jacobian_batched_equals_rowwise);
  tcase_add_test(tc, linear_field_spectrum_recovered);
  tcase_add_test(tc, random_matrix_relations);
  tcase_add_test(tc, deflated_null_space);
  tcase_add_test(tc, net_jacobian_non_square);
  tcase_add_test(tc, errors);
  suite_add_tcase(s, tc);
  return s;
}
