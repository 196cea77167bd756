/* Test helpers for data/ (see datafiles.h). POSIX for mkdtemp and dirent. */
#define _POSIX_C_SOURCE 200809L
#include "data/datafiles.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

const char *df_tmpdir(void) {
  static char path[512];
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  snprintf(path, sizeof path, "%s/nde_data_test_XXXXXX", base);
  ck_assert_ptr_nonnull(mkdtemp(path));
  return path;
}

void df_cleanup(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

const char *df_write(const char *dir, const char *name, const uint8_t *bytes, size_t len, int gz,
                     int slot) {
  static char paths[8][1024];
  ck_assert(slot >= 0 && slot < 8);
  char *p = paths[slot];
  snprintf(p, sizeof paths[0], "%s/%s", dir, name);
  if (gz) {
    gzFile f = gzopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert(len == 0 || gzwrite(f, bytes, (unsigned)len) == (int)len);
    ck_assert_int_eq(gzclose(f), Z_OK);
  } else {
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert(len == 0 || fwrite(bytes, 1, len, f) == len);
    ck_assert_int_eq(fclose(f), 0);
  }
  return p;
}

size_t df_idx(uint8_t *out, uint32_t magic, int ndim, const uint32_t *dims, const uint8_t *data,
              size_t ndata) {
  size_t o = 0;
  uint32_t words[5];
  words[0] = magic;
  for (int d = 0; d < ndim; d++) words[1 + d] = dims[d];
  for (int k = 0; k <= ndim; k++) {
    out[o++] = (uint8_t)(words[k] >> 24);
    out[o++] = (uint8_t)(words[k] >> 16);
    out[o++] = (uint8_t)(words[k] >> 8);
    out[o++] = (uint8_t)words[k];
  }
  if (ndata) memcpy(out + o, data, ndata);
  return o + ndata;
}

void df_write_idx_pair(const char *dir, const char *prefix, int n, int h, int w, int classes,
                       int gz, const char **images, const char **labels) {
  size_t np = (size_t)n * h * w;
  uint8_t *px = malloc(np), *lb = malloc((size_t)n), *buf = malloc(np + 64);
  ck_assert(px && lb && buf);
  for (int i = 0; i < n; i++) {
    for (size_t q = 0; q < (size_t)h * w; q++) px[(size_t)i * h * w + q] = df_pixel(i, q);
    lb[i] = (uint8_t)df_label(i, classes);
  }
  char name[256];
  uint32_t idims[3] = {(uint32_t)n, (uint32_t)h, (uint32_t)w}, ldims[1] = {(uint32_t)n};
  snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
  *images = df_write(dir, name, buf, df_idx(buf, 0x803, 3, idims, px, np), gz, 0);
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
  *labels = df_write(dir, name, buf, df_idx(buf, 0x801, 1, ldims, lb, (size_t)n), gz, 1);
  free(px);
  free(lb);
  free(buf);
}

size_t df_cifar(uint8_t *out, int i0, int n, int cifar100) {
  size_t o = 0;
  for (int i = i0; i < i0 + n; i++) {
    int fine = df_label(i, cifar100 ? 100 : 10);
    if (cifar100) out[o++] = (uint8_t)(fine / 5);
    out[o++] = (uint8_t)fine;
    for (size_t q = 0; q < 3072; q++) out[o++] = df_pixel(i, q);
  }
  return o;
}
