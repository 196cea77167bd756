/* Every adjoint mode against central finite differences of the solve, on a
 * small tanh MLP field (3 -> 8 -> 3, batch 2) and on a user-callback field,
 * with a loss on several output times:
 *   L = sum_k sum_i w_{k,i} y_i(t_k),  so dL/dy(t_k) = w_k.
 * Adaptive solvers run at rtol = atol = 1e-10 (relative error <= 1e-4 in the
 * double build); the direct mode is the exact gradient of the discrete map
 * (<= 1e-7); the backsolve through a fixed-step method differs from the
 * discrete gradient by the method's global error (RK4, h = 0.01: <= 1e-4;
 * Euler, h = 1e-3: first order, <= 2e-2). */
#include <stdio.h>
#include <stdlib.h>

#include "ode/test_fields.h"
#include "support/testutil.h"

typedef struct gc_case {
  int method, adjoint, batch_mode, seminorm, interp;
  double tol; /* double-build pass threshold */
} gc_case;

static const gc_case cases[] = {
    {NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT, NDE_BATCH_JOINT, NDE_SEMINORM_PARAMS, NDE_INTERP_HERMITE, 1e-4},
    {NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT, NDE_BATCH_PER_SAMPLE, NDE_SEMINORM_NONE, NDE_INTERP_POLYNOMIAL, 1e-4},
    {NDE_ODE_BDF, NDE_ADJ_CHECKPOINT, NDE_BATCH_JOINT, NDE_SEMINORM_PARAMS, NDE_INTERP_HERMITE, 1e-4},
    {NDE_ODE_ADAMS, NDE_ADJ_BACKSOLVE, NDE_BATCH_JOINT, NDE_SEMINORM_PARAMS, 0, 1e-4},
    {NDE_ODE_BDF, NDE_ADJ_BACKSOLVE, NDE_BATCH_PER_SAMPLE, NDE_SEMINORM_NONE, 0, 1e-4},
    {NDE_ODE_DOPRI5, NDE_ADJ_BACKSOLVE, NDE_BATCH_JOINT, NDE_SEMINORM_PARAMS, 0, 1e-4},
    {NDE_ODE_DOPRI5, NDE_ADJ_BACKSOLVE, NDE_BATCH_PER_SAMPLE, NDE_SEMINORM_NONE, 0, 1e-4},
    {NDE_ODE_BOSH3, NDE_ADJ_BACKSOLVE, NDE_BATCH_JOINT, NDE_SEMINORM_PARAMS_STATE, 0, 1e-4},
    {NDE_ODE_RK4, NDE_ADJ_BACKSOLVE, NDE_BATCH_JOINT, 0, 0, 1e-4},
    {NDE_ODE_EULER, NDE_ADJ_BACKSOLVE, NDE_BATCH_JOINT, 0, 0, 2e-2},
    {NDE_ODE_RK4, NDE_ADJ_DIRECT, NDE_BATCH_JOINT, 0, 0, 1e-7},
    {NDE_ODE_EULER, NDE_ADJ_DIRECT, NDE_BATCH_PER_SAMPLE, 0, 0, 1e-7},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static const double tout[3] = {0.3, 0.7, 1.2};
#ifndef DIRECT_FD_STEP
#define DIRECT_FD_STEP 2e-5
#endif

static nde_ode_options case_opts(const gc_case *c) {
  nde_ode_options o = nde_ode_options_default();
  o.method = c->method;
  o.adjoint = c->adjoint;
  o.batch_mode = c->batch_mode;
  o.seminorm = c->seminorm;
  o.interp = c->interp;
  o.rtol = o.atol = NDE_REAL_IS_DOUBLE ? 1e-10 : 1e-6;
  /* Euler's backsolve needs small steps (first-order error); the direct
   * gradient is exact for any step. */
  o.fixed_h = c->method == NDE_ODE_EULER && c->adjoint == NDE_ADJ_BACKSOLVE ? 1e-3 : 1e-2;
  o.max_steps = 100000;
  o.T = 1.2;
  o.nout = 3;
  o.tout = tout;
  o.checkpoint_steps = 20;
  return o;
}

/* The gradient problem: a solver, its parameters (as doubles we can
 * perturb) and a way to push them into the field. */
typedef struct gc_problem {
  nde_ode *ode;
  int n;
  size_t dim, np;
  double *w;                          /* nout * n * dim loss weights */
  void (*set_param)(void *ctx, size_t i, double v);
  double (*get_param)(void *ctx, size_t i);
  void *ctx;
} gc_problem;

static int loss(gc_problem *P, const double *y0, double *L) {
  size_t m = 3 * (size_t)P->n * P->dim;
  double *y = malloc(m * sizeof *y);
  int rc = nde_ode_solve(P->ode, P->n, y0, y);
  if (rc) fprintf(stderr, "loss: %s\n", nde_last_error());
  double s = 0;
  for (size_t i = 0; i < m; i++) s += P->w[i] * y[i];
  free(y);
  *L = s;
  return rc;
}

/* Max relative errors of dL/dy0 and dL/dtheta against central differences. */
static void gradcheck(gc_problem *P, const double *y0in, double h, double *ex, double *ep,
                      nde_ode_stats *fwd, nde_ode_stats *bwd) {
  size_t nx = (size_t)P->n * P->dim, np = P->np, m = 3 * nx;
  double *y0 = malloc(nx * sizeof *y0), *y = malloc(m * sizeof *y);
  double *ax = malloc(nx * sizeof *ax), *ap = calloc(np, sizeof *ap);
  double *fx = malloc(nx * sizeof *fx), *fp = malloc(np * sizeof *fp);
  memcpy(y0, y0in, nx * sizeof *y0);
  ck_assert_int_eq(nde_adjoint_forward(P->ode, P->n, y0, y), NDE_OK);
  ck_assert_msg(nde_adjoint_backward(P->ode, P->w, ax, ap) == NDE_OK, "%s", nde_last_error());
  nde_ode_last_stats(P->ode, fwd, bwd);
  double lp, lm;
  for (size_t i = 0; i < nx; i++) {
    double v = y0[i];
    y0[i] = v + h;
    ck_assert_int_eq(loss(P, y0, &lp), NDE_OK);
    y0[i] = v - h;
    ck_assert_int_eq(loss(P, y0, &lm), NDE_OK);
    y0[i] = v;
    fx[i] = (lp - lm) / (2 * h);
  }
  for (size_t i = 0; i < np; i++) {
    double v = P->get_param(P->ctx, i);
    P->set_param(P->ctx, i, v + h);
    ck_assert_int_eq(loss(P, y0, &lp), NDE_OK);
    P->set_param(P->ctx, i, v - h);
    ck_assert_int_eq(loss(P, y0, &lm), NDE_OK);
    P->set_param(P->ctx, i, v);
    fp[i] = (lp - lm) / (2 * h);
  }
  *ex = tu_max_rel_err(ax, fx, nx);
  *ep = tu_max_rel_err(ap, fp, np);
  free(y0);
  free(y);
  free(ax);
  free(ap);
  free(fx);
  free(fp);
}

static void net_set(void *ctx, size_t i, double v) { nde_net_params(ctx)[i] = (nde_real)v; }
static double net_get(void *ctx, size_t i) { return nde_net_params(ctx)[i]; }
static void tanh_set(void *ctx, size_t i, double v) { ((tf_tanh *)ctx)->theta[i] = v; }
static double tanh_get(void *ctx, size_t i) { return ((tf_tanh *)ctx)->theta[i]; }

static double fd_step(const gc_case *c) {
  if (!NDE_REAL_IS_DOUBLE) return 1e-2;
  /* The discrete map is smooth to rounding: a small step. Adaptive solves
   * change their step sequence under perturbation, which adds noise of the
   * order of the tolerance / h to a difference quotient: a larger step. */
  return c->adjoint == NDE_ADJ_DIRECT ? DIRECT_FD_STEP : 1e-4;
}

static void report(const char *field, const gc_case *c, double ex, double ep,
                   const nde_ode_stats *f, const nde_ode_stats *b) {
  printf("gradcheck %-4s %-6s %-10s %-10s seminorm %d: err dL/dy0 %.2e dL/dtheta %.2e | "
         "NFE-F %ld NFE-B %ld (+quad %ld, recompute %ld)\n",
         field, nde_ode_method_name(c->method), nde_adjoint_kind_name(c->adjoint),
         c->batch_mode ? "per-sample" : "joint", c->seminorm, ex, ep, f->nfe, b->nfe,
         b->nfe_quad, b->nfe_recompute);
  fflush(stdout);
}

START_TEST(mlp_field_gradients) {
  const gc_case *c = &cases[_i];
  nde_layer_spec s[] = {nde_spec_dense(8), nde_spec_act(NDE_LAYER_TANH), nde_spec_dense(3)};
  nde_net *net;
  ck_assert_int_eq(nde_net_create(nde_shape_vec(3), 2, s, 3, &net), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 21);
  nde_net_init(net, &rng);
  nde_field *f;
  ck_assert_int_eq(nde_field_create_net(net, &f), NDE_OK);
  nde_ode_options o = case_opts(c);
  gc_problem P = {NULL, 2, 3, nde_net_num_params(net), NULL, net_set, net_get, net};
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &P.ode), NDE_OK);
  double w[18], y0[6] = {0.5, -1, 0.25, 1, 0.3, -0.7};
  for (int i = 0; i < 18; i++) w[i] = nde_rng_normal(&rng);
  P.w = w;
  double ex, ep;
  nde_ode_stats fs, bs;
  gradcheck(&P, y0, fd_step(c), &ex, &ep, &fs, &bs);
  report("mlp", c, ex, ep, &fs, &bs);
  double tol = NDE_REAL_IS_DOUBLE ? c->tol : 5e-2;
  ck_assert_msg(ex <= tol && ep <= tol, "mlp %s/%s: err_y0 %g err_theta %g (tol %g)",
                nde_ode_method_name(c->method), nde_adjoint_kind_name(c->adjoint), ex, ep, tol);
  ck_assert(bs.nfe > 0);
  nde_ode_free(P.ode);
  nde_field_free(f);
  nde_net_free(net);
}
END_TEST

