/* PLACEHOLDER: being implemented. */
#include "nets/layer_impl.h"
static int todo_setup(nde_layer *L) { return nde_layer_error(L, NDE_ERR_KIND, "not implemented yet"); }
const nde_layer_ops nde_conv2d_ops = {"conv2d", todo_setup, NULL, NULL, NULL, NULL};
const nde_layer_ops nde_concat_conv2d_ops = {"concat_conv2d", todo_setup, NULL, NULL, NULL, NULL};
