/* PLACEHOLDER: the DESIGN 4.1 networks (odefunc, stem, head) are being implemented. */
#include "nets/layer_impl.h"

int nde_net_create_odefunc(nde_shape state, int groups, int max_batch, nde_net **out) {
  return nde_error(NDE_ERR_KIND, "odefunc: not implemented yet");
}
int nde_net_create_odenet_stem(nde_shape in, int width, int groups, int max_batch, nde_net **out) {
  return nde_error(NDE_ERR_KIND, "stem: not implemented yet");
}
int nde_net_create_odenet_head(nde_shape state, int groups, int nclasses, int max_batch, nde_net **out) {
  return nde_error(NDE_ERR_KIND, "head: not implemented yet");
}
int nde_net_create_odenet_head_features(nde_shape state, int groups, int max_batch, nde_net **out) {
  return nde_error(NDE_ERR_KIND, "head: not implemented yet");
}
int nde_net_create_linear_head(int features, int nclasses, int max_batch, nde_net **out) {
  return nde_error(NDE_ERR_KIND, "head: not implemented yet");
}
