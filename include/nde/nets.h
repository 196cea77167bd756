/* nde/nets.h: layers with forward and vector-Jacobian products (vjp),
 * sequential networks over one flat parameter vector, the standard blocks of
 * docs/methods.md section 1 and the softmax cross-entropy loss.
 *
 * Tensors are batched, NCHW, contiguous, of nde_real. A per-sample shape is
 * (c, h, w); dense data is (features, 1, 1).
 *
 * A network is described by an array of layer specs and created for a
 * maximum batch size; creation sizes every buffer, so forward and vjp never
 * allocate. The network's parameters form one contiguous vector (layers keep
 * offsets into it); by default the network owns it, and nde_net_bind lets a
 * model place several networks in one vector that the optimizer, the adjoint
 * quadrature and RMAN all share.
 *
 * Typical use:
 *   nde_layer_spec s[] = {nde_spec_dense(32), nde_spec_act(NDE_LAYER_TANH),
 *                         nde_spec_dense(2)};
 *   nde_net *net;
 *   if (nde_net_create(nde_shape_vec(2), 128, s, 3, &net)) fail(nde_last_error());
 *   nde_net_init(net, &rng);
 *   nde_net_forward(net, t, n, x, y);        // y: n * nde_net_out_numel(net)
 *   nde_net_vjp(net, n, dy, dx, grad);       // dx overwritten, grad += ...
 *
 * THREAD SAFETY. A network is used by one thread at a time (forward keeps
 * its intermediates in it); networks that share a scratch arena count as
 * one. Networks bound to one parameter vector (nde_net_bind) may run
 * forward on different threads at once while nobody writes the parameters,
 * each vjp accumulating into a gradient buffer of its own. Each layer's
 * choices (spec.conv_algo) are fixed at create: nothing process-wide.
 * Layer specs, shapes and the loss are plain data and functions.
 */
#ifndef NDE_NETS_H
#define NDE_NETS_H

#include "nde/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-sample tensor shape: channels, height, width. */
typedef struct nde_shape {
  int c, h, w;
} nde_shape;

static inline nde_shape nde_shape_chw(int c, int h, int w) {
  nde_shape s = {c, h, w};
  return s;
}
static inline nde_shape nde_shape_vec(int n) { return nde_shape_chw(n, 1, 1); }
static inline size_t nde_shape_numel(nde_shape s) { return (size_t)s.c * s.h * s.w; }

typedef enum nde_layer_kind {
  NDE_LAYER_DENSE = 1,      /* y = W x + b, W: out x in (row-major), on flattened input */
  NDE_LAYER_CONV2D,         /* cross-correlation, weight Cout x Cin x kh x kw, bias Cout */
  NDE_LAYER_CONCAT_CONV2D,  /* conv2d on [t*1, x]: a constant channel t PREPENDED as channel 0
                               (torchdiffeq's ConcatConv2d, so its weights load as they are),
                               zero-padded like the others */
  NDE_LAYER_GROUPNORM,      /* per-sample, per-group normalization, affine gamma/beta per channel */
  NDE_LAYER_BATCHNORM,      /* per-channel over batch and pixels; running stats outside the gradient */
  NDE_LAYER_RELU,
  NDE_LAYER_TANH,
  NDE_LAYER_SOFTPLUS,       /* log(1 + e^x) */
  NDE_LAYER_SIGMOID,
  NDE_LAYER_IDENTITY,
  NDE_LAYER_AVGPOOL,        /* global average pool: (c, h, w) -> (c, 1, 1) */
  NDE_LAYER_FLATTEN,        /* (c, h, w) -> (c*h*w, 1, 1); a no-op on the data */
  NDE_LAYER_RESBLOCK,       /* pre-activation residual block (docs/methods.md section 1):
                               x + conv(relu(norm(conv(relu(norm(x)))))); with spec.out
                               channels and spec.stride, see nde_spec_resblock */
  NDE_LAYER_SELU,           /* scale x (x > 0), scale alpha (e^x - 1) (x <= 0); selu'(0) = scale alpha */
  NDE_LAYER_GELU            /* x Phi(x), exact erf form */
} nde_layer_kind;

