/* Sequential network: layer list, flat parameter / gradient / state vectors,
 * activation buffers sized at create time, forward and reverse sweeps.
 *
 * Memory (everything sized in nde_net_create for max_batch):
 *   acts[i]   input of layer i (acts[0] a copy of x), kept for the reverse
 *             sweep; a layer with NDE_OPS_FWD_INPLACE (ReLU) after one whose
 *             vjp does not read its output runs in place, acts[i + 1] ==
 *             acts[i], which saves one activation per norm -> ReLU pair;
 *   cot[0,1]  cotangents of the reverse sweep, alternating between the two
 *             except across NDE_OPS_VJP_INPLACE layers (norms, activations),
 *             which overwrite their dy; each is sized for the largest
 *             cotangent that the sweep (simulated in create) puts in it;
 *   scratch   one arena of max_l L->scratch values, the per-call
 *             temporaries of all layers (see nets/layer_impl.h); counted
 *             references, so that networks which never run at the same
 *             time can share one (nde_net_share_scratch). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/layer_impl.h"

/* A scratch arena and the number of networks using it. */
typedef struct scratch_arena {
  nde_real *buf;
  int refs;
} scratch_arena;

static void arena_release(scratch_arena *a) {
  if (a && --a->refs == 0) {
    free(a->buf);
    free(a);
  }
}

static scratch_arena *arena_new(size_t n) {
  scratch_arena *a = malloc(sizeof *a);
  if (!a) return NULL;
  a->buf = nde_alloc_big(n);
  a->refs = 1;
  if (!a->buf) {
    free(a);
    return NULL;
  }
  return a;
}

struct nde_net {
  nde_shape in;
  int max_batch;
  int nlayers;
  nde_layer *layers;
  size_t nparam, nstate;
  nde_real *own_params, *own_grads, *state;
  nde_real *params, *grads; /* current base pointers (own or bound) */
  nde_real **acts;          /* acts[0]: input copy; acts[i + 1]: output of layer i */
  unsigned char *inplace;   /* inplace[i]: layer i runs in place, acts[i + 1] == acts[i] */
  nde_real *cot[2];         /* cotangent buffers for the reverse sweep */
  size_t nscratch;          /* values of scratch the layers need (0: no arena) */
  scratch_arena *scratch;   /* the layers' per-call arena, possibly shared with other nets */
  int training;
  int last_n;               /* batch of the last forward, 0 before any */
};

int nde_layer_error(const nde_layer *L, int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return nde_error(code, "layer %d (%s): %s", L->index, nde_layer_kind_name(L->spec.kind), msg);
}

void nde_fill_uniform(nde_real *p, size_t n, double bound, nde_rng *rng) {
  for (size_t i = 0; i < n; i++) p[i] = (nde_real)nde_rng_uniform_range(rng, -bound, bound);
}

static const nde_layer_ops *ops_for(int kind) {
  switch (kind) {
  case NDE_LAYER_DENSE: return &nde_dense_ops;
  case NDE_LAYER_CONV2D: return &nde_conv2d_ops;
  case NDE_LAYER_CONCAT_CONV2D: return &nde_concat_conv2d_ops;
  case NDE_LAYER_GROUPNORM: return &nde_groupnorm_ops;
  case NDE_LAYER_BATCHNORM: return &nde_batchnorm_ops;
  case NDE_LAYER_RELU: return &nde_relu_ops;
  case NDE_LAYER_TANH: return &nde_tanh_ops;
  case NDE_LAYER_SOFTPLUS: return &nde_softplus_ops;
  case NDE_LAYER_SIGMOID: return &nde_sigmoid_ops;
  case NDE_LAYER_IDENTITY: return &nde_identity_ops;
  case NDE_LAYER_AVGPOOL: return &nde_avgpool_ops;
  case NDE_LAYER_FLATTEN: return &nde_flatten_ops;
  case NDE_LAYER_RESBLOCK: return &nde_resblock_ops;
  case NDE_LAYER_SELU: return &nde_selu_ops;
  case NDE_LAYER_GELU: return &nde_gelu_ops;
  default: return NULL;
  }
}

