/* PLACEHOLDER: being implemented. */
#include "nets/layer_impl.h"
static int todo_setup(nde_layer *L) { return nde_layer_error(L, NDE_ERR_KIND, "not implemented yet"); }
const nde_layer_ops nde_groupnorm_ops = {"groupnorm", todo_setup, NULL, NULL, NULL, NULL};
const nde_layer_ops nde_batchnorm_ops = {"batchnorm", todo_setup, NULL, NULL, NULL, NULL};
