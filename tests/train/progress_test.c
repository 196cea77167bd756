/* Progress line: silent on a file, "\r...ESC[K" on a terminal (a
 * pseudo-terminal made for the test). */
#define _XOPEN_SOURCE 600

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_test.h"

START_TEST(silent_when_not_a_terminal) {
  FILE *f = tmpfile();
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(nde_progress(f, "epoch %d batch %d/%d", 1, 5, 10), 0);
  ck_assert_int_eq(nde_progress_done(f), 0);
  ck_assert_int_eq(ftell(f), 0);
  fclose(f);
  ck_assert_int_eq(nde_progress(NULL, "x"), NDE_ERR_NULL);
  ck_assert_int_eq(nde_progress_done(NULL), NDE_ERR_NULL);
}
END_TEST

START_TEST(rewrites_line_on_terminal) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  ck_assert_msg(master >= 0, "posix_openpt failed");
  ck_assert_int_eq(grantpt(master), 0);
  ck_assert_int_eq(unlockpt(master), 0);
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  ck_assert_int_ge(slave, 0);
  FILE *f = fdopen(slave, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(nde_progress(NULL, "%s", "x"), NDE_ERR_NULL);
  ck_assert_int_eq(nde_progress(f, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_progress(f, "epoch %d batch %d/%d", 1, 5, 10), 1);
  char buf[256];
  ssize_t n = read(master, buf, sizeof buf - 1);
  ck_assert_int_gt(n, 0);
  buf[n] = '\0';
  ck_assert_str_eq(buf, "\repoch 1 batch 5/10\033[K");
  ck_assert_int_eq(nde_progress_done(f), 1);
  n = read(master, buf, sizeof buf - 1);
  ck_assert_int_gt(n, 0);
  buf[n] = '\0';
  ck_assert_ptr_nonnull(strchr(buf, '\n')); /* the terminal may add '\r' before it */
  fclose(f);
  close(master);
}
END_TEST

Suite *progress_suite(void) {
  Suite *s = suite_create("progress");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, silent_when_not_a_terminal);
  tcase_add_test(tc, rewrites_line_on_terminal);
  suite_add_tcase(s, tc);
  return s;
}
