/* Optimized kernels for SUNDIALS serial vectors.
 *
 * Why: Debian's libsundials 6.4.1 is compiled without optimization (its
 * N_VWSqrSumLocal_Serial keeps every operand on the stack: -O0 code), so on
 * the 295k-value state of an ODE-Net batch one weighted RMS norm took
 * 2.0 ms where the same loop compiled here takes 0.13 ms, and the vector
 * operations of CVODES/ARKODE cost more than the right-hand side of small
 * fields (23% of a CH-NODE solve was N_VWrmsNorm alone). Every vector nde
 * hands to SUNDIALS is a serial vector whose operation table is replaced
 * here; clones copy the table, so SUNDIALS's internal vectors (Nordsieck
 * history, checkpoints, Krylov basis) use it too.
 *
 * Each kernel computes exactly what the SUNDIALS serial operation defines
 * (nvector_serial.c, 6.4): elementwise operations in the same loop order
 * (so aliasing between inputs and outputs behaves identically), reductions
 * with eight partial sums (a different summation order, so results can
 * differ from SUNDIALS's in the last bits). */
#include <math.h>
#include <stdlib.h>

#include "ode/ode_impl.h"

#define DATA(v) NV_DATA_S(v)
#define LEN(v) ((long)NV_LENGTH_S(v))

/* ---- elementwise operations ---- */

/* z = a x + b y */
static void fast_linearsum(realtype a, N_Vector x, realtype b, N_Vector y, N_Vector z) {
  const realtype *xd = DATA(x), *yd = DATA(y);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = a * xd[i] + b * yd[i];
}

static void fast_const(realtype c, N_Vector z) {
  realtype *zd = DATA(z);
  long n = LEN(z);
  for (long i = 0; i < n; i++) zd[i] = c;
}

static void fast_prod(N_Vector x, N_Vector y, N_Vector z) {
  const realtype *xd = DATA(x), *yd = DATA(y);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = xd[i] * yd[i];
}

static void fast_div(N_Vector x, N_Vector y, N_Vector z) {
  const realtype *xd = DATA(x), *yd = DATA(y);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = xd[i] / yd[i];
}

static void fast_scale(realtype c, N_Vector x, N_Vector z) {
  const realtype *xd = DATA(x);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = c * xd[i];
}

static void fast_abs(N_Vector x, N_Vector z) {
  const realtype *xd = DATA(x);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = fabs(xd[i]);
}

static void fast_inv(N_Vector x, N_Vector z) {
  const realtype *xd = DATA(x);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = 1.0 / xd[i];
}

static void fast_addconst(N_Vector x, realtype b, N_Vector z) {
  const realtype *xd = DATA(x);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = xd[i] + b;
}

/* z_i = 1 if |x_i| >= c else 0 */
static void fast_compare(realtype c, N_Vector x, N_Vector z) {
  const realtype *xd = DATA(x);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = fabs(xd[i]) >= c ? 1.0 : 0.0;
}

/* z = 1 / x where x != 0; false if some x_i == 0 (z_i left untouched) */
static booleantype fast_invtest(N_Vector x, N_Vector z) {
  const realtype *xd = DATA(x);
  realtype *zd = DATA(z);
  long n = LEN(x);
  booleantype ok = SUNTRUE;
  for (long i = 0; i < n; i++) {
    if (xd[i] == 0.0)
      ok = SUNFALSE;
    else
      zd[i] = 1.0 / xd[i];
  }
  return ok;
}

/* Constraint test: c_i = +-2 demands x_i c_i > 0, c_i = +-1 demands
 * x_i c_i >= 0; m_i = 1 marks a violation. True if none. */
static booleantype fast_constrmask(N_Vector c, N_Vector x, N_Vector m) {
  const realtype *cd = DATA(c), *xd = DATA(x);
  realtype *md = DATA(m);
  long n = LEN(x);
  booleantype ok = SUNTRUE;
  for (long i = 0; i < n; i++) {
    md[i] = 0.0;
    if (cd[i] == 0.0) continue;
    realtype p = xd[i] * cd[i];
    if ((fabs(cd[i]) > 1.5 && p <= 0.0) || (fabs(cd[i]) > 0.5 && p < 0.0)) {
      ok = SUNFALSE;
      md[i] = 1.0;
    }
  }
  return ok;
}

/* ---- reductions (eight partial sums so the loop vectorizes) ---- */

enum { LANES = 8 };

static realtype lanes_sum(const realtype *acc) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* sum_i (x_i w_i)^2 */
static realtype fast_wsqrsum(N_Vector x, N_Vector w) {
  const realtype *xd = DATA(x), *wd = DATA(w);
  long n = LEN(x), i = 0;
  realtype acc[LANES] = {0};
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) {
      realtype p = xd[i + k] * wd[i + k];
      acc[k] += p * p;
    }
  for (; i < n; i++) {
    realtype p = xd[i] * wd[i];
    acc[0] += p * p;
  }
  return lanes_sum(acc);
}

