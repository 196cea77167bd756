/* Classifier models: stem -> body (ODE block or residual blocks) -> head,
 * optional RMAN energy on the pooled features; one flat parameter vector.
 * See nde/models.h for the layout and docs/methods.md sections 1 and 4 for
 * the maths.
 *
 * The ODE-Net and ResNet-6 share the GroupNorm stem and head of torchdiffeq's
 * odenet_mnist. The pre-activation CIFAR ResNets (20/32/44/56) have their
 * own: a bias-free conv3x3 stem to width/4 channels, and the final BN -> ReLU
 * is built into the body (nde_net_create_preact_resnet_trunk) so that every
 * BatchNorm running statistic is in the body's one state vector, which
 * nde_model_state hands to checkpoints; their head features are then the
 * global average pool alone. The pooled features have `width` values in
 * every model, which is what RMAN and the linear layer see.
 *
 * The stem runs in chunks on several threads: models/stem.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory_impl.h"
#include "models/model_impl.h"

/* Blocks per stage of a pre-activation CIFAR ResNet (depth 6n + 2), 0 for
 * the other kinds. */
static int preact_n(int kind) {
  switch (kind) {
  case NDE_MODEL_RESNET20: return 3;
  case NDE_MODEL_RESNET32: return 5;
  case NDE_MODEL_RESNET44: return 7;
  case NDE_MODEL_RESNET56: return 9;
  default: return 0;
  }
}

nde_model_options nde_model_options_default(int kind) {
  nde_model_options o;
  memset(&o, 0, sizeof o);
  o.kind = kind;
  o.in = nde_shape_chw(1, 28, 28);
  o.nclasses = 10;
  o.width = 64;
  o.groups = 32;
  o.attractors = 0;
  o.max_batch = 128;
  if (preact_n(kind)) o.in = nde_shape_chw(3, 32, 32); /* CIFAR */
  o.ode = nde_ode_options_default();
  /* The checkpointed adjoint stores one data point per forward step:
   * polynomial interpolation keeps y only, Hermite keeps y and f(y) (at
   * batch 128, 26 Adams steps: 61 MB less, peak 286 -> 225 MiB). On the
   * ODE-Net the two give the same gradient error against a tight
   * reference (rel. L2 5.81e-1 / 4.11e-1 / 9.57e-2 / 2.09e-2 at rtol = atol
   * = 1e-3 ... 1e-6, both; /tmp experiment in the issue-3 closing note). */
  o.ode.interp = NDE_INTERP_POLYNOMIAL;
  /* Adams's fixed-point corrector stops when its correction is below
   * nls_coef times the local error bound. At 0.2 instead of CVODES's 0.1
   * the ODE-Net's forward needs one iteration per step: at batch 128,
   * rtol = atol = 1e-3, NFE-F 38 -> 29 (random input) and 37 -> 29
   * (Fashion-MNIST), at 1e-4 82 -> 65 and 77 -> 64, with the same loss
   * and gradient error against an rtol = 1e-8 reference (gradient rel. L2
   * 0.874 vs 0.875, 1.287 vs 1.289 at 1e-3; 0.399 vs 0.381, 0.311 vs 0.313
   * at 1e-4; issue-3 closing note, session 3). */
  o.ode.nls_coef = 0.2;
  /* CVODES keeps h while the error test would allow less than 1.5 h, so
   * the ODE-Net's forward holds h = 0.032 for ten steps and 0.050 for
   * eight. Growing at 1.2x already: at batch 128, rtol = atol = 1e-3,
   * NFE-F 29 -> 26 (random input) and 29 -> 27 (Fashion-MNIST) with the
   * same loss and gradient error against an rtol = 1e-8 reference (loss
   * 6.9e-6 vs 6.3e-6 and 5.4e-6 vs 3.9e-6; gradient rel. L2 0.875 vs 0.875
   * and 1.289 vs 1.315); at 1e-4, 65 -> 57 and 64 -> 57 evaluations, loss
   * error 1.5e-8 -> 1.3e-6 (still 1e-2 of the tolerance) and 6.1e-7 ->
   * 4.1e-7, gradient 0.381 -> 0.293 and 0.313 -> 0.303
   * (build/bench/odenet_grad_accuracy [--input fashion], 2026-12-03). */
  o.ode.eta_fixed_max = 1.2;
  /* The backward absolute tolerance follows the adjoint's scale
   * (docs/gradient-accuracy.md): a(T) = dL/dh(T) of a batch-mean loss has an
   * RMS of order 1e-5 here, so the former atol_b = atol = 1e-3 left the
   * backward error test with nothing to control (10 backward evaluations, a
   * gradient 98-200% from the converged one). atol_b_rel = 100, that is
   * 100 x atol x RMS(a) = 0.1 x RMS(a) at atol = 1e-3, tightening with atol,
   * is on the measured work-precision front at rtol = atol = 1e-3: gradient error
   * 2.03 -> 0.056 at NFE-B 8 -> 43 and 0.23 -> 0.43 s per step on the first
   * Fashion-MNIST batch at initialization (build/bench/work_precision --grid
   * front, results/work-precision.md); 10 (0.01 x RMS(a)) halves the error
   * again for 2.5x the time. */
  o.ode.atol_b_rel = 100;
  o.rman = nde_rman_options_default();
  return o;
}

