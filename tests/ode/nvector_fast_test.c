/* ode/nvector_fast.c against SUNDIALS's own serial vector operations: every
 * replaced operation, on random data with zeros and negative entries mixed
 * in, lengths that are and are not multiples of the reduction lanes, and
 * the aliasing SUNDIALS allows and uses (z = x, z = X[0]). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ode/ode_impl.h"
#include "common/parallel_impl.h"
#include "support/testutil.h"

enum { NV = 6 };

typedef struct pair_set {
  SUNContext ctx;
  long n;
  N_Vector ref[NV]; /* SUNDIALS's operations */
  N_Vector fst[NV]; /* the same values, nde's operations */
} pair_set;

static void fill(pair_set *p, unsigned seed) {
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  for (int k = 0; k < NV; k++) {
    realtype *r = NV_DATA_S(p->ref[k]), *f = NV_DATA_S(p->fst[k]);
    for (long i = 0; i < p->n; i++) {
      double u = nde_rng_uniform(&rng);
      /* a few exact zeros and +-1, +-2 values (constraint codes) */
      double v = u < 0.05  ? 0.0
                 : u < 0.1 ? (double)(1 + (i % 2)) * (i % 3 ? 1 : -1)
                           : nde_rng_normal(&rng);
      r[i] = f[i] = v;
    }
  }
}

/* queue: whether the nde vectors queue their elementwise operations. */
static void setup_queue(pair_set *p, long n, int queue) {
  ck_assert_int_eq(SUNContext_Create(NULL, &p->ctx), 0);
  p->n = n;
  for (int k = 0; k < NV; k++) {
    p->ref[k] = N_VNew_Serial(n, p->ctx);
    p->fst[k] = N_VNew_Serial(n, p->ctx);
    nde_nvec_use_fast_ops(p->fst[k], queue);
  }
  /* clones carry the table: check once on a clone */
  N_Vector c = N_VClone(p->fst[0]);
  ck_assert_ptr_eq((void *)c->ops->nvwrmsnorm, (void *)p->fst[0]->ops->nvwrmsnorm);
  ck_assert_ptr_ne((void *)c->ops->nvwrmsnorm, (void *)p->ref[0]->ops->nvwrmsnorm);
  N_VDestroy(c);
  fill(p, 11);
}

static void setup(pair_set *p, long n) { setup_queue(p, n, 1); }

static void teardown(pair_set *p) {
  for (int k = 0; k < NV; k++) {
    N_VDestroy(p->ref[k]);
    N_VDestroy(p->fst[k]);
  }
  SUNContext_Free(&p->ctx);
}

/* Elementwise operations must agree to the last bit except where the two
 * implementations associate a sum differently (1 ulp-ish); reductions to a
 * relative 1e-13. */
static void same_vectors(pair_set *p, int k, const char *what) {
  /* through the operation, as nde reads values: it applies queued sums */
  const realtype *r = NV_DATA_S(p->ref[k]), *f = N_VGetArrayPointer(p->fst[k]);
  long bad = -1; /* the first failing index: one assertion per vector (Check
                    records every assertion, which is slow on long vectors) */
  for (long i = 0; i < p->n && bad < 0; i++)
    if (!(fabs(r[i] - f[i]) <= 1e-14 * (1 + fabs(r[i])))) bad = i;
  ck_assert_msg(bad < 0, "%s: [%ld] %.17g vs %.17g", what, bad, bad < 0 ? 0.0 : r[bad],
                bad < 0 ? 0.0 : f[bad]);
}

/* Bit for bit (elementwise operations in the same order). */
static void identical_vectors(pair_set *p, int k, const char *what) {
  const realtype *r = NV_DATA_S(p->ref[k]), *f = N_VGetArrayPointer(p->fst[k]);
  long bad = -1;
  for (long i = 0; i < p->n && bad < 0; i++)
    if (memcmp(r + i, f + i, sizeof *r)) bad = i;
  ck_assert_msg(bad < 0, "%s: [%ld] %.17g vs %.17g", what, bad, bad < 0 ? 0.0 : r[bad],
                bad < 0 ? 0.0 : f[bad]);
}

