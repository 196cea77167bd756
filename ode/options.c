/* Solver options: defaults, names, validation, fixed-step grids. */
#include <math.h>
#include <string.h>

#include "ode/ode_impl.h"

nde_ode_options nde_ode_options_default(void) {
  nde_ode_options o;
  memset(&o, 0, sizeof o);
  o.method = NDE_ODE_ADAMS;
  o.batch_mode = NDE_BATCH_JOINT;
  /* The ODE-Net solves at rtol = atol = 1e-3 (docs/methods.md section 1). */
  o.rtol = 1e-3;
  o.atol = 1e-3;
  o.max_steps = 10000;
  o.fixed_h = 0.1;
  o.t0 = 0;
  o.T = 1;
  o.max_nonfinite = 20;
  o.adjoint = NDE_ADJ_CHECKPOINT;
  o.interp = NDE_INTERP_HERMITE;
  o.checkpoint_steps = 100;
  o.seminorm = NDE_SEMINORM_PARAMS;
  return o;
}

static const char *const method_names[] = {"adams", "bdf", "dopri5", "bosh3", "euler", "rk4"};
static const char *const adjoint_names[] = {"checkpoint", "backsolve", "direct", "none"};
#define NMETHODS ((int)(sizeof method_names / sizeof method_names[0]))
#define NADJOINTS ((int)(sizeof adjoint_names / sizeof adjoint_names[0]))

const char *nde_ode_method_name(int method) {
  return method >= 0 && method < NMETHODS ? method_names[method] : "unknown";
}

const char *nde_adjoint_kind_name(int kind) {
  return kind >= 0 && kind < NADJOINTS ? adjoint_names[kind] : "unknown";
}

int nde_ode_method_parse(const char *name, int *method) {
  NDE_CHECK_NULL(name, "nde_ode_method_parse");
  NDE_CHECK_NULL(method, "nde_ode_method_parse");
  for (int i = 0; i < NMETHODS; i++)
    if (strcmp(name, method_names[i]) == 0) {
      *method = i;
      return NDE_OK;
    }
  return nde_error(NDE_ERR_KIND,
                   "unknown ODE method '%s' (adams, bdf, dopri5, bosh3, euler, rk4)", name);
}

int nde_adjoint_kind_parse(const char *name, int *kind) {
  NDE_CHECK_NULL(name, "nde_adjoint_kind_parse");
  NDE_CHECK_NULL(kind, "nde_adjoint_kind_parse");
  for (int i = 0; i < NADJOINTS; i++)
    if (strcmp(name, adjoint_names[i]) == 0) {
      *kind = i;
      return NDE_OK;
    }
  return nde_error(NDE_ERR_KIND, "unknown adjoint '%s' (checkpoint, backsolve, direct, none)",
                   name);
}

static int is_cvodes(int m) { return m == NDE_ODE_ADAMS || m == NDE_ODE_BDF; }
static int is_fixed(int m) { return m == NDE_ODE_EULER || m == NDE_ODE_RK4; }

int nde_adjoint_supported(int method, int adjoint) {
  if (method < 0 || method >= NMETHODS)
    return nde_error(NDE_ERR_KIND, "unknown ODE method %d", method);
  if (adjoint < 0 || adjoint >= NADJOINTS)
    return nde_error(NDE_ERR_KIND, "unknown adjoint kind %d", adjoint);
  const char *mn = method_names[method], *an = adjoint_names[adjoint];
  if (adjoint == NDE_ADJ_NONE || adjoint == NDE_ADJ_BACKSOLVE) return NDE_OK;
  if (adjoint == NDE_ADJ_CHECKPOINT && !is_cvodes(method))
    return nde_error(NDE_ERR_ARG,
                     "adjoint '%s' is not available for method '%s': the checkpointed adjoint "
                     "needs CVODES (adams, bdf); use 'backsolve'%s",
                     an, mn, is_fixed(method) ? " or 'direct'" : "");
  if (adjoint == NDE_ADJ_DIRECT && !is_fixed(method))
    return nde_error(NDE_ERR_ARG,
                     "adjoint '%s' is not available for method '%s': direct backpropagation "
                     "needs a fixed-step method (euler, rk4); use %s",
                     an, mn, is_cvodes(method) ? "'checkpoint' or 'backsolve'" : "'backsolve'");
  return NDE_OK;
}

