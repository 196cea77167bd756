/* The networks of DESIGN 4.1 (torchdiffeq odenet_mnist), built from layer
 * specs. Parameter counts at Cin = 1, width 64, 10 classes, with biases on
 * every convolution except those inside residual blocks:
 *   stem    conv3x3 640 + GN 128 + conv4x4 65,600 + GN 128 + conv4x4 65,600 = 132,096
 *   odefunc 3 GN x 128 + 2 ConcatConv3x3 (65*64*9 + 64 = 37,504)          =  75,392
 *   head    GN 128 + Linear 650                                            =     778
 *   ODE-Net total 208,266; ResNet-6 (6 blocks of 73,984) total 576,778.
 * Errors from the layers are prefixed with the block's name. */
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
