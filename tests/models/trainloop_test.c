/* The training loop on synthetic data: the loss goes down, a resumed run ends
 * with exactly the parameters of an uninterrupted one, logs (the test loss
 * per epoch, resuming a log written before that column existed) and
 * errors. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/testutil.h"

/* 3 classes of 1x12x12 images: a bright horizontal bar at row 2 + 4k plus noise. */
static nde_dataset *synthetic(int n, unsigned long seed) {
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

static nde_model *tiny_model(int h) {
  nde_model_options o = nde_model_options_default(NDE_MODEL_ODENET);
  o.in = nde_shape_chw(1, 12, 12);
  o.nclasses = 3;
  o.width = 4;
  o.groups = 2;
  o.attractors = h;
  o.max_batch = 16;
  o.rman.alpha0 = 0.01; /* visible energy term at this scale */
  nde_model *m;
  ck_assert_int_eq(nde_model_create(&o, &m), NDE_OK);
  nde_rng rng;
  nde_rng_seed(&rng, 42);
  ck_assert_int_eq(nde_model_init(m, &rng), NDE_OK);
  return m;
}

static nde_train_options tiny_train(const char *dir, int epochs) {
  nde_train_options t = nde_train_options_default();
  t.epochs = epochs;
  t.batch = 16;
  t.crop_pad = 1;
  t.out_dir = dir;
  nde_schedule_constant(&t.schedule, 0.05);
  return t;
}

static char *tempdir(void) {
  char tmpl[] = "/tmp/nde-trainloop-XXXXXX";
  char *d = mkdtemp(tmpl);
  ck_assert_ptr_nonnull(d);
  return strdup(d);
}

static void rmdir_all(const char *d) {
  const char *names[] = {"epochs.csv", "batches.csv", "checkpoint.ndeckpt"};
  char p[512];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", d, names[i]);
    unlink(p);
  }
  rmdir(d);
}

static long count_lines(const char *dir, const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "r");
  ck_assert_ptr_nonnull(f);
  long n = 0;
  int c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

START_TEST(loss_decreases_with_rman) {
  nde_dataset *train = synthetic(48, 1), *test = synthetic(24, 2);
  nde_model *m = tiny_model(3);
  char *dir = tempdir();
  nde_train_summary s1, s2;
  nde_train_options t = tiny_train(dir, 1);
  ck_assert_int_eq(nde_train_run(m, train, test, &t, &s1), NDE_OK);
  t.epochs = 5;
  t.resume = 1;
  ck_assert_int_eq(nde_train_run(m, train, test, &t, &s2), NDE_OK);
  printf("trainloop: tiny ODE-Net + RMAN train loss %.4f after 1 epoch, %.4f after 5; test err %.3f; NFE-F %.1f NFE-B %.1f\n",
         s1.train_loss, s2.train_loss, s2.test_err, s2.nfe_f, s2.nfe_b);
  ck_assert_int_eq(s2.epochs_done, 5);
  ck_assert_double_lt(s2.train_loss, s1.train_loss);
  ck_assert(s2.nfe_f > 0 && s2.nfe_b > 0);
  ck_assert_int_eq(count_lines(dir, "epochs.csv"), 1 + 5);
  ck_assert_int_eq(count_lines(dir, "batches.csv"), 1 + 5 * 3);
  nde_model_free(m);
  nde_dataset_free(train);
  nde_dataset_free(test);
  rmdir_all(dir);
  free(dir);
}
END_TEST

