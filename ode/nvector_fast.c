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

#include "common/parallel_impl.h"
#include "ode/ode_impl.h"

#define DATA(v) NV_DATA_S(v)
#define LEN(v) ((long)NV_LENGTH_S(v))

/* ---- long vectors on several threads ----
 *
 * The operations are memory bound and an ODE-Net state (295k doubles,
 * 2.4 MB) outgrows the per-core caches, so the most frequent ones split
 * the index range over the BLAS thread count (common/parallel_impl.h's
 * pool): z = a x + b y on 295k values took 0.085 ms on one thread and
 * 0.045 ms on two; an ODE-Net step (odenet_step, with the pool) 0.65-0.75
 * -> 0.58-0.61 s in alternating runs. Slices are disjoint index ranges, so the aliasing rules are those of the
 * serial loops; reductions add one partial sum per slice, in slice order
 * (deterministic for a given thread count). */
enum { PAR_MIN = 1 << 17 }; /* values below which one thread does it all */

typedef struct par_op par_op;
struct par_op {
  void (*range)(par_op *o, long i0, long i1, int slice);
  long n;
  int nslices;
  realtype a, b;
  const realtype *c; /* coefficients of the fused operations */
  int nv;
  N_Vector x, y, z, *X, *Y, *Z;
  const struct defer_q *q; /* flush_range: the ops to run */
  realtype part[NDE_MAX_SLICES]; /* per-slice partial sums of reductions */
};

/* ---- deferred elementwise operations ----
 *
 * Why: between two reductions CVODES makes many elementwise passes over
 * the state. Its predictor (cvPredict) alone multiplies the Nordsieck
 * history by the Pascal triangle as q (q + 1) / 2 separate in-place sums
 *   zn[j-1] = zn[j-1] + zn[j],   k = 1..q, j = q..k
 * (at order 4, 10 passes and 30 vector transfers where one pass over the
 * q + 1 vectors needs 9); then come y = zn[0] + ycor, the fixed-point
 * residual (a sum and a scaling), the history update (q + 1 sums), the
 * rescaling on a step-size change (q scalings) and two copies. So on a long
 * vector z = a x + b y, z = c x, z = c and the fused forms built from them
 * are not run at once but queued (per thread: a solver runs on one thread
 * at a time), and the queue runs in ONE pass over the index range, block
 * by block (DEFER_BLOCK values of every vector stay in L1), each block
 * applying the queued operations in their order. Every entry then sees the
 * same sequence of operations, with the same operands, as when they run
 * one by one, so the results are bit-identical (aliasing included: an
 * operation reads x[i] and y[i] before it writes z[i]).
 * The queue is run first by every other operation of this table (the
 * reductions, which need the values), by N_VGetArrayPointer /
 * N_VSetArrayPointer (all of nde's access to the values goes through
 * these; NV_DATA_S would bypass it) and by N_VDestroy, print and buffer
 * packing, so nothing sees a vector's values before its queued updates.
 *
 * Whether a vector's operations are queued is part of its operation table
 * (nde_nvec_use_fast_ops; clones copy the table), so it is chosen per
 * vector, and so per solver, whose vectors are all clones of its state
 * vector: there is no process-wide switch for one thread to change under
 * another.
 *
 * THREADS. The queue is the calling thread's (an operation does not know
 * its solver, and a solver runs on one thread at a time). So that a solver
 * may be handed to another thread, or freed there, nothing may stay queued
 * when nde returns to its caller: every call that runs a solver ends with
 * nde_nvec_flush (ode/solver.c, adjoint/adjoint.c). Left queued, the
 * operations would run at this thread's next flush, into vectors another
 * thread may have freed meanwhile. */
enum { DEFER_MAX = 128, DEFER_BLOCK = 256 };
enum { DQ_LINSUM, DQ_SCALE, DQ_CONST }; /* z = a x + b y,  z = a x,  z = a */
struct defer_q {
  int n;
  long len;
  unsigned char kind[DEFER_MAX];
  realtype a[DEFER_MAX], b[DEFER_MAX];
  const realtype *x[DEFER_MAX], *y[DEFER_MAX];
  realtype *z[DEFER_MAX];
};
static _Thread_local struct defer_q deferred;
static void flush_deferred(void);
int nde_nvec_queued(void) { return deferred.n; }
void nde_nvec_flush(void) { flush_deferred(); }