/* Normalization inside a residual block. */
typedef enum nde_norm_kind { NDE_NORM_GROUP = 0, NDE_NORM_BATCH = 1 } nde_norm_kind;

/* How a convolution is computed (a layer's choice, fixed at create). */
typedef enum nde_conv_algo {
  NDE_CONV_AUTO = 0,  /* 3x3, stride-1, pad-1 convolutions of planes cut into 2x2 or 3x3
                         tiles by Winograd's F(2x2, 3x3) or F(3x3, 3x3) (2.25x or 3.24x
                         fewer flops; the ODE function's and the ResNet blocks'), the
                         others by im2col and one gemm (the default) */
  NDE_CONV_IM2COL = 1 /* always im2col and one gemm. The two round differently (float,
                         64 channels: about 3e-6 of the largest output for F(3x3),
                         3e-7 for im2col) */
} nde_conv_algo;

/* One layer's description. Fields a kind does not use are ignored; the
 * nde_spec_* constructors below fill the right ones. */
typedef struct nde_layer_spec {
  int kind;          /* nde_layer_kind */
  int out;           /* dense: output features; conv: output channels */
  int kh, kw;        /* conv kernel */
  int stride, pad;   /* conv stride and zero padding (both dimensions) */
  int bias;          /* dense/conv: 1 to add a bias (default), 0 without */
  int groups;        /* groupnorm (and resblock with NDE_NORM_GROUP): number of groups */
  int norm;          /* resblock: nde_norm_kind */
  double eps;        /* norms: variance epsilon (1e-5) */
  double momentum;   /* batchnorm: running-stat momentum (0.1, PyTorch convention) */
  int conv_algo;     /* conv2d, concat_conv2d, resblock (its convolutions): nde_conv_algo,
                        NDE_CONV_AUTO */
} nde_layer_spec;

NDE_API nde_layer_spec nde_spec_dense(int out);
NDE_API nde_layer_spec nde_spec_conv2d(int out, int k, int stride, int pad);
NDE_API nde_layer_spec nde_spec_concat_conv2d(int out, int k, int stride, int pad);
NDE_API nde_layer_spec nde_spec_groupnorm(int groups);
NDE_API nde_layer_spec nde_spec_batchnorm(void);
/* kind: RELU, TANH, SOFTPLUS, SIGMOID, IDENTITY, SELU or GELU. */
NDE_API nde_layer_spec nde_spec_act(nde_layer_kind kind);
NDE_API nde_layer_spec nde_spec_avgpool(void);
NDE_API nde_layer_spec nde_spec_flatten(void);
/* The residual block's two 3x3 convolutions have no bias (as torchdiffeq's
 * ResBlock; 576,778 parameters for ResNet-6); spec.bias is ignored.
 * Downsampling: set spec.out (output channels; 0, the default, keeps the
 * input's) and spec.stride (of the first 3x3 convolution, default 1). When
 * either changes the shape, the identity shortcut becomes a bias-free 1x1
 * convolution at that stride applied to the pre-activated input
 * relu(norm(x)), as in He et al. 2016 (pre-activation):
 *   y = conv1x1(a) + conv3x3(relu(norm(conv3x3_s(a)))),  a = relu(norm(x)). */
NDE_API nde_layer_spec nde_spec_resblock(nde_norm_kind norm, int groups);

/* Name of a layer kind ("conv2d", ...), or "unknown". */
NDE_API const char *nde_layer_kind_name(int kind);

typedef struct nde_net nde_net;

/* Create a sequential network for inputs of shape `in` and batches of at
 * most max_batch. Every spec is checked (kind, sizes, shape compatibility)
 * and an error names the offending layer by index and kind. Parameters are
 * allocated, owned and zero until nde_net_init. */
NDE_API int nde_net_create(nde_shape in, int max_batch, const nde_layer_spec *specs, int nspecs,
                           nde_net **out);
NDE_API void nde_net_free(nde_net *net);