const char *nde_model_kind_name(int kind) {
  switch (kind) {
  case NDE_MODEL_ODENET: return "odenet";
  case NDE_MODEL_RESNET6: return "resnet6";
  case NDE_MODEL_RESNET20: return "resnet20";
  case NDE_MODEL_RESNET32: return "resnet32";
  case NDE_MODEL_RESNET44: return "resnet44";
  case NDE_MODEL_RESNET56: return "resnet56";
  default: return "unknown";
  }
}

int nde_model_kind_parse(const char *name, int *kind) {
  NDE_CHECK_NULL(name, "nde_model_kind_parse");
  NDE_CHECK_NULL(kind, "nde_model_kind_parse");
  for (int k = NDE_MODEL_ODENET; k <= NDE_MODEL_RESNET56; k++)
    if (!strcmp(name, nde_model_kind_name(k))) {
      *kind = k;
      return NDE_OK;
    }
  return nde_error(NDE_ERR_KIND,
                   "unknown model '%s' (choose odenet, resnet6, resnet20, resnet32, resnet44 or "
                   "resnet56)",
                   name);
}

void nde_model_free(nde_model *m) {
  if (!m) return;
  nde_ode_free(m->ode);
  nde_field_free(m->field);
  nde_rman_free(m->rman);
  for (int k = 1; k < m->nstem; k++) {
    nde_net_free(m->stem_rep[k]);
    free(m->stem_grad[k]);
  }
  nde_net_free(m->stem);
  for (int k = 1; k < m->nbody; k++) {
    nde_net_free(m->body_rep[k]);
    free(m->body_grad[k]);
  }
  free(m->bout);
  nde_net_free(m->body);
  for (int k = 1; k < m->nrep; k++) nde_net_free(m->odefunc_rep[k]);
  nde_net_free(m->odefunc);
  nde_net_free(m->headf);
  nde_net_free(m->linear);
  free(m->params);
  free(m->grads);
  free(m->y0);
  free(m->yT);
  free(m->gtheta);
  free(m->hT);
  free(m->dh);
  free(m->dlogits);
  free(m->dfeat);
  free(m->x);
  free(m);
}

/* Bind net to the slice of the model vector starting at *off, advance *off. */
static void bind_slice(nde_model *m, nde_net *net, size_t *off) {
  nde_net_bind(net, m->params + *off, m->grads + *off);
  *off += nde_net_num_params(net);
}