START_TEST(resume_equals_uninterrupted) {
  nde_dataset *train = synthetic(40, 3);
  char *da = tempdir(), *db = tempdir();
  nde_model *a = tiny_model(2), *b = tiny_model(2);
  nde_train_options ta = tiny_train(da, 3), tb = tiny_train(db, 3);
  ck_assert_int_eq(nde_train_run(a, train, NULL, &ta, NULL), NDE_OK);
  tb.stop_after = 1; /* "interrupted" after the first epoch */
  ck_assert_int_eq(nde_train_run(b, train, NULL, &tb, NULL), NDE_OK);
  nde_model_free(b);
  b = tiny_model(2); /* a fresh process would start from a fresh model */
  tb.stop_after = 0;
  tb.resume = 1;
  ck_assert_int_eq(nde_train_run(b, train, NULL, &tb, NULL), NDE_OK);
  size_t np = nde_model_num_params(a);
  ck_assert_int_eq(memcmp(nde_model_params(a), nde_model_params(b), np * sizeof(nde_real)), 0);
  ck_assert_int_eq(count_lines(db, "epochs.csv"), 1 + 3);
  nde_model_free(a);
  nde_model_free(b);
  nde_dataset_free(train);
  rmdir_all(da);
  rmdir_all(db);
  free(da);
  free(db);
}
END_TEST

/* Header and last row of a CSV log, split at commas (numeric logs only). */
typedef struct csv_last {
  char names[32][32];
  double v[32];
  int n;
  long rows;
} csv_last;

static void read_last_row(const char *dir, const char *name, csv_last *out) {
  char p[512], line[4096], last[4096] = "";
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "r");
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  memset(out, 0, sizeof *out);
  for (char *tok = strtok(line, ",\n"); tok && out->n < 32; tok = strtok(NULL, ",\n"))
    snprintf(out->names[out->n++], sizeof out->names[0], "%s", tok);
  while (fgets(line, sizeof line, f)) {
    snprintf(last, sizeof last, "%s", line);
    out->rows++;
  }
  fclose(f);
  int k = 0;
  for (char *tok = strtok(last, ",\n"); tok && k < 32; tok = strtok(NULL, ",\n")) out->v[k++] = strtod(tok, NULL);
  ck_assert_int_eq(k, out->n);
}

static double column(const csv_last *c, const char *name) {
  for (int i = 0; i < c->n; i++)
    if (!strcmp(c->names[i], name)) return c->v[i];
  ck_abort_msg("no column %s", name);
  return 0;
}

START_TEST(epochs_csv_logs_test_loss) {
  /* Figure 3a of the RMAN paper needs the test loss per epoch beside the
   * training loss: epochs.csv has test_loss (mean cross-entropy on the test
   * set, evaluation mode) and train_xent (the training cross-entropy
   * without the RMAN term), and the summary reports both. */
  nde_dataset *train = synthetic(48, 5), *test = synthetic(24, 6);
  nde_model *m = tiny_model(3);
  char *dir = tempdir();
  nde_train_summary s;
  nde_train_options t = tiny_train(dir, 2);
  ck_assert_int_eq(nde_train_run(m, train, test, &t, &s), NDE_OK);
  csv_last c;
  read_last_row(dir, "epochs.csv", &c);
  ck_assert_int_eq(c.rows, 2);
  double err, loss, nfe;
  double mean[4] = {0}, std[4] = {1, 1, 1, 1};
  ck_assert_int_eq(nde_data_channel_stats(train, mean, std), NDE_OK);
  ck_assert_int_eq(nde_train_evaluate_loss(m, test, mean, std, 0, &err, &loss, &nfe), NDE_OK);
  printf("trainloop: test loss %.6f (logged %.6f), train xent %.6f, train loss %.6f\n", loss,
         column(&c, "test_loss"), column(&c, "train_xent"), column(&c, "train_loss"));
  ck_assert(loss > 0 && isfinite(loss));
  ck_assert_double_eq_tol(column(&c, "test_loss"), loss, 1e-8 * (1 + loss));
  ck_assert_double_eq_tol(s.test_loss, loss, 1e-12 * (1 + loss));
  ck_assert_double_eq_tol(column(&c, "test_err"), err, 1e-9); /* %.10g in the log */
  /* train_loss = train_xent + (alpha / n) sum E with E >= 0 */
  ck_assert(column(&c, "train_xent") > 0);
  ck_assert(column(&c, "train_xent") < column(&c, "train_loss"));
  ck_assert_double_eq_tol(s.train_xent, column(&c, "train_xent"), 1e-8);
  nde_model_free(m);
  nde_dataset_free(train);
  nde_dataset_free(test);
  rmdir_all(dir);
  free(dir);
}
END_TEST