void nde_net_free(nde_net *net) {
  if (!net) return;
  for (int i = 0; i < net->nlayers; i++) {
    nde_layer *L = &net->layers[i];
    if (L->ops && L->ops->destroy) L->ops->destroy(L);
  }
  if (net->acts)
    for (int i = 0; i <= net->nlayers; i++)
      if (!(i > 0 && net->inplace && net->inplace[i - 1])) free(net->acts[i]);
  free(net->acts);
  free(net->inplace);
  arena_release(net->scratch);
  free(net->cot[0]);
  free(net->cot[1]);
  free(net->own_params);
  free(net->own_grads);
  free(net->state);
  free(net->layers);
  free(net);
}

/* The cotangent buffer (0 or 1) that layer i >= 1 writes its dx into when
 * its dy is in buffer cur (-1: the caller's dy, which is read-only): the
 * same buffer for a layer that may overwrite its dy, else the other one. */
static int cot_target(const nde_net *net, int i, int cur) {
  if (cur >= 0 && (net->layers[i].ops->flags & NDE_OPS_VJP_INPLACE)) return cur;
  return cur == 0 ? 1 : 0;
}

static int valid_shape(nde_shape s) { return s.c > 0 && s.h > 0 && s.w > 0; }

int nde_net_create(nde_shape in, int max_batch, const nde_layer_spec *specs, int nspecs,
                   nde_net **out) {
  NDE_CHECK_NULL(out, "nde_net_create");
  *out = NULL;
  NDE_CHECK_NULL(specs, "nde_net_create");
  if (nspecs < 1) return nde_error(NDE_ERR_ARG, "nde_net_create: %d layers (need >= 1)", nspecs);
  if (!valid_shape(in))
    return nde_error(NDE_ERR_SHAPE, "nde_net_create: input shape (%d,%d,%d) must be positive",
                     in.c, in.h, in.w);
  if (max_batch < 1)
    return nde_error(NDE_ERR_BATCH, "nde_net_create: max_batch %d must be >= 1", max_batch);

  nde_net *net = calloc(1, sizeof *net);
  if (!net) return nde_error(NDE_ERR_NOMEM, "nde_net_create: out of memory");
  net->in = in;
  net->max_batch = max_batch;
  net->training = 1;
  net->layers = calloc((size_t)nspecs, sizeof *net->layers);
  if (!net->layers) {
    nde_net_free(net);
    return nde_error(NDE_ERR_NOMEM, "nde_net_create: out of memory");
  }

  int rc = NDE_OK;
  nde_shape cur = in;
  size_t nscratch = 0;
  for (int i = 0; i < nspecs; i++) {
    nde_layer *L = &net->layers[i];
    L->spec = specs[i];
    L->index = i;
    L->max_batch = max_batch;
    L->in = cur;
    L->ops = ops_for(specs[i].kind);
    net->nlayers = i + 1; /* so free() sees this layer */
    if (!L->ops) {
      L->ops = NULL;
      rc = nde_error(NDE_ERR_KIND, "nde_net_create: layer %d has unknown kind %d", i,
                     specs[i].kind);
      break;
    }
    rc = L->ops->setup(L);
    if (rc) break;
    if (!valid_shape(L->out)) {
      rc = nde_layer_error(L, NDE_ERR_SHAPE, "output shape (%d,%d,%d) is empty", L->out.c,
                           L->out.h, L->out.w);
      break;
    }
    L->param_off = net->nparam;
    L->state_off = net->nstate;
    net->nparam += L->nparam;
    net->nstate += L->nstate;
    cur = L->out;
    if (L->scratch > nscratch) nscratch = L->scratch;
  }
  if (rc) {
    nde_net_free(net);
    return rc;
  }

  size_t np = net->nparam ? net->nparam : 1, ns = net->nstate ? net->nstate : 1;
  net->own_params = calloc(np, sizeof(nde_real));
  net->own_grads = calloc(np, sizeof(nde_real));
  net->state = calloc(ns, sizeof(nde_real));
  net->acts = calloc((size_t)net->nlayers + 1, sizeof(nde_real *));
  net->inplace = calloc((size_t)net->nlayers, 1);
  int ok = net->own_params && net->own_grads && net->state && net->acts && net->inplace;
  /* In place: the previous layer neither reads its output in vjp nor is
   * itself in place (its input is then that output). Never layer 0, whose
   * input buffer is the caller's copy. */
  for (int i = 1; ok && i < net->nlayers; i++) {
    const nde_layer_ops *o = net->layers[i].ops, *prev = net->layers[i - 1].ops;
    net->inplace[i] = (o->flags & NDE_OPS_FWD_INPLACE) && !(prev->flags & NDE_OPS_VJP_READS_Y) &&
                      !net->inplace[i - 1];
  }
  for (int i = 0; ok && i <= net->nlayers; i++) {
    if (i > 0 && net->inplace[i - 1]) {
      net->acts[i] = net->acts[i - 1];
      continue;
    }
    nde_shape s = i == 0 ? in : net->layers[i - 1].out;
    net->acts[i] = nde_alloc_big((size_t)max_batch * nde_shape_numel(s));
    ok = net->acts[i] != NULL;
  }
  /* The reverse sweep's buffer choice (as in nde_net_vjp_ctx, -1 for the
   * caller's dy), run once to size the two buffers. */
  size_t cotel[2] = {1, 1};
  for (int i = net->nlayers - 1, cur_buf = -1; i >= 1; i--) {
    const int dst = cot_target(net, i, cur_buf);
    const size_t el = nde_shape_numel(net->layers[i].in);
    if (el > cotel[dst]) cotel[dst] = el;
    cur_buf = dst;
  }
  for (int k = 0; ok && k < 2; k++) {
    net->cot[k] = nde_alloc_big((size_t)max_batch * cotel[k]);
    ok = net->cot[k] != NULL;
  }
  net->nscratch = nscratch;
  if (ok && nscratch) ok = (net->scratch = arena_new(nscratch)) != NULL;
  if (!ok) {
    nde_net_free(net);
    return nde_error(NDE_ERR_NOMEM, "nde_net_create: out of memory for %d layers at batch %d",
                     nspecs, max_batch);
  }
  net->params = net->own_params;
  net->grads = net->own_grads;
  *out = net;
  return NDE_OK;
}

