/* The networks of docs/methods.md section 1 (torchdiffeq odenet_mnist), built from layer
 * specs. Parameter counts at Cin = 1, width 64, 10 classes, with biases on
 * every convolution except those inside residual blocks:
 *   stem    conv3x3 640 + GN 128 + conv4x4 65,600 + GN 128 + conv4x4 65,600 = 132,096
 *   odefunc 3 GN x 128 + 2 ConcatConv3x3 (65*64*9 + 64 = 37,504)          =  75,392
 *   head    GN 128 + Linear 650                                            =     778
 *   ODE-Net total 208,266; ResNet-6 (6 blocks of 73,984) total 576,778.
 * The pre-activation CIFAR ResNets (He et al. 2016) are at the end.
 * Errors from the layers are prefixed with the block's name. */
#include <limits.h>
#include <stdlib.h>

#include "nets/layer_impl.h"

static int build(const char *what, nde_shape in, int max_batch, const nde_layer_spec *s, int ns,
                 nde_net **out) {
  NDE_CHECK_NULL(out, what);
  *out = NULL;
  int rc = nde_net_create(in, max_batch, s, ns, out);
  if (rc) return nde_error_wrap(rc, "%s: ", what);
  return NDE_OK;
}

int nde_net_create_odefunc(nde_shape state, int groups, int max_batch, nde_net **out) {
  const int c = state.c;
  const nde_layer_spec s[] = {
      nde_spec_groupnorm(groups), nde_spec_act(NDE_LAYER_RELU), nde_spec_concat_conv2d(c, 3, 1, 1),
      nde_spec_groupnorm(groups), nde_spec_act(NDE_LAYER_RELU), nde_spec_concat_conv2d(c, 3, 1, 1),
      nde_spec_groupnorm(groups)};
  return build("odefunc", state, max_batch, s, (int)(sizeof s / sizeof s[0]), out);
}

int nde_net_create_odenet_stem(nde_shape in, int width, int groups, int max_batch, nde_net **out) {
  const nde_layer_spec s[] = {nde_spec_conv2d(width, 3, 1, 0), nde_spec_groupnorm(groups),
                              nde_spec_act(NDE_LAYER_RELU),    nde_spec_conv2d(width, 4, 2, 1),
                              nde_spec_groupnorm(groups),      nde_spec_act(NDE_LAYER_RELU),
                              nde_spec_conv2d(width, 4, 2, 1)};
  return build("odenet stem", in, max_batch, s, (int)(sizeof s / sizeof s[0]), out);
}

int nde_net_create_odenet_head(nde_shape state, int groups, int nclasses, int max_batch,
                               nde_net **out) {
  const nde_layer_spec s[] = {nde_spec_groupnorm(groups), nde_spec_act(NDE_LAYER_RELU),
                              nde_spec_avgpool(), nde_spec_dense(nclasses)};
  return build("odenet head", state, max_batch, s, (int)(sizeof s / sizeof s[0]), out);
}

int nde_net_create_odenet_head_features(nde_shape state, int groups, int max_batch, nde_net **out) {
  const nde_layer_spec s[] = {nde_spec_groupnorm(groups), nde_spec_act(NDE_LAYER_RELU),
                              nde_spec_avgpool()};
  return build("odenet head features", state, max_batch, s, (int)(sizeof s / sizeof s[0]), out);
}

int nde_net_create_linear_head(int features, int nclasses, int max_batch, nde_net **out) {
  const nde_layer_spec s[] = {nde_spec_dense(nclasses)};
  return build("linear head", nde_shape_vec(features), max_batch, s, 1, out);
}

int nde_net_create_resnet6_body(nde_shape state, int groups, int max_batch, nde_net **out) {
  nde_layer_spec s[6];
  for (int i = 0; i < 6; i++) s[i] = nde_spec_resblock(NDE_NORM_GROUP, groups);
  return build("resnet6 body", state, max_batch, s, 6, out);
}