/* Rewrite dir/epochs.csv as an older nde wrote it: without the train_xent
 * and test_loss columns. */
static void strip_new_columns(const char *dir) {
  char p[512], line[4096], out[16384] = "";
  snprintf(p, sizeof p, "%s/epochs.csv", dir);
  FILE *f = fopen(p, "r");
  ck_assert_ptr_nonnull(f);
  int drop[32] = {0}, first = 1;
  while (fgets(line, sizeof line, f)) {
    char row[4096] = "";
    int k = 0;
    for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"), k++) {
      if (first) drop[k] = !strcmp(tok, "train_xent") || !strcmp(tok, "test_loss");
      if (drop[k]) continue;
      if (row[0]) strcat(row, ",");
      strcat(row, tok);
    }
    strcat(out, row);
    strcat(out, "\n");
    first = 0;
  }
  fclose(f);
  f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fputs(out, f);
  fclose(f);
}

/* Rewrite dir/checkpoint.ndeckpt without the meta keys train_xent and
 * test_loss (a checkpoint of an older nde). */
static void strip_new_meta(const char *dir) {
  char p[512];
  snprintf(p, sizeof p, "%s/checkpoint.ndeckpt", dir);
  nde_ckpt *c;
  ck_assert_int_eq(nde_ckpt_open(p, &c), NDE_OK);
  nde_ckpt_writer *w;
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  for (int i = 0; i < nde_ckpt_num_sections(c); i++) {
    const char *name;
    nde_ckpt_type type;
    size_t n;
    ck_assert_int_eq(nde_ckpt_section_at(c, i, &name, &type, &n), NDE_OK);
    if (!strcmp(name, "meta")) {
      const char *text;
      ck_assert_int_eq(nde_ckpt_read_text(c, "meta", &text), NDE_OK);
      char *copy = strdup(text);
      for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
        char *eq = strchr(l, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = 0;
        if (strcmp(l, "train_xent") && strcmp(l, "test_loss"))
          ck_assert_int_eq(nde_ckpt_set_meta(w, l, eq + 1), NDE_OK);
      }
      free(copy);
    } else if (type == NDE_CKPT_F32 || type == NDE_CKPT_F64) {
      double *x = malloc((n ? n : 1) * sizeof *x);
      ck_assert_int_eq(nde_ckpt_read_f64(c, name, x, n), NDE_OK);
      ck_assert_int_eq(type == NDE_CKPT_F64 ? nde_ckpt_add_f64(w, name, x, n) : NDE_OK, NDE_OK);
      if (type == NDE_CKPT_F32) {
        float *y = malloc((n ? n : 1) * sizeof *y);
        ck_assert_int_eq(nde_ckpt_read_f32(c, name, y, n), NDE_OK);
        ck_assert_int_eq(nde_ckpt_add_f32(w, name, y, n), NDE_OK);
        free(y);
      }
      free(x);
    } else if (type == NDE_CKPT_I64) {
      int64_t *x = malloc((n ? n : 1) * sizeof *x);
      ck_assert_int_eq(nde_ckpt_read_i64(c, name, x, n), NDE_OK);
      ck_assert_int_eq(nde_ckpt_add_i64(w, name, x, n), NDE_OK);
      free(x);
    } else if (type == NDE_CKPT_U64) {
      uint64_t *x = malloc((n ? n : 1) * sizeof *x);
      ck_assert_int_eq(nde_ckpt_read_u64(c, name, x, n), NDE_OK);
      ck_assert_int_eq(nde_ckpt_add_u64(w, name, x, n), NDE_OK);
      free(x);
    } else {
      ck_abort_msg("unexpected section %s", name);
    }
  }
  nde_ckpt_free(c);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, p), NDE_OK);
  nde_ckpt_writer_free(w);
}

