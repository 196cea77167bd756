/* Support for the fuzz harnesses: in-memory files, gzip, result checks. */
#define _GNU_SOURCE
#include "fuzz/fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

void fuzz_fail(const char *file, int line, const char *what) {
  fprintf(stderr, "%s:%d: harness check failed: %s\n  last error: %s\n", file, line, what,
          nde_last_error());
  abort();
}

enum { FUZZ_SLOTS = 4 };

const char *fuzz_file(int slot, const uint8_t *data, size_t n) {
  static int fd[FUZZ_SLOTS] = {-1, -1, -1, -1};
  static char name[FUZZ_SLOTS][32];
  FUZZ_REQUIRE(slot >= 0 && slot < FUZZ_SLOTS);
  if (fd[slot] < 0) {
    fd[slot] = memfd_create("nde-fuzz", 0);
    FUZZ_REQUIRE(fd[slot] >= 0);
    snprintf(name[slot], sizeof name[slot], "/proc/self/fd/%d", fd[slot]);
  }
  FUZZ_REQUIRE(ftruncate(fd[slot], 0) == 0);
  for (size_t at = 0; at < n;) {
    ssize_t w = pwrite(fd[slot], data + at, n - at, (off_t)at);
    FUZZ_REQUIRE(w > 0);
    at += (size_t)w;
  }
  return name[slot];
}

uint8_t *fuzz_gzip(const uint8_t *data, size_t n, int level, size_t *outn) {
  z_stream z;
  memset(&z, 0, sizeof z);
  /* windowBits 15 + 16: a gzip header and trailer around the deflate data. */
  FUZZ_REQUIRE(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  size_t cap = deflateBound(&z, (uLong)n) + 32;
  uint8_t *out = malloc(cap);
  FUZZ_REQUIRE(out);
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  FUZZ_REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  *outn = cap - z.avail_out;
  deflateEnd(&z);
  return out;
}

void fuzz_check_failure(int rc, const void *out, const int *allowed, const char *const *paths) {
  int ok = 0;
  for (const int *a = allowed; *a; a++) ok |= rc == *a;
  FUZZ_REQUIRE(ok);
  FUZZ_REQUIRE(out == NULL);
  const char *msg = nde_last_error();
  FUZZ_REQUIRE(msg && *msg);
  if (getenv("NDE_FUZZ_VERBOSE")) fprintf(stderr, "  refused (%d): %s\n", rc, msg);
  if (rc == NDE_ERR_NOMEM) return;
  int named = 0;
  for (const char *const *p = paths; *p; p++) named |= strstr(msg, *p) != NULL;
  FUZZ_REQUIRE(named);
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void fuzz_check_idx(int rc, const nde_dataset *ds, int num_classes, const uint8_t *labels,
                    size_t nlabels, const uint8_t *images, size_t nimages,
                    const char *const *paths) {
  if (rc) {
    static const int allowed[] = {NDE_ERR_IO, NDE_ERR_FORMAT, NDE_ERR_NOMEM, 0};
    fuzz_check_failure(rc, ds, allowed, paths);
    return;
  }
  FUZZ_REQUIRE(ds != NULL);
  FUZZ_REQUIRE(ds->n >= 1 && ds->c == 1 && ds->h >= 1 && ds->w >= 1);
  FUZZ_REQUIRE(ds->num_classes == num_classes && ds->coarse == NULL);
  size_t numel = nde_dataset_sample_numel(ds), total = (size_t)ds->n * numel;
  unsigned sum = 0; /* touches every pixel: a short buffer is a sanitizer report */
  for (size_t i = 0; i < total; i++) sum += ds->pixels[i];
  (void)sum;
  for (int i = 0; i < ds->n; i++) FUZZ_REQUIRE(ds->labels[i] >= 0 && ds->labels[i] < num_classes);
  if (labels) { /* the file is exactly header + one byte per sample */
    FUZZ_REQUIRE(nlabels == 8 + (size_t)ds->n && be32(labels) == 0x801);
    FUZZ_REQUIRE(be32(labels + 4) == (uint32_t)ds->n);
    for (int i = 0; i < ds->n; i++) FUZZ_REQUIRE(ds->labels[i] == labels[8 + i]);
  }
  if (images) {
    FUZZ_REQUIRE(nimages == 16 + total && be32(images) == 0x803);
    FUZZ_REQUIRE(be32(images + 4) == (uint32_t)ds->n && be32(images + 8) == (uint32_t)ds->h &&
                 be32(images + 12) == (uint32_t)ds->w);
    FUZZ_REQUIRE(memcmp(ds->pixels, images + 16, total) == 0);
  }
}
