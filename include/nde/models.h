/* nde/models.h: the classifiers of docs/methods.md section 1 assembled from nets/, ode/
 * and rman/, with ONE flat parameter vector:
 *
 *   x -> stem -> body -> head features (norm, ReLU, global average pool: the
 *   pooled features p in R^c where RMAN attaches) -> Linear -> logits
 *
 * body is the ODE block (the ODE function integrated over [t0, T] by an nde
 * solver, gradient by its adjoint) for NDE_MODEL_ODENET, and six
 * pre-activation residual blocks for NDE_MODEL_RESNET6 (the baseline of
 * torchdiffeq's odenet_mnist example); both use the GroupNorm stem and head
 * of that example.
 *
 * NDE_MODEL_RESNET20/32/44/56 are the pre-activation CIFAR ResNets of the
 * RMAN paper's Table 1 (He et al. 2016, depth 6n + 2, BatchNorm): stem
 * conv3x3(Cin -> width/4, pad 1, no bias), three stages of n blocks with
 * width/4, width/2, width channels (stride 2 and 1x1 projection shortcuts
 * into stages 2 and 3), BN -> ReLU -> global average pool -> Linear; width
 * 64 (stages 16, 32, 64). Any input size works (32 -> 32, 16, 8;
 * 28 -> 28, 14, 7). There the final BN and ReLU belong to the body's
 * network (nde_net_create_preact_resnet_trunk) so that all BatchNorm state is
 * one vector; the pooled features are the same. The options' groups is
 * unused by them. Parameters at 3x32x32, K = 10: 272,282 / 466,714 /
 * 661,146 / 855,578 (97,216 n - 19,366).
 *
 * Loss of a batch: mean cross-entropy + (alpha / n) sum_i E(p_i) when the
 * model has h > 0 attractors (docs/methods.md section 4). Parameter layout:
 * [stem | body | head features | linear | attractors (h x c)].
 *
 * THREAD SAFETY. A model (with the networks and solver nde_model_odefunc
 * and nde_model_ode return) is used by one thread at a time; it runs its
 * own slices on nde's worker threads (options.threads) inside each call.
 * Several models may train on different threads at once.
 */
#ifndef NDE_MODELS_H
#define NDE_MODELS_H

#include "nde/adjoint.h"
#include "nde/nets.h"
#include "nde/ode.h"
#include "nde/rman.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nde_model_kind {
  NDE_MODEL_ODENET = 1, /* stem -> ODE block -> head (208,266 parameters at 1x28x28, K = 10) */
  NDE_MODEL_RESNET6 = 2, /* stem -> 6 residual blocks -> head (576,778 parameters) */
  NDE_MODEL_RESNET20 = 3, /* pre-activation CIFAR ResNet, n = 3 (272,282 at 3x32x32, K = 10) */
  NDE_MODEL_RESNET32 = 4, /* n = 5 (466,714) */
  NDE_MODEL_RESNET44 = 5, /* n = 7 (661,146) */
  NDE_MODEL_RESNET56 = 6  /* n = 9 (855,578) */
} nde_model_kind;

typedef struct nde_model_options {
  int kind;           /* nde_model_kind */
  nde_shape in;       /* input image shape, (1, 28, 28); (3, 32, 32) for ResNet-20..56 */
  int nclasses;       /* 10 */
  int width;          /* channels of the state and pooled features, 64 (ResNet-20..56:
                         channels of the last stage, a multiple of 4) */
  int groups;         /* GroupNorm groups, 32 (unused by ResNet-20..56) */
  int attractors;     /* RMAN h, 0 = no RMAN */
  int max_batch;      /* 128 */
  int threads;        /* ODE-Net: threads that evaluate the ODE function, each on a slice
                         of the batch with its own copy of the network's activations
                         (nde_field_create_net_split), 1 to 8; 0 (default): the BLAS
                         thread count (OPENBLAS_NUM_THREADS) at create time */
  nde_ode_options ode;   /* ODE block solver and adjoint (rtol = atol = 1e-3, [0, 1]);
                            nde_ode_options_default() except polynomial checkpoint
                            interpolation (half the stored history, same accuracy here)
                            nls_coef 0.2 (a quarter fewer forward evaluations,
                            same accuracy here), eta_fixed_max 1.2 (a tenth fewer;
                            models/model.c) and the adjoint-scaled backward tolerance
                            atol_b = 100 x atol x RMS(dL/dh(T)) (atol_b_rel 100): about 6%
                            gradient error at initialization against 130-200% with
                            the former atol_b = atol, for twice the step time; see
                            docs/gradient-accuracy.md */
  nde_rman_options rman; /* energy options and alpha schedule */
} nde_model_options;