/* The option checks shared by create and the memory estimate. */
static int check_options(const nde_model_options *opt, const char *where) {
  const int pn = preact_n(opt->kind);
  if (opt->kind != NDE_MODEL_ODENET && opt->kind != NDE_MODEL_RESNET6 && !pn)
    return nde_error(NDE_ERR_KIND, "%s: unknown model kind %d", where, opt->kind);
  if (opt->nclasses < 2 || opt->width < 1 || opt->groups < 1 || opt->attractors < 0 ||
      opt->max_batch < 1)
    return nde_error(NDE_ERR_ARG,
                     "%s: need nclasses >= 2, width >= 1, groups >= 1, "
                     "attractors >= 0, max_batch >= 1 (got %d, %d, %d, %d, %d)",
                     where, opt->nclasses, opt->width, opt->groups, opt->attractors,
                     opt->max_batch);
  if (opt->threads < 0 || opt->threads > NDE_MAX_SLICES)
    return nde_error(NDE_ERR_ARG, "%s: threads %d outside [0, %d]", where, opt->threads,
                     NDE_MAX_SLICES);
  if (pn && opt->width % 4)
    return nde_error(NDE_ERR_ARG,
                     "%s: %s needs a width divisible by 4 (stages of width/4, "
                     "width/2 and width channels; got %d)",
                     where, nde_model_kind_name(opt->kind), opt->width);
  return NDE_OK;
}

/* Threads the model runs its slices on (create's rule). */
static int model_threads(const nde_model_options *opt) {
  int T = opt->threads ? opt->threads : nde_blas_threads();
  if (T > NDE_MAX_SLICES) T = NDE_MAX_SLICES;
  if (T > opt->max_batch) T = opt->max_batch;
  return T < 1 ? 1 : T;
}

/* The solver options the ODE block uses (create copies them so). */
static nde_ode_options block_ode_options(const nde_model_options *opt) {
  nde_ode_options o = opt->ode;
  o.tout = NULL;
  o.nout = 0;
  return o;
}

int nde_model_memory_estimate(const nde_model_options *opt, size_t *bytes) {
  static const char *where = "nde_model_memory_estimate";
  NDE_CHECK_NULL(bytes, where);
  *bytes = 0;
  NDE_CHECK_NULL(opt, where);
  int rc = check_options(opt, where);
  if (rc) return rc;
  const int pn = preact_n(opt->kind), B = opt->max_batch, T = model_threads(opt);
  /* The networks at batch 1 give the shapes and the memory per sample
   * without the batch-sized allocation this estimate is there to check. */
  nde_net *stem = NULL, *body = NULL, *head = NULL;
  rc = pn ? nde_net_create_preact_resnet_stem(opt->in, opt->width / 4, 1, &stem)
          : nde_net_create_odenet_stem(opt->in, opt->width, opt->groups, 1, &stem);
  nde_shape st = rc ? opt->in : nde_net_out_shape(stem);
  if (!rc && opt->kind == NDE_MODEL_ODENET)
    rc = nde_net_create_odefunc(st, opt->groups, 1, &body);
  else if (!rc && pn)
    rc = nde_net_create_preact_resnet_trunk(st, pn, 1, &body);
  else if (!rc)
    rc = nde_net_create_resnet6_body(st, opt->groups, 1, &body);
  if (!rc && pn) {
    const nde_layer_spec pool = nde_spec_avgpool();
    rc = nde_net_create(nde_net_out_shape(body), 1, &pool, 1, &head);
  } else if (!rc) {
    rc = nde_net_create_odenet_head_features(st, opt->groups, 1, &head);
  }
  if (!rc) {
    const double real = sizeof(nde_real), D = (double)nde_shape_numel(st);
    const double K = opt->nclasses, W = opt->width, in = (double)nde_shape_numel(opt->in);
    const int SC = B < STEM_CHUNK ? B : STEM_CHUNK, SB = (SC + T - 1) / T;
    const double np_body = (double)nde_net_num_params(body);
    const double np = (double)nde_net_num_params(stem) + np_body +
                      (double)nde_net_num_params(head) + (W + 1) * K + (double)opt->attractors * W;
    /* stem copies (chunk by chunk), body slices (T of ceil(B / T)), head
     * and linear layer, parameters with their gradients and per-thread
     * gradient copies, the buffers hT, dh, dlogits, dfeat, and the input
     * when the stem recomputes it */
    double b = (double)T * SB * nde_net_sample_bytes(stem);
    b += ((double)B + T) * nde_net_sample_bytes(body);
    b += (double)B * (nde_net_sample_bytes(head) + 4 * (W + K) * real);
    b += (2.0 + 2 * T) * np * real;
    b += (double)B * (2 * D + K + W) * real;
    if (B > SB * T) b += (double)B * in * real;
    if (opt->kind == NDE_MODEL_ODENET) {
      const nde_ode_options oo = block_ode_options(opt);
      size_t ob = 0;
      rc = nde_ode_memory_estimate(&oo, (size_t)D, (size_t)np_body, B, &ob);
      b += 2.0 * B * D * sizeof(double) + np_body * sizeof(double) + (double)ob; /* y0, yT, g */
    }
    *bytes = b < (double)SIZE_MAX ? (size_t)b : SIZE_MAX;
  }
  nde_net_free(stem);
  nde_net_free(body);
  nde_net_free(head);
  return rc ? nde_error_wrap(rc, "model %s: ", nde_model_kind_name(opt->kind)) : NDE_OK;
}

