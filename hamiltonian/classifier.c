/* The image classifier of the CH-NODE experiment (Zakwan et al. 2022,
 * reference Train_MNIST.py; docs/methods.md section 5):
 *   x -> conv3x3(c -> nf, pad 1) -> Hamiltonian block on every pixel's
 *   nf-vector -> flatten -> Linear(pixels * nf -> K),
 * loss = mean cross-entropy + (smooth / 2) sum_j ||theta_{j+1} - theta_j||^2.
 *
 * The conv output is NCHW; the block wants one sample per pixel, so the
 * forward transposes it to (n * pixels) x nf doubles (pixel-major), runs the
 * block, and feeds the result to the linear layer in that same pixel-major
 * order (no second transpose: the linear layer's weights are learned in
 * that order). The backward transposes the block's input cotangent back to
 * NCHW for the conv vjp.
 *
 * The reference adds its smoothness term inside a loop over layers, so its
 * weight is (N - 1) alpha h for loss terms (1/2)||K_{j+1} - K_j||^2 +
 * (1/2)||b_{j+1} - b_j||^2: smooth = 3.5e-3 at alpha = 1e-3, h = 0.5, N = 8.
 * gamma is recomputed from the parameters before every forward and held
 * constant through the backward (the reference's update_r after each
 * optimizer step, without gradient). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hamiltonian/ham_impl.h"

struct nde_ham_clf {
  nde_ham_clf_options o;
  nde_net *conv, *lin;
  nde_ham *ham;
  nde_ham_ode *blk; /* continuous only */
  int pixels, nf;
  size_t feat; /* pixels * nf */
  size_t n_conv, n_ham, n_lin, np, off_ham, off_lin;
  nde_real *params, *grads;
  double *y0, *yN, *dy, *dy0; /* max_batch * feat each */
  double *gham;               /* block gradient (double) */
  nde_real *rbuf;             /* features, then their cotangent, then the conv output's */
  nde_real *dlogits;
  int last_n, have_grad;
};

nde_ham_clf_options nde_ham_clf_options_default(int kind) {
  nde_ham_clf_options o;
  memset(&o, 0, sizeof o);
  o.ham = nde_ham_options_default(kind);
  o.continuous = 0;
  o.ode = nde_ode_options_default();
  o.in = nde_shape_chw(1, 28, 28);
  o.nclasses = 10;
  o.max_batch = 100;
  o.smooth = (o.ham.nlayers - 1) * 1e-3 * o.ham.h;
  o.init_k = 1.0;
  o.init_b = 1.0;
  return o;
}

void nde_ham_clf_free(nde_ham_clf *clf) {
  if (!clf) return;
  nde_ham_ode_free(clf->blk);
  nde_ham_free(clf->ham);
  nde_net_free(clf->conv);
  nde_net_free(clf->lin);
  free(clf->params);
  free(clf->grads);
  free(clf->y0);
  free(clf->yN);
  free(clf->dy);
  free(clf->dy0);
  free(clf->gham);
  free(clf->rbuf);
  free(clf->dlogits);
  free(clf);
}

static int check_options(const nde_ham_clf_options *o) {
  if (o->in.c < 1 || o->in.h < 1 || o->in.w < 1)
    return nde_error(NDE_ERR_SHAPE, "nde_ham_clf_create: input shape (%d,%d,%d) must be positive",
                     o->in.c, o->in.h, o->in.w);
  if (o->nclasses < 2)
    return nde_error(NDE_ERR_ARG, "nde_ham_clf_create: nclasses = %d must be >= 2", o->nclasses);
  if (o->max_batch < 1)
    return nde_error(NDE_ERR_ARG, "nde_ham_clf_create: max_batch = %d must be >= 1", o->max_batch);
  if ((double)o->max_batch * o->in.h * o->in.w > 1e8)
    return nde_error(NDE_ERR_ARG,
                     "nde_ham_clf_create: max_batch %d x %d pixels is too many block samples",
                     o->max_batch, o->in.h * o->in.w);
  if (!(o->smooth >= 0) || !isfinite(o->smooth))
    return nde_error(NDE_ERR_ARG, "nde_ham_clf_create: smooth = %g must be finite and >= 0",
                     o->smooth);
  if (!(o->init_k >= 0) || !(o->init_b >= 0) || !isfinite(o->init_k) || !isfinite(o->init_b))
    return nde_error(NDE_ERR_ARG, "nde_ham_clf_create: init scales %g, %g must be finite, >= 0",
                     o->init_k, o->init_b);
  return NDE_OK;
}

