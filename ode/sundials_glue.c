/* SUNDIALS glue: silent error handler, flag-to-status mapping, wrapper
 * failure bookkeeping, vector allocation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ode/ode_impl.h"

void nde_sun_errhandler(int code, const char *module, const char *function, char *msg,
                        void *eh_data) {
  nde_ode *ode = eh_data;
  /* CV_WARNING == ARK_WARNING == 99: e.g. "t + h = t"; the step-size and
   * step-count failures they foreshadow are reported through return flags. */
  if (code == CV_WARNING) return;
  snprintf(ode->sunmsg, sizeof ode->sunmsg, "%s %s: %s", module ? module : "SUNDIALS",
           function ? function : "?", msg ? msg : "");
}

void nde_ode_reset_fail(nde_ode *ode) {
  ode->fail = NDE_FAIL_NONE;
  ode->fail_rc = 0;
  ode->fail_t = 0;
  ode->nonfinite = 0;
  ode->nrecover = 0;
  ode->fatal = 0;
  ode->cbmsg[0] = '\0';
  ode->sunmsg[0] = '\0';
}

int nde_ode_rhs_status(nde_ode *ode, int rc, double t, const double *out, size_t len) {
  if (rc == 0 && (!out || nde_all_finite(out, len))) return 0;
  ode->fail_t = t;
  if (rc != 0) {
    ode->fail = NDE_FAIL_CALLBACK;
    ode->fail_rc = rc;
    if (ode->field->kind == NDE_FIELD_NET) {
      /* a network error (shape, batch, ...) is never recoverable */
      snprintf(ode->cbmsg, sizeof ode->cbmsg, "%s", nde_last_error());
      return ode->fatal = -1;
    }
    if (rc < 0) return ode->fatal = rc;
  } else {
    ode->fail = NDE_FAIL_NONFINITE;
    ode->nonfinite++;
  }
  /* Recoverable first: the solver cuts the step, which is what a blow-up
   * from too large a step needs. */
  if (++ode->nrecover > ode->opt.max_nonfinite) return ode->fatal = -1;
  return rc > 0 ? rc : 1;
}

const char *nde_flag_name(int ark, int flag, char *buf, size_t size) {
  char *name = ark ? ARKStepGetReturnFlagName(flag) : CVodeGetReturnFlagName(flag);
  snprintf(buf, size, "%s", name ? name : "?");
  free(name);
  return buf;
}

int nde_sun_fail(nde_ode *ode, const char *call, int flag, int ark, double t_reached,
                 double t_target, const char *context) {
  return nde_sun_fail_h(ode, call, flag, ark, t_reached, t_target, 0, context);
}

int nde_sun_fail_h(nde_ode *ode, const char *call, int flag, int ark, double t_reached,
                   double t_target, double hcur, const char *context) {
  char flagname[48];
  nde_flag_name(ark, flag, flagname, sizeof flagname);
  int code;
  const char *why;
  /* Once the wrappers gave up, SUNDIALS's flag only tells how it noticed. */
  int gave_up = ode->fatal != 0;
  if (!gave_up && flag == CV_CONV_FAILURE && ode->opt.hmin > 0 &&
      fabs(hcur) <= ode->opt.hmin * (1 + 1e-10))
    flag = CV_ERR_FAILURE; /* the same verdict: nothing left to cut */
  switch (gave_up ? 0 : flag) {
  case CV_TOO_MUCH_WORK: /* == ARK_TOO_MUCH_WORK */
    code = NDE_ERR_MAXSTEPS;
    why = "maximum number of steps reached";
    break;
  case CV_TOO_MUCH_ACC:  /* == ARK_TOO_MUCH_ACC */
  case CV_ERR_FAILURE:   /* == ARK_ERR_FAILURE: error test failed repeatedly or at hmin */
    code = NDE_ERR_STEPSIZE;
    why = "step size underflow (too much accuracy requested or error test failing at the "
          "smallest step)";
    break;
  default:
    if (ode->fail == NDE_FAIL_NONFINITE) {
      code = NDE_ERR_NONFINITE;
      why = "the right-hand side kept producing NaN/Inf";
    } else if (ode->fail == NDE_FAIL_CALLBACK) {
      code = NDE_ERR_CALLBACK;
      why = ode->field->kind == NDE_FIELD_NET ? "the network failed" : "a user callback failed";
    } else {
      code = NDE_ERR_SOLVER;
      why = "solver failure";
    }
  }
  char extra[480] = "";
  if (ode->fail == NDE_FAIL_CALLBACK)
    snprintf(extra, sizeof extra, "; callback returned %d at t = %g%s%s", ode->fail_rc,
             ode->fail_t, ode->cbmsg[0] ? ": " : "", ode->cbmsg);
  else if (ode->fail == NDE_FAIL_NONFINITE)
    snprintf(extra, sizeof extra, "; %d non-finite right-hand sides, the last at t = %g",
             ode->nonfinite, ode->fail_t);
  return nde_error(code, "%s (%s): %s returned %s at t = %.10g (target %g): %s%s%s%s", context,
                   nde_ode_method_name(ode->opt.method), call, flagname,
                   t_reached, t_target, why, extra, ode->sunmsg[0] ? " | " : "", ode->sunmsg);
}

N_Vector nde_nvec(nde_ode *ode, size_t len) {
  N_Vector v = N_VNew_Serial((sunindextype)len, ode->ctx);
  if (!v) return NULL;
  nde_nvec_use_fast_ops(v, 1);
  N_VConst(0.0, v);
  return v;
}

N_Vector nde_nvec_clone(N_Vector w) {
  /* N_VClone itself (SUNDIALS 6) stores the context into the clone before
   * looking at it, so a failed allocation would crash there. */
  N_Vector v = w->ops->nvclone(w);
  if (v) v->sunctx = w->sunctx;
  return v;
}

void nde_nvec_free(N_Vector *v) {
  if (*v) N_VDestroy(*v);
  *v = NULL;
}
