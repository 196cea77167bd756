/* SUNDIALS glue: silent error handler, flag-to-status mapping, wrapper
 * failure bookkeeping, vector allocation. */
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
  ode->cbmsg[0] = '\0';
  ode->sunmsg[0] = '\0';
}

int nde_ode_rhs_status(nde_ode *ode, int rc, double t, const double *out, size_t len) {
  if (rc != 0) {
    ode->fail = NDE_FAIL_CALLBACK;
    ode->fail_rc = rc;
    ode->fail_t = t;
    if (ode->field->kind == NDE_FIELD_NET) {
      snprintf(ode->cbmsg, sizeof ode->cbmsg, "%s", nde_last_error());
      return -1; /* a network error is never recoverable */
    }
    return rc;
  }
  if (out && !nde_all_finite(out, len)) {
    /* Recoverable first: the solver cuts the step, which is what a blow-up
     * from too large a step needs. After max_nonfinite such values in one
     * integration give up for good. */
    ode->fail = NDE_FAIL_NONFINITE;
    ode->fail_t = t;
    ode->nonfinite++;
    return ode->nonfinite > ode->opt.max_nonfinite ? -1 : 1;
  }
  return 0;
}

const char *nde_flag_name(int ark, int flag, char *buf, size_t size) {
  char *name = ark ? ARKStepGetReturnFlagName(flag) : CVodeGetReturnFlagName(flag);
  snprintf(buf, size, "%s", name ? name : "?");
  free(name);
  return buf;
}

int nde_sun_fail(nde_ode *ode, const char *call, int flag, int ark, double t_reached,
                 double t_target, const char *context) {
  char flagname[48];
  nde_flag_name(ark, flag, flagname, sizeof flagname);
  int code;
  const char *why;
  switch (flag) {
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
  if (v) N_VConst(0.0, v);
  return v;
}

void nde_nvec_free(N_Vector *v) {
  if (*v) N_VDestroy(*v);
  *v = NULL;
}
