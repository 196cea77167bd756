/* Pointwise-affine form of an MLP (docs/methods.md section 6): one sweep over the layers
 * keeps h = A x + b, where (A, b) start at (I, 0) and
 *   dense      (A, b) -> (W A, W b + bias)
 *   activation (A, b) -> (Lambda A, Lambda b + sigma(0) 1),
 *              Lambda = diag((sigma(z) - sigma(0)) / z),
 * which expands to A* = Lambda_L W_L ... Lambda_1 W_1 and
 * b* = sum_i (prod_{j>i} Lambda_j W_j)(Lambda_i b_i + sigma_i(0) 1). The true
 * Jacobian follows the same sweep with D = diag(sigma'(z)) in place of
 * Lambda and no offset. f itself is evaluated directly (h -> W h + bias,
 * h -> sigma(h)), so f - (A x + b) measures the rounding of the recursion. */
#include <stdlib.h>
#include <string.h>

#include "stability/stability_impl.h"

static int is_activation(int kind) {
  return kind == NDE_LAYER_RELU || kind == NDE_LAYER_TANH || kind == NDE_LAYER_SOFTPLUS ||
         kind == NDE_LAYER_SIGMOID || kind == NDE_LAYER_IDENTITY || kind == NDE_LAYER_SELU ||
         kind == NDE_LAYER_GELU;
}

void nde_pwa_free(nde_pwa *p) {
  if (!p) return;
  for (int i = 0; i < 2; i++) {
    free(p->h[i]);
    free(p->b[i]);
    free(p->A[i]);
    free(p->J[i]);
  }
  free(p->z);
  free(p->W);
  free(p->sv);
  free(p->fx);
  free(p->Jx);
  free(p->Ax);
  free(p->L);
  nde_spectrum_free(p->sp_w);
  nde_spectrum_free(p->sp_n);
  free(p);
}

int nde_pwa_create(int nin, const nde_layer_spec *specs, int nspecs, nde_pwa **out) {
  NDE_CHECK_NULL(out, "nde_pwa_create");
  *out = NULL;
  NDE_CHECK_NULL(specs, "nde_pwa_create");
  if (nin < 1) return nde_error(NDE_ERR_ARG, "nde_pwa_create: input features %d must be >= 1", nin);
  if (nspecs < 1)
    return nde_error(NDE_ERR_ARG, "nde_pwa_create: %d layers, need at least 1", nspecs);
  for (int i = 0; i < nspecs; i++) {
    int k = specs[i].kind;
    if (k != NDE_LAYER_DENSE && k != NDE_LAYER_FLATTEN && !is_activation(k))
      return nde_error(
          NDE_ERR_KIND,
          "nde_pwa_create: layer %d (%s) is not a dense layer or pointwise activation; "
          "the PWA form covers MLPs only",
          i, nde_layer_kind_name(k));
  }
  /* Let nets/ validate the specs and lay out the parameters: the analysis
   * then reads exactly the vector an nde_net of these specs uses. */
  nde_net *net = NULL;
  int rc = nde_net_create(nde_shape_vec(nin), 1, specs, nspecs, &net);
  if (rc) return nde_error_wrap(rc, "nde_pwa_create: ");
  nde_pwa *p = calloc(1, sizeof *p);
  if (!p) {
    nde_net_free(net);
    return nde_error(NDE_ERR_NOMEM, "nde_pwa_create: out of memory");
  }
  p->nin = nin;
  p->nlayers = nspecs;
  p->nparam = nde_net_num_params(net);
  p->homogeneous = 1;
  p->L = calloc((size_t)nspecs, sizeof *p->L);
  if (!p->L) rc = NDE_ERR_NOMEM;
  int width = nin, maxw = nin;
  for (int i = 0; !rc && i < nspecs; i++) {
    nde_pwa_layer *L = &p->L[i];
    nde_shape os;
    size_t off, cnt;
    nde_net_layer_out_shape(net, i, &os);
    nde_net_layer_params(net, i, &off, &cnt);
    L->kind = specs[i].kind;
    L->in = width;
    L->out = (int)nde_shape_numel(os);
    L->off = off;
    L->bias = L->kind == NDE_LAYER_DENSE && specs[i].bias;
    if (L->bias) p->homogeneous = 0;
    if (is_activation(L->kind)) {
      nde_stab_act a;
      nde_stab_act_info(L->kind, &a);
      if (a.sigma0 != 0) p->homogeneous = 0;
      L->unit0 = p->nunits;
      p->nunits += L->out;
    }
    width = L->out;
    if (width > maxw) maxw = width;
  }
  nde_net_free(net);
  if (rc) {
    nde_pwa_free(p);
    return nde_error(rc, "nde_pwa_create: out of memory");
  }
  p->nout = width;
  p->maxw = maxw;
  size_t mw = (size_t)maxw, ni = (size_t)nin;
  int ok = 1;
  for (int i = 0; i < 2; i++) {
    ok = ok && (p->h[i] = malloc(mw * sizeof(double))) && (p->b[i] = malloc(mw * sizeof(double))) &&
         (p->A[i] = malloc(mw * ni * sizeof(double))) &&
         (p->J[i] = malloc(mw * ni * sizeof(double)));
  }
  ok = ok && (p->z = malloc((size_t)(p->nunits ? p->nunits : 1) * sizeof(double)));
  ok = ok && (p->W = malloc(mw * mw * sizeof(double))) && (p->sv = malloc(mw * sizeof(double)));
  ok = ok && (p->fx = malloc((size_t)p->nout * sizeof(double))) &&
       (p->Jx = malloc((size_t)p->nout * ni * sizeof(double))) &&
       (p->Ax = malloc((size_t)p->nout * ni * sizeof(double)));
  if (!ok) {
    nde_pwa_free(p);
    return nde_error(NDE_ERR_NOMEM, "nde_pwa_create: out of memory for width %d", maxw);
  }
  if ((rc = nde_spectrum_create(maxw, &p->sp_w)) ||
      (p->nout == nin && (rc = nde_spectrum_create(nin, &p->sp_n)))) {
    nde_pwa_free(p);
    return rc;
  }
  *out = p;
  return NDE_OK;
}

