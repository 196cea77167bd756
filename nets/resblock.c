/* PLACEHOLDER: being implemented. */
#include "nets/layer_impl.h"
static int todo_setup(nde_layer *L) { return nde_layer_error(L, NDE_ERR_KIND, "not implemented yet"); }
const nde_layer_ops nde_resblock_ops = {"resblock", todo_setup, NULL, NULL, NULL, NULL};