int nde_model_create(const nde_model_options *opt, nde_model **out) {
  NDE_CHECK_NULL(out, "nde_model_create");
  *out = NULL;
  NDE_CHECK_NULL(opt, "nde_model_create");
  const int pn = preact_n(opt->kind);
  int rc = check_options(opt, "nde_model_create");
  if (rc) return rc;
  /* Refuse a batch that cannot fit before anything batch-sized exists. */
  size_t need = 0;
  if ((rc = nde_model_memory_estimate(opt, &need))) return rc;
  char what[128];
  snprintf(what, sizeof what, "nde_model_create: %s at max_batch %d",
           nde_model_kind_name(opt->kind), opt->max_batch);
  if ((rc = nde_memory_check(need, what))) return rc;
  nde_model *m = calloc(1, sizeof *m);
  if (!m) return nde_error(NDE_ERR_NOMEM, "nde_model_create: out of memory");
  m->opt = *opt;
  m->opt.ode = block_ode_options(opt); /* the model always uses the single output time T */
  const int B = opt->max_batch;
  m->threads = model_threads(opt);
  const int T = m->threads;
  /* One stem network per thread, STEM_CHUNK samples in all (models/stem.c). */
  const int SC = B < STEM_CHUNK ? B : STEM_CHUNK, SB = (SC + T - 1) / T;
  for (m->nstem = 0; m->nstem < T && !rc; m->nstem++)
    rc = pn ? nde_net_create_preact_resnet_stem(opt->in, opt->width / 4, SB,
                                                &m->stem_rep[m->nstem])
            : nde_net_create_odenet_stem(opt->in, opt->width, opt->groups, SB,
                                         &m->stem_rep[m->nstem]);
  if (rc) m->nstem--; /* the failed one is NULL */
  m->stem = m->stem_rep[0];
  if (rc) goto fail;
  nde_shape st = nde_net_out_shape(m->stem);
  m->dim = nde_shape_numel(st);
  if (opt->kind == NDE_MODEL_ODENET) {
    /* One ODE-function network per thread, each for its slice of the batch. */
    const int FB = (B + T - 1) / T;
    for (m->nrep = 0; m->nrep < T && !rc; m->nrep++)
      rc = nde_net_create_odefunc(st, opt->groups, FB, &m->odefunc_rep[m->nrep]);
    if (rc) m->nrep--; /* the failed one is NULL */
    m->odefunc = m->odefunc_rep[0];
  } else if (pn) {
    rc = nde_net_create_preact_resnet_trunk(st, pn, B, &m->body); /* BatchNorm: one piece */
    m->body_rep[0] = m->body;
    m->nbody = rc ? 0 : 1;
  } else {
    /* One ResNet-6 body per thread, each for its slice of the batch. */
    const int RB = (B + T - 1) / T;
    for (m->nbody = 0; m->nbody < T && !rc; m->nbody++)
      rc = nde_net_create_resnet6_body(st, opt->groups, RB, &m->body_rep[m->nbody]);
    if (rc) m->nbody--; /* the failed one is NULL */
    m->body = m->body_rep[0];
  }
  if (rc) goto fail;
  if (pn) {
    const nde_layer_spec pool = nde_spec_avgpool();
    rc = nde_net_create(nde_net_out_shape(m->body), B, &pool, 1, &m->headf);
  } else {
    rc = nde_net_create_odenet_head_features(st, opt->groups, B, &m->headf);
  }
  if (rc) goto fail;
  if ((rc = nde_net_create_linear_head(opt->width, opt->nclasses, B, &m->linear))) goto fail;
  if (opt->attractors > 0 && (rc = nde_rman_create(opt->width, opt->attractors, &opt->rman, &m->rman)))
    goto fail;

  nde_net *body = m->odefunc ? m->odefunc : m->body;
  m->nparam = nde_net_num_params(m->stem) + nde_net_num_params(body) +
              nde_net_num_params(m->headf) + nde_net_num_params(m->linear) +
              (size_t)opt->attractors * opt->width;
  m->params = calloc(m->nparam, sizeof(nde_real));
  m->grads = calloc(m->nparam, sizeof(nde_real));
  size_t nd = (size_t)B * m->dim;
  m->hT = malloc(nd * sizeof(nde_real)); /* body input: also the stem's output cotangent */
  m->dh = malloc((size_t)B * nde_net_in_numel(m->headf) * sizeof(nde_real)); /* body output */
  m->dlogits = malloc((size_t)B * opt->nclasses * sizeof(nde_real));
  m->dfeat = malloc((size_t)B * opt->width * sizeof(nde_real));
  const int recompute = B > SB * m->nstem; /* some stem copy runs several chunks */
  if (recompute) m->x = malloc((size_t)B * nde_shape_numel(opt->in) * sizeof(nde_real));
  int ok = 1;
  for (int k = 1; k < m->nstem; k++)
    ok = ok && (m->stem_grad[k] = calloc(nde_net_num_params(m->stem), sizeof(nde_real)));
  for (int k = 1; k < m->nbody; k++)
    ok = ok && (m->body_grad[k] = calloc(nde_net_num_params(m->body), sizeof(nde_real)));
  if (m->body) ok = ok && (m->bout = malloc((size_t)B * nde_net_out_numel(m->body) * sizeof(nde_real)));
  if (!ok || !m->params || !m->grads || !m->hT || !m->dh || !m->dlogits || !m->dfeat ||
      (recompute && !m->x)) {
    rc = nde_error(NDE_ERR_NOMEM, "nde_model_create: out of memory for %zu parameters", m->nparam);
    goto fail;
  }
  size_t off = 0;
  for (int k = 1; k < m->nstem; k++) /* the copies share the stem's parameters */
    nde_net_bind(m->stem_rep[k], m->params, m->stem_grad[k]);
  bind_slice(m, m->stem, &off);
  m->ode_off = off;
  for (int k = 1; k < m->nrep; k++) { /* the copies share the ODE function's parameters */
    size_t o2 = off;
    bind_slice(m, m->odefunc_rep[k], &o2);
  }
  for (int k = 1; k < m->nbody; k++) /* and the body's */
    nde_net_bind(m->body_rep[k], m->params + off, m->body_grad[k]);
  bind_slice(m, body, &off);
  bind_slice(m, m->headf, &off);
  bind_slice(m, m->linear, &off);
  m->att_off = off;
  /* The networks run one after another: one scratch arena for all; the
   * copies k > 0 run beside them, one arena per thread slot. */
  nde_net *nets[] = {m->stem, m->body, m->odefunc, m->headf, m->linear};
  if ((rc = nde_net_share_scratch(nets, 5))) goto fail;
  for (int k = 1; k < T; k++) {
    nde_net *slot[] = {k < m->nstem ? m->stem_rep[k] : NULL, k < m->nrep ? m->odefunc_rep[k] : NULL,
                       k < m->nbody ? m->body_rep[k] : NULL};
    if ((rc = nde_net_share_scratch(slot, 3))) goto fail;
  }

  if (m->odefunc) {
    if ((rc = nde_field_create_net_split(m->odefunc_rep, m->nrep, &m->field))) goto fail;
    if ((rc = nde_ode_create(m->field, &m->opt.ode, B, &m->ode))) goto fail;
    m->y0 = malloc(nd * sizeof(double));
    m->yT = malloc(nd * sizeof(double));
    m->dyT = m->yT;
    m->dy0 = m->y0;
    m->gtheta = malloc(nde_net_num_params(m->odefunc) * sizeof(double));
    if (!m->y0 || !m->yT || !m->gtheta) {
      rc = nde_error(NDE_ERR_NOMEM, "nde_model_create: out of memory for the ODE block");
      goto fail;
    }
  }
  *out = m;
  return NDE_OK;
fail:
  nde_model_free(m);
  return nde_error_wrap(rc, "model %s: ", nde_model_kind_name(opt->kind));
}

