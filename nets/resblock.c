/* Pre-activation residual block (He et al. 2016; torchdiffeq odenet_mnist's
 * ResBlock without downsampling):
 *   y = x + conv3x3(relu(norm(conv3x3(relu(norm(x)))))),
 * both convolutions C -> C, stride 1, pad 1, WITHOUT bias (torchdiffeq's
 * conv3x3 has bias=False; that is also what makes the ResNet-6 baseline of
 * DESIGN 4.1 exactly 576,778 parameters: each block is 2 x 9C^2 + 2 x 2C =
 * 73,984 at C = 64). spec.bias is therefore ignored. norm is GroupNorm with
 * spec.groups groups (NDE_NORM_GROUP) or BatchNorm2d (NDE_NORM_BATCH), with
 * spec.eps and spec.momentum passed on.
 *
 * The block is a composite layer: it holds a six-layer sub-network whose
 * parameters and running statistics live inside the parent's vectors at
 * L->param_off / L->state_off (the sub-network's own storage is never used),
 * so optimizers and nde_net_bind see one flat vector.
 * vjp: dx = dy + (sub-network vjp of dy), parameter gradient from the
 * sub-network. */
#include <stdlib.h>

#include "nets/layer_impl.h"

static void rb_destroy(nde_layer *L) {
  nde_net_free(L->impl);
  L->impl = NULL;
}

static int rb_setup(nde_layer *L) {
  const int C = L->in.c;
  nde_layer_spec norm;
  if (L->spec.norm == NDE_NORM_GROUP) {
    norm = nde_spec_groupnorm(L->spec.groups);
  } else if (L->spec.norm == NDE_NORM_BATCH) {
    norm = nde_spec_batchnorm();
    norm.momentum = L->spec.momentum;
  } else {
    return nde_layer_error(L, NDE_ERR_KIND,
                           "norm kind %d is neither NDE_NORM_GROUP (0) nor "
                           "NDE_NORM_BATCH (1)",
                           L->spec.norm);
  }
  norm.eps = L->spec.eps;
  nde_layer_spec conv = nde_spec_conv2d(C, 3, 1, 1);
  conv.bias = 0;
  const nde_layer_spec sub[6] = {norm, nde_spec_act(NDE_LAYER_RELU), conv,
                                 norm, nde_spec_act(NDE_LAYER_RELU), conv};
  nde_net *net = NULL;
  int rc = nde_net_create(L->in, L->max_batch, sub, 6, &net);
  if (rc) return nde_error_wrap(rc, "layer %d (resblock): ", L->index);
  L->impl = net;
  L->out = L->in;
  L->nparam = nde_net_num_params(net);
  L->nstate = nde_net_num_state(net);
  return NDE_OK;
}

static int rb_forward(nde_layer *L, const nde_layer_ctx *ctx, double t, int n, const nde_real *x,
                      nde_real *y) {
  nde_net *net = L->impl;
  int rc = nde_net_forward_ctx(net, ctx->params + L->param_off, ctx->state + L->state_off,
                               ctx->training, t, n, x);
  if (rc) return nde_error_wrap(rc, "layer %d (resblock): ", L->index);
  const nde_real *r = nde_net_output(net);
  const size_t m = (size_t)n * nde_shape_numel(L->in);
  for (size_t i = 0; i < m; i++) y[i] = x[i] + r[i];
  return NDE_OK;
}

static int rb_vjp(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
                  const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad) {
  nde_net *net = L->impl;
  int rc = nde_net_vjp_ctx(net, ctx->params + L->param_off, ctx->state + L->state_off,
                           ctx->training, n, dy, dx, grad);
  if (rc) return nde_error_wrap(rc, "layer %d (resblock): ", L->index);
  if (dx) {
    const size_t m = (size_t)n * nde_shape_numel(L->in);
    for (size_t i = 0; i < m; i++) dx[i] += dy[i]; /* identity branch */
  }
  return NDE_OK;
}

static int rb_init(nde_layer *L, nde_real *p, nde_real *s, nde_rng *rng) {
  return nde_net_init_slices(L->impl, p, s, rng);
}

const nde_layer_ops nde_resblock_ops = {"resblock", rb_setup, rb_forward,
                                        rb_vjp,     rb_init,  rb_destroy};