int nde_pwa_in_dim(const nde_pwa *p) { return p ? p->nin : 0; }
int nde_pwa_out_dim(const nde_pwa *p) { return p ? p->nout : 0; }
size_t nde_pwa_num_params(const nde_pwa *p) { return p ? p->nparam : 0; }
int nde_pwa_num_units(const nde_pwa *p) { return p ? p->nunits : 0; }
int nde_pwa_is_homogeneous(const nde_pwa *p) { return p ? p->homogeneous : 0; }

int nde_pwa_sweep(nde_pwa *p, const nde_real *params, const double *x, int need, int *cur) {
  const int n = p->nin;
  if (!nde_stab_all_finite(x, (size_t)n))
    return nde_error(NDE_ERR_NONFINITE, "nde_pwa_eval: the point x has a non-finite coordinate");
  int c = 0;
  double *h = p->h[0], *A = p->A[0], *b = p->b[0], *J = p->J[0];
  memcpy(h, x, (size_t)n * sizeof(double));
  if (need & PWA_NEED_AB) {
    memset(b, 0, (size_t)n * sizeof(double));
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) A[i * n + j] = i == j;
  }
  if (need & PWA_NEED_J)
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) J[i * n + j] = i == j;
  for (int l = 0; l < p->nlayers; l++) {
    const nde_pwa_layer *L = &p->L[l];
    if (L->kind == NDE_LAYER_FLATTEN) continue;
    if (L->kind == NDE_LAYER_DENSE) {
      const nde_real *W = params + L->off, *bias = L->bias ? W + (size_t)L->out * L->in : NULL;
      double *h2 = p->h[1 - c], *A2 = p->A[1 - c], *b2 = p->b[1 - c], *J2 = p->J[1 - c];
      for (int o = 0; o < L->out; o++) {
        const nde_real *w = W + (size_t)o * L->in;
        double acc = bias ? (double)bias[o] : 0, accb = acc;
        for (int k = 0; k < L->in; k++) acc += (double)w[k] * h[k];
        h2[o] = acc;
        if (need & PWA_NEED_AB) {
          for (int k = 0; k < L->in; k++) accb += (double)w[k] * b[k];
          b2[o] = accb;
          for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < L->in; k++) s += (double)w[k] * A[k * n + j];
            A2[o * n + j] = s;
          }
        }
        if (need & PWA_NEED_J)
          for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < L->in; k++) s += (double)w[k] * J[k * n + j];
            J2[o * n + j] = s;
          }
      }
      c = 1 - c;
      h = h2, A = A2, b = b2, J = J2;
    } else {
      nde_stab_act a;
      nde_stab_act_info(L->kind, &a);
      for (int u = 0; u < L->out; u++) {
        double zu = h[u], s, lam, d;
        p->z[L->unit0 + u] = zu;
        nde_stab_act_eval(L->kind, zu, &s, &lam, &d);
        h[u] = s;
        if (need & PWA_NEED_AB) {
          b[u] = lam * b[u] + a.sigma0;
          for (int j = 0; j < n; j++) A[u * n + j] *= lam;
        }
        if (need & PWA_NEED_J)
          for (int j = 0; j < n; j++) J[u * n + j] *= d;
      }
    }
    if (!nde_stab_all_finite(h, (size_t)L->out))
      return nde_error(
          NDE_ERR_NONFINITE,
          "nde_pwa_eval: layer %d (%s) produced a non-finite value (check the parameters)", l,
          nde_layer_kind_name(L->kind));
  }
  *cur = c;
  return NDE_OK;
}