size_t nde_net_sample_bytes(const nde_net *net) {
  if (!net) return 0;
  /* Every stored activation (input copy and layer outputs not run in place)
   * once, then as much again for the two cotangent buffers and the layers'
   * workspaces (kept im2col columns are about k*k times a convolution's
   * input), rounded up to four times in all; a residual block keeps about
   * two more activations of its output size inside (its norms, ReLUs and
   * convolutions, some in place): a ResNet-6 body measured 0.63 MiB per
   * sample of address space, this estimate gives 0.76). */
  size_t v = nde_net_in_numel(net);
  for (int i = 0; i < net->nlayers; i++) {
    const nde_layer *L = &net->layers[i];
    const size_t out = nde_shape_numel(L->out);
    if (!net->inplace[i]) v += out;
    if (L->spec.kind == NDE_LAYER_RESBLOCK) v += 2 * out;
  }
  return 4 * v * sizeof(nde_real);
}

nde_shape nde_net_in_shape(const nde_net *net) { return net->in; }
nde_shape nde_net_out_shape(const nde_net *net) { return net->layers[net->nlayers - 1].out; }
size_t nde_net_in_numel(const nde_net *net) { return nde_shape_numel(net->in); }
size_t nde_net_out_numel(const nde_net *net) { return nde_shape_numel(nde_net_out_shape(net)); }
int nde_net_max_batch(const nde_net *net) { return net->max_batch; }
int nde_net_num_layers(const nde_net *net) { return net->nlayers; }
size_t nde_net_num_params(const nde_net *net) { return net->nparam; }
size_t nde_net_num_state(const nde_net *net) { return net->nstate; }
nde_real *nde_net_params(nde_net *net) { return net->params; }
nde_real *nde_net_grads(nde_net *net) { return net->grads; }
nde_real *nde_net_state(nde_net *net) { return net->state; }

