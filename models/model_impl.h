/* Private to models/: the model object, shared by the files of the module. */
#ifndef NDE_MODELS_MODEL_IMPL_H
#define NDE_MODELS_MODEL_IMPL_H

#include "common/error_impl.h"
#include "common/parallel_impl.h"
#include "nde/models.h"

struct nde_model {
  nde_model_options opt;
  nde_net *stem, *body, *odefunc, *headf, *linear;
  int threads;       /* slices run in parallel (nde_model_options.threads resolved) */
  nde_net *odefunc_rep[NDE_MAX_SLICES]; /* [0] = odefunc; the others its per-thread copies */
  int nrep;
  nde_net *stem_rep[NDE_MAX_SLICES];    /* [0] = stem; the others its per-thread copies */
  nde_real *stem_grad[NDE_MAX_SLICES];  /* [k > 0]: stem_rep[k]'s own gradient vector */
  int nstem;
  nde_net *body_rep[NDE_MAX_SLICES];    /* [0] = body; ResNet-6: the others its per-thread copies */
  nde_real *body_grad[NDE_MAX_SLICES];  /* [k > 0]: body_rep[k]'s own gradient vector */
  int nbody, body_slices;               /* copies; slices of the last forward */
  nde_real *bout;                       /* the body's output (n * dim) */
  nde_field *field;
  nde_ode *ode;
  nde_rman *rman;
  size_t nparam, att_off, ode_off;
  nde_real *params, *grads;
  size_t dim;        /* state values per sample (body input) */
  double *y0, *yT;   /* ODE block state buffers (n * dim) */
  double *dyT, *dy0; /* their cotangents, in the same two buffers: the adjoint keeps its own
                        copies of y0 and yT from forward, and the model reads yT only to
                        convert it to hT */
  double *gtheta;    /* ODE function parameter gradient in double */
  nde_real *hT, *dh; /* ODE block output as nde_real (then the body's input cotangent), the
                        body's output cotangent */
  nde_real *dlogits, *dfeat;
  nde_real *x;       /* copy of the last input, for the stem's recomputation (NULL when
                        max_batch fits one round of stem chunks) */
  int stem_held[NDE_MAX_SLICES]; /* the chunk whose activations stem_rep[k] holds, -1: none */
  int last_n, last_grad;
  double last_alpha;
};

/* Samples per stem chunk, over all threads (see models/stem.c). */
enum { STEM_CHUNK = 32 };

/* The stem on the batch x (n samples), chunk by chunk on m->nstem threads,
 * its outputs gathered into m->y0 (ODE-Net, double) or m->hT. keep_input:
 * copy x for the backward pass's recomputation. */
int nde_model_stem_forward(nde_model *m, int n, const nde_real *x, int keep_input);

/* The stem's vjp for the cotangent dh0 of its outputs (n samples, the last
 * forward's), accumulating the parameter gradient into m->grads. */
int nde_model_stem_backward(nde_model *m, int n, const nde_real *dh0);

/* The residual body on `in` (n samples) into `out`, in slices on
 * m->nbody threads; its vjp for the output cotangent dy of the last
 * forward, input cotangent into dx, parameter gradient accumulated into
 * m->grads (models/body.c). */
int nde_model_body_forward(nde_model *m, int n, const nde_real *in, nde_real *out);
int nde_model_body_backward(nde_model *m, int n, const nde_real *dy, nde_real *dx);

#endif
