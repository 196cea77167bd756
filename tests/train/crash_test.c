/* Crash consistency of a training run's directory: a run killed (SIGKILL,
 * through the test-only fault hook of nde_train_options) at every point of
 * its write protocol, at every time it reaches that point, and then resumed
 * (or restarted, when no checkpoint exists yet) ends with a directory equal
 * to an uninterrupted run's: the same checkpoint sections and meta, the
 * same epochs.csv and batches.csv rows (wall-time columns aside), and no
 * temporary files. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train_test.h"

#define EPOCHS 3

/* Every point of the protocol (see nde_train_options.fault_hook); the last
 * one is reached only when resuming. */
static const char *const POINTS[] = {"csv.torn",     "batch.row",    "epoch.row",
                                     "logs.synced",  "ckpt.partial", "ckpt.written",
                                     "ckpt.renamed", "epoch.done",   "log.repaired"};
#define NPOINTS ((int)(sizeof POINTS / sizeof POINTS[0]))
#define NRUN_POINTS (NPOINTS - 1)

static nde_dataset *g_train, *g_test;

typedef struct killer {
  const char *point;
  long count, seen;
} killer;

static void kill_hook(const char *point, void *ctx) {
  killer *k = ctx;
  if (!strcmp(point, k->point) && ++k->seen == k->count) raise(SIGKILL);
}

static int has_checkpoint(const char *dir) {
  char p[4096];
  tt_join(p, sizeof p, dir, "checkpoint.ndeckpt");
  return access(p, F_OK) == 0;
}

/* Train in a child process, resuming when the directory holds a checkpoint
 * (as `nde table3 --resume` does), killed at the count-th time it reaches
 * point (NULL: never). Returns 1 when the hook killed it, 0 when it
 * finished; anything else fails the test. The child never asserts. */
static int run_child(const char *dir, const char *point, long count) {
  int resume = has_checkpoint(dir);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    nde_model *m;
    if (tt_tiny_model(2, NDE_ODE_EULER, &m)) _exit(4);
    nde_train_options t = nde_train_options_default();
    t.epochs = EPOCHS;
    t.batch = 16;
    t.crop_pad = 1;
    t.out_dir = dir;
    t.resume = resume;
    nde_schedule_constant(&t.schedule, 0.05);
    killer k = {point, count, 0};
    if (point) {
      t.fault_hook = kill_hook;
      t.fault_ctx = &k;
    }
    int rc = nde_train_run(m, g_train, g_test, &t, NULL);
    if (rc) fprintf(stderr, "child: %s\n", nde_last_error());
    _exit(rc ? 3 : 0);
  }
  int st;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) return 1;
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                "training in %s (%s, killed at %s:%ld) failed with status 0x%x", dir,
                resume ? "resumed" : "fresh", point ? point : "-", count, st);
  return 0;
}

/* Split a line at commas in place (the training logs never quote). */
static int split(char *line, char **f, int cap) {
  int n = 0;
  for (char *s = line; n < cap;) {
    f[n++] = s;
    s = strchr(s, ',');
    if (!s) break;
    *s++ = '\0';
  }
  return n;
}

/* The first difference found goes to why (size WHY); returns 1 if any. */
#define WHY 8192

/* Same header and rows; the "seconds" column (wall time) is left out. */
static int csv_differs(const char *ref, const char *dir, const char *name, char *why) {
  char pa[4096], pb[4096];
  tt_join(pa, sizeof pa, ref, name);
  tt_join(pb, sizeof pb, dir, name);
  char *a = tt_slurp(pa, NULL), *b = tt_slurp(pb, NULL);
  int bad = 0;
  if (!a || !b) {
    snprintf(why, WHY, "cannot read %.4000s", pb);
    bad = 1;
  }
  char *sa, *sb, *la = bad ? NULL : strtok_r(a, "\n", &sa),
                 *lb = bad ? NULL : strtok_r(b, "\n", &sb);
  if (!bad && (!la || !lb || strcmp(la, lb))) {
    snprintf(why, WHY, "%s: the headers differ", name);
    bad = 1;
  }
  char *ha[32], *hb[32];
  int nc = bad ? 0 : split(la, ha, 32);
  if (!bad) split(lb, hb, 32);
  for (int row = 1; !bad; row++) {
    la = strtok_r(NULL, "\n", &sa);
    lb = strtok_r(NULL, "\n", &sb);
    if (!la || !lb) {
      if (la || lb) {
        snprintf(why, WHY, "%s has %s rows than the uninterrupted run's (%d in common)", name,
                 la ? "fewer" : "more", row - 1);
        bad = 1;
      }
      break;
    }
    char *fa[32], *fb[32];
    int na = split(la, fa, 32), nb = split(lb, fb, 32);
    if (na != nc || nb != nc) {
      snprintf(why, WHY, "%s row %d has %d fields, want %d", name, row, nb, nc);
      bad = 1;
    }
    for (int i = 0; i < nc && !bad; i++)
      if (strcmp(ha[i], "seconds") != 0 && strcmp(fa[i], fb[i]) != 0) {
        snprintf(why, WHY, "%s row %d column %s: %s, uninterrupted %s", name, row, ha[i], fb[i],
                 fa[i]);
        bad = 1;
      }
  }
  free(a);
  free(b);
  return bad;
}

