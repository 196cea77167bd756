/* Private to data/: whole-file reading through zlib (gzip or plain). */
#ifndef NDE_DATA_IMPL_H
#define NDE_DATA_IMPL_H

#include "nde/data.h"

/* Read all of path (gzip-compressed or plain) into a new buffer (*buf, free
 * with free()) of *len bytes. NDE_ERR_IO naming the file when it cannot be
 * opened or its gzip stream is corrupt. */
int data_read_all(const char *path, uint8_t **buf, size_t *len);

/* Check a normalization pair for c channels: both or neither, finite,
 * std > 0 (where names the caller for the message). */
int data_check_norm(int c, const double *mean, const double *std, const char *where);

/* Largest pixel payload a loader accepts (16 GiB): a corrupt header must not
 * turn into a huge allocation. */
#define NDE_DATA_MAX_BYTES ((size_t)1 << 34)

#endif
