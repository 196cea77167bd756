/* Private to ode/ and adjoint/: the vector-field object behind nde_field.
 *
 * Internal evaluation functions return the SUNDIALS callback convention so
 * the solver wrappers can pass them straight through: 0 success, > 0
 * recoverable (a user callback asked for a smaller step), < 0 fatal (a user
 * callback's own negative code, or an NDE_ERR_* code from a network with
 * nde_last_error() describing it). They never check finiteness; the solver
 * wrappers do. */
#ifndef NDE_ODE_FIELD_IMPL_H
#define NDE_ODE_FIELD_IMPL_H

#include "common/error_impl.h"
#include "common/parallel_impl.h"
#include "nde/ode.h"

enum { NDE_FIELD_NET = 1, NDE_FIELD_USER = 2 };

struct nde_field {
  int kind;
  size_t dim, np;
  int max_batch;
  /* NDE_FIELD_NET: the borrowed networks, nslices of one architecture
   * sharing one parameter vector, each for batches of up to slice_max
   * samples: a batch is cut into nslices contiguous slices, evaluated in
   * parallel (common/parallel_impl.h), nets[s] on slice s. Conversion
   * buffers of max_batch * dim values (x, a, dx) and, per slice, np values
   * (gbuf[s]: a scratch gradient, because nde_net_vjp accumulates in
   * nde_real and we accumulate in double). */
  nde_net *nets[NDE_MAX_SLICES];
  int nslices, slice_max;
  nde_real *xbuf, *abuf, *dxbuf, *gbuf[NDE_MAX_SLICES];
  /* The networks' stored activations are those of their last forward, at
   * (fwd_t, fwd_n, xbuf), while fwd_valid. A vjp-only call at the same
   * point reuses them: CVODES evaluates the backward quadrature at exactly
   * the (t, y) of the backward right-hand side just before it, so this
   * saves one network forward per quadrature evaluation. nforward counts
   * the forwards run (for tests). */
  int fwd_valid, fwd_n;
  double fwd_t;
  long nforward;
  /* NDE_FIELD_USER: the copied description and a scratch input cotangent for
   * callers that only want the parameter part. */
  nde_field_user user;
  double *jscratch;
};

/* ydot = f(t, y) for n samples. */
int nde_field_eval(nde_field *f, double t, int n, const double *y, double *ydot);

/* At (t, y) with cotangent a: if fout, fout = f(t, y); if ja, ja = (df/dy)^T a;
 * if g, g += (df/dtheta)^T a. For a network one forward serves both, and
 * a call without fout at the point of the last forward reuses it. */
int nde_field_eval_vjp(nde_field *f, double t, int n, const double *y, const double *a,
                       double *fout, double *ja, double *g);

/* Forget the stored forward (call before anything that may change the
 * network's parameters or run it elsewhere: every solve entry does). */
void nde_field_forget_forward(nde_field *f);

/* jv = (df/dy) v; only for user fields with a jvp. */
int nde_field_eval_jvp(nde_field *f, double t, int n, const double *y, const double *v, double *jv);

/* 1 when every one of the n values is finite. */
int nde_all_finite(const double *x, size_t n);

#endif
