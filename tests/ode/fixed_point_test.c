/* ode/fixed_point.c and the fused error weights (nde_nvec_ewt) against
 * SUNDIALS's own: CVODES Adams on a nonlinear field, once with
 * SUNNonlinSol_FixedPoint and CVodeSStolerances, once with nde's solver and
 * weights, must give bit-identical states and identical statistics (steps,
 * f evaluations, nonlinear iterations and failures, error-test failures).
 * The state is long enough (140,000 values) that the fused kernels run in
 * slices on the worker threads. */
#include <math.h>
#include <stdlib.h>

#include "ode/ode_impl.h"
#include "support/testutil.h"

enum { N = 140000 };

/* y_i' = -a_i y_i + 0.8 sin(y_i) + 0.3 cos(t) y_{i+1}: nonlinear, coupled,
 * nonstiff (a_i in [0.5, 2.5]), so Adams takes many steps of varying order
 * and the fixed-point iteration sometimes needs more than one pass. */
static int rhs(realtype t, N_Vector y, N_Vector ydot, void *ud) {
  /* through the operation, as nde's fields read: it applies queued updates */
  const realtype *a = ud, *yd = N_VGetArrayPointer(y);
  realtype *f = N_VGetArrayPointer(ydot);
  const long n = NV_LENGTH_S(y);
  for (long i = 0; i < n; i++)
    f[i] = -a[i] * yd[i] + 0.8 * sin(yd[i]) + 0.3 * cos(t) * yd[(i + 1) % n];
  return 0;
}

static int ewt(N_Vector y, N_Vector w, void *ud) {
  (void)ud;
  return nde_nvec_ewt(y, 1e-6, 1e-8, w);
}

typedef struct run_out {
  long nst, nfe, nni, ncfn, netf;
  int flag;
} run_out;

/* nde_parts: nde's solver and weights; queue: nde's vector operations
 * queue their elementwise operations (ode/nvector_fast.c). */
static run_out run(int nde_parts, int queue, const realtype *a, realtype *yT) {
  SUNContext ctx;
  ck_assert_int_eq(SUNContext_Create(NULL, &ctx), 0);
  N_Vector y = N_VNew_Serial(N, ctx);
  nde_nvec_use_fast_ops(y, queue);
  realtype *y0 = N_VGetArrayPointer(y);
  for (long i = 0; i < N; i++) y0[i] = sin(0.001 * (double)i) + 0.5;
  void *mem = CVodeCreate(CV_ADAMS, ctx);
  ck_assert_ptr_nonnull(mem);
  ck_assert_int_eq(CVodeInit(mem, rhs, 0.0, y), 0);
  ck_assert_int_eq(CVodeSetUserData(mem, (void *)a), 0);
  SUNNonlinearSolver nls = nde_parts ? nde_nls_fixed_point(y, ctx) : SUNNonlinSol_FixedPoint(y, 0, ctx);
  ck_assert_ptr_nonnull(nls);
  ck_assert_int_eq(CVodeSetNonlinearSolver(mem, nls), 0);
  ck_assert_int_eq(nde_parts ? CVodeWFtolerances(mem, ewt) : CVodeSStolerances(mem, 1e-6, 1e-8), 0);
  ck_assert_int_eq(CVodeSetMaxNumSteps(mem, 100000), 0);
  run_out o;
  realtype t;
  o.flag = CVode(mem, 2.0, y, &t, CV_NORMAL);
  CVodeGetNumSteps(mem, &o.nst);
  CVodeGetNumRhsEvals(mem, &o.nfe);
  CVodeGetNumNonlinSolvIters(mem, &o.nni);
  CVodeGetNumNonlinSolvConvFails(mem, &o.ncfn);
  CVodeGetNumErrTestFails(mem, &o.netf);
  const realtype *yd = N_VGetArrayPointer(y);
  for (long i = 0; i < N; i++) yT[i] = yd[i];
  CVodeFree(&mem);
  SUNNonlinSolFree(nls);
  N_VDestroy(y);
  SUNContext_Free(&ctx);
  return o;
}

