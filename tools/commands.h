/* Subcommands of the nde program, one file each (tools/cmd_<name>.c). Each
 * returns the process exit status: 0 success, 1 failure, 2 usage error. */
#ifndef NDE_TOOLS_COMMANDS_H
#define NDE_TOOLS_COMMANDS_H

#include <stddef.h>

typedef struct nde_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);
} nde_command;

/* The table in tools/main.c; NULL-terminated. */
extern const nde_command nde_commands[];

/* "CPU model, N online cores" for results files. */
void tool_machine_line(char *buf, size_t cap);

/* Print "nde NAME: <nde_last_error()>" for a failed library call and return 1. */
int tool_fail(const char *cmd, int code);

/* The commit the program was built from ("git describe --always --dirty"
 * at build time, "unknown" without git). */
const char *tool_build_commit(void);

/* The command line this process was started with, shell-quoted, into buf
 * (from /proc/self/cmdline; elsewhere "nde CMD ARGS..."). */
void tool_command_line(const char *cmd, int argc, char **argv, char *buf, size_t cap);

/* Append word to out (capacity cap), single-quoted unless it is plain,
 * after a space when space != 0; returns the characters written. */
size_t tool_shell_quote(const char *word, char *out, size_t cap, int space);

#endif
