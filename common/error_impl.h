/* Private to nde: recording errors with context (see nde/common.h). */
#ifndef NDE_ERROR_IMPL_H
#define NDE_ERROR_IMPL_H

#include "nde/common.h"

/* Record a formatted message for code in this thread and return code, so a
 * failing check reads: return nde_error(NDE_ERR_SHAPE, "conv2d: ...", ...). */
int nde_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the recorded message with context ("odenet stem: " + old message)
 * and return code unchanged; used when an error travels up a layer. */
int nde_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Shorthand for argument checks. */
#define NDE_CHECK_NULL(p, where)                                              \
  do {                                                                        \
    if (!(p)) return nde_error(NDE_ERR_NULL, "%s: argument '%s' is NULL", (where), #p); \
  } while (0)

#endif
