/* Test helpers for data/: a temporary directory and small IDX / CIFAR files
 * written into it, plain or gzip-compressed. */
#ifndef NDE_TEST_DATAFILES_H
#define NDE_TEST_DATAFILES_H

#include <stddef.h>
#include <stdint.h>

/* mkdtemp under $TMPDIR (or /tmp); the returned path is static storage of
 * the calling test (one directory per test). */
const char *df_tmpdir(void);
/* Remove every file in dir, then dir. */
void df_cleanup(const char *dir);

/* Write bytes to dir/name (gzip-compressed when gz) and return the full path
 * (static buffer per call slot 0..7). */
const char *df_write(const char *dir, const char *name, const uint8_t *bytes, size_t len, int gz,
                     int slot);

/* Serialize an IDX file: magic, ndim big-endian sizes, data. Returns the
 * length written to out. */
size_t df_idx(uint8_t *out, uint32_t magic, int ndim, const uint32_t *dims, const uint8_t *data,
              size_t ndata);

/* The pixel value of test image i at byte q, and its label: deterministic
 * patterns the readers' output is compared with. */
static inline uint8_t df_pixel(int i, size_t q) { return (uint8_t)((i * 37 + q * 11) & 0xff); }
static inline int df_label(int i, int classes) { return (i * 7 + 3) % classes; }

/* Write a well-formed IDX pair of n images h x w (returns the paths). */
void df_write_idx_pair(const char *dir, const char *prefix, int n, int h, int w, int classes,
                       int gz, const char **images, const char **labels);

/* Bytes of a CIFAR file of n records starting at sample i0 (cifar100: two
 * label bytes, coarse = fine / 5). out must hold n * (3072 + 1 or 2). */
size_t df_cifar(uint8_t *out, int i0, int n, int cifar100);

#endif