/* sum over id_i > 0 of (x_i w_i)^2 */
static realtype fast_wsqrsummask(N_Vector x, N_Vector w, N_Vector id) {
  const realtype *xd = DATA(x), *wd = DATA(w), *idd = DATA(id);
  long n = LEN(x), i = 0;
  realtype acc[LANES] = {0};
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) {
      realtype p = idd[i + k] > 0.0 ? xd[i + k] * wd[i + k] : 0.0;
      acc[k] += p * p;
    }
  for (; i < n; i++) {
    realtype p = idd[i] > 0.0 ? xd[i] * wd[i] : 0.0;
    acc[0] += p * p;
  }
  return lanes_sum(acc);
}

static realtype fast_dotprod(N_Vector x, N_Vector y) {
  const realtype *xd = DATA(x), *yd = DATA(y);
  long n = LEN(x), i = 0;
  realtype acc[LANES] = {0};
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) acc[k] += xd[i + k] * yd[i + k];
  for (; i < n; i++) acc[0] += xd[i] * yd[i];
  return lanes_sum(acc);
}

static realtype fast_l1norm(N_Vector x) {
  const realtype *xd = DATA(x);
  long n = LEN(x), i = 0;
  realtype acc[LANES] = {0};
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) acc[k] += fabs(xd[i + k]);
  for (; i < n; i++) acc[0] += fabs(xd[i]);
  return lanes_sum(acc);
}

static realtype fast_maxnorm(N_Vector x) {
  const realtype *xd = DATA(x);
  long n = LEN(x);
  realtype m = 0.0;
  for (long i = 0; i < n; i++) m = fmax(m, fabs(xd[i]));
  return m;
}

static realtype fast_min(N_Vector x) {
  const realtype *xd = DATA(x);
  long n = LEN(x);
  realtype m = n > 0 ? xd[0] : BIG_REAL;
  for (long i = 1; i < n; i++) m = fmin(m, xd[i]);
  return m;
}

/* min over denom_i != 0 of num_i / denom_i (BIG_REAL if none) */
static realtype fast_minquotient(N_Vector num, N_Vector denom) {
  const realtype *nd = DATA(num), *dd = DATA(denom);
  long n = LEN(num);
  realtype m = BIG_REAL;
  for (long i = 0; i < n; i++)
    if (dd[i] != 0.0) m = fmin(m, nd[i] / dd[i]);
  return m;
}

/* sqrt(sum (x w)^2 / n) */
static realtype fast_wrmsnorm(N_Vector x, N_Vector w) {
  return sqrt(fast_wsqrsum(x, w) / (realtype)LEN(x));
}

static realtype fast_wrmsnormmask(N_Vector x, N_Vector w, N_Vector id) {
  return sqrt(fast_wsqrsummask(x, w, id) / (realtype)LEN(x));
}

static realtype fast_wl2norm(N_Vector x, N_Vector w) { return sqrt(fast_wsqrsum(x, w)); }

/* ---- fused operations ---- */

/* z = sum_k c_k X_k. z may be X_0 (the one aliasing SUNDIALS's contract
 * allows and CVODES/ARKODE use): the first pass reads X_0[i] before it
 * writes z[i]. */
static int fast_linearcombination(int nv, realtype *c, N_Vector *X, N_Vector z) {
  realtype *zd = DATA(z);
  long n = LEN(z);
  if (nv == 1) {
    fast_scale(c[0], X[0], z);
    return 0;
  }
  /* two vectors at a time keep the loop simple and the passes few */
  const realtype *x0 = DATA(X[0]), *x1 = DATA(X[1]);
  for (long i = 0; i < n; i++) zd[i] = c[0] * x0[i] + c[1] * x1[i];
  int k = 2;
  for (; k + 1 < nv; k += 2) {
    const realtype *a = DATA(X[k]), *b = DATA(X[k + 1]);
    realtype ca = c[k], cb = c[k + 1];
    for (long i = 0; i < n; i++) zd[i] += ca * a[i] + cb * b[i];
  }
  if (k < nv) {
    const realtype *a = DATA(X[k]);
    realtype ca = c[k];
    for (long i = 0; i < n; i++) zd[i] += ca * a[i];
  }
  return 0;
}

/* Z_k = a_k x + Y_k */
static int fast_scaleaddmulti(int nv, realtype *a, N_Vector x, N_Vector *Y, N_Vector *Z) {
  const realtype *xd = DATA(x);
  long n = LEN(x);
  for (int k = 0; k < nv; k++) {
    const realtype *yd = DATA(Y[k]);
    realtype *zd = DATA(Z[k]);
    realtype ak = a[k];
    for (long i = 0; i < n; i++) zd[i] = ak * xd[i] + yd[i];
  }
  return 0;
}

