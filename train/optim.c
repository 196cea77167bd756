/* SGD (momentum, dampening, Nesterov, coupled weight decay) and Adam / AdamW
 * over one flat parameter vector, with PyTorch's update rules (see
 * nde/train.h for the formulas). State lives in one allocation made at
 * create time, so a step never allocates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_impl.h"
#include "nde/train.h"

struct nde_optim {
  nde_optim_kind kind;
  size_t n;
  nde_optim_options o;
  int64_t steps;
  nde_real *state;      /* SGD: v (n, only with momentum); Adam: m then v (2n) */
  size_t nstate;        /* values in state */
  unsigned char *decay; /* NULL: decay all; else 1 = decay, 0 = exempt (n flags) */
};

nde_optim_options nde_optim_options_default(nde_optim_kind kind) {
  nde_optim_options o;
  memset(&o, 0, sizeof o);
  if (kind == NDE_OPTIM_ADAM) {
    o.beta1 = 0.9;
    o.beta2 = 0.999;
    o.eps = 1e-8;
  }
  return o;
}

const char *nde_optim_kind_name(int kind) {
  switch (kind) {
  case NDE_OPTIM_SGD: return "sgd";
  case NDE_OPTIM_ADAM: return "adam";
  default: return "unknown";
  }
}

/* isfinite on a value that must also lie in [lo, hi) or [lo, hi]. */
static int in_range(double x, double lo, double hi, int hi_closed) {
  return isfinite(x) && x >= lo && (hi_closed ? x <= hi : x < hi);
}