START_TEST(resume_log_of_older_nde) {
  /* A run started before epochs.csv had test_loss resumes: the log gets
   * the new header, its old rows "nan" in the new columns, the new rows
   * values; the parameters end as in an uninterrupted run. */
  nde_dataset *train = synthetic(40, 7), *test = synthetic(16, 8);
  char *da = tempdir(), *db = tempdir();
  nde_model *a = tiny_model(2), *b = tiny_model(2);
  nde_train_options ta = tiny_train(da, 2), tb = tiny_train(db, 2);
  ck_assert_int_eq(nde_train_run(a, train, test, &ta, NULL), NDE_OK);
  tb.stop_after = 1;
  ck_assert_int_eq(nde_train_run(b, train, test, &tb, NULL), NDE_OK);
  strip_new_columns(db);
  strip_new_meta(db);
  nde_model_free(b);
  b = tiny_model(2);
  tb.stop_after = 0;
  tb.resume = 1;
  nde_train_summary s;
  ck_assert_msg(nde_train_run(b, train, test, &tb, &s) == NDE_OK, "%s", nde_last_error());
  size_t np = nde_model_num_params(a);
  ck_assert_int_eq(memcmp(nde_model_params(a), nde_model_params(b), np * sizeof(nde_real)), 0);
  csv_last c;
  read_last_row(db, "epochs.csv", &c);
  ck_assert_int_eq(c.rows, 2);
  ck_assert(isfinite(column(&c, "test_loss")) && column(&c, "test_loss") > 0);
  ck_assert(isfinite(s.test_loss) && isfinite(s.train_xent));
  char p[512], line[4096];
  snprintf(p, sizeof p, "%s/epochs.csv", db);
  FILE *f = fopen(p, "r");
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  fclose(f);
  ck_assert_msg(strstr(line, ",nan") != NULL, "old row '%s' lacks nan", line);
  nde_model_free(a);
  nde_model_free(b);
  nde_dataset_free(train);
  nde_dataset_free(test);
  rmdir_all(da);
  rmdir_all(db);
  free(da);
  free(db);
}
END_TEST

START_TEST(train_errors) {
  nde_dataset *train = synthetic(12, 4);
  nde_model *m = tiny_model(0);
  char *dir = tempdir();
  nde_train_options t = tiny_train(dir, 1);
  t.resume = 1; /* no checkpoint yet */
  ck_assert_int_ne(nde_train_run(m, train, NULL, &t, NULL), NDE_OK);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "checkpoint.ndeckpt"));
  t = tiny_train(dir, 1);
  t.batch = 17;
  ck_assert_int_eq(nde_train_run(m, train, NULL, &t, NULL), NDE_ERR_BATCH);
  t = tiny_train(NULL, 1);
  ck_assert_int_eq(nde_train_run(m, train, NULL, &t, NULL), NDE_ERR_NULL);
  nde_dataset *wrong;
  ck_assert_int_eq(nde_dataset_create(4, 1, 10, 10, 3, &wrong), NDE_OK);
  t = tiny_train(dir, 1);
  ck_assert_int_eq(nde_train_run(m, wrong, NULL, &t, NULL), NDE_ERR_SHAPE);
  ck_assert_ptr_nonnull(strstr(nde_last_error(), "training data is 1x10x10 but the model expects 1x12x12"));
  nde_dataset_free(wrong);
  nde_model_free(m);
  nde_dataset_free(train);
  rmdir_all(dir);
  free(dir);
}
END_TEST

/* Rewrite dir's checkpoint with meta `key` set to `value` (every other
 * section and meta pair copied as it is), as a damaged or hostile file
 * would have it. */
