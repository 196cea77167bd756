#include "tools/args.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int args_init(nde_args *a, const char *cmd, int argc, char **argv) {
  memset(a, 0, sizeof *a);
  a->cmd = cmd;
  a->argc = argc;
  a->argv = argv;
  a->used = calloc((size_t)argc + 1, sizeof(int));
  if (!a->used) return 2;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "--", 2) == 0) {
      /* an option; its value (if any) is the next word not starting with -- */
      if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) i++;
      continue;
    }
    if (a->npositional == 8) {
      fprintf(stderr, "nde %s: too many positional arguments\n", cmd);
      return 2;
    }
    a->positional[a->npositional++] = argv[i];
    a->used[i] = 1;
  }
  return 0;
}

void args_free(nde_args *a) { free(a->used); }

static int find(nde_args *a, const char *name) {
  for (int i = 0; i < a->argc; i++)
    if (strncmp(a->argv[i], "--", 2) == 0 && strcmp(a->argv[i] + 2, name) == 0) return i;
  return -1;
}

const char *args_str(nde_args *a, const char *name, const char *def) {
  int i = find(a, name);
  if (i < 0) return def;
  a->used[i] = 1;
  if (i + 1 < a->argc && strncmp(a->argv[i + 1], "--", 2) != 0) {
    a->used[i + 1] = 1;
    return a->argv[i + 1];
  }
  fprintf(stderr, "nde %s: option --%s needs a value\n", a->cmd, name);
  return def;
}

long args_long(nde_args *a, const char *name, long def, int *bad) {
  const char *s = args_str(a, name, NULL);
  if (!s) return def;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s) {
    fprintf(stderr, "nde %s: --%s expects an integer, got '%s'\n", a->cmd, name, s);
    *bad = 1;
    return def;
  }
  return v;
}

int args_int(nde_args *a, const char *name, int def, int *bad) {
  const char *s = args_str(a, name, NULL);
  if (!s) return def;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*end || end == s) {
    fprintf(stderr, "nde %s: --%s expects an integer, got '%s'\n", a->cmd, name, s);
    *bad = 1;
    return def;
  }
  if (errno || v < INT_MIN || v > INT_MAX) {
    fprintf(stderr, "nde %s: --%s expects an integer in [%d, %d], got '%s'\n", a->cmd, name,
            INT_MIN, INT_MAX, s);
    *bad = 1;
    return def;
  }
  return (int)v;
}

double args_double(nde_args *a, const char *name, double def, int *bad) {
  const char *s = args_str(a, name, NULL);
  if (!s) return def;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || end == s) {
    fprintf(stderr, "nde %s: --%s expects a number, got '%s'\n", a->cmd, name, s);
    *bad = 1;
    return def;
  }
  return v;
}

int args_flag(nde_args *a, const char *name) {
  int i = find(a, name);
  if (i < 0) return 0;
  a->used[i] = 1;
  return 1;
}

int args_finish(nde_args *a) {
  int rc = 0;
  for (int i = 0; i < a->argc; i++)
    if (!a->used[i]) {
      fprintf(stderr, "nde %s: unknown option or stray value '%s' (see nde %s --help)\n", a->cmd,
              a->argv[i], a->cmd);
      rc = 2;
    }
  return rc;
}