/* Also: the same run with the vector operations' queue off (each
 * elementwise operation one pass, ode/nvector_fast.c) is bit-identical. */
START_TEST(fixed_point_matches_sundials) {
  realtype *a = malloc(N * sizeof *a), *y1 = malloc(N * sizeof *y1), *y2 = malloc(N * sizeof *y2);
  realtype *y3 = malloc(N * sizeof *y3);
  for (long i = 0; i < N; i++) a[i] = 0.5 + 2.0 * (double)(i % 97) / 96.0;
  run_out r = run(0, 1, a, y1), m = run(1, 1, a, y2);
  run_out e = run(1, 0, a, y3);
  ck_assert_int_eq(e.flag, CV_SUCCESS);
  ck_assert(e.nst == m.nst && e.nfe == m.nfe && e.nni == m.nni && e.ncfn == m.ncfn &&
            e.netf == m.netf);
  long eager_differ = 0;
  for (long i = 0; i < N; i++) eager_differ += y3[i] != y2[i];
  ck_assert_msg(eager_differ == 0, "queue off: %ld of %d final values differ", eager_differ, N);
  free(y3);
  printf("CVODES Adams, %d values: SUNDIALS fixed point %ld steps %ld f %ld iterations %ld "
         "conv. failures %ld error-test failures; nde's %ld %ld %ld %ld %ld\n",
         N, r.nst, r.nfe, r.nni, r.ncfn, r.netf, m.nst, m.nfe, m.nni, m.ncfn, m.netf);
  ck_assert_int_eq(r.flag, CV_SUCCESS);
  ck_assert_int_eq(m.flag, CV_SUCCESS);
  ck_assert_int_gt(r.nst, 20);
  ck_assert_int_gt(r.nni, r.nst); /* some steps iterate more than once */
  ck_assert_int_eq(m.nst, r.nst);
  ck_assert_int_eq(m.nfe, r.nfe);
  ck_assert_int_eq(m.nni, r.nni);
  ck_assert_int_eq(m.ncfn, r.ncfn);
  ck_assert_int_eq(m.netf, r.netf);
  long differ = 0;
  for (long i = 0; i < N; i++) differ += y1[i] != y2[i];
  ck_assert_msg(differ == 0, "%ld of %d final values differ", differ, N);
  free(a);
  free(y1);
  free(y2);
}
END_TEST

/* The fused weights equal 1 / (rtol |y| + atol) and flag a non-positive
 * denominator (atol = 0 with a zero component) as CVODES does. */
START_TEST(fused_error_weights) {
  SUNContext ctx;
  ck_assert_int_eq(SUNContext_Create(NULL, &ctx), 0);
  N_Vector y = N_VNew_Serial(N, ctx), w = N_VClone(y);
  for (long i = 0; i < N; i++) NV_Ith_S(y, i) = (i % 5) ? 0.01 * (double)(i % 13) - 0.06 : 1.5;
  ck_assert_int_eq(nde_nvec_ewt(y, 1e-3, 1e-6, w), 0);
  for (long i = 0; i < N; i += 997)
    ck_assert(NV_Ith_S(w, i) == 1.0 / (1e-3 * fabs(NV_Ith_S(y, i)) + 1e-6));
  NV_Ith_S(y, N - 3) = 0;
  ck_assert_int_eq(nde_nvec_ewt(y, 1e-3, 0.0, w), -1);
  N_VDestroy(y);
  N_VDestroy(w);
  SUNContext_Free(&ctx);
}
END_TEST

Suite *ode_fixed_point_suite(void) {
  Suite *s = suite_create("ode_fixed_point");
  TCase *tc = tcase_create("against_sundials");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, fixed_point_matches_sundials);
  tcase_add_test(tc, fused_error_weights);
  suite_add_tcase(s, tc);
  return s;
}