static int par_slice(void *arg, int s) {
  par_op *o = arg;
  const long i0 = nde_slice_start(o->n, o->nslices, s), i1 = nde_slice_start(o->n, o->nslices, s + 1);
  o->range(o, i0, i1, s);
  return 0;
}

/* Run o->range over [0, n), split when n is long; returns the sum of the
 * slices' partial sums (for reductions). */
static realtype par_run(par_op *o, long n) {
  flush_deferred();
  o->n = n;
  o->nslices = n >= PAR_MIN ? nde_blas_threads() : 1;
  if (o->nslices > NDE_MAX_SLICES) o->nslices = NDE_MAX_SLICES;
  for (int s = 0; s < o->nslices; s++) o->part[s] = 0;
  if (o->nslices <= 1)
    o->range(o, 0, n, 0);
  else
    nde_run_slices(o->nslices, par_slice, o);
  realtype sum = 0;
  for (int s = 0; s < o->nslices; s++) sum += o->part[s];
  return sum;
}

/* ---- elementwise operations ---- */

/* z = a x + b y */
static void linearsum_range(par_op *o, long i0, long i1, int s) {
  const realtype *xd = DATA(o->x), *yd = DATA(o->y), a = o->a, b = o->b;
  realtype *zd = DATA(o->z);
  (void)s;
  for (long i = i0; i < i1; i++) zd[i] = a * xd[i] + b * yd[i];
}
/* The queued operations (o->nv of them) over [i0, i1), block by block. */
static void flush_range(par_op *o, long i0, long i1, int s) {
  const struct defer_q *q = o->q;
  (void)s;
  for (long b0 = i0; b0 < i1; b0 += DEFER_BLOCK) {
    const long b1 = b0 + DEFER_BLOCK < i1 ? b0 + DEFER_BLOCK : i1;
    for (int k = 0; k < o->nv; k++) {
      const realtype *xd = q->x[k], *yd = q->y[k], a = q->a[k], b = q->b[k];
      realtype *zd = q->z[k];
      switch (q->kind[k]) {
        case DQ_LINSUM:
          for (long i = b0; i < b1; i++) zd[i] = a * xd[i] + b * yd[i];
          break;
        case DQ_SCALE:
          for (long i = b0; i < b1; i++) zd[i] = a * xd[i];
          break;
        default:
          for (long i = b0; i < b1; i++) zd[i] = a;
      }
    }
  }
}
static void flush_deferred(void) {
  struct defer_q *q = &deferred;
  if (!q->n) return;
  par_op o = {.range = flush_range, .q = q, .nv = q->n};
  q->n = 0; /* emptied first: par_run flushes too (nothing queues meanwhile) */
  par_run(&o, q->len);
}
static void fast_linearsum(realtype a, N_Vector x, realtype b, N_Vector y, N_Vector z);
/* Whether z's operations are queued: its table has the queueing linear
 * sum (nde_nvec_use_fast_ops). */
static int queues(N_Vector z) { return z->ops->nvlinearsum == fast_linearsum; }

/* Queue z = a x + b y (x, y: NULL where the kind reads none) if z queues
 * and is long; 0 when the caller must run it now. */
static int defer(int kind, realtype a, realtype b, N_Vector x, N_Vector y, N_Vector z) {
  struct defer_q *q = &deferred;
  if (!queues(z) || LEN(z) < PAR_MIN) return 0;
  if (q->n == DEFER_MAX || (q->n && q->len != LEN(z))) flush_deferred();
  const int k = q->n++;
  q->len = LEN(z);
  q->kind[k] = (unsigned char)kind;
  q->a[k] = a;
  q->b[k] = b;
  q->x[k] = x ? DATA(x) : NULL;
  q->y[k] = y ? DATA(y) : NULL;
  q->z[k] = DATA(z);
  return 1;
}
static void fast_linearsum_now(realtype a, N_Vector x, realtype b, N_Vector y, N_Vector z) {
  par_op o = {.range = linearsum_range, .a = a, .b = b, .x = x, .y = y, .z = z};
  par_run(&o, LEN(x));
}
static void fast_linearsum(realtype a, N_Vector x, realtype b, N_Vector y, N_Vector z) {
  if (!defer(DQ_LINSUM, a, b, x, y, z)) fast_linearsum_now(a, x, b, y, z);
}