int nde_ham_clf_create(const nde_ham_clf_options *o, nde_ham_clf **out) {
  NDE_CHECK_NULL(out, "nde_ham_clf_create");
  *out = NULL;
  NDE_CHECK_NULL(o, "nde_ham_clf_create");
  int rc = check_options(o);
  if (rc) return rc;
  nde_ham_clf *clf = calloc(1, sizeof *clf);
  if (!clf) return nde_error(NDE_ERR_NOMEM, "nde_ham_clf_create: out of memory");
  clf->o = *o;
  clf->pixels = o->in.h * o->in.w;
  clf->nf = o->ham.nf;
  clf->feat = (size_t)clf->pixels * clf->nf;
  nde_ham_options ho = o->ham;
  ho.max_batch = o->max_batch * clf->pixels;
  nde_layer_spec cs = nde_spec_conv2d(o->ham.nf, 3, 1, 1), ls = nde_spec_dense(o->nclasses);
  if ((rc = nde_ham_create(&ho, &clf->ham)) ||
      (rc = nde_net_create(o->in, o->max_batch, &cs, 1, &clf->conv)) ||
      (rc = nde_net_create(nde_shape_vec((int)clf->feat), o->max_batch, &ls, 1, &clf->lin))) {
    nde_ham_clf_free(clf);
    return nde_error_wrap(rc, "nde_ham_clf_create: ");
  }
  clf->n_conv = nde_net_num_params(clf->conv);
  clf->n_ham = nde_ham_num_params(clf->ham);
  clf->n_lin = nde_net_num_params(clf->lin);
  clf->off_ham = clf->n_conv;
  clf->off_lin = clf->n_conv + clf->n_ham;
  clf->np = clf->off_lin + clf->n_lin;
  size_t len = (size_t)o->max_batch * clf->feat;
  clf->params = calloc(clf->np, sizeof *clf->params);
  clf->grads = calloc(clf->np, sizeof *clf->grads);
  clf->y0 = malloc(len * sizeof *clf->y0);
  clf->yN = malloc(len * sizeof *clf->yN);
  clf->dy = malloc(len * sizeof *clf->dy);
  clf->dy0 = malloc(len * sizeof *clf->dy0);
  clf->gham = malloc(clf->n_ham * sizeof *clf->gham);
  clf->rbuf = malloc(len * sizeof *clf->rbuf);
  clf->dlogits = malloc((size_t)o->max_batch * o->nclasses * sizeof *clf->dlogits);
  if (!clf->params || !clf->grads || !clf->y0 || !clf->yN || !clf->dy || !clf->dy0 || !clf->gham ||
      !clf->rbuf || !clf->dlogits) {
    nde_ham_clf_free(clf);
    return nde_error(NDE_ERR_NOMEM, "nde_ham_clf_create: out of memory (%zu block values)", len);
  }
  nde_net_bind(clf->conv, clf->params, clf->grads);
  nde_net_bind(clf->lin, clf->params + clf->off_lin, clf->grads + clf->off_lin);
  if (o->continuous &&
      (rc = nde_ham_ode_create(clf->ham, &o->ode, o->max_batch * clf->pixels, &clf->blk))) {
    nde_ham_clf_free(clf);
    return nde_error_wrap(rc,
                          "nde_ham_clf_create (continuous %s): ", nde_ham_kind_name(o->ham.kind));
  }
  *out = clf;
  return NDE_OK;
}

