/* Private to nets/: the layer operations table every layer kind fills.
 *
 * A layer sees its parameters through the owning network's current base
 * pointer plus its own offset (so nde_net_bind can move them), keeps what its
 * vjp needs in its own workspace (allocated at create time for max_batch),
 * and never allocates in forward or vjp. Temporaries that need not survive
 * from one call to the next (im2col columns, transposed outputs) go to the
 * network's scratch arena instead: one buffer of max over layers of
 * L->scratch values, shared by all layers since they run one at a time.
 *
 * MEMORY OF THE SWEEPS. The network stores every layer's output for the
 * reverse sweep. Two flags let it store less:
 *   NDE_OPS_FWD_INPLACE   forward may run with y == x, and vjp is then still
 *                         exact when given x == y (ReLU: x > 0 iff y > 0);
 *                         the network runs such a layer in place over its
 *                         input when the previous layer's vjp does not read
 *                         its own output (the in-place layer overwrites it);
 *   NDE_OPS_VJP_READS_Y   vjp reads y (tanh, sigmoid): never overwrite it;
 *   NDE_OPS_VJP_INPLACE   vjp is correct with dx == dy (each dx entry is
 *                         written after every dy entry it depends on is
 *                         read), so the reverse sweep needs no second buffer
 *                         for it. */
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
  nde_real *scratch; /* the network's arena, L->scratch values; contents die with the call */
} nde_layer_ctx;

enum { NDE_OPS_FWD_INPLACE = 1, NDE_OPS_VJP_READS_Y = 2, NDE_OPS_VJP_INPLACE = 4 };

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
   * forward. dx aliases dy only for layers with NDE_OPS_VJP_INPLACE, and
   * x aliases y only for NDE_OPS_FWD_INPLACE layers run in place. */
  int (*vjp)(nde_layer *L, const nde_layer_ctx *ctx, int n, const nde_real *x,
             const nde_real *y, const nde_real *dy, nde_real *dx, nde_real *grad);
  /* Write initial parameters (and state) into p (and s), layer-local slices. */
  int (*init)(nde_layer *L, nde_real *p, nde_real *s, nde_rng *rng);
  /* Release impl (may be NULL). */
  void (*destroy)(nde_layer *L);
  unsigned flags; /* NDE_OPS_* (0 when left out of an initializer) */
} nde_layer_ops;

struct nde_layer {
  const nde_layer_ops *ops;
  nde_layer_spec spec;
  int index;            /* position in the network, for messages */
  int max_batch;
  nde_shape in, out;
  size_t param_off, nparam;
  size_t state_off, nstate;
  size_t scratch;       /* values of the network's arena the layer uses per call (setup sets it) */
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

/* n values for a buffer of megabytes that is streamed through: from 4 MiB
 * on, placed on 2 MiB boundaries and advised as transparent huge pages (see
 * nets/big_alloc.c). Release with free(). */
nde_real *nde_alloc_big(size_t n);

/* Uniform(-bound, bound) fill, the PyTorch default for weights and biases. */
void nde_fill_uniform(nde_real *p, size_t n, double bound, nde_rng *rng);

/* Error helper naming the layer: "layer 3 (conv2d): <message>". */
int nde_layer_error(const nde_layer *L, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Internal access used by composite layers (resblock holds a sub-network
 * whose parameters live inside the parent's vector). scratch: the arena
 * for the sub-network's layers, the composite layer's own ctx->scratch
 * (then sized by nde_net_scratch_size and the sub-network's own arena
 * dropped with nde_net_release_scratch), or NULL for the sub-network's. */
int nde_net_forward_ctx(nde_net *net, const nde_real *params, nde_real *state, int training,
                        double t, int n, const nde_real *x, nde_real *scratch);
int nde_net_vjp_ctx(nde_net *net, const nde_real *params, nde_real *state, int training, int n,
                    const nde_real *dy, nde_real *dx, nde_real *grad, nde_real *scratch);
void nde_net_release_scratch(nde_net *net);
int nde_net_init_slices(nde_net *net, nde_real *params, nde_real *state, nde_rng *rng);

#endif
