/* Vector fields: a network field agrees with the network (forward and vjp,
 * the parameter gradient accumulates), user fields, and their errors. */
#include <stdlib.h>

#include "ode/field_impl.h"
#include "ode/test_fields.h"
#include "support/testutil.h"

START_TEST(net_field_matches_network) {
  nde_layer_spec s[] = {nde_spec_dense(8), nde_spec_act(NDE_LAYER_TANH), nde_spec_dense(3)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 2, s, 3, &net), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 9);
  nde_net_init(net, &rng);
  nde_field *f;
  ck_assert_int_eq(nde_field_create_net(net, &f), NDE_OK);
  ck_assert_int_eq(nde_field_max_batch(f), 2);
  ck_assert(nde_field_has_vjp(f));
  size_t np = nde_net_num_params(net);
  double y[6] = {0.5, -1, 0.25, 1, 0.3, -0.7}, a[6] = {1, 2, -1, 0.5, 0, 3}, ydot[6], ja[6];
  nde_real x[6], out[6], ar[6], dx[6];
  for (int i = 0; i < 6; i++) {
    x[i] = (nde_real)y[i];
    ar[i] = (nde_real)a[i];
  }
  ck_assert_int_eq(nde_field_rhs(f, 0.3, 2, y, ydot), NDE_OK);
  ck_assert_int_eq(nde_net_forward(net, 0.3, 2, x, out), NDE_OK);
  for (int i = 0; i < 6; i++) ck_assert(ydot[i] == (double)out[i]);
  double *g = calloc(np, sizeof *g);
  nde_real *gr = calloc(np, sizeof *gr);
  ck_assert_int_eq(nde_field_vjp(f, 0.3, 2, y, a, ja, g), NDE_OK);
  ck_assert_int_eq(nde_field_vjp(f, 0.3, 2, y, a, NULL, g), NDE_OK); /* accumulates */
  ck_assert_int_eq(nde_net_forward(net, 0.3, 2, x, NULL), NDE_OK);
  ck_assert_int_eq(nde_net_vjp(net, 2, ar, dx, gr), NDE_OK);
  for (int i = 0; i < 6; i++) ck_assert(ja[i] == (double)dx[i]);
  for (size_t i = 0; i < np; i++)
    ck_assert_double_eq_tol(g[i], 2.0 * gr[i], 1e-5 * (1 + fabs(g[i])));
  free(g);
  free(gr);
  ck_assert_int_eq(nde_field_rhs(f, 0, 3, y, ydot), NDE_ERR_BATCH);
  nde_field_free(f);
  nde_net_free(net);
}
END_TEST

/* The reuse of a stored forward (field_impl.h): on the ODE-Net's ODE
 * function (GroupNorm, in-place ReLU, ConcatConv), a parameter-only vjp at
 * the point of the previous evaluation runs no forward and gives what a
 * fresh forward + vjp gives, even after a vjp with another cotangent;
 * another t or y, or a forget, runs a forward again. */
START_TEST(net_field_reuses_forward_at_same_point) {
  nde_net *net;
  const int n = 3;
  ck_assert_int_eq(nde_net_create_odefunc(nde_shape_chw(8, 4, 4), 4, n, &net), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 5);
  nde_net_init(net, &rng);
  nde_field *f;
  ck_assert_int_eq(nde_field_create_net(net, &f), NDE_OK);
  size_t len = (size_t)n * f->dim, np = f->np;
  double *y = malloc(len * sizeof *y), *a1 = malloc(len * sizeof *a1),
         *a2 = malloc(len * sizeof *a2), *ja = malloc(len * sizeof *ja), *g = calloc(np, sizeof *g),
         *gref = calloc(np, sizeof *gref);
  for (size_t i = 0; i < len; i++) {
    y[i] = nde_rng_normal(&rng);
    a1[i] = nde_rng_normal(&rng);
    a2[i] = nde_rng_normal(&rng);
  }
  /* reference: forward + vjp with a2 on a fresh point */
  nde_field_forget_forward(f);
  ck_assert_int_eq(nde_field_eval_vjp(f, 0.4, n, y, a2, NULL, NULL, gref), 0);
  long before = f->nforward;
  /* the backward-RHS / quadrature pattern: input vjp with a1, then the
   * parameter vjp with a2 at the same (t, y) */
  ck_assert_int_eq(nde_field_eval_vjp(f, 0.4, n, y, a1, NULL, ja, NULL), 0);
  ck_assert_int_eq(f->nforward, before); /* same point as the reference */
  ck_assert_int_eq(nde_field_eval_vjp(f, 0.4, n, y, a2, NULL, NULL, g), 0);
  ck_assert_int_eq(f->nforward, before);
  for (size_t i = 0; i < np; i++)
    ck_assert_msg(g[i] == gref[i], "g[%zu] %.17g vs %.17g", i, g[i], gref[i]);
  /* another t, another y, an fout request, or a forget: a new forward */
  ck_assert_int_eq(nde_field_eval_vjp(f, 0.5, n, y, a2, NULL, NULL, g), 0);
  ck_assert_int_eq(f->nforward, before + 1);
  y[7] += 1e-3;
  ck_assert_int_eq(nde_field_eval_vjp(f, 0.5, n, y, a2, NULL, NULL, g), 0);
  ck_assert_int_eq(f->nforward, before + 2);
  ck_assert_int_eq(nde_field_eval_vjp(f, 0.5, n, y, a2, NULL, ja, NULL), 0);
  ck_assert_int_eq(f->nforward, before + 2);
  double *fo = malloc(len * sizeof *fo);
  ck_assert_int_eq(nde_field_eval_vjp(f, 0.5, n, y, a2, fo, NULL, NULL), 0);
  ck_assert_int_eq(f->nforward, before + 3);
  nde_field_forget_forward(f);
  ck_assert_int_eq(nde_field_eval_vjp(f, 0.5, n, y, a2, NULL, ja, NULL), 0);
  ck_assert_int_eq(f->nforward, before + 4);
  free(fo);
  free(y);
  free(a1);
  free(a2);
  free(ja);
  free(g);
  free(gref);
  nde_field_free(f);
  nde_net_free(net);
}
END_TEST