int nde_pwa_eval(nde_pwa *p, const nde_real *params, const double *x, double *f, double *A,
                 double *b, double *J) {
  NDE_CHECK_NULL(p, "nde_pwa_eval");
  NDE_CHECK_NULL(params, "nde_pwa_eval");
  NDE_CHECK_NULL(x, "nde_pwa_eval");
  int c, need = (A || b ? PWA_NEED_AB : 0) | (J ? PWA_NEED_J : 0);
  int rc = nde_pwa_sweep(p, params, x, need, &c);
  if (rc) return rc;
  const size_t m = (size_t)p->nout, mn = m * (size_t)p->nin;
  if (f) memcpy(f, p->h[c], m * sizeof(double));
  if (A) memcpy(A, p->A[c], mn * sizeof(double));
  if (b) memcpy(b, p->b[c], m * sizeof(double));
  if (J) memcpy(J, p->J[c], mn * sizeof(double));
  if ((A && !nde_stab_all_finite(A, mn)) || (J && !nde_stab_all_finite(J, mn)) ||
      (b && !nde_stab_all_finite(b, m)))
    return nde_error(NDE_ERR_NONFINITE, "nde_pwa_eval: A*, b* or J overflowed");
  return NDE_OK;
}

int nde_pwa_pattern(nde_pwa *p, const nde_real *params, const double *x, unsigned char *on) {
  NDE_CHECK_NULL(p, "nde_pwa_pattern");
  NDE_CHECK_NULL(params, "nde_pwa_pattern");
  NDE_CHECK_NULL(x, "nde_pwa_pattern");
  NDE_CHECK_NULL(on, "nde_pwa_pattern");
  int c, rc = nde_pwa_sweep(p, params, x, 0, &c);
  if (rc) return rc;
  for (int k = 0; k < p->nunits; k++) on[k] = p->z[k] > 0;
  return NDE_OK;
}

int nde_pwa_kink_margin(nde_pwa *p, const nde_real *params, const double *x, double *margin) {
  NDE_CHECK_NULL(p, "nde_pwa_kink_margin");
  NDE_CHECK_NULL(params, "nde_pwa_kink_margin");
  NDE_CHECK_NULL(x, "nde_pwa_kink_margin");
  NDE_CHECK_NULL(margin, "nde_pwa_kink_margin");
  int c, rc = nde_pwa_sweep(p, params, x, 0, &c);
  if (rc) return rc;
  double m = INFINITY;
  for (int l = 0; l < p->nlayers; l++) {
    const nde_pwa_layer *L = &p->L[l];
    if (L->kind != NDE_LAYER_RELU && L->kind != NDE_LAYER_SELU) continue;
    for (int u = 0; u < L->out; u++) m = fmin(m, fabs(p->z[L->unit0 + u]));
  }
  *margin = m;
  return NDE_OK;
}

int nde_pwa_dense_norm(nde_pwa *p, const nde_real *params, int l, double *norm) {
  const nde_pwa_layer *L = &p->L[l];
  const nde_real *W = params + L->off;
  for (size_t i = 0; i < (size_t)L->out * L->in; i++) p->W[i] = W[i];
  int rc = nde_spectrum_svd(p->sp_w, L->out, L->in, p->W, p->sv);
  if (rc) return nde_error_wrap(rc, "layer %d (dense): ", l);
  *norm = p->sv[0];
  return NDE_OK;
}

int nde_pwa_bounds(nde_pwa *p, const nde_real *params, double *lambda_bound, double *lip_bound) {
  NDE_CHECK_NULL(p, "nde_pwa_bounds");
  NDE_CHECK_NULL(params, "nde_pwa_bounds");
  double lb = 1, lip = 1;
  for (int l = 0; l < p->nlayers; l++) {
    const nde_pwa_layer *L = &p->L[l];
    if (L->kind == NDE_LAYER_FLATTEN) continue;
    if (L->kind == NDE_LAYER_DENSE) {
      double nrm = 0; /* set when rc == 0 (GCC cannot see it through the call) */
      int rc = nde_pwa_dense_norm(p, params, l, &nrm);
      if (rc) return nde_error_wrap(rc, "nde_pwa_bounds: ");
      lb *= nrm;
      lip *= nrm;
    } else {
      nde_stab_act a;
      nde_stab_act_info(L->kind, &a);
      lb *= a.lambda_sup;
      lip *= a.lipschitz;
    }
  }
  if (lambda_bound) *lambda_bound = lb;
  if (lip_bound) *lip_bound = lip;
  return NDE_OK;
}

int nde_pwa_fn(void *ctx, const double *x, double *fx, double *J) {
  nde_pwa_fn_ctx *c = ctx;
  if (!c || !c->pwa || !c->params || !x || !fx) return NDE_ERR_NULL;
  nde_pwa *p = c->pwa;
  if (p->nin != p->nout) return NDE_ERR_SHAPE;
  int rc = nde_pwa_eval(p, c->params, x, fx, NULL, NULL, J);
  if (rc) return rc;
  if (c->residual) {
    const int n = p->nin;
    for (int i = 0; i < n; i++) fx[i] += x[i];
    if (J)
      for (int i = 0; i < n; i++) J[i * n + i] += 1;
  }
  return NDE_OK;
}