static void patch_meta(const char *dir, const char *key, const char *value) {
  char path[512];
  snprintf(path, sizeof path, "%s/checkpoint.ndeckpt", dir);
  nde_ckpt *c;
  nde_ckpt_writer *w;
  ck_assert_int_eq(nde_ckpt_open(path, &c), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  for (int i = 0; i < nde_ckpt_num_sections(c); i++) {
    const char *name;
    nde_ckpt_type type;
    size_t n;
    ck_assert_int_eq(nde_ckpt_section_at(c, i, &name, &type, &n), NDE_OK);
    if (!strcmp(name, "meta")) continue;
    void *x = malloc(n * 8 + 1);
    ck_assert_ptr_nonnull(x);
    const char *text;
    if (type == NDE_CKPT_F32) {
      ck_assert_int_eq(nde_ckpt_read_f32(c, name, x, n), NDE_OK);
      ck_assert_int_eq(nde_ckpt_add_f32(w, name, x, n), NDE_OK);
    } else if (type == NDE_CKPT_F64) {
      ck_assert_int_eq(nde_ckpt_read_f64(c, name, x, n), NDE_OK);
      ck_assert_int_eq(nde_ckpt_add_f64(w, name, x, n), NDE_OK);
    } else if (type == NDE_CKPT_I64) {
      ck_assert_int_eq(nde_ckpt_read_i64(c, name, x, n), NDE_OK);
      ck_assert_int_eq(nde_ckpt_add_i64(w, name, x, n), NDE_OK);
    } else if (type == NDE_CKPT_U64) {
      ck_assert_int_eq(nde_ckpt_read_u64(c, name, x, n), NDE_OK);
      ck_assert_int_eq(nde_ckpt_add_u64(w, name, x, n), NDE_OK);
    } else {
      ck_assert_int_eq(nde_ckpt_read_text(c, name, &text), NDE_OK);
      ck_assert_int_eq(nde_ckpt_add_text(w, name, text), NDE_OK);
    }
    free(x);
  }
  const char *meta;
  ck_assert_int_eq(nde_ckpt_read_text(c, "meta", &meta), NDE_OK);
  char *lines = strdup(meta), *save = NULL;
  for (char *line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(line, '=');
    *eq = '\0';
    ck_assert_int_eq(nde_ckpt_set_meta(w, line, strcmp(line, key) ? eq + 1 : value), NDE_OK);
  }
  free(lines);
  nde_ckpt_free(c);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, path), NDE_OK);
  nde_ckpt_writer_free(w);
}

/* Counts a checkpoint stores as numbers become ints on resume: a value out
 * of int's range (undefined behaviour for a double, a wrapped count for an
 * integer) is a malformed file, named in the message. */
START_TEST(resume_refuses_counts_out_of_range) {
  static const struct {
    const char *key, *value;
  } bad[] = {{"effective", "1e300"},
             {"effective", "nan"},
             {"effective", "-1"},
             {"epoch", "-1"},
             {"epoch", "4294967297"}};
  nde_dataset *train = synthetic(16, 5);
  char *dir = tempdir();
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    nde_model *m = tiny_model(2);
    nde_train_options t = tiny_train(dir, 1);
    ck_assert_int_eq(nde_train_run(m, train, NULL, &t, NULL), NDE_OK);
    patch_meta(dir, bad[k].key, bad[k].value);
    t.epochs = 2;
    t.resume = 1;
    ck_assert_msg(nde_train_run(m, train, NULL, &t, NULL) == NDE_ERR_FORMAT, "meta %s=%s accepted",
                  bad[k].key, bad[k].value);
    ck_assert_ptr_nonnull(strstr(nde_last_error(), bad[k].key));
    nde_model_free(m);
  }
  nde_dataset_free(train);
  rmdir_all(dir);
  free(dir);
}
END_TEST

Suite *trainloop_suite(void) {
  Suite *s = suite_create("trainloop");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, loss_decreases_with_rman);
  tcase_add_test(tc, resume_equals_uninterrupted);
  tcase_add_test(tc, epochs_csv_logs_test_loss);
  tcase_add_test(tc, resume_log_of_older_nde);
  tcase_add_test(tc, train_errors);
  tcase_add_test(tc, resume_refuses_counts_out_of_range);
  suite_add_tcase(s, tc);
  return s;
}
