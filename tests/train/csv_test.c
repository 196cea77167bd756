/* Per-epoch CSV log: exact file content, quoting, resuming with a header
 * check, torn-row repair, keep_rows, resuming by epoch, and bad arguments. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train_test.h"

static const char *COLS[] = {"epoch", "loss", "note"};

static void expect_content(const char *path, const char *want) {
  char *got = tt_slurp(path, NULL);
  ck_assert_ptr_nonnull(got);
  ck_assert_str_eq(got, want);
  free(got);
}

START_TEST(create_rows_and_quoting) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "log.csv");
  nde_csv *c;
  ck_assert_int_eq(nde_csv_create(path, COLS, 3, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_cols(c), 3);
  ck_assert_int_eq(nde_csv_num_rows(c), 0);
  expect_content(path, "epoch,loss,note\n"); /* header flushed at once */
  ck_assert_int_eq(nde_csv_put_int(c, 1), NDE_OK);
  ck_assert_int_eq(nde_csv_put_double(c, 0.5), NDE_OK);
  ck_assert_int_eq(nde_csv_put_str(c, "plain"), NDE_OK);
  ck_assert_int_eq(nde_csv_end_row(c), NDE_OK);
  /* Visible before the handle is closed: a killed run keeps it. */
  expect_content(path, "epoch,loss,note\n1,0.5,plain\n");
  ck_assert_int_eq(nde_csv_put_int(c, -2), NDE_OK);
  ck_assert_int_eq(nde_csv_put_double(c, 1.0 / 3.0), NDE_OK);
  ck_assert_int_eq(nde_csv_put_str(c, "say \"hi\", twice"), NDE_OK);
  ck_assert_int_eq(nde_csv_end_row(c), NDE_OK);
  const double row[3] = {3, 1e-12, -0.0};
  ck_assert_int_eq(nde_csv_row(c, row, 3), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 3);
  expect_content(path, "epoch,loss,note\n1,0.5,plain\n-2,0.3333333333,\"say \"\"hi\"\", twice\"\n"
                       "3,1e-12,-0\n");
  nde_csv_free(c);
  nde_csv_free(NULL);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

static void write_rows(const char *path, int n) {
  nde_csv *c;
  ck_assert_int_eq(nde_csv_create(path, COLS, 3, &c), NDE_OK);
  for (int i = 0; i < n; i++) {
    const double r[3] = {i, 0.25 * i, 7};
    ck_assert_int_eq(nde_csv_row(c, r, 3), NDE_OK);
  }
  nde_csv_free(c);
}

START_TEST(append_resumes) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "log.csv");
  write_rows(path, 3);
  nde_csv *c;
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, -1, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 3);
  const double r[3] = {3, 0.75, 7};
  ck_assert_int_eq(nde_csv_row(c, r, 3), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 4);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n0,0,7\n1,0.25,7\n2,0.5,7\n3,0.75,7\n");

  /* Resume from a checkpoint taken after 2 epochs: later rows are dropped. */
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, 2, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 2);
  const double r2[3] = {2, 9, 9};
  ck_assert_int_eq(nde_csv_row(c, r2, 3), NDE_OK);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n0,0,7\n1,0.25,7\n2,9,9\n");
  /* keep_rows larger than the file keeps everything; 0 keeps the header. */
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, 100, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 3);
  nde_csv_free(c);
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, 0, &c), NDE_OK);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n");
  tt_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(append_repairs_torn_writes) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "log.csv");
  nde_csv *c;
  /* A row cut short by a kill is removed. */
  const char *torn = "epoch,loss,note\n0,1,a\n1,0.5,b\n2,0.2";
  ck_assert_int_eq(tt_spit(path, torn, strlen(torn)), 0);
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, -1, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 2);
  const double r[3] = {2, 0.25, 0};
  ck_assert_int_eq(nde_csv_row(c, r, 3), NDE_OK);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n0,1,a\n1,0.5,b\n2,0.25,0\n");
  /* A header cut short is rewritten; CRLF line ends are accepted. */
  ck_assert_int_eq(tt_spit(path, "epoch,lo", 8), 0);
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, -1, &c), NDE_OK);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n");
  ck_assert_int_eq(tt_spit(path, "epoch,loss,note\r\n0,1,2\r\n", 24), 0);
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, -1, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 1);
  nde_csv_free(c);
  /* Missing and empty files get the header. */
  char fresh[4200];
  snprintf(fresh, sizeof fresh, "%s/new.csv", dir);
  ck_assert_int_eq(nde_csv_append(fresh, COLS, 3, -1, &c), NDE_OK);
  nde_csv_free(c);
  expect_content(fresh, "epoch,loss,note\n");
  ck_assert_int_eq(tt_spit(fresh, "", 0), 0);
  ck_assert_int_eq(nde_csv_append(fresh, COLS, 3, 5, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 0);
  nde_csv_free(c);
  expect_content(fresh, "epoch,loss,note\n");
  tt_rmtree(dir);
  free(dir);
}
END_TEST