int nde_net_bind(nde_net *net, nde_real *params, nde_real *grads) {
  NDE_CHECK_NULL(net, "nde_net_bind");
  if (!params && !grads) {
    net->params = net->own_params;
    net->grads = net->own_grads;
    return NDE_OK;
  }
  if (!params || !grads)
    return nde_error(NDE_ERR_NULL, "nde_net_bind: params and grads must both be given or both NULL");
  net->params = params;
  net->grads = grads;
  return NDE_OK;
}

int nde_net_init_slices(nde_net *net, nde_real *params, nde_real *state, nde_rng *rng) {
  for (int i = 0; i < net->nlayers; i++) {
    nde_layer *L = &net->layers[i];
    if (!L->ops->init) continue;
    int rc = L->ops->init(L, params + L->param_off, state + L->state_off, rng);
    if (rc) return rc;
  }
  return NDE_OK;
}

int nde_net_init(nde_net *net, nde_rng *rng) {
  NDE_CHECK_NULL(net, "nde_net_init");
  NDE_CHECK_NULL(rng, "nde_net_init");
  return nde_net_init_slices(net, net->params, net->state, rng);
}

int nde_net_set_training(nde_net *net, int training) {
  NDE_CHECK_NULL(net, "nde_net_set_training");
  net->training = training != 0;
  return NDE_OK;
}

void nde_net_release_scratch(nde_net *net) {
  arena_release(net->scratch);
  net->scratch = NULL;
}

/* The arena of a call: the caller's (a composite layer's) or the network's. */
static nde_real *call_scratch(const nde_net *net, nde_real *scratch) {
  if (scratch) return scratch;
  return net->scratch ? net->scratch->buf : NULL;
}

int nde_net_forward_ctx(nde_net *net, const nde_real *params, nde_real *state, int training,
                        double t, int n, const nde_real *x, nde_real *scratch) {
  if (n < 1 || n > net->max_batch)
    return nde_error(NDE_ERR_BATCH, "net forward: batch %d outside [1, %d]", n, net->max_batch);
  nde_layer_ctx ctx = {params, state, training, call_scratch(net, scratch)};
  memcpy(net->acts[0], x, (size_t)n * nde_shape_numel(net->in) * sizeof(nde_real));
  net->last_n = 0;
  for (int i = 0; i < net->nlayers; i++) {
    nde_layer *L = &net->layers[i];
    int rc = L->ops->forward(L, &ctx, t, n, net->acts[i], net->acts[i + 1]);
    if (rc) return rc;
  }
  net->last_n = n;
  return NDE_OK;
}

int nde_net_forward(nde_net *net, double t, int n, const nde_real *x, nde_real *y) {
  NDE_CHECK_NULL(net, "nde_net_forward");
  NDE_CHECK_NULL(x, "nde_net_forward");
  int rc = nde_net_forward_ctx(net, net->params, net->state, net->training, t, n, x, NULL);
  if (rc) return rc;
  if (y)
    memcpy(y, net->acts[net->nlayers], (size_t)n * nde_net_out_numel(net) * sizeof(nde_real));
  return NDE_OK;
}

const nde_real *nde_net_output(const nde_net *net) {
  return net ? net->acts[net->nlayers] : NULL;
}

