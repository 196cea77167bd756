/* The continuous Hamiltonian block: dy/dt = f_{j(t)}(y) over [0, N h] with
 * an nde solver, layer by layer.
 *
 * K(t), b(t) jump at t = j h. Integrating across a jump makes an adaptive
 * solver reject steps until it has located it (and, for multistep methods,
 * restart its history), so each layer is solved on its own over [0, h] with
 * the autonomous field of that layer: y_{j+1} = Phi_j^h(y_j). The gradient
 * is the chain rule over layers, each layer's factor from the solver's own
 * adjoint:
 *   a_N = dL/dy_N,   a_j = (dPhi_j/dy)^T a_{j+1},   dL/dtheta = sum_j (dPhi_j/dtheta)^T a_{j+1}
 * (the field's theta is the whole parameter vector; layer j's vjp touches
 * only its block). One solver object is reused for every layer, so the
 * backward pass re-solves layer j forward from the stored y_j before its
 * adjoint solve (except the last layer, whose record is still there): a
 * second forward per layer buys N times less solver memory, which matters
 * for a checkpointed adjoint on 78,400-sample batches. */
#include <stdlib.h>
#include <string.h>

#include "hamiltonian/ham_impl.h"

struct nde_ham_ode {
  nde_ham *ham;
  nde_ham_field_ctx ctx; /* the layer the field evaluates; changed between solves */
  nde_field *field;
  nde_ode *ode;
  int max_batch;
  int adjoint;       /* nde_adjoint_kind of the solver */
  double *ys;        /* (N + 1) * max_batch * nf: the layer boundary states */
  double *a, *b, *c; /* max_batch * nf cotangent / scratch buffers */
  int last_n;        /* batch of the last forward (0: none) */
  int recorded;      /* the last forward recorded for the adjoint */
  int solver_layer;  /* layer whose adjoint record the solver holds (-1: none) */
  nde_ode_stats fwd, bwd;
};

static double *bstate(const nde_ham_ode *blk, int j) {
  return blk->ys + (size_t)j * blk->max_batch * blk->ham->nf;
}

void nde_ham_ode_free(nde_ham_ode *blk) {
  if (!blk) return;
  nde_ode_free(blk->ode);
  nde_field_free(blk->field);
  free(blk->ys);
  free(blk->a);
  free(blk->b);
  free(blk->c);
  free(blk);
}

int nde_ham_ode_create(nde_ham *ham, const nde_ode_options *opt, int max_batch, nde_ham_ode **out) {
  NDE_CHECK_NULL(out, "nde_ham_ode_create");
  *out = NULL;
  NDE_CHECK_NULL(ham, "nde_ham_ode_create");
  if (max_batch < 1 || max_batch > ham->o.max_batch)
    return nde_error(NDE_ERR_BATCH,
                     "nde_ham_ode_create: max_batch %d outside [1, %d] (the block's)", max_batch,
                     ham->o.max_batch);
  nde_ode_options o = opt ? *opt : nde_ode_options_default();
  o.t0 = 0;
  o.T = ham->o.h;
  o.nout = 0;
  o.tout = NULL;
  nde_ham_ode *blk = calloc(1, sizeof *blk);
  if (!blk) return nde_error(NDE_ERR_NOMEM, "nde_ham_ode_create: out of memory");
  blk->ham = ham;
  blk->ctx.ham = ham;
  blk->ctx.layer = 0;
  blk->max_batch = max_batch;
  blk->adjoint = o.adjoint;
  blk->solver_layer = -1;
  size_t len = (size_t)max_batch * ham->nf;
  blk->ys = malloc(((size_t)ham->o.nlayers + 1) * len * sizeof *blk->ys);
  blk->a = malloc(len * sizeof *blk->a);
  blk->b = malloc(len * sizeof *blk->b);
  blk->c = malloc(len * sizeof *blk->c);
  if (!blk->ys || !blk->a || !blk->b || !blk->c) {
    nde_ham_ode_free(blk);
    return nde_error(NDE_ERR_NOMEM, "nde_ham_ode_create: out of memory for %d layers x %zu values",
                     ham->o.nlayers + 1, len);
  }
  int rc = nde_ham_field_from_ctx(&blk->ctx, max_batch, &blk->field);
  if (!rc) rc = nde_ode_create(blk->field, &o, max_batch, &blk->ode);
  if (rc) {
    nde_ham_ode_free(blk);
    return nde_error_wrap(rc, "nde_ham_ode_create: ");
  }
  *out = blk;
  return NDE_OK;
}

/* Solve layer j from y_j into y_{j+1} (record: for the adjoint). */
static int solve_layer(nde_ham_ode *blk, int j, int n, int record, const double *y0, double *y1,
                       nde_ode_stats *acc) {
  blk->ctx.layer = j;
  int rc = record ? nde_adjoint_forward(blk->ode, n, y0, y1) : nde_ode_solve(blk->ode, n, y0, y1);
  if (rc) {
    blk->solver_layer = -1;
    return nde_error_wrap(
        rc, "Hamiltonian block (%s), layer %d: ", nde_ham_kind_name(blk->ham->o.kind), j);
  }
  blk->solver_layer = record ? j : -1;
  nde_ode_stats f;
  nde_ode_last_stats(blk->ode, &f, NULL);
  if (acc) nde_ode_stats_add(acc, &f);
  return NDE_OK;
}

static int check_batch(const nde_ham_ode *blk, int n, const char *where) {
  if (n < 1 || n > blk->max_batch)
    return nde_error(NDE_ERR_BATCH, "%s: batch %d outside [1, %d]", where, n, blk->max_batch);
  return NDE_OK;
}

