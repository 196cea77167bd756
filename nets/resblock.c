/* Pre-activation residual block (He et al. 2016, "Identity mappings in deep
 * residual networks"; torchdiffeq odenet_mnist's ResBlock), C -> C' channels
 * at stride s (C' = spec.out, or C when spec.out is 0; s = spec.stride):
 *
 *   a = relu(norm1(x))                                  (pre-activation)
 *   r = conv3x3_{C'<-C', s1, p1}(relu(norm2(conv3x3_{C'<-C, s, p1}(a))))
 *   y = x + r                                  if C' = C and s = 1
 *   y = conv1x1_{C'<-C, s, p0}(a) + r          otherwise (projection shortcut)
 *
 * The projection sees the PRE-ACTIVATED input a, not x: this is the
 * pre-activation paper's choice (its Figure 4(e) / the reference
 * preact_resnet.lua pass the shared BN-ReLU output to both branches when
 * the shape changes), so x itself is only ever read through norm1. Both 3x3
 * convolutions pad 1, so the two branches have the same output size for any
 * input size: floor((H - 1) / s) + 1 (32 -> 16, 28 -> 14, 7 -> 4 at s = 2).
 *
 * Every convolution is WITHOUT bias (a normalization follows, or the sum
 * feeds the next block's normalization; torchdiffeq's conv3x3 has
 * bias=False, which is what makes the ResNet-6 baseline (docs/methods.md section 1)
 * exactly 576,778 parameters: each C -> C block is 2 x 9C^2 + 2 x 2C =
 * 73,984 at C = 64). spec.bias is therefore ignored. norm is GroupNorm with
 * spec.groups groups (NDE_NORM_GROUP; norm1 divides C channels, norm2 C')
 * or BatchNorm2d (NDE_NORM_BATCH), with spec.eps and spec.momentum passed on.
 *
 * The block is a composite layer over three sub-networks whose parameters
 * and running statistics live inside the parent's vectors at
 * L->param_off / L->state_off (their own storage is never used), so
 * optimizers and nde_net_bind see one flat vector:
 *   pre  = [norm1, relu]                  on x        (params, state first)
 *   main = [conv, norm2, relu, conv]      on a
 *   proj = [conv1x1]                      on a        (last; absent at C' = C, s = 1)
 * The slice layout [norm1 | conv | norm2 | conv | conv1x1] and the init order
 * (PyTorch module order bn1, conv1, bn2, conv2, shortcut) are those of the
 * former single six-layer sub-network for the same-shape block, with the
 * projection appended, so same-shape blocks are unchanged bit for bit.
 *
 * vjp: da = main^T dy (+ proj^T dy), then dx = pre^T da (+ dy for the
 * identity shortcut); parameter gradients come from the three sub-networks.
 * The cotangent buffers of a are allocated in setup for max_batch. The
 * sub-networks run one at a time on the parent network's scratch arena
 * (the block asks for the largest of their needs), so the blocks of a
 * residual body share one arena instead of holding one each. */
#include <stdlib.h>

#include "nets/layer_impl.h"

typedef struct rb_impl {
  nde_net *pre, *main, *proj; /* proj is NULL for the identity shortcut */
  size_t np_pre, np_main;     /* parameter offsets of main and proj: np_pre, np_pre + np_main */
  size_t ns_pre;              /* state offset of main */
  nde_real *da, *da2;         /* cotangents of a (da2: from the projection) */
} rb_impl;

static void rb_destroy(nde_layer *L) {
  rb_impl *R = L->impl;
  if (!R) return;
  nde_net_free(R->pre);
  nde_net_free(R->main);
  nde_net_free(R->proj);
  free(R->da);
  free(R->da2);
  free(R);
  L->impl = NULL;
}

/* Create a sub-network; errors get "layer i (resblock): <part>" in front. */
static int sub_create(nde_layer *L, const char *part, nde_shape in, const nde_layer_spec *s, int ns,
                      nde_net **out) {
  int rc = nde_net_create(in, L->max_batch, s, ns, out);
  if (rc) return nde_error_wrap(rc, "layer %d (resblock): %s", L->index, part);
  return NDE_OK;
}