const nde_model_options *nde_model_get_options(const nde_model *m) { return &m->opt; }
size_t nde_model_num_params(const nde_model *m) { return m->nparam; }
nde_real *nde_model_params(nde_model *m) { return m->params; }
nde_real *nde_model_grads(nde_model *m) { return m->grads; }
nde_ode *nde_model_ode(nde_model *m) { return m ? m->ode : NULL; }
nde_net *nde_model_odefunc(nde_model *m) { return m ? m->odefunc : NULL; }
const nde_real *nde_model_logits(const nde_model *m) { return nde_net_output(m->linear); }
const nde_real *nde_model_features(const nde_model *m) { return nde_net_output(m->headf); }

const nde_real *nde_model_attractors(const nde_model *m) {
  return m->opt.attractors > 0 ? m->params + m->att_off : NULL;
}

int nde_model_attractor_slice(const nde_model *m, size_t *offset, size_t *count) {
  NDE_CHECK_NULL(m, "nde_model_attractor_slice");
  if (offset) *offset = m->att_off;
  if (count) *count = (size_t)m->opt.attractors * m->opt.width;
  return NDE_OK;
}

/* Only the residual body can hold BatchNorm state: the stems and the
 * ODE-Net head use GroupNorm, and the CIFAR ResNets' final BatchNorm is part
 * of their body (see the top of this file). */