const nde_ham_clf_options *nde_ham_clf_get_options(const nde_ham_clf *clf) {
  return clf ? &clf->o : NULL;
}
size_t nde_ham_clf_num_params(const nde_ham_clf *clf) { return clf ? clf->np : 0; }
nde_real *nde_ham_clf_params(nde_ham_clf *clf) { return clf ? clf->params : NULL; }
nde_real *nde_ham_clf_grads(nde_ham_clf *clf) { return clf ? clf->grads : NULL; }
const nde_real *nde_ham_clf_logits(const nde_ham_clf *clf) {
  return clf && clf->last_n ? nde_net_output(clf->lin) : NULL;
}
const double *nde_ham_clf_block_input(const nde_ham_clf *clf) {
  return clf && clf->last_n ? clf->y0 : NULL;
}
nde_ham *nde_ham_clf_ham(nde_ham_clf *clf) { return clf ? clf->ham : NULL; }
nde_ham_ode *nde_ham_clf_ode(nde_ham_clf *clf) { return clf ? clf->blk : NULL; }

int nde_ham_clf_block_slice(const nde_ham_clf *clf, size_t *offset, size_t *count) {
  NDE_CHECK_NULL(clf, "nde_ham_clf_block_slice");
  if (offset) *offset = clf->off_ham;
  if (count) *count = clf->n_ham;
  return NDE_OK;
}

int nde_ham_clf_init(nde_ham_clf *clf, nde_rng *rng) {
  NDE_CHECK_NULL(clf, "nde_ham_clf_init");
  NDE_CHECK_NULL(rng, "nde_ham_clf_init");
  int rc = nde_net_init(clf->conv, rng);
  if (!rc) rc = nde_ham_init(clf->ham, rng, clf->o.init_k, clf->o.init_b);
  if (!rc) rc = nde_net_init(clf->lin, rng);
  if (rc) return rc;
  const double *th = nde_ham_params(clf->ham);
  for (size_t k = 0; k < clf->n_ham; k++) clf->params[clf->off_ham + k] = (nde_real)th[k];
  clf->last_n = 0;
  return NDE_OK;
}

/* (smooth / 2) sum_j ||theta_{j+1} - theta_j||^2 over the block's layers;
 * with g, g += its gradient. */
static double penalty(const nde_ham_clf *clf, nde_real *g) {
  if (clf->o.smooth == 0) return 0;
  const nde_real *p = clf->params + clf->off_ham;
  size_t lp = nde_ham_layer_num_params(clf->ham);
  int N = clf->o.ham.nlayers;
  double s = 0, w = clf->o.smooth;
  for (int j = 0; j + 1 < N; j++)
    for (size_t k = 0; k < lp; k++) {
      double d = (double)p[(j + 1) * lp + k] - (double)p[j * lp + k];
      s += d * d;
      if (g) {
        g[(j + 1) * lp + k] += (nde_real)(w * d);
        g[j * lp + k] -= (nde_real)(w * d);
      }
    }
  return 0.5 * w * s;
}