/* The meta text without its wall-time line. */
static void meta_without_time(const nde_ckpt *c, char *out, size_t cap) {
  const char *t = "";
  nde_ckpt_read_text(c, "meta", &t);
  out[0] = '\0';
  for (const char *l = t; *l;) {
    const char *e = strchr(l, '\n');
    size_t n = e ? (size_t)(e - l + 1) : strlen(l);
    if (strncmp(l, "seconds_total=", 14) != 0 && n < cap - strlen(out)) strncat(out, l, n);
    l += n;
  }
}

/* Values of a section as raw bytes (bit for bit for the floats). */
static void *section_bytes(const nde_ckpt *c, const char *name, nde_ckpt_type type, size_t n,
                           size_t *bytes) {
  void *v = malloc(n * 8 + 1);
  int rc = NDE_ERR_FORMAT;
  *bytes = 8 * n;
  switch (type) {
  case NDE_CKPT_F32: rc = nde_ckpt_read_f32(c, name, v, n), *bytes = 4 * n; break;
  case NDE_CKPT_F64: rc = nde_ckpt_read_f64(c, name, v, n); break;
  case NDE_CKPT_I64: rc = nde_ckpt_read_i64(c, name, v, n); break;
  case NDE_CKPT_U64: rc = nde_ckpt_read_u64(c, name, v, n); break;
  default: break;
  }
  if (rc) {
    free(v);
    return NULL;
  }
  return v;
}

/* Every section equal, value for value; meta equal but for the wall time. */
static int ckpt_differs(const char *ref, const char *dir, char *why) {
  char pa[4096], pb[4096];
  tt_join(pa, sizeof pa, ref, "checkpoint.ndeckpt");
  tt_join(pb, sizeof pb, dir, "checkpoint.ndeckpt");
  nde_ckpt *a, *b;
  ck_assert_int_eq(nde_ckpt_open(pa, &a), NDE_OK);
  if (nde_ckpt_open(pb, &b)) {
    snprintf(why, WHY, "%s", nde_last_error());
    nde_ckpt_free(a);
    return 1;
  }
  int bad = nde_ckpt_num_sections(a) != nde_ckpt_num_sections(b);
  if (bad) snprintf(why, WHY, "the checkpoints have different sections");
  for (int i = 0; i < nde_ckpt_num_sections(a) && !bad; i++) {
    const char *na, *nb;
    nde_ckpt_type ta, tb;
    size_t ca, cb;
    nde_ckpt_section_at(a, i, &na, &ta, &ca);
    nde_ckpt_section_at(b, i, &nb, &tb, &cb);
    /* the meta text's length varies with the wall time's digits */
    if (strcmp(na, nb) || ta != tb || (ca != cb && strcmp(na, "meta"))) {
      snprintf(why, WHY, "checkpoint section %d: '%s' vs '%s'", i, nb, na);
      bad = 1;
    } else if (!strcmp(na, "meta")) {
      char ma[2048], mb[2048];
      meta_without_time(a, ma, sizeof ma);
      meta_without_time(b, mb, sizeof mb);
      if (strcmp(ma, mb)) {
        snprintf(why, WHY, "checkpoint meta differs:\n%s\nuninterrupted:\n%s", mb, ma);
        bad = 1;
      }
    } else {
      size_t la, lb;
      void *va = section_bytes(a, na, ta, ca, &la), *vb = section_bytes(b, nb, tb, cb, &lb);
      if (!va || !vb || la != lb || memcmp(va, vb, la)) {
        snprintf(why, WHY, "checkpoint section '%s' differs from the uninterrupted run's", na);
        bad = 1;
      }
      free(va);
      free(vb);
    }
  }
  nde_ckpt_free(a);
  nde_ckpt_free(b);
  return bad;
}

/* Record in report (size cap) how the run in dir differs from ref. */
static int run_differs(const char *ref, const char *dir, const char *what, char *report,
                       size_t cap) {
  char why[WHY];
  int bad = 1;
  if (tt_count_tmp(dir) > 0)
    snprintf(why, sizeof why, "a temporary file is left behind");
  else if (!ckpt_differs(ref, dir, why) && !csv_differs(ref, dir, "epochs.csv", why) &&
           !csv_differs(ref, dir, "batches.csv", why))
    bad = 0;
  if (bad) {
    size_t used = strlen(report);
    snprintf(report + used, cap - used, "  %s: %s\n", what, why);
  }
  return bad;
}

