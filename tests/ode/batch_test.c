/* Batches: per-sample against joint integration (same solution within
 * tolerance, different statistics), joint solves with changing batch
 * sizes, and a network vector field. */
#include <stdio.h>

#include "ode/test_fields.h"
#include "support/testutil.h"

static void tanh_params(tf_tanh *p) {
  memset(p, 0, sizeof *p);
  p->d = 3;
  p->c = 0.5;
  for (int i = 0; i < 12; i++) p->theta[i] = 0.8 * ((i * 7) % 5 - 2);
}

START_TEST(per_sample_vs_joint) {
  int m = _i;
  tf_tanh p;
  tanh_params(&p);
  nde_field_user u = {3, 12, 3, tf_tanh_rhs, tf_tanh_vjp, NULL, &p};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = nde_ode_options_default();
  o.method = m;
  o.adjoint = NDE_ADJ_NONE;
  o.rtol = o.atol = 1e-8;
  o.T = 2;
  nde_ode *joint, *per;
  ck_assert_int_eq(nde_ode_create(f, &o, 3, &joint), NDE_OK);
  o.batch_mode = NDE_BATCH_PER_SAMPLE;
  ck_assert_int_eq(nde_ode_create(f, &o, 3, &per), NDE_OK);
  /* very different samples: nearly at rest, moderate, far out */
  double y0[9] = {0.01, 0.0, -0.01, 1, -0.5, 0.3, 30, -20, 40}, yj[9], yp[9];
  ck_assert_int_eq(nde_ode_solve(joint, 3, y0, yj), NDE_OK);
  ck_assert_int_eq(nde_ode_solve(per, 3, y0, yp), NDE_OK);
  for (int i = 0; i < 9; i++)
    ck_assert_msg(fabs(yj[i] - yp[i]) <= 1e-6 * fmax(1, fabs(yj[i])), "%s: y[%d] %.12g vs %.12g",
                  nde_ode_method_name(m), i, yj[i], yp[i]);
  nde_ode_stats js, ps, s[3];
  nde_ode_last_stats(joint, &js, NULL);
  nde_ode_last_stats(per, &ps, NULL);
  long sum = 0;
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(nde_ode_sample_stats(per, i, &s[i], NULL), NDE_OK);
    sum += s[i].nfe;
    ck_assert_int_eq(s[i].nsolves, 1);
  }
  ck_assert_int_eq(ps.nfe, sum);
  ck_assert_int_eq(ps.nsolves, 3);
  ck_assert_msg(s[0].nfe != s[2].nfe || s[0].steps != s[2].steps,
                "%s: per-sample statistics should differ between samples", nde_ode_method_name(m));
  ck_assert(ps.nfe != js.nfe);
  /* joint: every sample reports the joint figures */
  nde_ode_stats j1;
  ck_assert_int_eq(nde_ode_sample_stats(joint, 2, &j1, NULL), NDE_OK);
  ck_assert_int_eq(j1.nfe, js.nfe);
  ck_assert_int_eq(js.nsolves, 1);
  printf("%s per-sample NFE %ld %ld %ld (sum %ld) vs joint NFE %ld\n", nde_ode_method_name(m),
         s[0].nfe, s[1].nfe, s[2].nfe, ps.nfe, js.nfe);
  nde_ode_free(joint);
  nde_ode_free(per);
  nde_field_free(f);
}
END_TEST

START_TEST(joint_batch_size_changes) {
  tf_tanh p;
  tanh_params(&p);
  nde_field_user u = {3, 12, 3, tf_tanh_rhs, tf_tanh_vjp, NULL, &p};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = nde_ode_options_default();
  o.adjoint = NDE_ADJ_NONE;
  o.rtol = o.atol = 1e-9;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 3, &ode), NDE_OK);
  double y0[9] = {0.1, 0.2, 0.3, 1, -0.5, 0.3, -1, 2, 0.5}, y3[9], y1[3], again[9];
  ck_assert_int_eq(nde_ode_solve(ode, 3, y0, y3), NDE_OK);
  ck_assert_int_eq(nde_ode_solve(ode, 1, y0 + 3, y1), NDE_OK);
  for (int i = 0; i < 3; i++) ck_assert_double_eq_tol(y1[i], y3[3 + i], 1e-7);
  ck_assert_int_eq(nde_ode_solve(ode, 3, y0, again), NDE_OK);
  for (int i = 0; i < 9; i++) ck_assert(again[i] == y3[i]); /* deterministic */
  nde_ode_free(ode);
  nde_field_free(f);
}
END_TEST

/* A 3 -> 8 -> 3 tanh network as the field: adaptive solvers against RK4
 * with a small step, joint and per-sample. */
START_TEST(network_field_solves) {
  nde_layer_spec s[] = {nde_spec_dense(8), nde_spec_act(NDE_LAYER_TANH), nde_spec_dense(3)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 2, s, 3, &net), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 3);
  nde_net_init(net, &rng);
  nde_field *f;
  ck_assert_int_eq(nde_field_create_net(net, &f), NDE_OK);
  ck_assert_uint_eq(nde_field_dim(f), 3);
  ck_assert_uint_eq(nde_field_num_params(f), nde_net_num_params(net));
  double y0[6] = {0.5, -1, 0.25, 1, 0.3, -0.7}, ref[6], y[6];
  nde_ode_options o = nde_ode_options_default();
  o.adjoint = NDE_ADJ_NONE;
  o.method = NDE_ODE_RK4;
  o.fixed_h = 0.01;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_OK);
  ck_assert_int_eq(nde_ode_solve(ode, 2, y0, ref), NDE_OK);
  nde_ode_free(ode);
  /* float networks evaluate f to ~1e-7: ask for less there */
  double tol = NDE_REAL_IS_DOUBLE ? 1e-6 : 1e-3;
  for (int m = NDE_ODE_ADAMS; m <= NDE_ODE_BOSH3; m++)
    for (int mode = 0; mode < 2; mode++) {
      o.method = m;
      o.batch_mode = mode;
      o.rtol = o.atol = NDE_REAL_IS_DOUBLE ? 1e-9 : 1e-5;
      ck_assert_int_eq(nde_ode_create(f, &o, 2, &ode), NDE_OK);
      ck_assert_int_eq(nde_ode_solve(ode, 2, y0, y), NDE_OK);
      for (int i = 0; i < 6; i++)
        ck_assert_msg(fabs(y[i] - ref[i]) <= tol, "%s mode %d: y[%d] %.10g vs %.10g",
                      nde_ode_method_name(m), mode, i, y[i], ref[i]);
      nde_ode_free(ode);
    }
  nde_field_free(f);
  nde_net_free(net);
}
END_TEST

Suite *ode_batch_suite(void) {
  Suite *s = suite_create("ode_batch");
  TCase *tc = tcase_create("batch");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, per_sample_vs_joint, NDE_ODE_ADAMS, NDE_ODE_BOSH3 + 1);
  tcase_add_test(tc, joint_batch_size_changes);
  tcase_add_test(tc, network_field_solves);
  suite_add_tcase(s, tc);
  return s;
}
