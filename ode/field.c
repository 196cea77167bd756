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
  /* x - x is 0 for finite x and NaN for Inf or NaN; the sums stay 0 unless
   * some value is not finite. Eight independent sums (a lane array the
   * compiler turns into vector adds): with one, every add waited for the
   * previous one, 0.4 ms per ODE-Net state (295k values), checked after
   * every right-hand side. */
  enum { LANES = 8 };
  double acc[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) acc[l] += x[i + l] - x[i + l];
  for (; i < n; i++) acc[0] += x[i] - x[i];
  double s = 0;
  for (int l = 0; l < LANES; l++) s += acc[l];
  return s == 0;
}

void nde_field_free(nde_field *f) {
  if (!f) return;
  free(f->xbuf);
  free(f->abuf);
  free(f->dxbuf);
  for (int k = 0; k < NDE_MAX_SLICES; k++) free(f->gbuf[k]);
  free(f->jscratch);
  free(f);
}

int nde_field_create_net(nde_net *net, nde_field **out) {
  return nde_field_create_net_split(&net, 1, out);
}

int nde_field_create_net_split(nde_net *const *nets, int count, nde_field **out) {
  NDE_CHECK_NULL(out, "nde_field_create_net");
  *out = NULL;
  NDE_CHECK_NULL(nets, "nde_field_create_net");
  if (count < 1 || count > NDE_MAX_SLICES)
    return nde_error(NDE_ERR_ARG, "nde_field_create_net_split: %d networks (need 1 to %d)", count,
                     NDE_MAX_SLICES);
  for (int k = 0; k < count; k++)
    if (!nets[k])
      return nde_error(NDE_ERR_NULL, "nde_field_create_net_split: network %d is NULL", k);
  nde_net *net = nets[0];
  nde_shape si = nde_net_in_shape(net), so = nde_net_out_shape(net);
  if (si.c != so.c || si.h != so.h || si.w != so.w)
    return nde_error(NDE_ERR_SHAPE,
                     "nde_field_create_net: a vector field needs output shape = input shape, "
                     "got input (%d,%d,%d) and output (%d,%d,%d)",
                     si.c, si.h, si.w, so.c, so.h, so.w);
  for (int k = 1; k < count; k++) {
    nde_shape sk = nde_net_in_shape(nets[k]), ok = nde_net_out_shape(nets[k]);
    if (sk.c != si.c || sk.h != si.h || sk.w != si.w || ok.c != so.c || ok.h != so.h ||
        ok.w != so.w || nde_net_num_params(nets[k]) != nde_net_num_params(net) ||
        nde_net_max_batch(nets[k]) != nde_net_max_batch(net))
      return nde_error(NDE_ERR_SHAPE,
                       "nde_field_create_net_split: network %d differs from network 0 in shape, "
                       "parameter count or max_batch",
                       k);
    if (nde_net_params(nets[k]) != nde_net_params(net))
      return nde_error(NDE_ERR_ARG,
                       "nde_field_create_net_split: network %d does not share network 0's "
                       "parameters (bind them with nde_net_bind)",
                       k);
  }
  nde_field *f = calloc(1, sizeof *f);
  if (!f) return nde_error(NDE_ERR_NOMEM, "nde_field_create_net: out of memory");
  f->kind = NDE_FIELD_NET;
  for (int k = 0; k < count; k++) f->nets[k] = nets[k];
  f->nslices = count;
  f->slice_max = nde_net_max_batch(net);
  f->dim = nde_net_in_numel(net);
  f->np = nde_net_num_params(net);
  f->max_batch = count * f->slice_max;
  size_t len = (size_t)f->max_batch * f->dim;
  f->xbuf = malloc(len * sizeof *f->xbuf);
  f->abuf = malloc(len * sizeof *f->abuf);
  f->dxbuf = malloc(len * sizeof *f->dxbuf);
  int ok = f->xbuf && f->abuf && f->dxbuf;
  for (int k = 0; k < count && ok; k++)
    ok = (f->gbuf[k] = malloc((f->np ? f->np : 1) * sizeof(nde_real))) != NULL;
  if (!ok) {
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

/* One network call on a batch, cut into slices run in parallel: slice k
 * covers samples [first(k), first(k + 1)), nearly equal parts. */
typedef struct net_call {
  nde_field *f;
  double t;
  int n, nslices;
  const double *y, *a; /* y: run the forward on it (NULL: reuse the stored one) */
  double *fout, *ja;   /* outputs in double, or NULL */
  int want_g;          /* accumulate the parameter vjp into gbuf[k] */
} net_call;

static int slice_first(const net_call *c, int k) {
  return (int)nde_slice_start(c->n, c->nslices, k);
}

static int net_slice(void *arg, int k) {
  const net_call *c = arg;
  nde_field *f = c->f;
  nde_net *net = f->nets[k];
  const int s0 = slice_first(c, k), ns = slice_first(c, k + 1) - s0;
  const size_t off = (size_t)s0 * f->dim, len = (size_t)ns * f->dim;
  if (ns < 1) return 0;
  int rc;
  if (c->y) {
    to_real(f->xbuf + off, c->y + off, len);
    if ((rc = nde_net_forward(net, c->t, ns, f->xbuf + off, NULL))) return rc;
    if (c->fout) to_double(c->fout + off, nde_net_output(net), len);
  }
  if (!c->ja && !c->want_g) return 0;
  to_real(f->abuf + off, c->a + off, len);
  if (c->want_g) memset(f->gbuf[k], 0, f->np * sizeof(nde_real));
  rc = nde_net_vjp(net, ns, f->abuf + off, c->ja ? f->dxbuf + off : NULL,
                   c->want_g ? f->gbuf[k] : NULL);
  if (rc) return rc;
  if (c->ja) to_double(c->ja + off, f->dxbuf + off, len);
  return 0;
}

/* Run a call; a forward in it is remembered for reuse. */
static int net_run(nde_field *f, net_call *c) {
  c->f = f;
  /* Slices of at least 8 samples: smaller ones cost more in thread starts
   * and small gemms than they save. */
  int k = f->nslices;
  while (k > 1 && c->n < 8 * k && (c->n + k - 2) / (k - 1) <= f->slice_max) k--;
  c->nslices = k;
  if (c->y) {
    f->fwd_valid = 0;
    f->nforward++;
  }
  int rc = nde_run_slices(c->nslices, net_slice, c);
  if (rc) {
    f->fwd_valid = 0;
    return rc;
  }
  if (c->y) {
    f->fwd_valid = 1;
    f->fwd_t = c->t;
    f->fwd_n = c->n;
  }
  return 0;
}

/* 1 when the stored forward is at (t, y): y converted exactly as the
 * forward would (into dxbuf, free until the vjp writes it) equals xbuf. */
static int forward_is_at(nde_field *f, double t, int n, const double *y, size_t len) {
  if (!f->fwd_valid || f->fwd_t != t || f->fwd_n != n) return 0;
  to_real(f->dxbuf, y, len);
  return memcmp(f->dxbuf, f->xbuf, len * sizeof *f->xbuf) == 0;
}

int nde_field_eval(nde_field *f, double t, int n, const double *y, double *ydot) {
  if (f->kind == NDE_FIELD_USER) return f->user.rhs(t, n, y, ydot, f->user.user);
  net_call c = {.t = t, .n = n, .y = y, .fout = ydot};
  return net_run(f, &c);
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
  const int want_g = g && f->np;
  net_call c = {.t = t, .n = n, .a = a, .fout = fout, .ja = ja, .want_g = want_g};
  if (fout || !forward_is_at(f, t, n, y, len)) c.y = y;
  if (!ja && !want_g) {
    c.a = NULL;
    return c.y ? net_run(f, &c) : 0;
  }
  int rc = net_run(f, &c);
  if (rc) return rc;
  if (want_g)
    for (int k = 0; k < c.nslices; k++)
      for (size_t i = 0; i < f->np; i++) g[i] += (double)f->gbuf[k][i];
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