static void const_range(par_op *o, long i0, long i1, int s) {
  realtype *zd = DATA(o->z), c = o->a;
  (void)s;
  for (long i = i0; i < i1; i++) zd[i] = c;
}
static void fast_const(realtype c, N_Vector z) {
  if (defer(DQ_CONST, c, 0, NULL, NULL, z)) return;
  par_op o = {.range = const_range, .a = c, .z = z};
  par_run(&o, LEN(z));
}

static void fast_prod(N_Vector x, N_Vector y, N_Vector z) {
  flush_deferred();
  const realtype *xd = DATA(x), *yd = DATA(y);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = xd[i] * yd[i];
}

static void fast_div(N_Vector x, N_Vector y, N_Vector z) {
  flush_deferred();
  const realtype *xd = DATA(x), *yd = DATA(y);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = xd[i] / yd[i];
}

static void scale_range(par_op *o, long i0, long i1, int s) {
  const realtype *xd = DATA(o->x), c = o->a;
  realtype *zd = DATA(o->z);
  (void)s;
  for (long i = i0; i < i1; i++) zd[i] = c * xd[i];
}
static void fast_scale(realtype c, N_Vector x, N_Vector z) {
  if (defer(DQ_SCALE, c, 0, x, NULL, z)) return;
  par_op o = {.range = scale_range, .a = c, .x = x, .z = z};
  par_run(&o, LEN(x));
}

static void abs_range(par_op *o, long i0, long i1, int s) {
  const realtype *xd = DATA(o->x);
  realtype *zd = DATA(o->z);
  (void)s;
  for (long i = i0; i < i1; i++) zd[i] = fabs(xd[i]);
}
static void fast_abs(N_Vector x, N_Vector z) {
  par_op o = {.range = abs_range, .x = x, .z = z};
  par_run(&o, LEN(x));
}

static void inv_range(par_op *o, long i0, long i1, int s) {
  const realtype *xd = DATA(o->x);
  realtype *zd = DATA(o->z);
  (void)s;
  for (long i = i0; i < i1; i++) zd[i] = 1.0 / xd[i];
}
static void fast_inv(N_Vector x, N_Vector z) {
  par_op o = {.range = inv_range, .x = x, .z = z};
  par_run(&o, LEN(x));
}

static void addconst_range(par_op *o, long i0, long i1, int s) {
  const realtype *xd = DATA(o->x), b = o->b;
  realtype *zd = DATA(o->z);
  (void)s;
  for (long i = i0; i < i1; i++) zd[i] = xd[i] + b;
}
static void fast_addconst(N_Vector x, realtype b, N_Vector z) {
  par_op o = {.range = addconst_range, .b = b, .x = x, .z = z};
  par_run(&o, LEN(x));
}

/* z_i = 1 if |x_i| >= c else 0 */
static void fast_compare(realtype c, N_Vector x, N_Vector z) {
  flush_deferred();
  const realtype *xd = DATA(x);
  realtype *zd = DATA(z);
  long n = LEN(x);
  for (long i = 0; i < n; i++) zd[i] = fabs(xd[i]) >= c ? 1.0 : 0.0;
}

