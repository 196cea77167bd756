/* The residual body in batch slices on the model's threads.
 *
 * ResNet-6's body (GroupNorm residual blocks) is a per-sample map, so, like
 * the ODE function (nde_field_create_net_split) and the stem
 * (models/stem.c), it runs as m->nbody copies bound to the same
 * parameters, copy k on samples [first(k), first(k + 1)) on its own thread
 * with BLAS single-threaded; the copies' parameter gradients are added into
 * the model's. The CIFAR ResNets' trunk normalizes with BatchNorm over the
 * whole batch and stays one network (nbody = 1). */
#include <string.h>

#include "models/model_impl.h"

typedef struct body_call {
  nde_model *m;
  int n;
  const nde_real *in; /* forward: body input; backward: output cotangent */
  nde_real *out;      /* forward: body output; backward: input cotangent */
} body_call;

static int slice_first(const nde_model *m, int n, int k) {
  return (int)nde_slice_start(n, m->body_slices, k);
}

static int body_forward_slice(void *arg, int k) {
  body_call *c = arg;
  nde_model *m = c->m;
  const int s0 = slice_first(m, c->n, k), ns = slice_first(m, c->n, k + 1) - s0;
  nde_net *b = m->body_rep[k];
  return nde_net_forward(b, 0, ns, c->in + (size_t)s0 * nde_net_in_numel(b),
                         c->out + (size_t)s0 * nde_net_out_numel(b));
}

int nde_model_body_forward(nde_model *m, int n, const nde_real *in, nde_real *out) {
  body_call c = {m, n, in, out};
  m->body_slices = n < m->nbody ? n : m->nbody;
  int rc = nde_run_slices(m->body_slices, body_forward_slice, &c);
  return rc ? nde_error_wrap(rc, "residual body: ") : NDE_OK;
}

static int body_backward_slice(void *arg, int k) {
  body_call *c = arg;
  nde_model *m = c->m;
  const int s0 = slice_first(m, c->n, k), ns = slice_first(m, c->n, k + 1) - s0;
  nde_net *b = m->body_rep[k];
  nde_real *grad = nde_net_grads(b); /* the model's slice for copy 0, its own otherwise */
  if (k > 0) memset(grad, 0, nde_net_num_params(b) * sizeof *grad);
  return nde_net_vjp(b, ns, c->in + (size_t)s0 * nde_net_out_numel(b),
                     c->out + (size_t)s0 * nde_net_in_numel(b), grad);
}

int nde_model_body_backward(nde_model *m, int n, const nde_real *dy, nde_real *dx) {
  body_call c = {m, n, dy, dx};
  int rc = nde_run_slices(m->body_slices, body_backward_slice, &c);
  if (rc) return nde_error_wrap(rc, "residual body: ");
  nde_real *g = nde_net_grads(m->body);
  const size_t np = nde_net_num_params(m->body);
  for (int k = 1; k < m->body_slices; k++)
    for (size_t i = 0; i < np; i++) g[i] += m->body_grad[k][i];
  return NDE_OK;
}
