/* Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c): the readers take file
 * names, so each input is put into in-memory files named through
 * /proc/self/fd; the checks a harness makes on a reader's result abort, so
 * that libFuzzer (or the replay driver under a sanitizer) reports them.
 *
 * Each harness defines LLVMFuzzerTestOneInput. Built with -DNDE_FUZZ=ON and
 * clang, it links libFuzzer; in the ordinary builds it links replay.c, which
 * runs it once on every file of the seed corpus (a ctest test). */
#ifndef NDE_FUZZ_UTIL_H
#define NDE_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "nde/nde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness's check: on failure print what and where, then abort. */
#define FUZZ_REQUIRE(cond)                                                                         \
  do {                                                                                             \
    if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond);                                             \
  } while (0)
void fuzz_fail(const char *file, int line, const char *what);

/* Replace the content of in-memory file `slot` (0..3) with data[0..n) and
 * return its name ("/proc/self/fd/N", valid until the process exits). */
const char *fuzz_file(int slot, const uint8_t *data, size_t n);

/* data[0..n) as one gzip member (zlib, the given level 0..9) in a buffer of
 * *outn bytes that the caller frees. */
uint8_t *fuzz_gzip(const uint8_t *data, size_t n, int level, size_t *outn);

/* Little-endian u16 from the input, or 0 past its end. */
static inline size_t fuzz_u16(const uint8_t *p, size_t avail) {
  return avail >= 2 ? (size_t)p[0] | (size_t)p[1] << 8 : 0;
}

/* A failed read: rc is one of the codes the reader documents (allowed, a
 * 0-terminated list), *out was left NULL and the message names one of the
 * files (paths, a NULL-terminated list). */
void fuzz_check_failure(int rc, const void *out, const int *allowed, const char *const *paths);

/* An IDX pair (plain bytes of both files when known, else NULL) and the
 * reader's result for it: on success the dataset holds exactly the files'
 * pixels and labels; on failure see fuzz_check_failure. */
void fuzz_check_idx(int rc, const nde_dataset *ds, int num_classes, const uint8_t *labels,
                    size_t nlabels, const uint8_t *images, size_t nimages,
                    const char *const *paths);

#endif