/* z = 1 / x where x != 0; false if some x_i == 0 (z_i left untouched) */
static booleantype fast_invtest(N_Vector x, N_Vector z) {
  flush_deferred();
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
  flush_deferred();
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
static void wsqrsum_range(par_op *o, long i0, long i1, int s) {
  const realtype *xd = DATA(o->x), *wd = DATA(o->y);
  long i = i0;
  realtype acc[LANES] = {0};
  for (; i + LANES <= i1; i += LANES)
    for (int k = 0; k < LANES; k++) {
      realtype p = xd[i + k] * wd[i + k];
      acc[k] += p * p;
    }
  for (; i < i1; i++) {
    realtype p = xd[i] * wd[i];
    acc[0] += p * p;
  }
  o->part[s] = lanes_sum(acc);
}
static realtype fast_wsqrsum(N_Vector x, N_Vector w) {
  par_op o = {.range = wsqrsum_range, .x = x, .y = w};
  return par_run(&o, LEN(x));
}

/* sum over id_i > 0 of (x_i w_i)^2 */
static realtype fast_wsqrsummask(N_Vector x, N_Vector w, N_Vector id) {
  flush_deferred();
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
  flush_deferred();
  const realtype *xd = DATA(x), *yd = DATA(y);
  long n = LEN(x), i = 0;
  realtype acc[LANES] = {0};
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) acc[k] += xd[i + k] * yd[i + k];
  for (; i < n; i++) acc[0] += xd[i] * yd[i];
  return lanes_sum(acc);
}

static realtype fast_l1norm(N_Vector x) {
  flush_deferred();
  const realtype *xd = DATA(x);
  long n = LEN(x), i = 0;
  realtype acc[LANES] = {0};
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) acc[k] += fabs(xd[i + k]);
  for (; i < n; i++) acc[0] += fabs(xd[i]);
  return lanes_sum(acc);
}

static realtype fast_maxnorm(N_Vector x) {
  flush_deferred();
  const realtype *xd = DATA(x);
  long n = LEN(x);
  realtype m = 0.0;
  for (long i = 0; i < n; i++) m = fmax(m, fabs(xd[i]));
  return m;
}

static realtype fast_min(N_Vector x) {
  flush_deferred();
  const realtype *xd = DATA(x);
  long n = LEN(x);
  realtype m = n > 0 ? xd[0] : BIG_REAL;
  for (long i = 1; i < n; i++) m = fmin(m, xd[i]);
  return m;
}