static char *reference_run(void) {
  char *ref = tt_tmpdir();
  ck_assert_int_eq(run_child(ref, NULL, 0), 0);
  return ref;
}

static void fixtures(void) {
  g_train = tt_synthetic(40, 3); /* 3 batches of 16, 16, 8 */
  g_test = tt_synthetic(12, 5);
}

static void free_fixtures(void) {
  nde_dataset_free(g_train);
  nde_dataset_free(g_test);
}

/* Kill at every point, every time it is reached, then resume to the end. */
START_TEST(kill_at_every_point) {
  fixtures();
  char *ref = reference_run();
  int kills = 0, bad = 0;
  static char report[16384];
  report[0] = '\0';
  for (int p = 0; p < NRUN_POINTS; p++) {
    long count = 1;
    for (;; count++) {
      char *dir = tt_tmpdir(), what[128];
      snprintf(what, sizeof what, "killed at %s:%ld", POINTS[p], count);
      int killed = run_child(dir, POINTS[p], count);
      if (killed) {
        kills++;
        ck_assert_int_eq(run_child(dir, NULL, 0), 0);
        bad += run_differs(ref, dir, what, report, sizeof report);
      }
      tt_rmtree(dir);
      free(dir);
      if (!killed) break;
    }
    ck_assert_msg(count > EPOCHS, "point %s was reached only %ld times in %d epochs", POINTS[p],
                  count - 1, EPOCHS);
  }
  ck_assert_msg(!bad, "%d of %d killed and resumed runs differ from the uninterrupted one:\n%s",
                bad, kills, report);
  printf("crash: %d kills over %d points, every resumed run equal to the uninterrupted one\n",
         kills, NRUN_POINTS);
  tt_rmtree(ref);
  free(ref);
  free_fixtures();
}
END_TEST

/* A resumed run killed again, at every point's first occurrence (the
 * repair of the logs included). */
START_TEST(kill_the_resumed_run_too) {
  fixtures();
  char *ref = reference_run();
  const char *first[] = {"ckpt.written", "ckpt.renamed", "csv.torn"};
  const long first_count[] = {2, 2, 7};
  static char report[16384];
  report[0] = '\0';
  int bad = 0, runs = 0;
  for (int f = 0; f < 3; f++)
    for (int p = 0; p < NPOINTS; p++) {
      char *dir = tt_tmpdir(), what[160];
      snprintf(what, sizeof what, "killed at %s:%ld, then at %s:1", first[f], first_count[f],
               POINTS[p]);
      ck_assert_int_eq(run_child(dir, first[f], first_count[f]), 1);
      run_child(dir, POINTS[p], 1); /* killed, or done when the point is not reached */
      ck_assert_int_eq(run_child(dir, NULL, 0), 0);
      bad += run_differs(ref, dir, what, report, sizeof report);
      runs++;
      tt_rmtree(dir);
      free(dir);
    }
  ck_assert_msg(!bad, "%d of %d twice killed runs differ from the uninterrupted one:\n%s", bad,
                runs, report);
  tt_rmtree(ref);
  free(ref);
  free_fixtures();
}
END_TEST

/* A fresh run in a finished run's directory, killed in its first epoch,
 * leaves no checkpoint of the old run beside its new logs. */
START_TEST(fresh_run_over_an_old_one) {
  fixtures();
  char *ref = reference_run(), *dir = reference_run(), report[WHY + 256] = "";
  ck_assert(has_checkpoint(dir));
  fflush(stdout);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) { /* run_child would resume: start afresh, killed after a batch */
    nde_model *m;
    if (tt_tiny_model(2, NDE_ODE_EULER, &m)) _exit(4);
    nde_train_options t = nde_train_options_default();
    t.epochs = EPOCHS;
    t.batch = 16;
    t.crop_pad = 1;
    t.out_dir = dir;
    nde_schedule_constant(&t.schedule, 0.05);
    killer k = {"batch.row", 1, 0};
    t.fault_hook = kill_hook;
    t.fault_ctx = &k;
    nde_train_run(m, g_train, g_test, &t, NULL);
    _exit(3);
  }
  int st;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  ck_assert_msg(!has_checkpoint(dir), "the old run's checkpoint is left beside the new logs");
  ck_assert_int_eq(run_child(dir, NULL, 0), 0);
  ck_assert_msg(!run_differs(ref, dir, "fresh run", report, sizeof report), "%s", report);
  tt_rmtree(ref);
  tt_rmtree(dir);
  free(ref);
  free(dir);
  free_fixtures();
}
END_TEST

Suite *crash_suite(void) {
  Suite *s = suite_create("crash");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, kill_at_every_point);
  tcase_add_test(tc, kill_the_resumed_run_too);
  tcase_add_test(tc, fresh_run_over_an_old_one);
  suite_add_tcase(s, tc);
  return s;
}