static void same_scalar(double r, double f, const char *what) {
  ck_assert_msg(fabs(r - f) <= 1e-13 * (1 + fabs(r)), "%s: %.17g vs %.17g", what, r, f);
}

static void check_length(long n, int queue) {
  pair_set p;
  setup_queue(&p, n, queue);
  N_Vector *R = p.ref, *F = p.fst;

  /* reductions */
  same_scalar(N_VWrmsNorm(R[0], R[1]), N_VWrmsNorm(F[0], F[1]), "wrmsnorm");
  same_scalar(N_VWrmsNormMask(R[0], R[1], R[2]), N_VWrmsNormMask(F[0], F[1], F[2]), "wrmsmask");
  same_scalar(N_VWL2Norm(R[0], R[1]), N_VWL2Norm(F[0], F[1]), "wl2norm");
  same_scalar(N_VDotProd(R[0], R[1]), N_VDotProd(F[0], F[1]), "dotprod");
  same_scalar(N_VL1Norm(R[0]), N_VL1Norm(F[0]), "l1norm");
  same_scalar(N_VMaxNorm(R[0]), N_VMaxNorm(F[0]), "maxnorm");
  same_scalar(N_VMin(R[0]), N_VMin(F[0]), "min");
  same_scalar(N_VMinQuotient(R[0], R[1]), N_VMinQuotient(F[0], F[1]), "minquotient");
  same_scalar(N_VWSqrSumLocal(R[0], R[1]), N_VWSqrSumLocal(F[0], F[1]), "wsqrsumlocal");
  same_scalar(N_VWSqrSumMaskLocal(R[0], R[1], R[2]), N_VWSqrSumMaskLocal(F[0], F[1], F[2]),
              "wsqrsummasklocal");

  /* elementwise */
  N_VLinearSum(0.3, R[0], -1.7, R[1], R[2]);
  N_VLinearSum(0.3, F[0], -1.7, F[1], F[2]);
  same_vectors(&p, 2, "linearsum");
  N_VLinearSum(1.0, R[0], 1.0, R[1], R[0]); /* z = x, SUNDIALS's special case */
  N_VLinearSum(1.0, F[0], 1.0, F[1], F[0]);
  same_vectors(&p, 0, "linearsum z=x");
  N_VScale(-2.5, R[1], R[3]);
  N_VScale(-2.5, F[1], F[3]);
  same_vectors(&p, 3, "scale");
  N_VProd(R[0], R[1], R[4]);
  N_VProd(F[0], F[1], F[4]);
  same_vectors(&p, 4, "prod");
  N_VAbs(R[1], R[4]);
  N_VAbs(F[1], F[4]);
  same_vectors(&p, 4, "abs");
  N_VAddConst(R[4], 0.5, R[4]);
  N_VAddConst(F[4], 0.5, F[4]);
  same_vectors(&p, 4, "addconst");
  N_VDiv(R[0], R[4], R[5]);
  N_VDiv(F[0], F[4], F[5]);
  same_vectors(&p, 5, "div");
  N_VInv(R[4], R[5]);
  N_VInv(F[4], F[5]);
  same_vectors(&p, 5, "inv");
  N_VCompare(0.7, R[1], R[5]);
  N_VCompare(0.7, F[1], F[5]);
  same_vectors(&p, 5, "compare");
  ck_assert_int_eq(N_VInvTest(R[1], R[5]), N_VInvTest(F[1], F[5])); /* R[1] has zeros */
  same_vectors(&p, 5, "invtest");
  ck_assert_int_eq(N_VInvTest(R[4], R[5]), N_VInvTest(F[4], F[5])); /* no zeros */
  same_vectors(&p, 5, "invtest nonzero");
  /* constraint codes: round R[2] to {0, +-1, +-2} */
  realtype *cr = NV_DATA_S(R[2]), *cf = NV_DATA_S(F[2]);
  for (long i = 0; i < n; i++) cr[i] = cf[i] = (double)((i * 7 % 5) - 2);
  ck_assert_int_eq(N_VConstrMask(R[2], R[1], R[5]), N_VConstrMask(F[2], F[1], F[5]));
  same_vectors(&p, 5, "constrmask");
  N_VConst(0.25, R[5]);
  N_VConst(0.25, F[5]);
  same_vectors(&p, 5, "const");

  /* fused operations */
  fill(&p, 12);
  realtype c[NV] = {0.5, -1.25, 2.0, 0.75, -0.3, 1.1};
  for (int nv = 1; nv <= 5; nv++) {
    N_VLinearCombination(nv, c, R, R[5]);
    N_VLinearCombination(nv, c, F, F[5]);
    same_vectors(&p, 5, "linearcombination");
    N_VLinearCombination(nv, c, R, R[0]); /* z = X[0] */
    N_VLinearCombination(nv, c, F, F[0]);
    same_vectors(&p, 0, "linearcombination z=X0");
  }
  N_VScaleAddMulti(3, c, R[0], R + 1, R + 3);
  N_VScaleAddMulti(3, c, F[0], F + 1, F + 3);
  for (int k = 3; k < 6; k++) same_vectors(&p, k, "scaleaddmulti");
  realtype dr[3], df[3];
  N_VDotProdMulti(3, R[0], R + 1, dr);
  N_VDotProdMulti(3, F[0], F + 1, df);
  for (int k = 0; k < 3; k++) same_scalar(dr[k], df[k], "dotprodmulti");

  /* vector arrays */
  N_VLinearSumVectorArray(2, 0.5, R, -2.0, R + 2, R + 4);
  N_VLinearSumVectorArray(2, 0.5, F, -2.0, F + 2, F + 4);
  same_vectors(&p, 4, "linearsumvectorarray");
  same_vectors(&p, 5, "linearsumvectorarray");
  N_VScaleVectorArray(2, c, R, R + 4);
  N_VScaleVectorArray(2, c, F, F + 4);
  same_vectors(&p, 5, "scalevectorarray");
  N_VWrmsNormVectorArray(2, R, R + 2, dr);
  N_VWrmsNormVectorArray(2, F, F + 2, df);
  for (int k = 0; k < 2; k++) same_scalar(dr[k], df[k], "wrmsnormvectorarray");
  N_VWrmsNormMaskVectorArray(2, R, R + 2, R[4], dr);
  N_VWrmsNormMaskVectorArray(2, F, F + 2, F[4], df);
  for (int k = 0; k < 2; k++) same_scalar(dr[k], df[k], "wrmsnormmaskvectorarray");
  /* Z[j][k] = a_j X[k] + Y[j][k], 2 sums x 1 vector, Z aliasing Y */
  N_Vector *YR[2] = {R + 1, R + 2}, *YF[2] = {F + 1, F + 2};
  N_VScaleAddMultiVectorArray(1, 2, c, R, YR, YR);
  N_VScaleAddMultiVectorArray(1, 2, c, F, YF, YF);
  same_vectors(&p, 1, "scaleaddmultivectorarray");
  same_vectors(&p, 2, "scaleaddmultivectorarray");
  /* Z[k] = sum_j c_j X[j][k], 3 sums x 2 vectors */
  N_Vector *XR[3] = {R + 0, R + 1, R + 2}, *XF[3] = {F + 0, F + 1, F + 2};
  N_VLinearCombinationVectorArray(2, 3, c, XR, R + 4);
  N_VLinearCombinationVectorArray(2, 3, c, XF, F + 4);
  same_vectors(&p, 4, "linearcombinationvectorarray");
  same_vectors(&p, 5, "linearcombinationvectorarray");
  N_VConstVectorArray(2, -3.0, R + 4);
  N_VConstVectorArray(2, -3.0, F + 4);
  same_vectors(&p, 4, "constvectorarray");
  teardown(&p);
}