START_TEST(user_field_gradients) {
  const gc_case *c = &cases[_i];
  tf_tanh p;
  memset(&p, 0, sizeof p);
  p.d = 3;
  p.c = 0.3;
  nde_rng rng;
  nde_rng_seed(&rng, 5);
  for (int i = 0; i < 12; i++) p.theta[i] = 0.7 * nde_rng_normal(&rng);
  nde_field_user u = {3, 12, 2, tf_tanh_rhs, tf_tanh_vjp, tf_tanh_jvp, &p};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = case_opts(c);
  o.rtol = o.atol = 1e-10; /* pure double whatever nde_real is */
  gc_problem P = {NULL, 2, 3, 12, NULL, tanh_set, tanh_get, &p};
  ck_assert_int_eq(nde_ode_create(f, &o, 2, &P.ode), NDE_OK);
  double w[18], y0[6] = {0.5, -1, 0.25, 1, 0.3, -0.7};
  for (int i = 0; i < 18; i++) w[i] = nde_rng_normal(&rng);
  P.w = w;
  double ex, ep;
  nde_ode_stats fs, bs;
  gradcheck(&P, y0, c->adjoint == NDE_ADJ_DIRECT ? DIRECT_FD_STEP : 1e-4, &ex, &ep, &fs, &bs);
  report("user", c, ex, ep, &fs, &bs);
  ck_assert_msg(ex <= c->tol && ep <= c->tol, "user %s/%s: err_y0 %g err_theta %g (tol %g)",
                nde_ode_method_name(c->method), nde_adjoint_kind_name(c->adjoint), ex, ep, c->tol);
  nde_ode_free(P.ode);
  nde_field_free(f);
}
END_TEST

