/* Reading files through zlib, which passes plain files through unchanged, so
 * every reader accepts both gzip-compressed and uncompressed data. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error_impl.h"
#include "data/data_impl.h"

int data_read_all(const char *path, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f)
    return nde_error(NDE_ERR_IO, "cannot open '%s': %s", path,
                     errno ? strerror(errno) : "zlib could not allocate its state");
  size_t cap = (size_t)1 << 20, n = 0;
  uint8_t *b = malloc(cap);
  if (!b) {
    gzclose(f);
    return nde_error(NDE_ERR_NOMEM, "'%s': no memory for the read buffer", path);
  }
  for (;;) {
    if (n == cap) {
      if (cap >= NDE_DATA_MAX_BYTES) {
        free(b);
        gzclose(f);
        return nde_error(NDE_ERR_FORMAT, "'%s': larger than %zu bytes", path, NDE_DATA_MAX_BYTES);
      }
      uint8_t *nb = realloc(b, cap * 2);
      if (!nb) {
        free(b);
        gzclose(f);
        return nde_error(NDE_ERR_NOMEM, "'%s': no memory to grow the read buffer to %zu bytes",
                         path, cap * 2);
      }
      b = nb;
      cap *= 2;
    }
    size_t want = cap - n;
    if (want > (size_t)INT_MAX) want = (size_t)INT_MAX;
    int got = gzread(f, b + n, (unsigned)want);
    if (got < 0) {
      int errnum = 0;
      const char *msg = gzerror(f, &errnum);
      int rc = nde_error(NDE_ERR_IO, "'%s': read failed after %zu bytes: %s", path, n,
                         errnum == Z_ERRNO ? strerror(errno) : msg);
      free(b);
      gzclose(f);
      return rc;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  /* A gzip stream cut short reads as a clean end on some zlib versions and
     as an error on others; gzclose_r reports Z_BUF_ERROR in the first case. */
  int zrc = gzclose(f);
  if (zrc != Z_OK) {
    free(b);
    return nde_error(NDE_ERR_IO, "'%s': gzip stream ends early or is corrupt (zlib code %d)", path,
                     zrc);
  }
  *buf = b;
  *len = n;
  return NDE_OK;
}