size_t nde_model_num_state(const nde_model *m) { return m->body ? nde_net_num_state(m->body) : 0; }

int nde_model_state(nde_model *m, nde_real **ptr, size_t *count) {
  NDE_CHECK_NULL(m, "nde_model_state");
  if (ptr) *ptr = m->body ? nde_net_state(m->body) : NULL;
  if (count) *count = nde_model_num_state(m);
  return NDE_OK;
}

int nde_model_init(nde_model *m, nde_rng *rng) {
  NDE_CHECK_NULL(m, "nde_model_init");
  NDE_CHECK_NULL(rng, "nde_model_init");
  int rc;
  if ((rc = nde_net_init(m->stem, rng))) return rc;
  if ((rc = nde_net_init(m->odefunc ? m->odefunc : m->body, rng))) return rc;
  if ((rc = nde_net_init(m->headf, rng))) return rc;
  if ((rc = nde_net_init(m->linear, rng))) return rc;
  if (m->opt.attractors > 0)
    return nde_rman_init_attractors(m->opt.attractors, m->opt.width, m->params + m->att_off, rng);
  return NDE_OK;
}

int nde_model_set_training(nde_model *m, int training) {
  NDE_CHECK_NULL(m, "nde_model_set_training");
  nde_net *nets[] = {m->stem, m->body, m->odefunc, m->headf, m->linear};
  for (int i = 0; i < 5; i++)
    if (nets[i]) nde_net_set_training(nets[i], training);
  for (int k = 1; k < m->nrep; k++) nde_net_set_training(m->odefunc_rep[k], training);
  for (int k = 1; k < m->nstem; k++) nde_net_set_training(m->stem_rep[k], training);
  for (int k = 1; k < m->nbody; k++) nde_net_set_training(m->body_rep[k], training);
  return NDE_OK;
}

