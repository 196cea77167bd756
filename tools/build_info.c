/* Where the nde program came from, for results files. */
#include <stdio.h>
#include <string.h>

#include "nde_build_commit.h"
#include "tools/commands.h"

const char *tool_build_commit(void) { return NDE_BUILD_COMMIT; }

void tool_command_line(const char *cmd, int argc, char **argv, char *buf, size_t cap) {
  /* /proc/self/cmdline holds the exact words the program was started with,
   * NUL-separated; elsewhere rebuild them from the subcommand's arguments. */
  size_t len = 0;
  buf[0] = '\0';
  FILE *f = fopen("/proc/self/cmdline", "rb");
  if (f) {
    char raw[8192];
    size_t n = fread(raw, 1, sizeof raw - 1, f);
    fclose(f);
    raw[n] = '\0';
    for (size_t i = 0; i < n && len + 4 < cap; i += strlen(raw + i) + 1)
      len += tool_shell_quote(raw + i, buf + len, cap - len, len > 0);
    if (len) return;
  }
  len = (size_t)snprintf(buf, cap, "nde %s", cmd);
  for (int i = 0; i < argc && len + 4 < cap; i++)
    len += tool_shell_quote(argv[i], buf + len, cap - len, 1);
}

size_t tool_shell_quote(const char *word, char *out, size_t cap, int space) {
  /* plain words as they are; others in single quotes ('\'' for a quote) */
  int plain = *word != '\0';
  for (const char *p = word; *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,=:+@%", *p))
      plain = 0;
  size_t len = 0;
  if (space && len + 1 < cap) out[len++] = ' ';
  if (!plain && len + 1 < cap) out[len++] = '\'';
  for (const char *p = word; *p && len + 5 < cap; p++) {
    if (*p == '\'' && !plain) {
      memcpy(out + len, "'\\''", 4);
      len += 4;
    } else {
      out[len++] = *p;
    }
  }
  if (!plain && len + 1 < cap) out[len++] = '\'';
  out[len < cap ? len : cap - 1] = '\0';
  return len;
}
