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