NDE_API nde_shape nde_net_in_shape(const nde_net *net);
NDE_API nde_shape nde_net_out_shape(const nde_net *net);
NDE_API size_t nde_net_in_numel(const nde_net *net);
NDE_API size_t nde_net_out_numel(const nde_net *net);
NDE_API int nde_net_max_batch(const nde_net *net);
NDE_API int nde_net_num_layers(const nde_net *net);
/* Number of trainable parameters (length of the parameter vector). */
NDE_API size_t nde_net_num_params(const nde_net *net);
/* Number of non-trainable state values (BatchNorm running statistics). */
NDE_API size_t nde_net_num_state(const nde_net *net);

/* The parameter vector, its gradient vector (same layout) and the state
 * vector. Valid until the next nde_net_bind or nde_net_free. */
NDE_API nde_real *nde_net_params(nde_net *net);
NDE_API nde_real *nde_net_grads(nde_net *net);
NDE_API nde_real *nde_net_state(nde_net *net);

/* Place the parameters (and their gradient) in caller storage of
 * nde_net_num_params values each, e.g. a slice of a model's flat vector.
 * The current values are NOT copied. Passing NULL for both returns to the
 * network's own storage. The caller keeps the storage alive. */
NDE_API int nde_net_bind(nde_net *net, nde_real *params, nde_real *grads);

/* PyTorch default initialization from rng: dense and conv weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming-uniform with a = sqrt(5));
 * norm gamma = 1, beta = 0; BatchNorm running mean 0, variance 1. Layers
 * are visited in order, weights before biases, so a seed fixes the result. */
NDE_API int nde_net_init(nde_net *net, nde_rng *rng);

/* Training (1) or evaluation (0) mode; only BatchNorm behaves differently:
 * training normalizes with batch statistics and updates the running ones. */
NDE_API int nde_net_set_training(nde_net *net, int training);

/* y = net(t, x) for a batch of n samples. t only matters to ConcatConv2d.
 * x: n * in_numel values (copied, so the caller may reuse it);
 * y: n * out_numel values, or NULL to keep the result inside (see
 * nde_net_output). Intermediates are kept for the next nde_net_vjp. */
NDE_API int nde_net_forward(nde_net *net, double t, int n, const nde_real *x, nde_real *y);

/* Output of the last forward (n * out_numel values, owned by the network). */
NDE_API const nde_real *nde_net_output(const nde_net *net);

/* Vector-Jacobian product at the point of the last forward (same n):
 * dx = (dy/dx)^T dy (overwritten; skipped if dx is NULL) and
 * grad += (dy/dtheta)^T dy (accumulated into a vector of the parameter
 * layout; skipped if grad is NULL). dy is not modified. */
NDE_API int nde_net_vjp(nde_net *net, int n, const nde_real *dy, nde_real *dx, nde_real *grad);

/* Set the network's own gradient vector to zero. */
NDE_API void nde_net_zero_grad(nde_net *net);

/* Scratch memory. A network holds a scratch arena for its layers'
 * temporaries (im2col columns and the like), sized at create time and dead
 * between calls. Networks that never run at the same time, such as a
 * model's stem, body and head, can share one: nde_net_scratch_size is a
 * network's need in values, and nde_net_share_scratch gives the `count`
 * networks (NULL entries skipped) one arena of the largest need, released
 * with the last of them. Not for networks used from different threads. */
NDE_API size_t nde_net_scratch_size(const nde_net *net);

/* Estimated bytes a network allocates per sample of its max_batch
 * (activations kept for the reverse sweep, cotangents, layer workspaces such
 * as kept im2col columns), for memory planning before a large create
 * (nde_model_memory_estimate). An estimate that errs on the high side. */
NDE_API size_t nde_net_sample_bytes(const nde_net *net);
NDE_API int nde_net_share_scratch(nde_net *const *nets, int count);

/* Parameter offset and count of layer i (for tests, statistics, optimizers
 * that treat layers differently). */
NDE_API int nde_net_layer_params(const nde_net *net, int i, size_t *offset, size_t *count);
/* Output shape of layer i. */
NDE_API int nde_net_layer_out_shape(const nde_net *net, int i, nde_shape *shape);

