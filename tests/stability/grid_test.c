/* Grids, orbits, regions of attraction by simulation and region maps. */
#include <math.h>

#include "stability/stab_util.h"

static int bistable(void *ctx, const double *x, double *f, double *J) {
  f[0] = x[0] + 0.1 * (x[0] - x[0] * x[0] * x[0]);
  f[1] = 0.9 * x[1];
  if (J) J[0] = 1 + 0.1 * (1 - 3 * x[0] * x[0]), J[1] = J[2] = 0, J[3] = 0.9;
  return 0;
}
static int doubling(void *ctx, const double *x, double *f, double *J) {
  f[0] = 2 * x[0];
  f[1] = 2 * x[1];
  return 0;
}
static int quarter_turn(void *ctx, const double *x, double *f, double *J) {
  f[0] = -x[1];
  f[1] = x[0];
  return 0;
}
static int halving(void *ctx, const double *x, double *f, double *J) {
  f[0] = 0.5 * x[0];
  f[1] = 0.5 * x[1];
  return 0;
}
static int failing(void *ctx, const double *x, double *f, double *J) { return 5; }
static int neg1(void *ctx, const double *x, double *f, double *J) {
  f[0] = -x[0];
  if (J) J[0] = -1;
  return 0;
}

START_TEST(roa_bistable) {
  nde_fp_options o = nde_fp_options_default();
  o.lo = -2, o.hi = 2;
  nde_fp_set *s;
  ck_assert_int_eq(nde_fp_find(2, bistable, NULL, &o, NULL, 0, &s), NDE_OK);
  ck_assert_int_eq(nde_fp_set_count(s), 3);
  nde_grid2 g = {-2, 2, -1, 1, 20, 5, NULL, NULL, NULL};
  int label[100], steps[100];
  ck_assert_int_eq(nde_roa_grid(2, bistable, NULL, s, &g, NULL, label, steps), NDE_OK);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 20; j++) {
      double x[2];
      nde_grid2_point(&g, 2, i, j, x);
      ck_assert_int_eq(label[i * 20 + j], x[0] < 0 ? 0 : 2); /* sorted: (-1,0), (0,0), (1,0) */
      ck_assert(steps[i * 20 + j] > 10 && steps[i * 20 + j] < 1000);
    }
  /* Without the set every settled orbit is unlisted. */
  ck_assert_int_eq(nde_roa_grid(2, bistable, NULL, NULL, &g, NULL, label, NULL), NDE_OK);
  ck_assert_int_eq(label[0], NDE_ROA_UNLISTED);
  nde_fp_set_free(s);
}
END_TEST

START_TEST(roa_diverged_and_unsettled) {
  nde_grid2 g = {-1, 1, -1, 1, 4, 4, NULL, NULL, NULL};
  int label[16];
  ck_assert_int_eq(nde_roa_grid(2, doubling, NULL, NULL, &g, NULL, label, NULL), NDE_OK);
  for (int k = 0; k < 16; k++) ck_assert_int_eq(label[k], NDE_ROA_DIVERGED);
  nde_roa_options o = nde_roa_options_default();
  o.max_steps = 50;
  ck_assert_int_eq(nde_roa_grid(2, quarter_turn, NULL, NULL, &g, &o, label, NULL), NDE_OK);
  for (int k = 0; k < 16; k++) ck_assert_int_eq(label[k], NDE_ROA_UNSETTLED);
  ck_assert_int_eq(nde_roa_grid(2, failing, NULL, NULL, &g, NULL, label, NULL), NDE_ERR_CALLBACK);
  o.max_steps = 0;
  ck_assert_int_eq(nde_roa_grid(2, halving, NULL, NULL, &g, &o, label, NULL), NDE_ERR_ARG);
  g.nx = 1;
  ck_assert_int_eq(nde_roa_grid(2, halving, NULL, NULL, &g, NULL, label, NULL), NDE_ERR_ARG);
  g.nx = 4;
  ck_assert_int_eq(nde_roa_grid(3, halving, NULL, NULL, &g, NULL, label, NULL), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_roa_grid(2, halving, NULL, NULL, &g, NULL, NULL, NULL), NDE_ERR_NULL);
  /* A fixed-point set of the wrong dimension. */
  nde_fp_set *s1;
  const double start[1] = {0};
  nde_fp_options fo = nde_fp_options_default();
  fo.nstarts = 0;
  fo.mode = NDE_FP_FIELD;
  ck_assert_int_eq(nde_fp_find(1, neg1, NULL, &fo, start, 1, &s1), NDE_OK);
  ck_assert_int_eq(nde_roa_grid(2, halving, NULL, s1, &g, NULL, label, NULL), NDE_ERR_SHAPE);
  nde_fp_set_free(s1);
}
END_TEST