NDE_API nde_model_options nde_model_options_default(int kind);
NDE_API const char *nde_model_kind_name(int kind);
NDE_API int nde_model_kind_parse(const char *name, int *kind);

typedef struct nde_model nde_model;

/* Creates the model; NDE_ERR_NOMEM (estimate and available memory in the
 * message) when nde_model_memory_estimate exceeds nde_memory_available(). */
NDE_API int nde_model_create(const nde_model_options *opt, nde_model **out);
/* Bytes the model would allocate at opt->max_batch (its networks, buffers
 * and the ODE block's solver, nde_ode_memory_estimate; the datasets aside),
 * computed before anything batch-sized is allocated (the networks are
 * built once at batch 1 for their shapes). An estimate erring on the high
 * side: for the default ODE-Net (Adams, checkpointed adjoint) about 3 MB of
 * address space per sample, of which about a third is resident. Options are
 * checked as at create. */
NDE_API int nde_model_memory_estimate(const nde_model_options *opt, size_t *bytes);
NDE_API void nde_model_free(nde_model *m);

NDE_API const nde_model_options *nde_model_get_options(const nde_model *m);
NDE_API size_t nde_model_num_params(const nde_model *m);
NDE_API nde_real *nde_model_params(nde_model *m);
NDE_API nde_real *nde_model_grads(nde_model *m);
/* Non-trainable state (BatchNorm running statistics; empty for GroupNorm
 * models): count and pointer, for checkpoints. */
NDE_API size_t nde_model_num_state(const nde_model *m);
NDE_API int nde_model_state(nde_model *m, nde_real **ptr, size_t *count);
/* The attractors (h x c, inside the parameter vector); NULL when h = 0. */
NDE_API const nde_real *nde_model_attractors(const nde_model *m);
/* Offset and length of the attractors in the parameter vector. */
NDE_API int nde_model_attractor_slice(const nde_model *m, size_t *offset, size_t *count);

/* PyTorch default initialization of every layer, attractors N(0, 1). */
NDE_API int nde_model_init(nde_model *m, nde_rng *rng);
NDE_API int nde_model_set_training(nde_model *m, int training);

/* What one forward pass measured. */
typedef struct nde_model_result {
  double loss;        /* xent + rman term */
  double xent;        /* mean cross-entropy */
  double rman_loss;   /* (alpha / n) sum E_i, 0 without attractors */
  double mean_energy; /* (1/n) sum E_i */
  int nerr;           /* misclassified samples */
  nde_ode_stats fwd;  /* ODE block forward statistics (zero for ResNets) */
} nde_model_result;

/* Forward pass of n samples (x: n * in numel, labels: n in [0, nclasses)).
 * With grad != 0 the pass records what nde_model_backward needs (the
 * adjoint's checkpoints); with grad == 0 (evaluation) it only solves.
 * labels may be NULL when only logits are wanted (res->loss is then 0). */
NDE_API int nde_model_forward(nde_model *m, int n, const nde_real *x, const int *labels,
                              double alpha, int grad, nde_model_result *res);

/* Backward pass of the last forward (which had grad != 0): OVERWRITES the
 * gradient vector with d loss / d theta. bwd (may be NULL) receives the ODE
 * block's backward statistics. */
NDE_API int nde_model_backward(nde_model *m, nde_ode_stats *bwd);

/* Outputs of the last forward: logits (n x nclasses), pooled features
 * (n x width). */
NDE_API const nde_real *nde_model_logits(const nde_model *m);
NDE_API const nde_real *nde_model_features(const nde_model *m);

/* The ODE block's solver (NULL for ResNets), e.g. for cumulative statistics. */
NDE_API nde_ode *nde_model_ode(nde_model *m);
/* The ODE block's function network f(t, h) (NULL for ResNets), bound to the
 * model's parameter vector: e.g. for its Jacobian at a state. Its max_batch
 * is ceil(max_batch / threads), the slice one thread evaluates. */
NDE_API nde_net *nde_model_odefunc(nde_model *m);

#ifdef __cplusplus
}
#endif
#endif