/* ---- the networks of the ODE-Net and its baselines (docs/methods.md section 1) ---- */

/* ODE function f(t, h): GN -> ReLU -> ConcatConv3x3(c+1 -> c, pad 1) -> GN ->
 * ReLU -> ConcatConv3x3(c+1 -> c, pad 1) -> GN, on states of shape (c, h, w). */
NDE_API int nde_net_create_odefunc(nde_shape state, int groups, int max_batch, nde_net **out);

/* ODE-Net stem: conv3x3(cin -> c, pad 0) -> GN -> ReLU -> conv4x4(c -> c, s2, p1)
 * -> GN -> ReLU -> conv4x4(c -> c, s2, p1). 1x28x28 gives 64x6x6 at c = 64. */
NDE_API int nde_net_create_odenet_stem(nde_shape in, int width, int groups, int max_batch,
                                       nde_net **out);

/* ODE-Net head: GN -> ReLU -> global average pool -> Linear(c -> nclasses).
 * nde_net_create_odenet_head_features stops after the pool (the pooled
 * features where RMAN attaches), and nde_net_create_linear_head is the final
 * Linear alone, so a model can split the head around RMAN. */
NDE_API int nde_net_create_odenet_head(nde_shape state, int groups, int nclasses, int max_batch,
                                       nde_net **out);
NDE_API int nde_net_create_odenet_head_features(nde_shape state, int groups, int max_batch,
                                                nde_net **out);
NDE_API int nde_net_create_linear_head(int features, int nclasses, int max_batch, nde_net **out);

/* ResNet baseline body of the same example: 6 pre-activation residual blocks
 * (GroupNorm with `groups` groups, convolutions without bias as torchdiffeq's
 * ResBlock) on states of shape (c, h, w); stem + body + head at c = 64,
 * Cin = 1, 10 classes has 576,778 parameters. */
NDE_API int nde_net_create_resnet6_body(nde_shape state, int groups, int max_batch, nde_net **out);

/* Pre-activation CIFAR ResNets (He et al. 2016, "Identity mappings"; the
 * RMAN paper's Table 1, docs/methods.md section 1), depth 6n + 2
 * (ResNet-20/32/44/56: n = 3/5/7/9), BatchNorm:
 *   stem conv3x3(cin -> c, pad 1, no bias) -> body -> BN -> ReLU -> global
 *   average pool (RMAN attaches here) -> Linear(4c -> K), c = 16.
 * Body: three stages of n pre-activation blocks (NDE_NORM_BATCH) with c, 2c,
 * 4c channels, c = in.c; the first block of stages 2 and 3 has stride 2 and
 * a 1x1 projection shortcut (nde_spec_resblock). 16x32x32 -> 64x8x8;
 * 16x28x28 -> 64x7x7. Trunk: the body followed by the final BN -> ReLU, so
 * that a model's BatchNorm running statistics are one contiguous state
 * vector (the model then only pools). 272,282 parameters for ResNet-20 at
 * 3x32x32, K = 10 (nets/blocks.c gives every count). */
NDE_API int nde_net_create_preact_resnet_stem(nde_shape in, int width, int max_batch,
                                              nde_net **out);
NDE_API int nde_net_create_preact_resnet_body(nde_shape in, int n, int max_batch, nde_net **out);
NDE_API int nde_net_create_preact_resnet_trunk(nde_shape in, int n, int max_batch, nde_net **out);

/* ---- loss ---- */

/* Mean softmax cross-entropy over n samples of k logits with integer labels
 * in [0, k): *loss = -(1/n) sum_i log softmax(z_i)[y_i]. If dlogits is not
 * NULL it receives dloss/dz (n * k values). If nerr is not NULL it receives
 * the number of samples whose argmax differs from the label. */
NDE_API int nde_softmax_xent(int n, int k, const nde_real *logits, const int *labels, double *loss,
                             nde_real *dlogits, int *nerr);

#ifdef __cplusplus
}
#endif
#endif
