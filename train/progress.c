/* Progress line for interactive runs: rewritten in place with "\r" and the
 * ANSI erase-to-end-of-line code (ESC [ K), so a shorter line does not leave
 * the tail of a longer one behind. Nothing is written unless the stream the
 * caller chose is a terminal: redirected logs stay free of control codes. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error_impl.h"
#include "nde/train.h"

static int is_terminal(FILE *f) {
  int fd = fileno(f);
  return fd >= 0 && isatty(fd);
}

int nde_progress(FILE *f, const char *fmt, ...) {
  NDE_CHECK_NULL(f, "nde_progress");
  NDE_CHECK_NULL(fmt, "nde_progress");
  if (!is_terminal(f)) return 0;
  va_list ap;
  va_start(ap, fmt);
  int bad = fputc('\r', f) == EOF;
  bad = bad || vfprintf(f, fmt, ap) < 0;
  va_end(ap);
  bad = bad || fputs("\033[K", f) == EOF || fflush(f) != 0;
  if (bad)
    return nde_error(NDE_ERR_IO, "nde_progress: write to terminal failed: %s", strerror(errno));
  return 1;
}

int nde_progress_done(FILE *f) {
  NDE_CHECK_NULL(f, "nde_progress_done");
  if (!is_terminal(f)) return 0;
  if (fputc('\n', f) == EOF || fflush(f) != 0)
    return nde_error(NDE_ERR_IO, "nde_progress_done: write to terminal failed: %s",
                     strerror(errno));
  return 1;
}
