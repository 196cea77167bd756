/* Layer spec constructors with PyTorch's defaults. */
#include "nets/layer_impl.h"

static nde_layer_spec base(int kind) {
  nde_layer_spec s = {0};
  s.kind = kind;
  s.bias = 1;
  s.stride = 1;
  s.eps = 1e-5;
  s.momentum = 0.1;
  return s;
}

nde_layer_spec nde_spec_dense(int out) {
  nde_layer_spec s = base(NDE_LAYER_DENSE);
  s.out = out;
  return s;
}

nde_layer_spec nde_spec_conv2d(int out, int k, int stride, int pad) {
  nde_layer_spec s = base(NDE_LAYER_CONV2D);
  s.out = out;
  s.kh = s.kw = k;
  s.stride = stride;
  s.pad = pad;
  return s;
}

nde_layer_spec nde_spec_concat_conv2d(int out, int k, int stride, int pad) {
  nde_layer_spec s = nde_spec_conv2d(out, k, stride, pad);
  s.kind = NDE_LAYER_CONCAT_CONV2D;
  return s;
}

nde_layer_spec nde_spec_groupnorm(int groups) {
  nde_layer_spec s = base(NDE_LAYER_GROUPNORM);
  s.groups = groups;
  return s;
}

nde_layer_spec nde_spec_batchnorm(void) { return base(NDE_LAYER_BATCHNORM); }
nde_layer_spec nde_spec_act(nde_layer_kind kind) { return base(kind); }
nde_layer_spec nde_spec_avgpool(void) { return base(NDE_LAYER_AVGPOOL); }
nde_layer_spec nde_spec_flatten(void) { return base(NDE_LAYER_FLATTEN); }

nde_layer_spec nde_spec_resblock(nde_norm_kind norm, int groups) {
  nde_layer_spec s = base(NDE_LAYER_RESBLOCK);
  s.norm = norm;
  s.groups = groups;
  return s;
}

const char *nde_layer_kind_name(int kind) {
  switch (kind) {
  case NDE_LAYER_DENSE: return "dense";
  case NDE_LAYER_CONV2D: return "conv2d";
  case NDE_LAYER_CONCAT_CONV2D: return "concat_conv2d";
  case NDE_LAYER_GROUPNORM: return "groupnorm";
  case NDE_LAYER_BATCHNORM: return "batchnorm";
  case NDE_LAYER_RELU: return "relu";
  case NDE_LAYER_TANH: return "tanh";
  case NDE_LAYER_SOFTPLUS: return "softplus";
  case NDE_LAYER_SIGMOID: return "sigmoid";
  case NDE_LAYER_IDENTITY: return "identity";
  case NDE_LAYER_AVGPOOL: return "avgpool";
  case NDE_LAYER_FLATTEN: return "flatten";
  case NDE_LAYER_RESBLOCK: return "resblock";
  case NDE_LAYER_SELU: return "selu";
  case NDE_LAYER_GELU: return "gelu";
  default: return "unknown";
  }
}