static int rb_setup(nde_layer *L) {
  const int C = L->in.c, Co = L->spec.out ? L->spec.out : C, s = L->spec.stride;
  if (L->spec.out < 0)
    return nde_layer_error(L, NDE_ERR_ARG, "output channels %d must be >= 1 (0: same as input)",
                           L->spec.out);
  if (s < 1) return nde_layer_error(L, NDE_ERR_ARG, "stride %d must be >= 1", s);
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
  nde_layer_spec conv1 = nde_spec_conv2d(Co, 3, s, 1), conv2 = nde_spec_conv2d(Co, 3, 1, 1);
  nde_layer_spec sc = nde_spec_conv2d(Co, 1, s, 0);
  conv1.bias = conv2.bias = sc.bias = 0;
  conv1.conv_algo = conv2.conv_algo = sc.conv_algo = L->spec.conv_algo;
  const nde_layer_spec pre[2] = {norm, nde_spec_act(NDE_LAYER_RELU)};
  const nde_layer_spec main[4] = {conv1, norm, nde_spec_act(NDE_LAYER_RELU), conv2};

  rb_impl *R = calloc(1, sizeof *R);
  if (!R) return nde_layer_error(L, NDE_ERR_NOMEM, "out of memory");
  L->impl = R;
  int rc = sub_create(L, "", L->in, pre, 2, &R->pre);
  if (!rc) rc = sub_create(L, "residual branch: ", L->in, main, 4, &R->main);
  if (!rc && (Co != C || s != 1))
    rc = sub_create(L, "projection shortcut: ", L->in, &sc, 1, &R->proj);
  if (rc) {
    rb_destroy(L);
    return rc;
  }
  R->np_pre = nde_net_num_params(R->pre);
  R->np_main = nde_net_num_params(R->main);
  R->ns_pre = nde_net_num_state(R->pre);
  L->out = nde_net_out_shape(R->main);
  L->nparam = R->np_pre + R->np_main + (R->proj ? nde_net_num_params(R->proj) : 0);
  L->nstate = R->ns_pre + nde_net_num_state(R->main);
  nde_net *subs[3] = {R->pre, R->main, R->proj};
  for (int i = 0; i < 3; i++) {
    if (!subs[i]) continue;
    if (nde_net_scratch_size(subs[i]) > L->scratch) L->scratch = nde_net_scratch_size(subs[i]);
    nde_net_release_scratch(subs[i]); /* they run on ctx->scratch */
  }
  const size_t m = (size_t)L->max_batch * nde_shape_numel(L->in);
  R->da = malloc(m * sizeof *R->da);
  if (R->proj) R->da2 = malloc(m * sizeof *R->da2);
  if (!R->da || (R->proj && !R->da2)) {
    rb_destroy(L);
    return nde_layer_error(L, NDE_ERR_NOMEM, "out of memory for batch %d", L->max_batch);
  }
  return NDE_OK;
}

static int rb_forward(nde_layer *L, const nde_layer_ctx *ctx, double t, int n, const nde_real *x,
                      nde_real *y) {
  rb_impl *R = L->impl;
  const nde_real *p = ctx->params + L->param_off;
  nde_real *st = ctx->state + L->state_off;
  int rc = nde_net_forward_ctx(R->pre, p, st, ctx->training, t, n, x, ctx->scratch);
  if (rc) return nde_error_wrap(rc, "layer %d (resblock): ", L->index);
  const nde_real *a = nde_net_output(R->pre);
  rc = nde_net_forward_ctx(R->main, p + R->np_pre, st + R->ns_pre, ctx->training, t, n, a,
                           ctx->scratch);
  if (rc) return nde_error_wrap(rc, "layer %d (resblock): residual branch: ", L->index);
  if (R->proj) {
    /* no state: its (empty) slice is the end of the block's */
    rc = nde_net_forward_ctx(R->proj, p + R->np_pre + R->np_main, st + L->nstate, ctx->training, t,
                             n, a, ctx->scratch);
    if (rc) return nde_error_wrap(rc, "layer %d (resblock): projection shortcut: ", L->index);
  }
  const nde_real *r = nde_net_output(R->main);
  const nde_real *sc = R->proj ? nde_net_output(R->proj) : x; /* same shape as r in both cases */
  const size_t m = (size_t)n * nde_shape_numel(L->out);
  for (size_t i = 0; i < m; i++) y[i] = sc[i] + r[i];
  return NDE_OK;
}

static int rb_vjp(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
                  const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad) {
  (void)x;
  (void)y;
  rb_impl *R = L->impl;
  const nde_real *p = ctx->params + L->param_off;
  nde_real *st = ctx->state + L->state_off;
  int rc = nde_net_vjp_ctx(R->main, p + R->np_pre, st + R->ns_pre, ctx->training, n, dy, R->da,
                           grad ? grad + R->np_pre : NULL, ctx->scratch);
  if (!rc && R->proj) {
    rc = nde_net_vjp_ctx(R->proj, p + R->np_pre + R->np_main, st + L->nstate, ctx->training, n, dy,
                         R->da2, grad ? grad + R->np_pre + R->np_main : NULL, ctx->scratch);
    const size_t m = (size_t)n * nde_shape_numel(L->in);
    for (size_t i = 0; !rc && i < m; i++) R->da[i] += R->da2[i]; /* a feeds both branches */
  }
  if (!rc) rc = nde_net_vjp_ctx(R->pre, p, st, ctx->training, n, R->da, dx, grad, ctx->scratch);
  if (rc) return nde_error_wrap(rc, "layer %d (resblock): ", L->index);
  if (dx && !R->proj) {
    const size_t m = (size_t)n * nde_shape_numel(L->in);
    for (size_t i = 0; i < m; i++) dx[i] += dy[i]; /* identity branch */
  }
  return NDE_OK;
}

/* Sub-networks in slice order, so a seed gives the same values as the
 * former single sub-network (and PyTorch's module order). */
static int rb_init(nde_layer *L, nde_real *p, nde_real *s, nde_rng *rng) {
  rb_impl *R = L->impl;
  int rc = nde_net_init_slices(R->pre, p, s, rng);
  if (!rc) rc = nde_net_init_slices(R->main, p + R->np_pre, s + R->ns_pre, rng);
  if (!rc && R->proj)
    rc = nde_net_init_slices(R->proj, p + R->np_pre + R->np_main, s + L->nstate, rng);
  return rc;
}

const nde_layer_ops nde_resblock_ops = {"resblock", rb_setup, rb_forward,
                                        rb_vjp,     rb_init,  rb_destroy, 0};