/* ---- pre-activation CIFAR ResNets (He et al. 2016, "Identity mappings"),
 * depth 6n + 2: ResNet-20/32/44/56 at n = 3/5/7/9 ----
 *
 * Stem conv3x3(Cin -> c, pad 1, no bias); three stages of n pre-activation
 * BatchNorm blocks with c, 2c, 4c channels (c = 16 in the paper), the first
 * block of stages 2 and 3 at stride 2 with a 1x1 projection shortcut on the
 * pre-activated input (nets/resblock.c); then BN -> ReLU -> global average
 * pool -> Linear(4c -> K). Parameter counts at c = 16 (BN: 2 per channel,
 * convolutions without bias):
 *   stem                      9 Cin c                          =    432 (Cin = 3)
 *   stage 1 block  16 -> 16:  2 x 32 + 2 x 2,304               =  4,672
 *   stage 2 first  16 -> 32:  32 + 4,608 + 64 + 9,216 + 512    = 14,432
 *   stage 2 block  32 -> 32:  2 x 64 + 2 x 9,216               = 18,560
 *   stage 3 first  32 -> 64:  64 + 18,432 + 128 + 36,864 + 2,048 = 57,536
 *   stage 3 block  64 -> 64:  2 x 128 + 2 x 36,864             = 73,984
 *   final BN 128, Linear(64 -> 10) 650
 * total 97,216 n - 19,366: 272,282 / 466,714 / 661,146 / 855,578 for
 * ResNet-20/32/44/56 at 3x32x32 and K = 10. */

#define PREACT_MAX_N 1000 /* blocks per stage; far beyond any useful depth */

/* The 3n block specs of the stages, then (with final) BN and ReLU. */
static int preact_build(const char *what, nde_shape in, int n, int final, int max_batch,
                        nde_net **out) {
  NDE_CHECK_NULL(out, what);
  *out = NULL;
  if (n < 1 || n > PREACT_MAX_N)
    return nde_error(NDE_ERR_ARG, "%s: %d blocks per stage (need 1 to %d)", what, n, PREACT_MAX_N);
  if (in.c > INT_MAX / 4)
    return nde_error(NDE_ERR_SHAPE, "%s: %d input channels (the last stage has 4x as many)", what,
                     in.c);
  const int ns = 3 * n + (final ? 2 : 0);
  nde_layer_spec *s = malloc((size_t)ns * sizeof *s);
  if (!s) return nde_error(NDE_ERR_NOMEM, "%s: out of memory", what);
  for (int stage = 0, k = 0; stage < 3; stage++)
    for (int b = 0; b < n; b++, k++) {
      s[k] = nde_spec_resblock(NDE_NORM_BATCH, 0);
      s[k].out = in.c << stage; /* c, 2c, 4c */
      s[k].stride = stage > 0 && b == 0 ? 2 : 1;
    }
  if (final) {
    s[3 * n] = nde_spec_batchnorm();
    s[3 * n + 1] = nde_spec_act(NDE_LAYER_RELU);
  }
  int rc = build(what, in, max_batch, s, ns, out);
  free(s);
  return rc;
}

int nde_net_create_preact_resnet_stem(nde_shape in, int width, int max_batch, nde_net **out) {
  nde_layer_spec s = nde_spec_conv2d(width, 3, 1, 1);
  s.bias = 0; /* BatchNorm follows (the first block's norm1) */
  return build("preact resnet stem", in, max_batch, &s, 1, out);
}

int nde_net_create_preact_resnet_body(nde_shape in, int n, int max_batch, nde_net **out) {
  return preact_build("preact resnet body", in, n, 0, max_batch, out);
}

int nde_net_create_preact_resnet_trunk(nde_shape in, int n, int max_batch, nde_net **out) {
  return preact_build("preact resnet trunk", in, n, 1, max_batch, out);
}
