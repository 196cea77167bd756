/* Vector fields: an nde network or user callbacks behind one interface.
 *
 * The ODE state is double; a network computes in nde_real, so the network
 * field converts y and the cotangent a into nde_real buffers and the results
 * back, all in buffers sized here at create time for the network's maximum
 * batch. nde_net_vjp accumulates the parameter gradient in nde_real, while
 * the adjoint quadratures accumulate in double; the network field therefore
 * zeroes its own nde_real scratch gradient, lets the network accumulate into
 * it and adds it into the caller's double vector. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ode/field_impl.h"

int nde_all_finite(const double *x, size_t n) {
  /* Sum-free check: x - x is 0 for finite x and NaN for Inf or NaN. */
  double acc = 0;
  for (size_t i = 0; i < n; i++) acc += x[i] - x[i];
  return acc == 0;
}

void nde_field_free(nde_field *f) {
  if (!f) return;
  free(f->xbuf);
  free(f->abuf);
  free(f->dxbuf);
  free(f->gbuf);
  free(f->jscratch);
  free(f);
}

int nde_field_create_net(nde_net *net, nde_field **out) {
  NDE_CHECK_NULL(out, "nde_field_create_net");
  *out = NULL;
  NDE_CHECK_NULL(net, "nde_field_create_net");
  nde_shape si = nde_net_in_shape(net), so = nde_net_out_shape(net);
  if (si.c != so.c || si.h != so.h || si.w != so.w)
    return nde_error(NDE_ERR_SHAPE,
                     "nde_field_create_net: a vector field needs output shape = input shape, "
                     "got input (%d,%d,%d) and output (%d,%d,%d)",
                     si.c, si.h, si.w, so.c, so.h, so.w);
  nde_field *f = calloc(1, sizeof *f);
  if (!f) return nde_error(NDE_ERR_NOMEM, "nde_field_create_net: out of memory");
  f->kind = NDE_FIELD_NET;
  f->net = net;
  f->dim = nde_net_in_numel(net);
  f->np = nde_net_num_params(net);
  f->max_batch = nde_net_max_batch(net);
  size_t len = (size_t)f->max_batch * f->dim;
  f->xbuf = malloc(len * sizeof *f->xbuf);
  f->abuf = malloc(len * sizeof *f->abuf);
  f->dxbuf = malloc(len * sizeof *f->dxbuf);
  f->gbuf = malloc((f->np ? f->np : 1) * sizeof *f->gbuf);
  if (!f->xbuf || !f->abuf || !f->dxbuf || !f->gbuf) {
    nde_field_free(f);
    return nde_error(NDE_ERR_NOMEM, "nde_field_create_net: out of memory for %zu-value buffers",
                     len);
  }
  *out = f;
  return NDE_OK;
}

int nde_field_create_user(const nde_field_user *def, nde_field **out) {
  NDE_CHECK_NULL(out, "nde_field_create_user");
  *out = NULL;
  NDE_CHECK_NULL(def, "nde_field_create_user");
  if (!def->rhs) return nde_error(NDE_ERR_NULL, "nde_field_create_user: rhs callback is NULL");
  if (def->dim == 0) return nde_error(NDE_ERR_ARG, "nde_field_create_user: dim must be > 0");
  if (def->max_batch < 1)
    return nde_error(NDE_ERR_ARG, "nde_field_create_user: max_batch %d must be >= 1",
                     def->max_batch);
  nde_field *f = calloc(1, sizeof *f);
  if (!f) return nde_error(NDE_ERR_NOMEM, "nde_field_create_user: out of memory");
  f->kind = NDE_FIELD_USER;
  f->user = *def;
  f->dim = def->dim;
  f->np = def->nparam;
  f->max_batch = def->max_batch;
  f->jscratch = malloc((size_t)def->max_batch * def->dim * sizeof *f->jscratch);
  if (!f->jscratch) {
    nde_field_free(f);
    return nde_error(NDE_ERR_NOMEM, "nde_field_create_user: out of memory");
  }
  *out = f;
  return NDE_OK;
}

size_t nde_field_dim(const nde_field *f) { return f ? f->dim : 0; }
size_t nde_field_num_params(const nde_field *f) { return f ? f->np : 0; }
int nde_field_max_batch(const nde_field *f) { return f ? f->max_batch : 0; }
int nde_field_has_vjp(const nde_field *f) {
  return f && (f->kind == NDE_FIELD_NET || f->user.vjp != NULL);
}

static void to_real(nde_real *dst, const double *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (nde_real)src[i];
}
static void to_double(double *dst, const nde_real *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (double)src[i];
}

void nde_field_forget_forward(nde_field *f) {
  if (f) f->fwd_valid = 0;
}

/* Network forward on y (converted into xbuf), remembered for reuse. */
static int net_forward(nde_field *f, double t, int n, const double *y, size_t len) {
  to_real(f->xbuf, y, len);
  f->fwd_valid = 0;
  f->nforward++;
  int rc = nde_net_forward(f->net, t, n, f->xbuf, NULL);
  if (rc) return rc;
  f->fwd_valid = 1;
  f->fwd_t = t;
  f->fwd_n = n;
  return 0;
}