/* 300001 values are split over threads (PAR_MIN in ode/nvector_fast.c):
 * run them on 2 and on 3 threads (uneven slices), whatever the
 * environment's BLAS thread count, with the elementwise operations queued
 * and not. */
START_TEST(fast_ops_match_sundials) {
  const long lengths[] = {1, 7, 8, 13, 1000, 4099, 300001};
  const int blas = nde_blas_threads();
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    for (int t = 2; t <= (lengths[i] > 100000 ? 3 : 2); t++) {
      nde_blas_set_threads(t);
      for (int queue = lengths[i] > 100000 ? 0 : 1; queue <= 1; queue++) check_length(lengths[i], queue);
    }
  }
  nde_blas_set_threads(blas);
}
END_TEST

/* CVODES's predictor and its undo (cvPredict / cvRestore): the Pascal
 * triangle of in-place sums over the Nordsieck history, which nde queues
 * and runs in one pass, then the other queued operations. Bit-identical to running them one by one, at an
 * order where the queue holds 15 sums, when a reduction reads a vector in
 * the middle (the queue runs first), after the undo with b = -1, across
 * N_VDestroy of a vector a queued sum wrote, and on 1, 2 and 3 threads. */
START_TEST(deferred_sums_match_sundials) {
  const int blas = nde_blas_threads();
  for (int t = 1; t <= 3; t++) {
    nde_blas_set_threads(t);
    pair_set p;
    setup(&p, 300001);
    const int q = 5; /* zn[0..5] */
    for (int k = 1; k <= q; k++)
      for (int j = q; j >= k; j--) {
        N_VLinearSum(1, p.ref[j - 1], 1, p.ref[j], p.ref[j - 1]);
        N_VLinearSum(1, p.fst[j - 1], 1, p.fst[j], p.fst[j - 1]);
      }
    for (int k = 0; k <= q; k++) identical_vectors(&p, k, "predicted history");
    N_VLinearSum(0.5, p.ref[2], -1, p.ref[3], p.ref[2]);
    N_VLinearSum(0.5, p.fst[2], -1, p.fst[3], p.fst[2]);
    same_scalar(N_VWrmsNorm(p.ref[2], p.ref[5]), N_VWrmsNorm(p.fst[2], p.fst[5]), "norm midway");
    for (int k = 1; k <= q; k++)
      for (int j = k; j <= q; j++) {
        N_VLinearSum(1, p.ref[j - 1], -1, p.ref[j], p.ref[j - 1]);
        N_VLinearSum(1, p.fst[j - 1], -1, p.fst[j], p.fst[j - 1]);
      }
    for (int k = 0; k <= q; k++) identical_vectors(&p, k, "restored history");
    /* the other queued kinds: const, scale, scale-add-multi (aliasing its
     * input), and the fixed-point update (delta = g - y, y = g) */
    realtype coef[3] = {0.5, -2.0, 3.0};
    for (int side = 0; side < 2; side++) {
      N_Vector *v = side ? p.fst : p.ref;
      N_VConst(0.25, v[4]);
      N_VScale(3.0, v[1], v[2]);
      N_Vector Y[3] = {v[1], v[2], v[3]}, Z[3] = {v[1], v[2], v[5]};
      N_VScaleAddMulti(3, coef, v[0], Y, Z);
      if (side) {
        nde_nvec_fp_update(v[2], v[3], v[4]);
      } else {
        N_VLinearSum(1.0, v[2], -1.0, v[3], v[4]);
        N_VScale(1.0, v[2], v[3]);
      }
    }
    for (int k = 0; k <= q; k++) identical_vectors(&p, k, "const, scale, scale-add-multi, fp update");
    /* a queued sum into a clone that is then destroyed, then one into fst[0] */
    N_Vector c = N_VClone(p.fst[1]);
    N_VScale(1, p.fst[1], c);
    N_VLinearSum(2, c, 1, p.fst[4], c);
    N_VDestroy(c);
    N_VLinearSum(1, p.ref[0], 3, p.ref[1], p.ref[0]);
    N_VLinearSum(1, p.fst[0], 3, p.fst[1], p.fst[0]);
    identical_vectors(&p, 0, "after a destroyed clone");
    teardown(&p);
  }
  nde_blas_set_threads(blas);
}
END_TEST

Suite *ode_nvector_suite(void) {
  Suite *s = suite_create("ode_nvector_fast");
  TCase *tc = tcase_create("ops");
  tcase_add_test(tc, fast_ops_match_sundials);
  tcase_add_test(tc, deferred_sums_match_sundials);
  suite_add_tcase(s, tc);
  return s;
}