/* Steps of one output leg of length len: ceil(len / fixed_h), at least 1.
 * The small slack keeps 1.0 / 0.1 from becoming 11 steps. In double, so
 * that a tiny fixed_h gives a huge (or infinite) count instead of an
 * overflowing conversion. */
static double leg_steps(double len, double fixed_h) {
  double s = ceil(len / fixed_h - 1e-9);
  return s < 1 ? 1 : s;
}

/* Only called on options nde_ode_check_options accepted: every count, and
 * their sum, is then at most max_steps, so the conversions are exact. */
long nde_fixed_leg_steps(const nde_ode_options *o, const double *tout, int nout, long *steps) {
  long total = 0;
  for (int k = 0; k < nout; k++) {
    double a = k == 0 ? o->t0 : tout[k - 1];
    long sk = (long)leg_steps(tout[k] - a, o->fixed_h);
    if (steps) steps[k] = sk;
    total += sk;
  }
  return total;
}

/* The fixed-step count summed over the output legs, refused (NDE_ERR_MAXSTEPS)
 * beyond max_steps: a count that no long holds (fixed_h = 1e-300 asks for
 * 1e300 steps) must never reach the stepper or the direct adjoint's store. */
double nde_fixed_steps_needed(const nde_ode_options *o) {
  const double *tout = o->nout ? o->tout : &o->T;
  const int nout = o->nout ? o->nout : 1;
  double total = 0;
  for (int k = 0; k < nout; k++)
    total += leg_steps(tout[k] - (k == 0 ? o->t0 : tout[k - 1]), o->fixed_h);
  return total;
}

static int check_fixed_steps(const nde_ode_options *o, const char *w) {
  const double total = nde_fixed_steps_needed(o);
  if (!(total <= (double)o->max_steps) || !(total < 0x1p63))
    return nde_error(NDE_ERR_MAXSTEPS,
                     "%s: '%s' with fixed_h = %g needs %.6g steps on [%g, %g], more than "
                     "max_steps = %ld",
                     w, method_names[o->method], o->fixed_h, total, o->t0, o->T, o->max_steps);
  return NDE_OK;
}

/* Every real-valued option must be finite: an infinite tolerance or step
 * makes the solvers accept anything (rtol = atol = inf "solved" y' = -y in
 * one step with status 0). */
static int check_finite_options(const nde_ode_options *o, const char *w) {
  const struct {
    const char *name;
    double v;
  } opts[] = {{"rtol", o->rtol}, {"atol", o->atol}, {"rtol_b", o->rtol_b}, {"atol_b", o->atol_b},
              {"h0", o->h0},     {"hmin", o->hmin}, {"hmax", o->hmax},     {"fixed_h", o->fixed_h},
              {"t0", o->t0},     {"T", o->T}};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (!isfinite(opts[i].v))
      return nde_error(NDE_ERR_ARG, "%s: %s = %g must be a finite number", w, opts[i].name,
                       opts[i].v);
  return NDE_OK;
}

int nde_ode_check_options(const nde_ode_options *o, const nde_field *field) {
  const char *w = "nde_ode_create";
  int rc = nde_ode_check_values(o, w);
  if (rc) return rc;
  if (o->adjoint != NDE_ADJ_NONE && !nde_field_has_vjp(field))
    return nde_error(NDE_ERR_ARG,
                     "%s: adjoint '%s' needs a vector-Jacobian product but the user field has no "
                     "vjp callback (use adjoint 'none' to only solve)",
                     w, adjoint_names[o->adjoint]);
  return NDE_OK;
}