/* 1 when the stored forward is at (t, y): y converted exactly as
 * net_forward would (into dxbuf, free until the vjp writes it) equals xbuf. */
static int forward_is_at(nde_field *f, double t, int n, const double *y, size_t len) {
  if (!f->fwd_valid || f->fwd_t != t || f->fwd_n != n) return 0;
  to_real(f->dxbuf, y, len);
  return memcmp(f->dxbuf, f->xbuf, len * sizeof *f->xbuf) == 0;
}

int nde_field_eval(nde_field *f, double t, int n, const double *y, double *ydot) {
  if (f->kind == NDE_FIELD_USER) return f->user.rhs(t, n, y, ydot, f->user.user);
  size_t len = (size_t)n * f->dim;
  int rc = net_forward(f, t, n, y, len);
  if (rc) return rc;
  to_double(ydot, nde_net_output(f->net), len);
  return 0;
}

int nde_field_eval_vjp(nde_field *f, double t, int n, const double *y, const double *a,
                       double *fout, double *ja, double *g) {
  size_t len = (size_t)n * f->dim;
  if (f->kind == NDE_FIELD_USER) {
    int rc;
    if (fout && (rc = f->user.rhs(t, n, y, fout, f->user.user))) return rc;
    if (!ja && !g) return 0;
    return f->user.vjp(t, n, y, a, ja ? ja : f->jscratch, g, f->user.user);
  }
  int rc;
  if (fout || !forward_is_at(f, t, n, y, len)) {
    if ((rc = net_forward(f, t, n, y, len))) return rc;
    if (fout) to_double(fout, nde_net_output(f->net), len);
  }
  if (!ja && !g) return 0;
  to_real(f->abuf, a, len);
  if (g && f->np) memset(f->gbuf, 0, f->np * sizeof *f->gbuf);
  rc = nde_net_vjp(f->net, n, f->abuf, ja ? f->dxbuf : NULL, g && f->np ? f->gbuf : NULL);
  if (rc) {
    f->fwd_valid = 0;
    return rc;
  }
  if (ja) to_double(ja, f->dxbuf, len);
  if (g)
    for (size_t i = 0; i < f->np; i++) g[i] += (double)f->gbuf[i];
  return 0;
}

int nde_field_eval_jvp(nde_field *f, double t, int n, const double *y, const double *v,
                       double *jv) {
  return f->user.jvp(t, n, y, v, jv, f->user.user);
}

/* Public entry points: checked arguments and nde status codes. */

static int check_call(const nde_field *f, int n, const char *where) {
  if (n < 1 || n > f->max_batch)
    return nde_error(NDE_ERR_BATCH, "%s: batch %d outside [1, %d]", where, n, f->max_batch);
  return NDE_OK;
}

/* A callback's own code (either sign) becomes NDE_ERR_CALLBACK; a network's
 * nde code is passed through with its message. */
static int map_rc(const nde_field *f, int rc, double t, const char *where) {
  if (rc == 0) return NDE_OK;
  if (f->kind == NDE_FIELD_USER)
    return nde_error(NDE_ERR_CALLBACK, "%s: user callback returned %d at t = %g", where, rc, t);
  return nde_error_wrap(rc, "%s at t = %g: ", where, t);
}

int nde_field_rhs(nde_field *f, double t, int n, const double *y, double *ydot) {
  NDE_CHECK_NULL(f, "nde_field_rhs");
  NDE_CHECK_NULL(y, "nde_field_rhs");
  NDE_CHECK_NULL(ydot, "nde_field_rhs");
  int rc = check_call(f, n, "nde_field_rhs");
  if (rc) return rc;
  nde_field_forget_forward(f); /* the caller may have changed the parameters */
  if ((rc = map_rc(f, nde_field_eval(f, t, n, y, ydot), t, "nde_field_rhs"))) return rc;
  if (!nde_all_finite(ydot, (size_t)n * f->dim))
    return nde_error(NDE_ERR_NONFINITE, "nde_field_rhs: non-finite value in f(t = %g, y)", t);
  return NDE_OK;
}

int nde_field_vjp(nde_field *f, double t, int n, const double *y, const double *a, double *ja,
                  double *gtheta) {
  NDE_CHECK_NULL(f, "nde_field_vjp");
  NDE_CHECK_NULL(y, "nde_field_vjp");
  NDE_CHECK_NULL(a, "nde_field_vjp");
  if (!nde_field_has_vjp(f))
    return nde_error(NDE_ERR_ARG, "nde_field_vjp: this user field has no vjp callback");
  int rc = check_call(f, n, "nde_field_vjp");
  if (rc) return rc;
  nde_field_forget_forward(f);
  if ((rc = map_rc(f, nde_field_eval_vjp(f, t, n, y, a, NULL, ja, gtheta), t, "nde_field_vjp")))
    return rc;
  if (ja && !nde_all_finite(ja, (size_t)n * f->dim))
    return nde_error(NDE_ERR_NONFINITE, "nde_field_vjp: non-finite value in (df/dy)^T a at t = %g",
                     t);
  return NDE_OK;
}