static int fast_dotprodmulti(int nv, N_Vector x, N_Vector *Y, realtype *d) {
  for (int k = 0; k < nv; k++) d[k] = fast_dotprod(x, Y[k]);
  return 0;
}

/* ---- vector-array operations ---- */

static int fast_linearsumvectorarray(int nv, realtype a, N_Vector *X, realtype b, N_Vector *Y,
                                     N_Vector *Z) {
  for (int k = 0; k < nv; k++) fast_linearsum(a, X[k], b, Y[k], Z[k]);
  return 0;
}

static int fast_scalevectorarray(int nv, realtype *c, N_Vector *X, N_Vector *Z) {
  for (int k = 0; k < nv; k++) fast_scale(c[k], X[k], Z[k]);
  return 0;
}

static int fast_constvectorarray(int nv, realtype c, N_Vector *Z) {
  for (int k = 0; k < nv; k++) fast_const(c, Z[k]);
  return 0;
}

static int fast_wrmsnormvectorarray(int nv, N_Vector *X, N_Vector *W, realtype *nrm) {
  for (int k = 0; k < nv; k++) nrm[k] = fast_wrmsnorm(X[k], W[k]);
  return 0;
}

static int fast_wrmsnormmaskvectorarray(int nv, N_Vector *X, N_Vector *W, N_Vector id,
                                        realtype *nrm) {
  for (int k = 0; k < nv; k++) nrm[k] = fast_wrmsnormmask(X[k], W[k], id);
  return 0;
}

/* Z[j][k] = a_j X[k] + Y[j][k] */
static int fast_scaleaddmultivectorarray(int nv, int ns, realtype *a, N_Vector *X, N_Vector **Y,
                                         N_Vector **Z) {
  for (int k = 0; k < nv; k++)
    for (int j = 0; j < ns; j++) fast_linearsum(a[j], X[k], 1.0, Y[j][k], Z[j][k]);
  return 0;
}

/* Z[k] = sum_j c_j X[j][k] */
static int fast_linearcombinationvectorarray(int nv, int ns, realtype *c, N_Vector **X,
                                             N_Vector *Z) {
  N_Vector small[16];
  N_Vector *col = ns <= 16 ? small : malloc((size_t)ns * sizeof *col);
  if (!col) return -1;
  for (int k = 0; k < nv; k++) {
    for (int j = 0; j < ns; j++) col[j] = X[j][k];
    fast_linearcombination(ns, c, col, Z[k]);
  }
  if (col != small) free(col);
  return 0;
}

void nde_nvec_use_fast_ops(N_Vector v) {
  N_Vector_Ops o = v->ops;
  o->nvlinearsum = fast_linearsum;
  o->nvconst = fast_const;
  o->nvprod = fast_prod;
  o->nvdiv = fast_div;
  o->nvscale = fast_scale;
  o->nvabs = fast_abs;
  o->nvinv = fast_inv;
  o->nvaddconst = fast_addconst;
  o->nvdotprod = fast_dotprod;
  o->nvmaxnorm = fast_maxnorm;
  o->nvwrmsnorm = fast_wrmsnorm;
  o->nvwrmsnormmask = fast_wrmsnormmask;
  o->nvmin = fast_min;
  o->nvwl2norm = fast_wl2norm;
  o->nvl1norm = fast_l1norm;
  o->nvcompare = fast_compare;
  o->nvinvtest = fast_invtest;
  o->nvconstrmask = fast_constrmask;
  o->nvminquotient = fast_minquotient;
  o->nvlinearcombination = fast_linearcombination;
  o->nvscaleaddmulti = fast_scaleaddmulti;
  o->nvdotprodmulti = fast_dotprodmulti;
  o->nvlinearsumvectorarray = fast_linearsumvectorarray;
  o->nvscalevectorarray = fast_scalevectorarray;
  o->nvconstvectorarray = fast_constvectorarray;
  o->nvwrmsnormvectorarray = fast_wrmsnormvectorarray;
  o->nvwrmsnormmaskvectorarray = fast_wrmsnormmaskvectorarray;
  o->nvscaleaddmultivectorarray = fast_scaleaddmultivectorarray;
  o->nvlinearcombinationvectorarray = fast_linearcombinationvectorarray;
  o->nvdotprodlocal = fast_dotprod;
  o->nvmaxnormlocal = fast_maxnorm;
  o->nvminlocal = fast_min;
  o->nvl1normlocal = fast_l1norm;
  o->nvinvtestlocal = fast_invtest;
  o->nvconstrmasklocal = fast_constrmask;
  o->nvminquotientlocal = fast_minquotient;
  o->nvwsqrsumlocal = fast_wsqrsum;
  o->nvwsqrsummasklocal = fast_wsqrsummask;
}
