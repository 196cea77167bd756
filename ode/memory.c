/* Memory of a solver, estimated before anything is allocated (nde/ode.h):
 * nde's own buffers exactly, SUNDIALS's vectors counted as SUNDIALS 6
 * allocates them. nde_ode_create refuses a solver that cannot fit, and
 * every engine (re)build first reserves its vectors' memory once: a failing
 * clone inside SUNDIALS 6 (N_VClone writes into the clone without checking
 * it) would crash the process instead of returning an error. */
#include <stdint.h>
#include <stdlib.h>

#include "common/memory_impl.h"
#include "ode/ode_impl.h"

static int is_cvodes(int m) { return m == NDE_ODE_ADAMS || m == NDE_ODE_BDF; }
static int is_ark(int m) { return m == NDE_ODE_DOPRI5 || m == NDE_ODE_BOSH3; }

/* Vectors of one CVODES memory of length n (CVodeInit: the Nordsieck array
 * zn[0..qmax] and ewt, acor, tempv, ftemp, vtemp1..3), with its nonlinear
 * solver (fixed point: gy, delta; Newton: delta and CVODES's copy, SPGMR:
 * maxl + 1 Krylov vectors, xcor, vtemp, and CVLS's ytemp and x). */
static double cvodes_vectors(const nde_ode_options *o) {
  const int adams = o->method == NDE_ODE_ADAMS, qmax = adams ? 12 : 5;
  const int maxl = o->gmres_maxl > 0 ? o->gmres_maxl : 5;
  return (qmax + 1) + 7 + (adams ? 2 : 2 + (maxl + 3) + 2);
}

/* A CVODES quadrature of n values: znQ[0..qmax], ewtQ, acorQ, yQ, tempvQ. */
static double cvodes_quad_vectors(const nde_ode_options *o) {
  return (o->method == NDE_ODE_ADAMS ? 12 : 5) + 1 + 4;
}

/* An ARKStep explicit integrator: the stage right-hand sides Fe[s] and about
 * ten work vectors (ewt, rwt, yn, fn, tempv1..4, ...). */
static double arkode_vectors(const nde_ode_options *o) {
  return (o->method == NDE_ODE_DOPRI5 ? 7 : 4) + 10;
}

/* What one SUNDIALS vector costs beside its n values, in doubles: the
 * N_Vector and its content, and the copy of the operation table every
 * clone carries (about 70 pointers), with malloc's headers: about 1 KiB. It
 * dominates for small states with many stored points (a checkpoint_steps of
 * 10^8 at one state value would clone 10^8 vectors, 100 GB). */
enum { VEC_OVERHEAD = 128 };

/* k vectors of n values, in doubles. */
static double vecs(double k, double n) { return k * (n + VEC_OVERHEAD); }

/* Doubles the SUNDIALS engines hold for integrations of L state values
 * (L = m * dim) with np parameters; nde's own vectors (y, ysave, yB, q)
 * included. */
static double engine_values(const nde_ode_options *o, double L, double np) {
  double v = 0;
  if (is_cvodes(o->method)) {
    const double qmax = o->method == NDE_ODE_ADAMS ? 12 : 5;
    v += vecs(1 + cvodes_vectors(o), L);
    if (o->adjoint == NDE_ADJ_CHECKPOINT) {
      /* The interpolation data (CVodeAdjInit: checkpoint_steps + 1 points of
       * y, and y' for Hermite, all cloned at the first CVodeF), one
       * checkpoint's Nordsieck copy, then the backward problem with its
       * parameter quadrature. */
      const double per_point = o->interp == NDE_INTERP_HERMITE ? 2 : 1;
      v += vecs(((double)o->checkpoint_steps + 1) * per_point, L) + vecs(qmax + 3, L);
      v += vecs(1 + cvodes_vectors(o) + 2, L) + vecs(1 + cvodes_quad_vectors(o), np);
    } else if (o->adjoint == NDE_ADJ_BACKSOLVE) {
      v += vecs(1 + cvodes_vectors(o), 2 * L) + vecs(1 + cvodes_quad_vectors(o), np);
    }
  } else if (is_ark(o->method)) {
    v += vecs(2 + arkode_vectors(o), L);
    if (o->adjoint == NDE_ADJ_BACKSOLVE) v += vecs(2 + arkode_vectors(o), 2 * L + np);
  }
  return v;
}

/* nde's buffers (ode/solver.c): recorded y0 and outputs, replay scratch,
 * adjoint scratch, and for fixed steps the stage work and the direct
 * adjoint's store. */
static double buffer_values(const nde_ode_options *o, double Lmax, double np, double nout,
                            double fixed_steps) {
  double v = Lmax * (1 + 2 * nout) + 2 * Lmax + np;
  if (o->method == NDE_ODE_EULER || o->method == NDE_ODE_RK4) {
    v += 6 * (2 * Lmax + np);
    if (o->adjoint == NDE_ADJ_DIRECT) v += fixed_steps * (o->method == NDE_ODE_RK4 ? 4 : 1) * Lmax;
  }
  return v;
}

int nde_ode_memory_estimate(const nde_ode_options *opt, size_t dim, size_t nparams, int max_batch,
                            size_t *bytes) {
  NDE_CHECK_NULL(bytes, "nde_ode_memory_estimate");
  *bytes = 0;
  const nde_ode_options o = opt ? *opt : nde_ode_options_default();
  if (max_batch < 1 || dim < 1)
    return nde_error(NDE_ERR_ARG, "nde_ode_memory_estimate: max_batch %d and dim %zu must be >= 1",
                     max_batch, dim);
  int rc = nde_ode_check_values(&o, "ODE options");
  if (rc) return rc;
  const double Lmax = (double)max_batch * (double)dim, np = (double)nparams;
  const double L = o.batch_mode == NDE_BATCH_JOINT ? Lmax : (double)dim;
  double steps = 0;
  if (o.method == NDE_ODE_EULER || o.method == NDE_ODE_RK4) steps = nde_fixed_steps_needed(&o);
  const double v =
      buffer_values(&o, Lmax, np, o.nout > 0 ? o.nout : 1, steps) + engine_values(&o, L, np);
  const double b = v * sizeof(double);
  *bytes = b < (double)SIZE_MAX ? (size_t)b : SIZE_MAX;
  return NDE_OK;
}

int nde_ode_reserve_engines(nde_ode *ode, size_t L) {
  const double b = engine_values(&ode->opt, (double)L, (double)ode->np) * sizeof(double);
  const size_t need = b < (double)SIZE_MAX ? (size_t)b : SIZE_MAX;
  if (need == 0) return NDE_OK;
  /* Reserve and release once: the engines' vectors are many allocations of
   * the same total, which then find the address space this one had. */
  void *p = need < SIZE_MAX ? malloc(need) : NULL;
  if (!p) {
    const double gib = 1024.0 * 1024.0 * 1024.0;
    return nde_error(NDE_ERR_NOMEM,
                     "the %s solver's vectors for %zu state values need about %.1f GiB, which "
                     "cannot be allocated",
                     nde_ode_method_name(ode->opt.method), L, need / gib);
  }
  free(p);
  return NDE_OK;
}