/* min over denom_i != 0 of num_i / denom_i (BIG_REAL if none) */
static realtype fast_minquotient(N_Vector num, N_Vector denom) {
  flush_deferred();
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
static void lincomb_range(par_op *o, long i0, long i1, int s) {
  const realtype *c = o->c;
  N_Vector *X = o->X;
  const int nv = o->nv;
  realtype *zd = DATA(o->z);
  (void)s;
  /* two vectors at a time keep the loop simple and the passes few */
  const realtype *x0 = DATA(X[0]), *x1 = DATA(X[1]);
  for (long i = i0; i < i1; i++) zd[i] = c[0] * x0[i] + c[1] * x1[i];
  int k = 2;
  for (; k + 1 < nv; k += 2) {
    const realtype *a = DATA(X[k]), *b = DATA(X[k + 1]);
    realtype ca = c[k], cb = c[k + 1];
    for (long i = i0; i < i1; i++) zd[i] += ca * a[i] + cb * b[i];
  }
  if (k < nv) {
    const realtype *a = DATA(X[k]);
    realtype ca = c[k];
    for (long i = i0; i < i1; i++) zd[i] += ca * a[i];
  }
}
static int fast_linearcombination(int nv, realtype *c, N_Vector *X, N_Vector z) {
  if (nv == 1) {
    fast_scale(c[0], X[0], z);
    return 0;
  }
  par_op o = {.range = lincomb_range, .c = c, .nv = nv, .X = X, .z = z};
  par_run(&o, LEN(z));
  return 0;
}

/* Z_k = a_k x + Y_k */
static void scaleaddmulti_range(par_op *o, long i0, long i1, int s) {
  const realtype *xd = DATA(o->x);
  (void)s;
  for (int k = 0; k < o->nv; k++) {
    const realtype *yd = DATA(o->Y[k]);
    realtype *zd = DATA(o->Z[k]);
    realtype ak = o->c[k];
    for (long i = i0; i < i1; i++) zd[i] = ak * xd[i] + yd[i];
  }
}
static int fast_scaleaddmulti(int nv, realtype *a, N_Vector x, N_Vector *Y, N_Vector *Z) {
  if (queues(x) && LEN(x) >= PAR_MIN) { /* Z_k = a_k x + 1 Y_k, k = 0, 1, ... in order */
    for (int k = 0; k < nv; k++) fast_linearsum(a[k], x, 1.0, Y[k], Z[k]);
    return 0;
  }
  par_op o = {.range = scaleaddmulti_range, .c = a, .nv = nv, .x = x, .Y = Y, .Z = Z};
  par_run(&o, LEN(x));
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

/* ---- fused operations for nde's own SUNDIALS plug-ins ---- */

/* w = 1 / (rtol |y| + atol): CVODES's cvEwtSetSS (N_VAbs, N_VScale,
 * N_VAddConst, N_VMin, N_VInv: five passes over the state) in one pass,
 * with the same arithmetic. part[] counts the non-positive denominators. */
static void ewt_range(par_op *o, long i0, long i1, int s) {
  const realtype *yd = DATA(o->x), rtol = o->a, atol = o->b;
  realtype *wd = DATA(o->z);
  long bad = 0;
  for (long i = i0; i < i1; i++) {
    const realtype d = rtol * fabs(yd[i]) + atol;
    bad += d <= 0;
    wd[i] = 1.0 / d;
  }
  o->part[s] = (realtype)bad;
}
int nde_nvec_ewt(N_Vector y, double rtol, double atol, N_Vector w) {
  par_op o = {.range = ewt_range, .a = rtol, .b = atol, .x = y, .z = w};
  return par_run(&o, LEN(y)) > 0 ? -1 : 0;
}

/* delta = g - y, then y = g: a plain fixed-point iteration's update and
 * its change (SUNDIALS's solver: copy y to yprev, copy g to y, then
 * delta = y - yprev; three passes, the same values). */
static void fp_update_range(par_op *o, long i0, long i1, int s) {
  const realtype *gd = DATA(o->x);
  realtype *yd = DATA(o->y), *dd = DATA(o->z);
  (void)s;
  for (long i = i0; i < i1; i++) {
    dd[i] = gd[i] - yd[i];
    yd[i] = gd[i];
  }
}
void nde_nvec_fp_update(N_Vector g, N_Vector y, N_Vector delta) {
  /* the same arithmetic queued: delta = 1 g + (-1) y, y = 1 g */
  if (defer(DQ_LINSUM, 1.0, -1.0, g, y, delta)) {
    fast_scale(1.0, g, y); /* queued after it (or run now, the queue first) */
    return;
  }
  par_op o = {.range = fp_update_range, .x = g, .y = y, .z = delta};
  par_run(&o, LEN(y));
}

/* Access to the values and the end of a vector: the queue first. */
static realtype *fast_getarraypointer(N_Vector v) {
  flush_deferred();
  return DATA(v);
}
static void fast_setarraypointer(realtype *data, N_Vector v) {
  flush_deferred();
  NV_DATA_S(v) = data;
}
static void fast_destroy(N_Vector v) {
  flush_deferred();
  N_VDestroy_Serial(v);
}
static void fast_print(N_Vector v) {
  flush_deferred();
  N_VPrint_Serial(v);
}
static void fast_printfile(N_Vector v, FILE *f) {
  flush_deferred();
  N_VPrintFile_Serial(v, f);
}
static int fast_bufpack(N_Vector v, void *buf) {
  flush_deferred();
  return N_VBufPack_Serial(v, buf);
}
static int fast_bufunpack(N_Vector v, void *buf) {
  flush_deferred();
  return N_VBufUnpack_Serial(v, buf);
}

void nde_nvec_use_fast_ops(N_Vector v, int queue) {
  N_Vector_Ops o = v->ops;
  o->nvgetarraypointer = fast_getarraypointer;
  o->nvsetarraypointer = fast_setarraypointer;
  o->nvdestroy = fast_destroy;
  o->nvprint = fast_print;
  o->nvprintfile = fast_printfile;
  o->nvbufpack = fast_bufpack;
  o->nvbufunpack = fast_bufunpack;
  o->nvdotprodmultilocal = fast_dotprodmulti;
  o->nvlinearsum = queue ? fast_linearsum : fast_linearsum_now;
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