int nde_ham_ode_forward(nde_ham_ode *blk, int n, const double *y0, double *yN, int record) {
  NDE_CHECK_NULL(blk, "nde_ham_ode_forward");
  NDE_CHECK_NULL(y0, "nde_ham_ode_forward");
  int rc = check_batch(blk, n, "nde_ham_ode_forward");
  if (rc) return rc;
  if (record && blk->adjoint == NDE_ADJ_NONE)
    return nde_error(NDE_ERR_ARG,
                     "nde_ham_ode_forward: record = 1 needs a solver created with an adjoint "
                     "(adjoint = none)");
  blk->last_n = 0;
  blk->recorded = 0;
  memset(&blk->fwd, 0, sizeof blk->fwd);
  size_t len = (size_t)n * blk->ham->nf;
  int N = blk->ham->o.nlayers;
  memcpy(bstate(blk, 0), y0, len * sizeof *y0);
  for (int j = 0; j < N; j++)
    if ((rc = solve_layer(blk, j, n, record, bstate(blk, j), bstate(blk, j + 1), &blk->fwd)))
      return rc;
  blk->last_n = n;
  blk->recorded = record;
  if (yN) memcpy(yN, bstate(blk, N), len * sizeof *yN);
  return NDE_OK;
}

/* Adjoint of layer j: a (cotangent of y_{j+1}) -> out (cotangent of y_j). */
static int layer_backward(nde_ham_ode *blk, int j, const double *a, double *out, double *g) {
  int rc, n = blk->last_n;
  if (blk->solver_layer != j) {
    nde_ode_stats re;
    memset(&re, 0, sizeof re);
    if ((rc = solve_layer(blk, j, n, 1, bstate(blk, j), blk->c, &re))) return rc;
    blk->bwd.nfe_recompute += re.nfe;
  }
  blk->ctx.layer = j;
  rc = nde_adjoint_backward(blk->ode, a, out, g);
  if (rc)
    return nde_error_wrap(rc, "Hamiltonian block (%s), adjoint of layer %d: ",
                          nde_ham_kind_name(blk->ham->o.kind), j);
  nde_ode_stats b;
  nde_ode_last_stats(blk->ode, NULL, &b);
  nde_ode_stats_add(&blk->bwd, &b);
  return NDE_OK;
}

int nde_ham_ode_backward(nde_ham_ode *blk, const double *dyN, double *dy0, double *g) {
  NDE_CHECK_NULL(blk, "nde_ham_ode_backward");
  NDE_CHECK_NULL(dyN, "nde_ham_ode_backward");
  if (!blk->last_n || !blk->recorded)
    return nde_error(NDE_ERR_STATE,
                     "nde_ham_ode_backward: no recorded forward pass (nde_ham_ode_forward with "
                     "record = 1)");
  memset(&blk->bwd, 0, sizeof blk->bwd);
  size_t len = (size_t)blk->last_n * blk->ham->nf;
  double *a = blk->a, *b = blk->b;
  memcpy(a, dyN, len * sizeof *a);
  for (int j = blk->ham->o.nlayers - 1; j >= 0; j--) {
    int rc = layer_backward(blk, j, a, b, g);
    if (rc) return rc;
    double *t = a;
    a = b;
    b = t;
  }
  if (dy0) memcpy(dy0, a, len * sizeof *dy0);
  return NDE_OK;
}

int nde_ham_ode_layer_jacobians(nde_ham_ode *blk, int n, const double *y0, double *phi) {
  NDE_CHECK_NULL(blk, "nde_ham_ode_layer_jacobians");
  NDE_CHECK_NULL(y0, "nde_ham_ode_layer_jacobians");
  NDE_CHECK_NULL(phi, "nde_ham_ode_layer_jacobians");
  int rc = check_batch(blk, n, "nde_ham_ode_layer_jacobians");
  if (rc) return rc;
  if (blk->adjoint == NDE_ADJ_NONE)
    return nde_error(NDE_ERR_ARG, "nde_ham_ode_layer_jacobians: the solver has no adjoint");
  int nf = blk->ham->nf, N = blk->ham->o.nlayers;
  size_t len = (size_t)n * nf;
  blk->last_n = 0;
  blk->recorded = 0;
  memset(&blk->fwd, 0, sizeof blk->fwd);
  memset(&blk->bwd, 0, sizeof blk->bwd);
  memcpy(bstate(blk, 0), y0, len * sizeof *y0);
  for (int j = 0; j < N; j++) {
    if ((rc = solve_layer(blk, j, n, 1, bstate(blk, j), bstate(blk, j + 1), &blk->fwd))) return rc;
    /* Row k of Phi_j: the adjoint of the unit cotangent e_k, all samples at once. */
    for (int k = 0; k < nf; k++) {
      memset(blk->a, 0, len * sizeof *blk->a);
      for (int i = 0; i < n; i++) blk->a[(size_t)i * nf + k] = 1.0;
      blk->last_n = n;
      if ((rc = layer_backward(blk, j, blk->a, blk->b, NULL))) return rc;
      for (int i = 0; i < n; i++)
        memcpy(phi + ((size_t)j * n + i) * nf * nf + (size_t)k * nf, blk->b + (size_t)i * nf,
               (size_t)nf * sizeof *phi);
    }
  }
  blk->last_n = n;
  blk->recorded = 1;
  return NDE_OK;
}

int nde_ham_ode_stats(const nde_ham_ode *blk, nde_ode_stats *fwd, nde_ode_stats *bwd) {
  NDE_CHECK_NULL(blk, "nde_ham_ode_stats");
  if (fwd) *fwd = blk->fwd;
  if (bwd) *bwd = blk->bwd;
  return NDE_OK;
}