int nde_ode_check_values(const nde_ode_options *o, const char *w) {
  if (o->method < 0 || o->method >= NMETHODS)
    return nde_error(NDE_ERR_KIND, "%s: unknown method %d", w, o->method);
  if (o->batch_mode != NDE_BATCH_JOINT && o->batch_mode != NDE_BATCH_PER_SAMPLE)
    return nde_error(NDE_ERR_ARG, "%s: batch_mode %d is neither joint (0) nor per-sample (1)", w,
                     o->batch_mode);
  int rc = check_finite_options(o, w);
  if (rc) return rc;
  if (!(o->T > o->t0))
    return nde_error(NDE_ERR_ARG, "%s: need finite t0 < T, got t0 = %g, T = %g", w, o->t0, o->T);
  if (is_fixed(o->method)) {
    if (!(o->fixed_h > 0))
      return nde_error(NDE_ERR_ARG, "%s: fixed_h = %g must be > 0 for '%s'", w, o->fixed_h,
                       method_names[o->method]);
  } else if (!(o->rtol >= 0) || !(o->atol >= 0) || (o->rtol == 0 && o->atol == 0)) {
    return nde_error(NDE_ERR_ARG, "%s: tolerances rtol = %g, atol = %g must be >= 0, not both 0",
                     w, o->rtol, o->atol);
  }
  if (!(o->rtol_b >= 0) || !(o->atol_b >= 0) || !(o->atol_b_rel >= 0) || isinf(o->rtol_b) ||
      isinf(o->atol_b) || isinf(o->atol_b_rel))
    return nde_error(NDE_ERR_ARG,
                     "%s: backward tolerances rtol_b = %g, atol_b = %g, atol_b_rel = %g must be "
                     "finite and >= 0",
                     w, o->rtol_b, o->atol_b, o->atol_b_rel);
  if (o->max_steps < 1)
    return nde_error(NDE_ERR_ARG, "%s: max_steps = %ld must be >= 1", w, o->max_steps);
  if (o->h0 < 0 || o->hmin < 0 || o->hmax < 0 || (o->hmax > 0 && o->hmin > o->hmax))
    return nde_error(NDE_ERR_ARG, "%s: step sizes h0 = %g, hmin = %g, hmax = %g are invalid", w,
                     o->h0, o->hmin, o->hmax);
  if (o->nout < 0 || (o->nout > 0 && !o->tout))
    return nde_error(NDE_ERR_ARG, "%s: nout = %d with %s output times", w, o->nout,
                     o->tout ? "given" : "no");
  for (int k = 0; k < o->nout; k++) {
    double prev = k == 0 ? o->t0 : o->tout[k - 1];
    if (!(o->tout[k] > prev))
      return nde_error(NDE_ERR_ARG, "%s: output time tout[%d] = %g is not after %g", w, k,
                       o->tout[k], prev);
  }
  if (o->nout > 0 && o->tout[o->nout - 1] != o->T)
    return nde_error(NDE_ERR_ARG, "%s: the last output time %g must equal T = %g", w,
                     o->tout[o->nout - 1], o->T);
  if (o->gmres_maxl < 0 || o->max_nonfinite < 0 || o->checkpoint_steps < 1)
    return nde_error(NDE_ERR_ARG,
                     "%s: gmres_maxl = %d, max_nonfinite = %d, checkpoint_steps = %ld out of range",
                     w, o->gmres_maxl, o->max_nonfinite, o->checkpoint_steps);
  if (o->interp != NDE_INTERP_HERMITE && o->interp != NDE_INTERP_POLYNOMIAL)
    return nde_error(NDE_ERR_ARG, "%s: interp %d is neither Hermite (0) nor polynomial (1)", w,
                     o->interp);
  if (!(o->eta_fixed_max == 0 || o->eta_fixed_max > 1) || !isfinite(o->eta_fixed_max))
    return nde_error(NDE_ERR_ARG, "%s: eta_fixed_max %g must be > 1, or 0 for CVODES's 1.5", w,
                     o->eta_fixed_max);
  if (!(o->nls_coef >= 0) || !isfinite(o->nls_coef))
    return nde_error(NDE_ERR_ARG, "%s: nls_coef %g must be finite and >= 0 (0: CVODES's 0.1)", w,
                     o->nls_coef);
  if (o->seminorm < NDE_SEMINORM_NONE || o->seminorm > NDE_SEMINORM_PARAMS_STATE)
    return nde_error(NDE_ERR_ARG, "%s: seminorm %d out of range [0, 2]", w, o->seminorm);
  if (o->seminorm == NDE_SEMINORM_PARAMS_STATE && o->adjoint == NDE_ADJ_BACKSOLVE &&
      is_cvodes(o->method))
    return nde_error(NDE_ERR_ARG,
                     "%s: seminorm 'params+state' needs an explicit method (dopri5, bosh3): "
                     "CVODES tests nonlinear-solver convergence in the error norm, which must "
                     "then see the state; use seminorm 'params' with '%s'",
                     w, method_names[o->method]);
  rc = nde_adjoint_supported(o->method, o->adjoint);
  if (rc) return nde_error_wrap(rc, "%s: ", w);
  if (is_fixed(o->method)) return check_fixed_steps(o, w);
  return NDE_OK;
}