int nde_ham_clf_forward(nde_ham_clf *clf, int n, const nde_real *x, const int *labels, int grad,
                        nde_ham_clf_result *res) {
  NDE_CHECK_NULL(clf, "nde_ham_clf_forward");
  NDE_CHECK_NULL(x, "nde_ham_clf_forward");
  if (n < 1 || n > clf->o.max_batch)
    return nde_error(NDE_ERR_BATCH, "nde_ham_clf_forward: batch %d outside [1, %d]", n,
                     clf->o.max_batch);
  if (grad && !labels) return nde_error(NDE_ERR_ARG, "nde_ham_clf_forward: grad = 1 needs labels");
  clf->last_n = 0;
  clf->have_grad = 0;
  nde_ham_clf_result r;
  memset(&r, 0, sizeof r);
  /* Parameters into the block's double vector; gamma from them (no gradient). */
  double *th = nde_ham_params(clf->ham);
  for (size_t k = 0; k < clf->n_ham; k++) th[k] = (double)clf->params[clf->off_ham + k];
  int rc = nde_ham_update_gamma(clf->ham, &r.con);
  if (rc) return rc;
  if ((rc = nde_net_forward(clf->conv, 0, n, x, NULL))) return nde_error_wrap(rc, "CH-NODE conv: ");
  const nde_real *c = nde_net_output(clf->conv);
  int P = clf->pixels, nf = clf->nf, ns = n * P;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < nf; k++) {
      const nde_real *src = c + ((size_t)i * nf + k) * P;
      double *dst = clf->y0 + (size_t)i * P * nf + k;
      for (int p = 0; p < P; p++) dst[(size_t)p * nf] = (double)src[p];
    }
  if (clf->blk) {
    rc = nde_ham_ode_forward(clf->blk, ns, clf->y0, clf->yN, grad);
    nde_ham_ode_stats(clf->blk, &r.fwd, NULL);
  } else {
    rc = nde_ham_forward(clf->ham, ns, clf->y0, clf->yN);
  }
  if (rc) return rc;
  size_t len = (size_t)n * clf->feat;
  for (size_t i = 0; i < len; i++) clf->rbuf[i] = (nde_real)clf->yN[i];
  if ((rc = nde_net_forward(clf->lin, 0, n, clf->rbuf, NULL)))
    return nde_error_wrap(rc, "CH-NODE linear head: ");
  if (labels) {
    rc = nde_softmax_xent(n, clf->o.nclasses, nde_net_output(clf->lin), labels, &r.xent,
                          grad ? clf->dlogits : NULL, &r.nerr);
    if (rc) return rc;
  }
  r.penalty = penalty(clf, NULL);
  r.loss = r.xent + r.penalty;
  if (!isfinite(r.loss))
    return nde_error(NDE_ERR_NONFINITE, "nde_ham_clf_forward (%s): loss %g (xent %g, penalty %g)",
                     nde_ham_kind_name(clf->o.ham.kind), r.loss, r.xent, r.penalty);
  clf->last_n = n;
  clf->have_grad = grad;
  if (res) *res = r;
  return NDE_OK;
}

int nde_ham_clf_backward(nde_ham_clf *clf, nde_ode_stats *bwd) {
  NDE_CHECK_NULL(clf, "nde_ham_clf_backward");
  if (!clf->last_n || !clf->have_grad)
    return nde_error(NDE_ERR_STATE,
                     "nde_ham_clf_backward: no forward pass with grad = 1 to differentiate");
  int n = clf->last_n, P = clf->pixels, nf = clf->nf;
  size_t len = (size_t)n * clf->feat;
  memset(clf->grads, 0, clf->np * sizeof *clf->grads);
  int rc = nde_net_vjp(clf->lin, n, clf->dlogits, clf->rbuf, clf->grads + clf->off_lin);
  if (rc) return nde_error_wrap(rc, "CH-NODE linear head: ");
  for (size_t i = 0; i < len; i++) clf->dy[i] = (double)clf->rbuf[i];
  memset(clf->gham, 0, clf->n_ham * sizeof *clf->gham);
  if (clf->blk) {
    rc = nde_ham_ode_backward(clf->blk, clf->dy, clf->dy0, clf->gham);
    if (bwd) nde_ham_ode_stats(clf->blk, NULL, bwd);
  } else {
    rc = nde_ham_backward(clf->ham, clf->dy, clf->dy0, clf->gham);
    if (bwd) memset(bwd, 0, sizeof *bwd);
  }
  if (rc) return rc;
  nde_real *gh = clf->grads + clf->off_ham;
  for (size_t k = 0; k < clf->n_ham; k++) gh[k] = (nde_real)clf->gham[k];
  penalty(clf, gh);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < nf; k++) {
      nde_real *dst = clf->rbuf + ((size_t)i * nf + k) * P;
      const double *src = clf->dy0 + (size_t)i * P * nf + k;
      for (int p = 0; p < P; p++) dst[p] = (nde_real)src[(size_t)p * nf];
    }
  rc = nde_net_vjp(clf->conv, n, clf->rbuf, NULL, clf->grads);
  if (rc) return nde_error_wrap(rc, "CH-NODE conv: ");
  return NDE_OK;
}
