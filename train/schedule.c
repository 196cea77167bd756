/* Per-epoch learning-rate schedules as closed forms of PyTorch's StepLR,
 * MultiStepLR and CosineAnnealingLR (see nde/train.h), so the rate of any
 * epoch is known without replaying the schedule: resuming at epoch e gives
 * exactly the rate an uninterrupted run would have used. */
#include <math.h>
#include <string.h>

#include "common/error_impl.h"
#include "nde/train.h"

static const char *sched_name(int kind) {
  switch (kind) {
  case NDE_SCHED_CONSTANT: return "constant";
  case NDE_SCHED_STEP: return "step";
  case NDE_SCHED_MULTISTEP: return "multistep";
  case NDE_SCHED_COSINE: return "cosine";
  default: return "unknown";
  }
}

int nde_schedule_check(const nde_schedule *s) {
  NDE_CHECK_NULL(s, "nde_schedule_check");
  const char *nm = sched_name(s->kind);
  if (!strcmp(nm, "unknown")) return nde_error(NDE_ERR_KIND, "schedule: unknown kind %d", s->kind);
  if (!(isfinite(s->base_lr) && s->base_lr > 0))
    return nde_error(NDE_ERR_ARG, "schedule %s: base lr %g must be finite and > 0", nm, s->base_lr);
  if (s->kind == NDE_SCHED_STEP || s->kind == NDE_SCHED_MULTISTEP) {
    if (!(isfinite(s->gamma) && s->gamma > 0 && s->gamma <= 1))
      return nde_error(NDE_ERR_ARG, "schedule %s: gamma %g outside (0, 1]", nm, s->gamma);
  }
  if (s->kind == NDE_SCHED_STEP && s->step_size < 1)
    return nde_error(NDE_ERR_ARG, "schedule step: step size %d must be >= 1", s->step_size);
  if (s->kind == NDE_SCHED_MULTISTEP) {
    if (s->n_milestones < 0 || s->n_milestones > NDE_SCHED_MAX_MILESTONES)
      return nde_error(NDE_ERR_ARG, "schedule multistep: %d milestones, at most %d",
                       s->n_milestones, NDE_SCHED_MAX_MILESTONES);
    for (int i = 0; i < s->n_milestones; i++) {
      if (s->milestones[i] < 0 || (i > 0 && s->milestones[i] <= s->milestones[i - 1]))
        return nde_error(NDE_ERR_ARG,
                         "schedule multistep: milestone %d (%d) must be >= 0 and greater than "
                         "the previous one",
                         i, s->milestones[i]);
    }
  }
  if (s->kind == NDE_SCHED_COSINE) {
    if (s->t_max < 1)
      return nde_error(NDE_ERR_ARG, "schedule cosine: period %d must be >= 1", s->t_max);
    if (!(isfinite(s->lr_min) && s->lr_min >= 0 && s->lr_min <= s->base_lr))
      return nde_error(NDE_ERR_ARG, "schedule cosine: lr_min %g outside [0, base lr %g]", s->lr_min,
                       s->base_lr);
  }
  return NDE_OK;
}

/* Start from a zeroed struct so unused fields hold no garbage. */
static void clear(nde_schedule *s, int kind, double base_lr) {
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->base_lr = base_lr;
  s->gamma = 1;
}

int nde_schedule_constant(nde_schedule *s, double base_lr) {
  NDE_CHECK_NULL(s, "nde_schedule_constant");
  clear(s, NDE_SCHED_CONSTANT, base_lr);
  return nde_schedule_check(s);
}

int nde_schedule_step(nde_schedule *s, double base_lr, int step_size, double gamma) {
  NDE_CHECK_NULL(s, "nde_schedule_step");
  clear(s, NDE_SCHED_STEP, base_lr);
  s->step_size = step_size;
  s->gamma = gamma;
  return nde_schedule_check(s);
}

int nde_schedule_multistep(nde_schedule *s, double base_lr, const int *milestones, int n,
                           double gamma) {
  NDE_CHECK_NULL(s, "nde_schedule_multistep");
  if (n > 0) NDE_CHECK_NULL(milestones, "nde_schedule_multistep");
  clear(s, NDE_SCHED_MULTISTEP, base_lr);
  s->gamma = gamma;
  s->n_milestones = n;
  if (n < 0 || n > NDE_SCHED_MAX_MILESTONES)
    return nde_schedule_check(s); /* reports the count before anything is copied */
  for (int i = 0; i < n; i++) s->milestones[i] = milestones[i];
  return nde_schedule_check(s);
}

int nde_schedule_cosine(nde_schedule *s, double base_lr, int t_max, double lr_min) {
  NDE_CHECK_NULL(s, "nde_schedule_cosine");
  clear(s, NDE_SCHED_COSINE, base_lr);
  s->t_max = t_max;
  s->lr_min = lr_min;
  return nde_schedule_check(s);
}

double nde_lr_at(const nde_schedule *s, int epoch) {
  if (!s || nde_schedule_check(s) != NDE_OK) return NAN;
  if (epoch < 0) epoch = 0;
  switch (s->kind) {
  case NDE_SCHED_STEP: return s->base_lr * pow(s->gamma, (double)(epoch / s->step_size));
  case NDE_SCHED_MULTISTEP: {
    int k = 0;
    while (k < s->n_milestones && s->milestones[k] <= epoch) k++;
    return s->base_lr * pow(s->gamma, (double)k);
  }
  case NDE_SCHED_COSINE: {
    int e = epoch < s->t_max ? epoch : s->t_max;
    const double pi = 3.14159265358979323846;
    return s->lr_min + (s->base_lr - s->lr_min) * 0.5 * (1.0 + cos(pi * e / s->t_max));
  }
  default: return s->base_lr;
  }
}
