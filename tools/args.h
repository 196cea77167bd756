/* Command-line options of the nde program: "--name value" and "--flag"
 * pairs after the subcommand. Every option a subcommand reads must be
 * declared, so a misspelled option is an error rather than silently ignored. */
#ifndef NDE_TOOLS_ARGS_H
#define NDE_TOOLS_ARGS_H

typedef struct nde_args {
  int argc;
  char **argv;     /* the subcommand's arguments (after the subcommand name) */
  const char *cmd; /* subcommand name, for messages */
  int *used;       /* which argv entries were consumed */
  const char *positional[8];
  int npositional;
} nde_args;

/* Split argv into options and positionals. Returns 0, or prints an error
 * and returns 2 (usage error). */
int args_init(nde_args *a, const char *cmd, int argc, char **argv);
void args_free(nde_args *a);

/* Typed look-ups with defaults. Values that fail to parse print an error
 * naming the option and set *bad. */
const char *args_str(nde_args *a, const char *name, const char *def);
long args_long(nde_args *a, const char *name, long def, int *bad);
/* An integer that must fit an int (a larger value is refused, never
 * truncated: --batch 4294967297 is not batch 1). */
int args_int(nde_args *a, const char *name, int def, int *bad);
double args_double(nde_args *a, const char *name, double def, int *bad);
int args_flag(nde_args *a, const char *name);

/* After all look-ups: report options nobody asked for (returns 2), else 0. */
int args_finish(nde_args *a);

#endif
