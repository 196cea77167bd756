/* Scratch directories and file helpers for the train/ tests (train_test.h). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train_test.h"

char *tt_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  if (!base || !base[0]) base = "/tmp";
  size_t n = strlen(base) + 32;
  char *d = malloc(n);
  ck_assert_ptr_nonnull(d);
  snprintf(d, n, "%s/nde-train-XXXXXX", base);
  ck_assert_msg(mkdtemp(d) != NULL, "mkdtemp %s failed", d);
  return d;
}

void tt_rmtree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char p[4096];
      tt_join(p, sizeof p, dir, e->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
        tt_rmtree(p);
      else
        unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

void tt_join(char *out, size_t n, const char *dir, const char *name) {
  snprintf(out, n, "%s/%s", dir, name);
}

int tt_count_tmp(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int k = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) k += strstr(e->d_name, ".tmp.") != NULL;
  closedir(d);
  return k;
}

char *tt_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) {
    b[n] = '\0';
    if (len) *len = (size_t)n;
  }
  return b;
}

int tt_spit(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int bad = fwrite(data, 1, len, f) != len;
  bad |= fclose(f) != 0;
  return bad ? -1 : 0;
}

nde_dataset *tt_synthetic(int n, unsigned long seed) {
  nde_dataset *ds;
  ck_assert_int_eq(nde_dataset_create(n, 1, 12, 12, 3, &ds), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, seed);
  for (int i = 0; i < n; i++) {
    int k = i % 3;
    ds->labels[i] = k;
    for (int p = 0; p < 144; p++) {
      int row = p / 12;
      double v = 40 * nde_rng_uniform(&rng) + ((row == 2 + 4 * k || row == 3 + 4 * k) ? 180 : 0);
      ds->pixels[(size_t)i * 144 + p] = (uint8_t)(v > 255 ? 255 : v);
    }
  }
  return ds;
}

int tt_tiny_model(int h, int method, nde_model **out) {
  nde_model_options o = nde_model_options_default(NDE_MODEL_ODENET);
  o.in = nde_shape_chw(1, 12, 12);
  o.nclasses = 3;
  o.width = 4;
  o.groups = 2;
  o.attractors = h;
  o.max_batch = 16;
  o.rman.alpha0 = 0.01; /* a visible energy term at this scale */
  if (method) {
    o.ode.method = method;
    if (method == NDE_ODE_EULER || method == NDE_ODE_RK4) {
      o.ode.adjoint = NDE_ADJ_DIRECT;
      o.ode.fixed_h = 0.25;
    }
  }
  int rc = nde_model_create(&o, out);
  if (rc) return rc;
  nde_rng rng;
  nde_rng_seed(&rng, 42);
  rc = nde_model_init(*out, &rng);
  if (rc) {
    nde_model_free(*out);
    *out = NULL;
  }
  return rc;
}