static int check_options(nde_optim_kind kind, const nde_optim_options *o) {
  if (!in_range(o->weight_decay, 0, INFINITY, 0))
    return nde_error(NDE_ERR_ARG, "optim %s: weight_decay %g must be finite and >= 0",
                     nde_optim_kind_name(kind), o->weight_decay);
  if (kind == NDE_OPTIM_SGD) {
    if (!in_range(o->momentum, 0, 1, 0))
      return nde_error(NDE_ERR_ARG, "optim sgd: momentum %g outside [0, 1)", o->momentum);
    if (!in_range(o->dampening, 0, 1, 1))
      return nde_error(NDE_ERR_ARG, "optim sgd: dampening %g outside [0, 1]", o->dampening);
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
      return nde_error(NDE_ERR_ARG,
                       "optim sgd: Nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                       o->momentum, o->dampening);
  } else {
    if (!in_range(o->beta1, 0, 1, 0) || !in_range(o->beta2, 0, 1, 0))
      return nde_error(NDE_ERR_ARG, "optim adam: betas (%g, %g) outside [0, 1)", o->beta1,
                       o->beta2);
    if (!(isfinite(o->eps) && o->eps > 0))
      return nde_error(NDE_ERR_ARG, "optim adam: eps %g must be finite and > 0", o->eps);
  }
  return NDE_OK;
}

int nde_optim_create(nde_optim_kind kind, size_t n, const nde_optim_options *opts,
                     nde_optim **out) {
  NDE_CHECK_NULL(out, "nde_optim_create");
  *out = NULL;
  if (kind != NDE_OPTIM_SGD && kind != NDE_OPTIM_ADAM)
    return nde_error(NDE_ERR_KIND, "nde_optim_create: unknown optimizer kind %d", (int)kind);
  if (n == 0)
    return nde_error(NDE_ERR_ARG, "nde_optim_create: %s over 0 parameters",
                     nde_optim_kind_name(kind));
  nde_optim_options o = opts ? *opts : nde_optim_options_default(kind);
  int rc = check_options(kind, &o);
  if (rc) return rc;
  if (n > SIZE_MAX / (2 * sizeof(nde_real)))
    return nde_error(NDE_ERR_ARG, "nde_optim_create: %zu parameters overflow the state size", n);
  size_t nstate = kind == NDE_OPTIM_ADAM ? 2 * n : (o.momentum > 0 ? n : 0);
  nde_optim *opt = calloc(1, sizeof *opt);
  if (!opt) return nde_error(NDE_ERR_NOMEM, "nde_optim_create: no memory for the optimizer");
  if (nstate) {
    opt->state = calloc(nstate, sizeof(nde_real));
    if (!opt->state) {
      free(opt);
      return nde_error(NDE_ERR_NOMEM, "nde_optim_create: no memory for %zu state values", nstate);
    }
  }
  opt->kind = kind;
  opt->n = n;
  opt->o = o;
  opt->nstate = nstate;
  *out = opt;
  return NDE_OK;
}

void nde_optim_free(nde_optim *opt) {
  if (!opt) return;
  free(opt->state);
  free(opt->decay);
  free(opt);
}

/* Coupled weight decay of parameter i: g' = g + wd p (0 for exempt ones). */
static inline double decay_of(const nde_optim *opt, size_t i, double wd) {
  return (opt->decay && !opt->decay[i]) ? 0.0 : wd;
}

static void sgd_step(nde_optim *opt, nde_real *p, const nde_real *g, double lr) {
  const double wd = opt->o.weight_decay, mu = opt->o.momentum;
  const double keep = 1.0 - opt->o.dampening;
  const int first = opt->steps == 0, nesterov = opt->o.nesterov;
  nde_real *v = opt->state;
  for (size_t i = 0; i < opt->n; i++) {
    double gi = (double)g[i] + decay_of(opt, i, wd) * (double)p[i];
    double d = gi;
    if (mu > 0) {
      /* PyTorch starts the buffer at the first (undamped) gradient. */
      double vi = first ? gi : mu * (double)v[i] + keep * gi;
      v[i] = (nde_real)vi;
      d = nesterov ? gi + mu * vi : vi;
    }
    p[i] = (nde_real)((double)p[i] - lr * d);
  }
}

static void adam_step(nde_optim *opt, nde_real *p, const nde_real *g, double lr) {
  const double b1 = opt->o.beta1, b2 = opt->o.beta2, eps = opt->o.eps;
  const double wd = opt->o.weight_decay;
  const double t = (double)opt->steps + 1;
  /* Bias corrections: E[m_t] = (1 - b1^t) E[g] for a stationary gradient. */
  const double step_size = lr / (1.0 - pow(b1, t));
  const double sqrt_bc2 = sqrt(1.0 - pow(b2, t));
  nde_real *m = opt->state, *v = opt->state + opt->n;
  for (size_t i = 0; i < opt->n; i++) {
    double pi = (double)p[i], gi = (double)g[i];
    double wdi = decay_of(opt, i, wd);
    if (opt->o.decoupled)
      pi *= 1.0 - lr * wdi; /* AdamW: decay the weights, not the gradient */
    else
      gi += wdi * pi;
    double mi = b1 * (double)m[i] + (1.0 - b1) * gi;
    double vi = b2 * (double)v[i] + (1.0 - b2) * gi * gi;
    m[i] = (nde_real)mi;
    v[i] = (nde_real)vi;
    p[i] = (nde_real)(pi - step_size * mi / (sqrt(vi) / sqrt_bc2 + eps));
  }
}

int nde_optim_step(nde_optim *opt, nde_real *p, const nde_real *g, double lr) {
  NDE_CHECK_NULL(opt, "nde_optim_step");
  NDE_CHECK_NULL(p, "nde_optim_step");
  NDE_CHECK_NULL(g, "nde_optim_step");
  if (!(isfinite(lr) && lr >= 0))
    return nde_error(NDE_ERR_ARG, "nde_optim_step (%s): learning rate %g must be finite and >= 0",
                     nde_optim_kind_name(opt->kind), lr);
  if ((const nde_real *)p == g)
    return nde_error(NDE_ERR_ARG,
                     "nde_optim_step (%s): parameters and gradient are the same "
                     "buffer",
                     nde_optim_kind_name(opt->kind));
  if (opt->kind == NDE_OPTIM_SGD)
    sgd_step(opt, p, g, lr);
  else
    adam_step(opt, p, g, lr);
  opt->steps++;
  return NDE_OK;
}

int nde_optim_set_decay_mask(nde_optim *opt, const unsigned char *mask) {
  NDE_CHECK_NULL(opt, "nde_optim_set_decay_mask");
  if (!mask) {
    free(opt->decay);
    opt->decay = NULL;
    return NDE_OK;
  }
  if (!opt->decay) {
    opt->decay = malloc(opt->n);
    if (!opt->decay)
      return nde_error(NDE_ERR_NOMEM, "nde_optim_set_decay_mask: no memory for %zu flags", opt->n);
  }
  for (size_t i = 0; i < opt->n; i++) opt->decay[i] = mask[i] ? 1 : 0;
  return NDE_OK;
}

int nde_optim_exclude_decay(nde_optim *opt, size_t offset, size_t count) {
  NDE_CHECK_NULL(opt, "nde_optim_exclude_decay");
  if (offset > opt->n || count > opt->n - offset)
    return nde_error(NDE_ERR_ARG,
                     "nde_optim_exclude_decay: range [%zu, %zu + %zu) outside the %zu parameters",
                     offset, offset, count, opt->n);
  if (!opt->decay) {
    opt->decay = malloc(opt->n);
    if (!opt->decay)
      return nde_error(NDE_ERR_NOMEM, "nde_optim_exclude_decay: no memory for %zu flags", opt->n);
    memset(opt->decay, 1, opt->n);
  }
  memset(opt->decay + offset, 0, count);
  return NDE_OK;
}

nde_optim_kind nde_optim_get_kind(const nde_optim *opt) {
  return opt ? opt->kind : (nde_optim_kind)0;
}

size_t nde_optim_size(const nde_optim *opt) { return opt ? opt->n : 0; }

nde_optim_options nde_optim_get_options(const nde_optim *opt) {
  if (opt) return opt->o;
  nde_optim_options o;
  memset(&o, 0, sizeof o);
  return o;
}

int nde_optim_state(nde_optim *opt, nde_real **state, size_t *count) {
  NDE_CHECK_NULL(opt, "nde_optim_state");
  NDE_CHECK_NULL(state, "nde_optim_state");
  NDE_CHECK_NULL(count, "nde_optim_state");
  *state = opt->state;
  *count = opt->nstate;
  return NDE_OK;
}

int64_t nde_optim_steps(const nde_optim *opt) { return opt ? opt->steps : 0; }

int nde_optim_set_steps(nde_optim *opt, int64_t steps) {
  NDE_CHECK_NULL(opt, "nde_optim_set_steps");
  if (steps < 0)
    return nde_error(NDE_ERR_ARG, "nde_optim_set_steps: step count %lld is negative",
                     (long long)steps);
  opt->steps = steps;
  return NDE_OK;
}

void nde_optim_reset(nde_optim *opt) {
  if (!opt) return;
  if (opt->state) memset(opt->state, 0, opt->nstate * sizeof(nde_real));
  opt->steps = 0;
}