/* Resuming by epoch: the rows of epochs up to the checkpoint's are kept,
 * those of a later (unfinished) epoch and a torn row go. */
START_TEST(resume_keeps_committed_epochs) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "log.csv");
  const char *log = "epoch,loss,note\n1,1,a\n1,0.9,b\n2,0.5,c\n2,0.4,d\n3,0.3,e\n3,0.2";
  ck_assert_int_eq(tt_spit(path, log, strlen(log)), 0);
  nde_csv *c;
  ck_assert_int_eq(nde_csv_resume(path, COLS, 3, 5, &c), NDE_OK); /* only the torn row goes */
  ck_assert_int_eq(nde_csv_num_rows(c), 5);
  nde_csv_free(c);
  ck_assert_int_eq(nde_csv_resume(path, COLS, 3, 2, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 4);
  ck_assert_int_eq(nde_csv_put_int(c, 3), NDE_OK);
  ck_assert_int_eq(nde_csv_put_double(c, 0.25), NDE_OK);
  ck_assert_int_eq(nde_csv_put_str(c, "f"), NDE_OK);
  ck_assert_int_eq(nde_csv_end_row(c), NDE_OK);
  ck_assert_int_eq(nde_csv_sync(c), NDE_OK);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n1,1,a\n1,0.9,b\n2,0.5,c\n2,0.4,d\n3,0.25,f\n");
  /* A first field that is not an epoch number ends what is kept. */
  const char *odd = "epoch,loss,note\n1,1,a\nx,2,b\n1,3,c\n";
  ck_assert_int_eq(tt_spit(path, odd, strlen(odd)), 0);
  ck_assert_int_eq(nde_csv_resume(path, COLS, 3, 9, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 1);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n1,1,a\n");
  /* Epoch 0: only the header stays. */
  ck_assert_int_eq(nde_csv_resume(path, COLS, 3, 0, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_num_rows(c), 0);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n");
  ck_assert_int_eq(nde_csv_resume(path, COLS, 3, 0, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_sync(NULL), NDE_ERR_NULL);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(append_rejects_other_files) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "log.csv");
  write_rows(path, 2);
  nde_csv *c = (nde_csv *)0x1;
  const char *other[] = {"epoch", "loss", "acc"};
  ck_assert_int_eq(nde_csv_append(path, other, 3, -1, &c), NDE_ERR_FORMAT);
  ck_assert_ptr_null(c);
  TT_MSG_HAS("header 'epoch,loss,note' does not match the expected 'epoch,loss,acc'");
  TT_MSG_HAS(path);
  ck_assert_int_eq(nde_csv_append(path, COLS, 2, -1, &c), NDE_ERR_FORMAT);
  /* The refused file is left as it was. */
  expect_content(path, "epoch,loss,note\n0,0,7\n1,0.25,7\n");
  ck_assert_int_eq(tt_spit(path, "something else", 14), 0);
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, -1, &c), NDE_ERR_FORMAT);
  TT_MSG_HAS("incomplete first line");
  /* A NUL byte does not end the first line: "epoch,loss,note\0,x" is not
     the header (the fuzz harness found it accepted, rows and all). */
  ck_assert_int_eq(tt_spit(path, "epoch,loss,note\0,x\n0,0,7\n", 25), 0);
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, -1, &c), NDE_ERR_FORMAT);
  ck_assert_ptr_null(c);
  TT_MSG_HAS("does not match the expected 'epoch,loss,note'");
  char *huge = malloc(70000);
  memset(huge, 'h', 70000);
  ck_assert_int_eq(tt_spit(path, huge, 70000), 0);
  free(huge);
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, -1, &c), NDE_ERR_FORMAT);
  TT_MSG_HAS("longer than");
  ck_assert_int_eq(nde_csv_append(dir, COLS, 3, -1, &c), NDE_ERR_IO);
  TT_MSG_HAS("cannot open for resuming");
  ck_assert_int_eq(nde_csv_append("/dev/null", COLS, 3, -1, &c), NDE_ERR_IO);
  TT_MSG_HAS("not a regular file");
  ck_assert_int_eq(nde_csv_append(path, COLS, 3, -1, NULL), NDE_ERR_NULL);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(bad_rows_and_arguments) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "log.csv");
  nde_csv *c = (nde_csv *)0x1;
  ck_assert_int_eq(nde_csv_create(path, COLS, 0, &c), NDE_ERR_ARG);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(nde_csv_create(NULL, COLS, 3, &c), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_create(path, NULL, 3, &c), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_create(path, COLS, 3, NULL), NDE_ERR_NULL);
  const char *empty[] = {"a", ""}, *nl[] = {"a", "b\nc"}, *nul[] = {"a", NULL};
  ck_assert_int_eq(nde_csv_create(path, empty, 2, &c), NDE_ERR_ARG);
  TT_MSG_HAS("column 1");
  ck_assert_int_eq(nde_csv_create(path, nul, 2, &c), NDE_ERR_ARG);
  ck_assert_int_eq(nde_csv_create(path, nl, 2, &c), NDE_ERR_ARG);
  TT_MSG_HAS("newline");
  char nodir[4200];
  snprintf(nodir, sizeof nodir, "%s/no/such/log.csv", dir);
  ck_assert_int_eq(nde_csv_create(nodir, COLS, 3, &c), NDE_ERR_IO);
  TT_MSG_HAS("cannot create");
  /* A full disk: the header write fails at its flush. */
  ck_assert_int_eq(nde_csv_create("/dev/full", COLS, 3, &c), NDE_ERR_IO);
  TT_MSG_HAS("write failed");

  ck_assert_int_eq(nde_csv_create(path, COLS, 3, &c), NDE_OK);
  ck_assert_int_eq(nde_csv_put_int(c, 1), NDE_OK);
  ck_assert_int_eq(nde_csv_end_row(c), NDE_ERR_ARG); /* too few: discarded */
  TT_MSG_HAS("row has 1 fields, the header has 3");
  ck_assert_int_eq(nde_csv_put_int(c, 1), NDE_OK);
  ck_assert_int_eq(nde_csv_put_str(c, "bad\nfield"), NDE_ERR_ARG);
  ck_assert_int_eq(nde_csv_put_str(c, "x"), NDE_OK); /* the bad field was not kept */
  ck_assert_int_eq(nde_csv_put_double(c, 2), NDE_OK);
  ck_assert_int_eq(nde_csv_put_double(c, 3), NDE_ERR_ARG); /* a fourth field */
  TT_MSG_HAS("all 3 fields");
  const double r[3] = {1, 2, 3};
  ck_assert_int_eq(nde_csv_row(c, r, 3), NDE_ERR_ARG); /* a row is pending */
  ck_assert_int_eq(nde_csv_end_row(c), NDE_OK);
  ck_assert_int_eq(nde_csv_row(c, r, 2), NDE_ERR_ARG);
  ck_assert_int_eq(nde_csv_row(c, NULL, 3), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_row(NULL, r, 3), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_put_str(c, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_put_str(NULL, "x"), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_put_int(NULL, 1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_put_double(NULL, 1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_end_row(NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_csv_num_cols(NULL), 0);
  ck_assert_int_eq(nde_csv_num_rows(NULL), 0);
  ck_assert_int_eq(nde_csv_num_rows(c), 1);
  nde_csv_free(c);
  expect_content(path, "epoch,loss,note\n1,x,2\n");
  tt_rmtree(dir);
  free(dir);
}
END_TEST

Suite *csv_suite(void) {
  Suite *s = suite_create("csv");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, create_rows_and_quoting);
  tcase_add_test(tc, append_resumes);
  tcase_add_test(tc, append_repairs_torn_writes);
  tcase_add_test(tc, resume_keeps_committed_epochs);
  tcase_add_test(tc, append_rejects_other_files);
  tcase_add_test(tc, bad_rows_and_arguments);
  suite_add_tcase(s, tc);
  return s;
}
