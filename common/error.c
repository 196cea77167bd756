/* Status strings and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error_impl.h"

static _Thread_local char last_msg[1024];

const char *nde_version(void) { return NDE_VERSION_STRING; }

const char *nde_strerror(int code) {
  switch (code) {
  case NDE_OK: return "success";
  case NDE_ERR_NULL: return "required pointer argument is NULL";
  case NDE_ERR_ARG: return "argument out of range";
  case NDE_ERR_SHAPE: return "shapes do not match";
  case NDE_ERR_BATCH: return "batch size outside [1, max_batch]";
  case NDE_ERR_NOMEM: return "out of memory";
  case NDE_ERR_KIND: return "unknown kind";
  case NDE_ERR_IO: return "input/output error";
  case NDE_ERR_FORMAT: return "malformed file";
  case NDE_ERR_STATE: return "call out of order";
  case NDE_ERR_SOLVER: return "ODE solver failure";
  case NDE_ERR_MAXSTEPS: return "maximum number of solver steps reached";
  case NDE_ERR_STEPSIZE: return "solver step size underflow";
  case NDE_ERR_NONFINITE: return "non-finite value (NaN or Inf)";
  case NDE_ERR_CALLBACK: return "user callback failed";
  case NDE_ERR_CHECKSUM: return "checksum mismatch";
  case NDE_ERR_NUMERIC: return "numerical routine failed";
  case NDE_ERR_DIVERGED: return "training diverged";
  default: return "unknown status code";
  }
}

const char *nde_last_error(void) { return last_msg; }

void nde_clear_error(void) { last_msg[0] = '\0'; }

int nde_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_msg, sizeof last_msg, fmt, ap);
  va_end(ap);
  return code;
}

int nde_error_wrap(int code, const char *fmt, ...) {
  char prefix[256], old[sizeof last_msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, last_msg, sizeof old);
  size_t lp = strlen(prefix), lo = strlen(old);
  if (lp > sizeof last_msg - 1) lp = sizeof last_msg - 1;
  if (lo > sizeof last_msg - 1 - lp) lo = sizeof last_msg - 1 - lp;
  memcpy(last_msg, prefix, lp);
  memcpy(last_msg + lp, old, lo);
  last_msg[lp + lo] = '\0';
  return code;
}