START_TEST(grid_points_and_orbits) {
  const double origin[3] = {1, 0, 0}, u[3] = {0, 1, 0}, v[3] = {0, 0, 2};
  nde_grid2 g = {0, 1, -1, 1, 3, 5, origin, u, v};
  double x[3];
  ck_assert_int_eq(nde_grid2_point(&g, 3, 4, 2, x), NDE_OK);
  ck_assert_double_eq_tol(x[0], 1, 1e-15);
  ck_assert_double_eq_tol(x[1], 1, 1e-15);
  ck_assert_double_eq_tol(x[2], 2, 1e-15);
  ck_assert_int_eq(nde_grid2_point(&g, 3, 5, 0, x), NDE_ERR_ARG);
  g.u = NULL;
  ck_assert_int_eq(nde_grid2_point(&g, 3, 0, 0, x), NDE_ERR_ARG);
  g.origin = g.v = NULL;
  ck_assert_int_eq(nde_grid2_point(&g, 3, 0, 0, x), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_grid2_point(&g, 2, 0, 0, x), NDE_OK);
  ck_assert_double_eq_tol(x[1], -1, 1e-15);

  double traj[2 * 11], x0[2] = {4, 0};
  int done;
  ck_assert_int_eq(nde_stab_iterate(2, halving, NULL, x0, 10, 1e6, traj, &done), NDE_OK);
  ck_assert_int_eq(done, 10);
  ck_assert_double_eq_tol(traj[2 * 3], 0.5, 1e-15);
  ck_assert_int_eq(nde_stab_iterate(2, doubling, NULL, x0, 10, 100, traj, &done), NDE_OK);
  ck_assert_int_eq(done, 4); /* 8, 16, 32, 64; 128 escapes */
  ck_assert_int_eq(nde_stab_iterate(2, failing, NULL, x0, 10, 100, traj, &done), NDE_ERR_CALLBACK);
  ck_assert_int_eq(nde_stab_iterate(2, halving, NULL, x0, -1, 100, traj, &done), NDE_ERR_ARG);
  ck_assert_int_eq(nde_stab_iterate(2, halving, NULL, x0, 1, 0, traj, &done), NDE_ERR_ARG);
  ck_assert_int_eq(nde_stab_iterate(2, halving, NULL, NULL, 1, 1, traj, &done), NDE_ERR_NULL);
}
END_TEST

START_TEST(region_map_quadrants) {
  nde_layer_spec s[] = {nde_spec_dense(2), nde_spec_act(NDE_LAYER_RELU)};
  s[0].bias = 0;
  nde_net *net;
  nde_pwa *p;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(2), 1, s, 2, &net), NDE_OK);
  ck_assert_int_eq(nde_pwa_create(2, s, 2, &p), NDE_OK);
  const double I[] = {1, 0, 0, 1};
  su_set_dense(net, 0, I, NULL);
  nde_grid2 g = {-1, 1, -1, 1, 4, 4, NULL, NULL, NULL};
  int region[16], n;
  ck_assert_int_eq(nde_pwa_region_map(p, nde_net_params(net), &g, region, &n), NDE_OK);
  ck_assert_int_eq(n, 4);
  /* rows from y = -1: (off, off) then (on, off); upper rows (off, on), (on, on) */
  const int want[16] = {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3};
  for (int k = 0; k < 16; k++) ck_assert_int_eq(region[k], want[k]);
  ck_assert_int_eq(nde_pwa_region_map(p, nde_net_params(net), &g, region, NULL), NDE_ERR_NULL);
  g.ny = 0;
  ck_assert_int_eq(nde_pwa_region_map(p, nde_net_params(net), &g, region, &n), NDE_ERR_ARG);
  nde_pwa_free(p);
  nde_net_free(net);
}
END_TEST

Suite *grid_suite(void) {
  Suite *s = suite_create("grid");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, roa_bistable);
  tcase_add_test(tc, roa_diverged_and_unsettled);
  tcase_add_test(tc, grid_points_and_orbits);
  tcase_add_test(tc, region_map_quadrants);
  suite_add_tcase(s, tc);
  return s;
}