int nde_net_vjp_ctx(nde_net *net, const nde_real *params, nde_real *state, int training, int n,
                    const nde_real *dy, nde_real *dx, nde_real *grad, nde_real *scratch) {
  if (net->last_n == 0)
    return nde_error(NDE_ERR_STATE, "net vjp: no forward pass to differentiate (call forward first)");
  if (n != net->last_n)
    return nde_error(NDE_ERR_BATCH, "net vjp: batch %d differs from the last forward's %d", n,
                     net->last_n);
  nde_layer_ctx ctx = {params, state, training, call_scratch(net, scratch)};
  const nde_real *cur = dy;
  int cur_buf = -1; /* which cot buffer holds cur (-1: the caller's dy) */
  for (int i = net->nlayers - 1; i >= 0; i--) {
    nde_layer *L = &net->layers[i];
    nde_real *dst;
    if (i == 0) {
      dst = dx; /* may be NULL: the layer then skips its input cotangent */
    } else {
      cur_buf = cot_target(net, i, cur_buf);
      dst = net->cot[cur_buf];
    }
    nde_real *g = grad && L->nparam ? grad + L->param_off : NULL;
    int rc = L->ops->vjp(L, &ctx, n, net->acts[i], net->acts[i + 1], cur, dst, g);
    if (rc) return rc;
    cur = dst;
  }
  return NDE_OK;
}

int nde_net_vjp(nde_net *net, int n, const nde_real *dy, nde_real *dx, nde_real *grad) {
  NDE_CHECK_NULL(net, "nde_net_vjp");
  NDE_CHECK_NULL(dy, "nde_net_vjp");
  if (dx == dy) return nde_error(NDE_ERR_ARG, "nde_net_vjp: dx must not alias dy");
  return nde_net_vjp_ctx(net, net->params, net->state, net->training, n, dy, dx, grad, NULL);
}

size_t nde_net_scratch_size(const nde_net *net) { return net ? net->nscratch : 0; }

int nde_net_share_scratch(nde_net *const *nets, int count) {
  NDE_CHECK_NULL(nets, "nde_net_share_scratch");
  size_t need = 0;
  for (int i = 0; i < count; i++)
    if (nets[i] && nets[i]->nscratch > need) need = nets[i]->nscratch;
  if (!need) return NDE_OK;
  scratch_arena *a = arena_new(need);
  if (!a) return nde_error(NDE_ERR_NOMEM, "nde_net_share_scratch: out of memory for %zu values", need);
  a->refs = 0;
  for (int i = 0; i < count; i++) {
    if (!nets[i] || !nets[i]->nscratch || nets[i]->scratch == a) continue; /* listed twice */
    arena_release(nets[i]->scratch);
    nets[i]->scratch = a;
    a->refs++;
  }
  return NDE_OK;
}

void nde_net_zero_grad(nde_net *net) {
  if (net && net->nparam) memset(net->grads, 0, net->nparam * sizeof(nde_real));
}

int nde_net_layer_params(const nde_net *net, int i, size_t *offset, size_t *count) {
  NDE_CHECK_NULL(net, "nde_net_layer_params");
  if (i < 0 || i >= net->nlayers)
    return nde_error(NDE_ERR_ARG, "nde_net_layer_params: layer %d outside [0, %d)", i, net->nlayers);
  if (offset) *offset = net->layers[i].param_off;
  if (count) *count = net->layers[i].nparam;
  return NDE_OK;
}

int nde_net_layer_out_shape(const nde_net *net, int i, nde_shape *shape) {
  NDE_CHECK_NULL(net, "nde_net_layer_out_shape");
  NDE_CHECK_NULL(shape, "nde_net_layer_out_shape");
  if (i < 0 || i >= net->nlayers)
    return nde_error(NDE_ERR_ARG, "nde_net_layer_out_shape: layer %d outside [0, %d)", i,
                     net->nlayers);
  *shape = net->layers[i].out;
  return NDE_OK;
}