/* y' = lambda y, L = y(T): dL/dy0 = e^{lambda T}, dL/dlambda = T y0 e^{lambda T}.
 * Checks the signs of every mode against the closed form. */
START_TEST(closed_form_signs) {
  const gc_case *c = &cases[_i];
  tf_scalar p = {-0.8};
  nde_field_user u = {1, 1, 1, tf_scalar_rhs, tf_scalar_vjp, NULL, &p};
  nde_field *f;
  ck_assert_int_eq(nde_field_create_user(&u, &f), NDE_OK);
  nde_ode_options o = case_opts(c);
  o.rtol = o.atol = 1e-10;
  o.nout = 0;
  o.tout = NULL;
  o.T = 1.5;
  nde_ode *ode;
  ck_assert_int_eq(nde_ode_create(f, &o, 1, &ode), NDE_OK);
  double y0 = 2, y, one = 1, a0 = 0, g = 0.25; /* g accumulates onto 0.25 */
  ck_assert_int_eq(nde_adjoint_forward(ode, 1, &y0, &y), NDE_OK);
  ck_assert_int_eq(nde_adjoint_backward(ode, &one, &a0, &g), NDE_OK);
  /* the ODE's gradient, or for the direct mode the discrete map's:
   * y_N = R(h lambda)^N y0 with R the method's stability polynomial */
  double e = exp(-0.8 * 1.5), de = 1.5 * 2 * e, tol = c->method == NDE_ODE_EULER ? 2e-3 : 1e-6;
  if (c->adjoint == NDE_ADJ_DIRECT) {
    long N = (long)ceil(1.5 / o.fixed_h - 1e-9);
    double h = 1.5 / (double)N, z = -0.8 * h, R, dR;
    if (c->method == NDE_ODE_EULER) {
      R = 1 + z;
      dR = 1;
    } else {
      R = 1 + z + z * z / 2 + z * z * z / 6 + z * z * z * z / 24;
      dR = 1 + z + z * z / 2 + z * z * z / 6;
    }
    e = pow(R, (double)N);
    de = (double)N * pow(R, (double)(N - 1)) * dR * h * 2;
    tol = 1e-10;
  }
  ck_assert_msg(fabs(a0 - e) <= tol * e, "%s: a0 %.10g vs %.10g", nde_ode_method_name(c->method),
                a0, e);
  ck_assert_msg(fabs(g - 0.25 - de) <= tol * de, "%s: g %.10g vs %.10g",
                nde_ode_method_name(c->method), g - 0.25, de);
  /* a second backward on the same forward gives the same result */
  double a1 = 0, g1 = 0;
  ck_assert_int_eq(nde_adjoint_backward(ode, &one, &a1, &g1), NDE_OK);
  /* (to rounding: CVODES re-integrates the last checkpoint interval too) */
  ck_assert_double_eq_tol(a1, a0, 1e-9);
  ck_assert_double_eq_tol(g1, g - 0.25, 1e-9);
  nde_ode_free(ode);
  nde_field_free(f);
}
END_TEST

Suite *adjoint_gradcheck_suite(void) {
  Suite *s = suite_create("adjoint_gradcheck");
  TCase *tc = tcase_create("gradcheck");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, closed_form_signs, 0, NCASES);
  tcase_add_loop_test(tc, user_field_gradients, 0, NCASES);
  tcase_add_loop_test(tc, mlp_field_gradients, 0, NCASES);
  suite_add_tcase(s, tc);
  return s;
}