int nde_model_forward(nde_model *m, int n, const nde_real *x, const int *labels, double alpha,
                      int grad, nde_model_result *res) {
  NDE_CHECK_NULL(m, "nde_model_forward");
  NDE_CHECK_NULL(x, "nde_model_forward");
  NDE_CHECK_NULL(res, "nde_model_forward");
  memset(res, 0, sizeof *res);
  m->last_n = 0;
  if (n < 1 || n > m->opt.max_batch)
    return nde_error(NDE_ERR_BATCH, "nde_model_forward: batch %d outside [1, %d]", n, m->opt.max_batch);
  int rc;
  /* The stem, its outputs gathered into the body's input: y0 (double) for
   * the ODE block, hT for the residual body (hT is free until the body's
   * output or, in backward, its input cotangent). */
  if ((rc = nde_model_stem_forward(m, n, x, grad))) return rc;
  const nde_real *hT;
  const size_t nd = (size_t)n * m->dim;
  if (m->ode) {
    rc = grad ? nde_adjoint_forward(m->ode, n, m->y0, m->yT) : nde_ode_solve(m->ode, n, m->y0, m->yT);
    if (rc) return nde_error_wrap(rc, "ODE block: ");
    for (size_t i = 0; i < nd; i++) m->hT[i] = (nde_real)m->yT[i];
    nde_ode_last_stats(m->ode, &res->fwd, NULL);
    hT = m->hT;
  } else {
    if ((rc = nde_model_body_forward(m, n, m->hT, m->bout))) return rc;
    hT = m->bout;
  }
  if ((rc = nde_net_forward(m->headf, 0, n, hT, NULL))) return nde_error_wrap(rc, "head: ");
  const nde_real *feat = nde_net_output(m->headf);
  if ((rc = nde_net_forward(m->linear, 0, n, feat, NULL))) return nde_error_wrap(rc, "linear: ");
  if (labels) {
    rc = nde_softmax_xent(n, m->opt.nclasses, nde_net_output(m->linear), labels, &res->xent,
                          grad ? m->dlogits : NULL, &res->nerr);
    if (rc) return rc;
  }
  if (m->rman) {
    nde_rman_result rr;
    rc = nde_rman_energy(m->rman, n, feat, m->params + m->att_off, alpha, NULL, NULL, &rr);
    if (rc) return nde_error_wrap(rc, "rman: ");
    res->rman_loss = labels ? rr.loss : 0;
    res->mean_energy = rr.mean_energy;
  }
  res->loss = res->xent + res->rman_loss;
  m->last_n = n;
  m->last_grad = grad && labels;
  m->last_alpha = alpha;
  return NDE_OK;
}

int nde_model_backward(nde_model *m, nde_ode_stats *bwd) {
  NDE_CHECK_NULL(m, "nde_model_backward");
  if (!m->last_n || !m->last_grad)
    return nde_error(NDE_ERR_STATE,
                     "nde_model_backward: needs a preceding nde_model_forward with labels and grad = 1");
  const int n = m->last_n;
  int rc;
  memset(m->grads, 0, m->nparam * sizeof(nde_real));
  if ((rc = nde_net_vjp(m->linear, n, m->dlogits, m->dfeat, nde_net_grads(m->linear))))
    return nde_error_wrap(rc, "linear: ");
  if (m->rman) {
    nde_rman_result rr;
    rc = nde_rman_energy(m->rman, n, nde_net_output(m->headf), m->params + m->att_off,
                         m->last_alpha, m->dfeat, m->grads + m->att_off, &rr);
    if (rc) return nde_error_wrap(rc, "rman: ");
  }
  if ((rc = nde_net_vjp(m->headf, n, m->dfeat, m->dh, nde_net_grads(m->headf))))
    return nde_error_wrap(rc, "head: ");
  const nde_real *dh0;
  nde_real *stem_in_cot = m->hT; /* the body's input cotangent reuses hT's buffer */
  if (m->ode) {
    const size_t nd = (size_t)n * m->dim, np = nde_net_num_params(m->odefunc);
    for (size_t i = 0; i < nd; i++) m->dyT[i] = m->dh[i];
    memset(m->gtheta, 0, np * sizeof(double));
    if ((rc = nde_adjoint_backward(m->ode, m->dyT, m->dy0, m->gtheta)))
      return nde_error_wrap(rc, "ODE block adjoint: ");
    nde_real *g = m->grads + m->ode_off;
    for (size_t i = 0; i < np; i++) g[i] += (nde_real)m->gtheta[i];
    for (size_t i = 0; i < nd; i++) stem_in_cot[i] = (nde_real)m->dy0[i];
    if (bwd) nde_ode_last_stats(m->ode, NULL, bwd);
  } else {
    if ((rc = nde_model_body_backward(m, n, m->dh, stem_in_cot))) return rc;
    if (bwd) memset(bwd, 0, sizeof *bwd);
  }
  dh0 = stem_in_cot;
  /* The stem's chunks in reverse, recomputed unless still held
   * (models/stem.c); vjp accumulates the parameter gradient. */
  return nde_model_stem_backward(m, n, dh0);
}
