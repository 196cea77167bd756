/* The Hamiltonian vector fields as nde user fields (nde/ode.h): callbacks
 * over the block's own double parameter vector, so every nde solver and
 * adjoint applies to them unchanged. The context names a fixed layer, or
 * NDE_HAM_PIECEWISE for K(t) = K_{floor(t/h)}. Workspaces are the block's,
 * so a field must not be evaluated concurrently with another call on the
 * same block (nde's solvers call one callback at a time). */
#include <string.h>

#include "hamiltonian/ham_impl.h"

static int ctx_layer(const nde_ham_field_ctx *c, double t) {
  return c->layer >= 0 ? c->layer : nde_ham_layer_at(c->ham, t);
}

static int field_rhs(double t, int n, const double *y, double *ydot, void *user) {
  nde_ham_field_ctx *c = user;
  int j = ctx_layer(c, t);
  nde_ham_acts(c->ham, j, n, y, c->ham->ws);
  nde_ham_rhs_from_acts(c->ham, j, n, y, c->ham->ws, ydot);
  return 0;
}

static int field_vjp(double t, int n, const double *y, const double *a, double *ja, double *gtheta,
                     void *user) {
  nde_ham_field_ctx *c = user;
  int j = ctx_layer(c, t);
  memset(ja, 0, (size_t)n * c->ham->nf * sizeof *ja);
  nde_ham_acts(c->ham, j, n, y, c->ham->ws);
  nde_ham_vjp_from_acts(c->ham, j, n, y, c->ham->ws, a, 1.0, ja, gtheta);
  return 0;
}

static int field_jvp(double t, int n, const double *y, const double *v, double *jv, void *user) {
  nde_ham_field_ctx *c = user;
  int j = ctx_layer(c, t);
  nde_ham_acts(c->ham, j, n, y, c->ham->ws);
  nde_ham_jvp_from_acts(c->ham, j, n, c->ham->ws, v, jv);
  return 0;
}

/* Shared with the solver wrapper, whose context changes layer between solves. */
int nde_ham_field_from_ctx(nde_ham_field_ctx *ctx, int max_batch, nde_field **out) {
  nde_field_user u;
  memset(&u, 0, sizeof u);
  u.dim = (size_t)ctx->ham->nf;
  u.nparam = ctx->ham->np;
  u.max_batch = max_batch;
  u.rhs = field_rhs;
  u.vjp = field_vjp;
  u.jvp = field_jvp;
  u.user = ctx;
  return nde_field_create_user(&u, out);
}

int nde_ham_field_create(nde_ham *ham, int layer, nde_field **out) {
  NDE_CHECK_NULL(out, "nde_ham_field_create");
  *out = NULL;
  NDE_CHECK_NULL(ham, "nde_ham_field_create");
  if (layer != NDE_HAM_PIECEWISE) {
    int rc = nde_ham_check_layer(ham, layer, "nde_ham_field_create");
    if (rc) return rc;
  }
  nde_ham_field_ctx *ctx = &ham->ctx[layer < 0 ? ham->o.nlayers : layer];
  return nde_ham_field_from_ctx(ctx, ham->o.max_batch, out);
}
