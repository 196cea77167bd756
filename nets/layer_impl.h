/* Private to nets/: the layer operations table every layer kind fills.
 *
 * A layer sees its parameters through the owning network's current base
 * pointer plus its own offset (so nde_net_bind can move them), keeps what its
 * vjp needs in its own workspace (allocated at create time for max_batch),
 * and never allocates in forward or vjp. */
#ifndef NDE_NETS_LAYER_IMPL_H
#define NDE_NETS_LAYER_IMPL_H

#include "common/error_impl.h"
#include "nde/nets.h"

typedef struct nde_layer nde_layer;

/* Context of one call: parameter base, running-state base, mode. */
typedef struct nde_layer_ctx {
  const nde_real *params; /* layer parameters at params + L->param_off */
  nde_real *state;        /* non-trainable state at state + L->state_off */
  int training;
} nde_layer_ctx;

typedef struct nde_layer_ops {
  const char *name;
  /* Check the spec against the input shape, set L->out, L->nparam, L->nstate
   * and allocate L->impl / workspace for L->max_batch. */
  int (*setup)(nde_layer *L);
  /* y = layer(t, x), n samples. May keep intermediates for vjp. */
  int (*forward)(nde_layer *L, const nde_layer_ctx *ctx, double t, int n, const nde_real *x,
                 nde_real *y);
  /* dx = J_x^T dy (if dx), grad += J_theta^T dy (if grad; grad points at the
   * layer's own slice). x and y are this layer's input and output of the last
   * forward. dx never aliases dy. */
  int (*vjp)(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
             const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad);
  /* Write initial parameters (and state) into p (and s), layer-local slices. */
  int (*init)(nde_layer *L, nde_real *p, nde_real *s, nde_rng *rng);
  /* Release impl (may be NULL). */
  void (*destroy)(nde_layer *L);
} nde_layer_ops;

struct nde_layer {
  const nde_layer_ops *ops;
  nde_layer_spec spec;
  int index;            /* position in the network, for messages */
  int max_batch;
  nde_shape in, out;
  size_t param_off, nparam;
  size_t state_off, nstate;
  void *impl;           /* kind-specific data, owned */
};

/* Operation tables, one per file. */
extern const nde_layer_ops nde_dense_ops;
extern const nde_layer_ops nde_conv2d_ops;
extern const nde_layer_ops nde_concat_conv2d_ops;
extern const nde_layer_ops nde_groupnorm_ops;
extern const nde_layer_ops nde_batchnorm_ops;
extern const nde_layer_ops nde_relu_ops;
extern const nde_layer_ops nde_tanh_ops;
extern const nde_layer_ops nde_softplus_ops;
extern const nde_layer_ops nde_sigmoid_ops;
extern const nde_layer_ops nde_identity_ops;
extern const nde_layer_ops nde_avgpool_ops;
extern const nde_layer_ops nde_flatten_ops;
extern const nde_layer_ops nde_resblock_ops;
extern const nde_layer_ops nde_selu_ops;
extern const nde_layer_ops nde_gelu_ops;

/* Uniform(-bound, bound) fill, the PyTorch default for weights and biases. */
void nde_fill_uniform(nde_real *p, size_t n, double bound, nde_rng *rng);

/* Error helper naming the layer: "layer 3 (conv2d): <message>". */
int nde_layer_error(const nde_layer *L, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Internal access used by composite layers (resblock holds a sub-network
 * whose parameters live inside the parent's vector). */
int nde_net_forward_ctx(nde_net *net, const nde_real *params, nde_real *state, int training,
                        double t, int n, const nde_real *x);
int nde_net_vjp_ctx(nde_net *net, const nde_real *params, nde_real *state, int training, int n,
                    const nde_real *dy, nde_real *dx, nde_real *grad);
int nde_net_init_slices(nde_net *net, nde_real *params, nde_real *state, nde_rng *rng);

#endif
