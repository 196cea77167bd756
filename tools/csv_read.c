#define _POSIX_C_SOURCE 200809L
#include "tools/csv_read.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split line at commas in place; returns the number of fields (<= max). */
static int split(char *line, char **fields, int max) {
  int n = 0;
  line[strcspn(line, "\r\n")] = '\0';
  for (char *p = line; n < max;) {
    fields[n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  return n;
}

static double parse(const char *s) {
  char *end;
  double v = strtod(s, &end);
  return end == s ? NAN : v;
}

int tool_table_read(const char *path, tool_table *t) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  enum { MAXF = 256, LINE = 16384 };
  char *line = malloc(LINE), *fields[MAXF];
  int rc = -1;
  if (line && fgets(line, LINE, f)) {
    int n = split(line, fields, MAXF);
    t->names = calloc((size_t)n, sizeof *t->names);
    if (t->names) {
      t->ncol = n;
      for (int i = 0; i < n; i++) t->names[i] = strdup(fields[i]);
      rc = 0;
      long cap = 0;
      while (fgets(line, LINE, f)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') break; /* torn last row */
        if (t->nrow == cap) {
          cap = cap ? 2 * cap : 64;
          double *v = realloc(t->v, (size_t)cap * (size_t)n * sizeof *v);
          if (!v) break;
          t->v = v;
        }
        int k = split(line, fields, MAXF);
        for (int i = 0; i < n; i++) t->v[t->nrow * n + i] = i < k ? parse(fields[i]) : NAN;
        t->nrow++;
      }
    }
  }
  free(line);
  fclose(f);
  if (rc) tool_table_free(t);
  return rc;
}

void tool_table_free(tool_table *t) {
  for (int i = 0; i < t->ncol; i++) free(t->names[i]);
  free(t->names);
  free(t->v);
  memset(t, 0, sizeof *t);
}

int tool_table_col(const tool_table *t, const char *name) {
  for (int i = 0; i < t->ncol; i++)
    if (t->names[i] && !strcmp(t->names[i], name)) return i;
  return -1;
}

double tool_table_get(const tool_table *t, long row, const char *name) {
  int c = tool_table_col(t, name);
  if (row < 0) row += t->nrow;
  if (c < 0 || row < 0 || row >= t->nrow) return NAN;
  return t->v[row * t->ncol + c];
}