START_TEST(net_field_needs_square_network) {
  nde_layer_spec s[] = {nde_spec_dense(2)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 1, s, 1, &net), NDE_OK);
  nde_field *f = (nde_field *)net;
  ck_assert_int_eq(nde_field_create_net(net, &f), NDE_ERR_SHAPE);
  ck_assert_ptr_null(f);
  ck_assert_int_eq(nde_field_create_net(NULL, &f), NDE_ERR_NULL);
  ck_assert_int_eq(nde_field_create_net(net, NULL), NDE_ERR_NULL);
  nde_net_free(net);
}
END_TEST

static int fails(double t, int n, const double *y, double *ydot, void *u) {
  (void)t;
  (void)u;
  for (int i = 0; i < n; i++) ydot[i] = y[i];
  return y[0] > 0 ? 2 : 0;
}
static int gives_nan(double t, int n, const double *y, double *ydot, void *u) {
  (void)t;
  (void)u;
  for (int i = 0; i < n; i++) ydot[i] = y[i] / 0.0;
  return 0;
}

START_TEST(user_field_checks) {
  nde_field *f = NULL;
  nde_field_user u = {1, 0, 2, NULL, NULL, NULL, NULL};
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_ERR_NULL);
  u.rhs = fails;
  u.dim = 0;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_ERR_ARG);
  u.dim = 1;
  u.max_batch = 0;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_ERR_ARG);
  ck_assert_int_eq(nde_field_create_user(NULL, &f), NDE_ERR_NULL);
  u.max_batch = 2;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  ck_assert(!nde_field_has_vjp(f));
  double y[2] = {1, 2}, yd[2];
  ck_assert_int_eq(nde_field_rhs(f, 0.5, 2, y, yd), NDE_ERR_CALLBACK);
  ck_assert(strstr(nde_last_error(), "returned 2") != NULL);
  ck_assert_int_eq(nde_field_vjp(f, 0, 1, y, y, yd, NULL), NDE_ERR_ARG);
  y[0] = -1;
  ck_assert_int_eq(nde_field_rhs(f, 0.5, 2, y, yd), NDE_OK);
  ck_assert_int_eq(nde_field_rhs(f, 0.5, 2, NULL, yd), NDE_ERR_NULL);
  nde_field_free(f);
  u.rhs = gives_nan;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  ck_assert_int_eq(nde_field_rhs(f, 0.5, 1, y, yd), NDE_ERR_NONFINITE);
  nde_field_free(f);
  /* vjp of the scalar field: ja = lambda a, g += y a */
  tf_scalar p = {-2};
  nde_field_user s = {1, 1, 2, tf_scalar_rhs, tf_scalar_vjp, NULL, &p};
  ck_assert_int_eq(nde_field_create_user(&s, &f), NDE_OK);
  double yy[2] = {3, 4}, a[2] = {1, 0.5}, ja[2], g = 1;
  ck_assert_int_eq(nde_field_vjp(f, 0, 2, yy, a, ja, &g), NDE_OK);
  ck_assert_double_eq(ja[0], -2);
  ck_assert_double_eq(ja[1], -1);
  ck_assert_double_eq(g, 1 + 3 + 2);
  ck_assert_uint_eq(nde_field_num_params(f), 1);
  nde_field_free(f);
  nde_field_free(NULL);
  ck_assert_uint_eq(nde_field_dim(NULL), 0);
}
END_TEST

Suite *ode_field_suite(void) {
  Suite *s = suite_create("ode_field");
  TCase *tc = tcase_create("field");
  tcase_add_test(tc, net_field_matches_network);
  tcase_add_test(tc, net_field_needs_square_network);
  tcase_add_test(tc, net_field_reuses_forward_at_same_point);
  tcase_add_test(tc, user_field_checks);
  suite_add_tcase(s, tc);
  return s;
}
