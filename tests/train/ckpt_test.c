/* Checkpoints: round trips of every section type, float <-> double
 * conversion, meta key/values, optimizer and generator state, atomic
 * replacement, and the writer's argument checks. */
#define _POSIX_C_SOURCE 200809L

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train_test.h"

START_TEST(round_trip_all_types) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "a.ckpt");
  const nde_real params[5] = {1.5f, -2.25f, 0, 3e-8f, 1e6f};
  const float f32[3] = {0.1f, -FLT_MAX, FLT_MIN};
  const double f64[3] = {0.1, -1e300, 5e-324};
  const int64_t i64[3] = {INT64_MIN, -1, INT64_MAX};
  const uint64_t u64[2] = {0, UINT64_MAX};
  nde_rng rng;
  nde_rng_seed(&rng, 2024);
  nde_rng_next(&rng);

  nde_ckpt_writer *w;
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_real(w, "params", params, 5), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f32(w, "f32", f32, 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "f64", f64, 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_i64(w, "i64", i64, 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_u64(w, "u64", u64, 2), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f32(w, "empty", NULL, 0), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_text(w, "config", "model=odenet\nwidth=64"), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_rng(w, "rng", &rng), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta_int(w, "epoch", 17), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta_double(w, "best_acc", 0.1), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "solver", "dopri5, rtol=1e-3"), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "note", ""), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, path), NDE_OK);
  nde_ckpt_writer_free(w);
  ck_assert_int_eq(tt_count_tmp(dir), 0);

  nde_ckpt *c;
  ck_assert_int_eq(nde_ckpt_open(path, &c), NDE_OK);
  ck_assert_str_eq(nde_ckpt_path(c), path);
  ck_assert_int_eq(nde_ckpt_num_sections(c), 9); /* 8 + meta */
  const char *name;
  nde_ckpt_type type;
  size_t count;
  ck_assert_int_eq(nde_ckpt_section_at(c, 0, &name, &type, &count), NDE_OK);
  ck_assert_str_eq(name, "params");
  ck_assert_int_eq(type, NDE_REAL_IS_DOUBLE ? NDE_CKPT_F64 : NDE_CKPT_F32);
  ck_assert_uint_eq(count, 5);
  ck_assert_int_eq(nde_ckpt_section_at(c, 8, &name, &type, NULL), NDE_OK);
  ck_assert_str_eq(name, "meta");
  ck_assert_int_eq(type, NDE_CKPT_TEXT);
  ck_assert_int_eq(nde_ckpt_has(c, "i64"), 1);
  ck_assert_int_eq(nde_ckpt_has(c, "nope"), 0);
  ck_assert_int_eq(nde_ckpt_find(c, "u64", &type, &count), NDE_OK);
  ck_assert_int_eq(type, NDE_CKPT_U64);
  ck_assert_uint_eq(count, 2);

  nde_real rp[5];
  ck_assert_int_eq(nde_ckpt_read_real(c, "params", rp, 5), NDE_OK);
  ck_assert_int_eq(memcmp(rp, params, sizeof rp), 0);
  float rf[3];
  ck_assert_int_eq(nde_ckpt_read_f32(c, "f32", rf, 3), NDE_OK);
  ck_assert_int_eq(memcmp(rf, f32, sizeof rf), 0);
  double rd[3];
  ck_assert_int_eq(nde_ckpt_read_f64(c, "f64", rd, 3), NDE_OK);
  ck_assert_int_eq(memcmp(rd, f64, sizeof rd), 0);
  int64_t ri[3];
  ck_assert_int_eq(nde_ckpt_read_i64(c, "i64", ri, 3), NDE_OK);
  ck_assert(ri[0] == INT64_MIN && ri[1] == -1 && ri[2] == INT64_MAX);
  uint64_t ru[2];
  ck_assert_int_eq(nde_ckpt_read_u64(c, "u64", ru, 2), NDE_OK);
  ck_assert(ru[0] == 0 && ru[1] == UINT64_MAX);
  ck_assert_int_eq(nde_ckpt_read_f32(c, "empty", NULL, 0), NDE_OK);
  const char *text;
  ck_assert_int_eq(nde_ckpt_read_text(c, "config", &text), NDE_OK);
  ck_assert_str_eq(text, "model=odenet\nwidth=64");
  nde_rng back;
  ck_assert_int_eq(nde_ckpt_read_rng(c, "rng", &back), NDE_OK);
  for (int i = 0; i < 5; i++) ck_assert(nde_rng_next(&back) == nde_rng_next(&rng));

  int64_t epoch;
  double acc;
  const char *solver;
  ck_assert_int_eq(nde_ckpt_meta_int(c, "epoch", &epoch), NDE_OK);
  ck_assert_int_eq(epoch, 17);
  ck_assert_int_eq(nde_ckpt_meta_double(c, "best_acc", &acc), NDE_OK);
  ck_assert(acc == 0.1); /* 17 digits: exact */
  ck_assert_int_eq(nde_ckpt_meta(c, "solver", &solver), NDE_OK);
  ck_assert_str_eq(solver, "dopri5, rtol=1e-3");
  ck_assert_int_eq(nde_ckpt_meta(c, "note", &solver), NDE_OK);
  ck_assert_str_eq(solver, "");
  nde_ckpt_free(c);
  nde_ckpt_free(NULL);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

/* A float build's checkpoint loads into a double build and the reverse:
 * F32 and F64 sections both read as nde_real, float, or double. */
START_TEST(float_double_conversion) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "conv.ckpt");
  const float asf[3] = {0.1f, -3.5f, 1e-30f};
  const double asd[3] = {0.1, -3.5, 1e-30};
  const double big[1] = {1e300};
  nde_ckpt_writer *w;
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f32(w, "from_float", asf, 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "from_double", asd, 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "big", big, 1), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, path), NDE_OK);
  nde_ckpt_writer_free(w);
  nde_ckpt *c;
  ck_assert_int_eq(nde_ckpt_open(path, &c), NDE_OK);
  nde_real r[3];
  ck_assert_int_eq(nde_ckpt_read_real(c, "from_float", r, 3), NDE_OK);
  for (int i = 0; i < 3; i++) ck_assert((double)r[i] == (double)asf[i]); /* widening is exact */
  ck_assert_int_eq(nde_ckpt_read_real(c, "from_double", r, 3), NDE_OK);
  for (int i = 0; i < 3; i++) ck_assert(r[i] == (nde_real)asd[i]);
  float f[3];
  double d[3];
  ck_assert_int_eq(nde_ckpt_read_f32(c, "from_double", f, 3), NDE_OK);
  for (int i = 0; i < 3; i++) ck_assert(f[i] == (float)asd[i]);
  ck_assert_int_eq(nde_ckpt_read_f64(c, "from_float", d, 3), NDE_OK);
  for (int i = 0; i < 3; i++) ck_assert(d[i] == (double)asf[i]);
  /* A double too large for a float is refused rather than turned into Inf. */
  ck_assert_int_eq(nde_ckpt_read_f32(c, "big", f, 1), NDE_ERR_NONFINITE);
  TT_MSG_HAS("overflows float");
  ck_assert_int_eq(nde_ckpt_read_f64(c, "big", d, 1), NDE_OK);
  ck_assert(d[0] == 1e300);
  nde_ckpt_free(c);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

/* The reader reports what the caller asked for and the file lacks. */
START_TEST(reader_expectations) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "e.ckpt");
  const double x[3] = {1, 2, 3};
  const int64_t k[1] = {4};
  const uint64_t zero[4] = {0, 0, 0, 0};
  nde_ckpt_writer *w;
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "params", x, 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_i64(w, "k", k, 1), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_u64(w, "zero_rng", zero, 4), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "word", "abc"), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "big", "99999999999999999999999"), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta_int(w, "neg", -7), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta_int(w, "int", 2147483648), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, path), NDE_OK);
  nde_ckpt_writer_free(w);
  nde_ckpt *c;
  ck_assert_int_eq(nde_ckpt_open(path, &c), NDE_OK);
  nde_real r[4];
  ck_assert_int_eq(nde_ckpt_read_real(c, "params", r, 4), NDE_ERR_SHAPE);
  TT_MSG_HAS("holds 3 values, caller expects 4");
  TT_MSG_HAS(path);
  ck_assert_int_eq(nde_ckpt_read_real(c, "state", r, 3), NDE_ERR_FORMAT);
  TT_MSG_HAS("missing section 'state'");
  ck_assert_int_eq(nde_ckpt_find(c, "state", NULL, NULL), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_read_real(c, "k", r, 1), NDE_ERR_FORMAT);
  TT_MSG_HAS("i64");
  int64_t ki;
  uint64_t ku;
  ck_assert_int_eq(nde_ckpt_read_u64(c, "k", &ku, 1), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_read_i64(c, "params", &ki, 1), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_read_i64(c, "k", NULL, 1), NDE_ERR_NULL);
  const char *t;
  ck_assert_int_eq(nde_ckpt_read_text(c, "params", &t), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_read_text(c, "params", NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_read_text(c, "nothing", &t), NDE_ERR_FORMAT);
  nde_rng rng;
  ck_assert_int_eq(nde_ckpt_read_rng(c, "zero_rng", &rng), NDE_ERR_FORMAT);
  TT_MSG_HAS("all zero");
  ck_assert_int_eq(nde_ckpt_read_rng(c, "params", &rng), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_read_rng(c, "zero_rng", NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_meta(c, "epoch", &t), NDE_ERR_FORMAT);
  TT_MSG_HAS("missing meta key 'epoch'");
  int64_t iv;
  double dv;
  ck_assert_int_eq(nde_ckpt_meta_int(c, "word", &iv), NDE_ERR_FORMAT);
  TT_MSG_HAS("not an integer");
  ck_assert_int_eq(nde_ckpt_meta_int(c, "big", &iv), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_meta_double(c, "word", &dv), NDE_ERR_FORMAT);
  TT_MSG_HAS("not a number");
  ck_assert_int_eq(nde_ckpt_meta_double(c, "big", &dv), NDE_OK);
  ck_assert_int_eq(nde_ckpt_meta_int(c, "missing", &iv), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_meta_double(c, "missing", &dv), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_meta_int(c, "word", NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_meta_double(c, "word", NULL), NDE_ERR_NULL);
  /* range-checked integers: the value and the range in the message */
  ck_assert_int_eq(nde_ckpt_meta_int_in(c, "neg", 0, 100, &iv), NDE_ERR_FORMAT);
  TT_MSG_HAS("meta 'neg' = -7 outside [0, 100]");
  ck_assert_int_eq(nde_ckpt_meta_int_in(c, "int", 0, 100, &iv), NDE_ERR_FORMAT);
  TT_MSG_HAS("meta 'int' = 2147483648 outside [0, 100]");
  iv = 0;
  ck_assert_int_eq(nde_ckpt_meta_int_in(c, "int", 0, INT64_MAX, &iv), NDE_OK);
  ck_assert_int_eq(iv, 2147483648);
  ck_assert_int_eq(nde_ckpt_meta_int_in(c, "neg", -7, -7, &iv), NDE_OK);
  ck_assert_int_eq(iv, -7);
  ck_assert_int_eq(nde_ckpt_meta_int_in(c, "word", 0, 1, &iv), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_meta_int_in(c, "missing", 0, 1, &iv), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_meta_int_in(c, "neg", -10, 0, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_meta(NULL, "word", &t), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_meta(c, NULL, &t), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_meta(c, "word", NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_section_at(c, 5, NULL, NULL, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_section_at(c, -1, NULL, NULL, NULL), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_section_at(NULL, 0, NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_find(NULL, "k", NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_find(c, NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_has(NULL, "k"), 0);
  ck_assert_int_eq(nde_ckpt_has(c, NULL), 0);
  ck_assert_int_eq(nde_ckpt_num_sections(NULL), 0);
  ck_assert_ptr_null(nde_ckpt_path(NULL));
  nde_ckpt_free(c);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

/* An optimizer saved mid-run and restored continues bit for bit. */
START_TEST(optimizer_round_trip) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "o.ckpt");
  nde_optim *a, *b, *sgd, *small;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 3, NULL, &a), NDE_OK);
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 3, NULL, &b), NDE_OK);
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 3, NULL, &sgd), NDE_OK);
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_ADAM, 2, NULL, &small), NDE_OK);
  nde_real p[3] = {1, 2, 3}, g[3] = {0.5, -1, 2};
  for (int s = 0; s < 4; s++) ck_assert_int_eq(nde_optim_step(a, p, g, 0.01), NDE_OK);
  nde_ckpt_writer *w;
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_real(w, "params", p, 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_optim(w, "optim", a), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_optim(w, "optim", a), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_add_optim(w, "plain_sgd", sgd), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, path), NDE_OK);
  nde_ckpt_writer_free(w);

  nde_ckpt *c;
  ck_assert_int_eq(nde_ckpt_open(path, &c), NDE_OK);
  nde_real q[3];
  ck_assert_int_eq(nde_ckpt_read_real(c, "params", q, 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_read_optim(c, "optim", b), NDE_OK);
  ck_assert_int_eq(nde_optim_steps(b), 4);
  ck_assert_int_eq(nde_ckpt_read_optim(c, "plain_sgd", sgd), NDE_OK);
  ck_assert_int_eq(nde_ckpt_read_optim(c, "optim", sgd), NDE_ERR_KIND);
  TT_MSG_HAS("adam");
  ck_assert_int_eq(nde_ckpt_read_optim(c, "optim", small), NDE_ERR_SHAPE);
  TT_MSG_HAS("3 parameters");
  ck_assert_int_eq(nde_ckpt_read_optim(c, "nothing", b), NDE_ERR_FORMAT);
  ck_assert_int_eq(nde_ckpt_read_optim(NULL, "optim", b), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_read_optim(c, NULL, b), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_read_optim(c, "optim", NULL), NDE_ERR_NULL);
  for (int s = 0; s < 2; s++) {
    ck_assert_int_eq(nde_optim_step(a, p, g, 0.01), NDE_OK);
    ck_assert_int_eq(nde_optim_step(b, q, g, 0.01), NDE_OK);
  }
  ck_assert_int_eq(memcmp(p, q, sizeof p), 0);
  nde_ckpt_free(c);
  nde_optim_free(a);
  nde_optim_free(b);
  nde_optim_free(sgd);
  nde_optim_free(small);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

static void write_one(const char *path, double v, int expect_rc) {
  nde_ckpt_writer *w;
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "v", &v, 1), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, path), expect_rc);
  nde_ckpt_writer_free(w);
}

static double read_one(const char *path) {
  nde_ckpt *c;
  ck_assert_int_eq(nde_ckpt_open(path, &c), NDE_OK);
  double v;
  ck_assert_int_eq(nde_ckpt_read_f64(c, "v", &v, 1), NDE_OK);
  nde_ckpt_free(c);
  return v;
}

/* Replacement is atomic: temporary files never remain, and a failed write
 * leaves the previous checkpoint intact. */
START_TEST(atomic_replace_and_failed_writes) {
  char *dir = tt_tmpdir(), path[4096], tmp[4200], sub[4096];
  tt_join(path, sizeof path, dir, "run.ckpt");
  write_one(path, 1.0, NDE_OK);
  write_one(path, 2.0, NDE_OK); /* replaces */
  ck_assert(read_one(path) == 2.0);
  ck_assert_int_eq(tt_count_tmp(dir), 0);

  /* The temporary cannot be created (a directory is in the way): error,
   * old checkpoint intact. Works as root too, unlike chmod. */
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  ck_assert_int_eq(mkdir(tmp, 0700), 0);
  write_one(path, 3.0, NDE_ERR_IO);
  TT_MSG_HAS("temporary file");
  TT_MSG_HAS(path);
  ck_assert(read_one(path) == 2.0);
  ck_assert_int_eq(rmdir(tmp), 0);

  /* The rename fails (the target is a directory): the written temporary is
   * removed again. */
  tt_join(sub, sizeof sub, dir, "adir");
  ck_assert_int_eq(mkdir(sub, 0700), 0);
  write_one(sub, 4.0, NDE_ERR_IO);
  TT_MSG_HAS("rename");
  ck_assert_int_eq(tt_count_tmp(dir), 0);

  /* A path inside a directory that does not exist. */
  char missing[4200];
  snprintf(missing, sizeof missing, "%s/no/such/dir/x.ckpt", dir);
  write_one(missing, 5.0, NDE_ERR_IO);
  TT_MSG_HAS("no/such/dir");
  ck_assert(read_one(path) == 2.0);
  ck_assert_int_eq(tt_count_tmp(dir), 0);

  /* A relative path (directory "."), and commit repeated under a second name. */
  char cwd[4096];
  ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
  ck_assert_int_eq(chdir(dir), 0);
  nde_ckpt_writer *w;
  double v = 6.0;
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "v", &v, 1), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, "rel.ckpt"), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, "rel2.ckpt"), NDE_OK);
  nde_ckpt_writer_free(w);
  ck_assert(read_one("rel.ckpt") == 6.0 && read_one("rel2.ckpt") == 6.0);
  ck_assert_int_eq(chdir(cwd), 0);
  ck_assert_int_eq(tt_count_tmp(dir), 0);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

/* Temporaries left by killed commits ("<path>.tmp.<digits>") are removed,
 * nothing else is. */
START_TEST(stale_temporaries_removed) {
  char *dir = tt_tmpdir(), path[4096], p[4200];
  tt_join(path, sizeof path, dir, "run.ckpt");
  write_one(path, 1.0, NDE_OK);
  const char *stale[] = {"run.ckpt.tmp.123", "run.ckpt.tmp.9"};
  const char *kept[] = {"run.ckpt.tmp.", "run.ckpt.tmp.12x", "other.ckpt.tmp.5", "run.ckpt.tmpx.1",
                        "xrun.ckpt.tmp.1"};
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
    ck_assert_int_eq(tt_spit(p, "torn", 4), 0);
  }
  for (int i = 0; i < 5; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, kept[i]);
    ck_assert_int_eq(tt_spit(p, "keep", 4), 0);
  }
  ck_assert_int_eq(nde_ckpt_remove_temporaries(path), 2);
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
    ck_assert_int_eq(access(p, F_OK), -1);
  }
  for (int i = 0; i < 5; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, kept[i]);
    ck_assert_int_eq(access(p, F_OK), 0);
  }
  ck_assert(read_one(path) == 1.0);
  ck_assert_int_eq(nde_ckpt_remove_temporaries(path), 0);
  /* One that cannot be removed (a directory) is an error naming it. */
  snprintf(p, sizeof p, "%s/run.ckpt.tmp.77", dir);
  ck_assert_int_eq(mkdir(p, 0700), 0);
  ck_assert_int_eq(nde_ckpt_remove_temporaries(path), NDE_ERR_IO);
  TT_MSG_HAS("run.ckpt.tmp.77");
  ck_assert_int_eq(rmdir(p), 0);
  snprintf(p, sizeof p, "%s/no/such/run.ckpt", dir);
  ck_assert_int_eq(nde_ckpt_remove_temporaries(p), NDE_ERR_IO);
  TT_MSG_HAS("no/such");
  snprintf(p, sizeof p, "%s/", dir);
  ck_assert_int_eq(nde_ckpt_remove_temporaries(p), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_remove_temporaries(NULL), NDE_ERR_NULL);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(writer_bad_arguments) {
  nde_ckpt_writer *w;
  const double x[2] = {1, 2};
  nde_rng rng;
  nde_rng_seed(&rng, 1);
  ck_assert_int_eq(nde_ckpt_writer_create(NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(NULL, "a", x, 2), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_add_f64(w, NULL, x, 2), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "a", NULL, 2), NDE_ERR_NULL);
  TT_MSG_HAS("'a'");
  ck_assert_int_eq(nde_ckpt_add_f64(w, "", x, 2), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "has space", x, 2), NDE_ERR_ARG);
  TT_MSG_HAS("printable");
  char longname[NDE_CKPT_NAME_MAX + 2];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  ck_assert_int_eq(nde_ckpt_add_f64(w, longname, x, 2), NDE_ERR_ARG);
  longname[NDE_CKPT_NAME_MAX] = '\0'; /* exactly the maximum is fine */
  ck_assert_int_eq(nde_ckpt_add_f64(w, longname, x, 2), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "meta", x, 2), NDE_ERR_ARG);
  TT_MSG_HAS("reserved");
  ck_assert_int_eq(nde_ckpt_add_f64(w, "a", x, 2), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f32(w, "a", NULL, 0), NDE_ERR_ARG);
  TT_MSG_HAS("added twice");
  ck_assert_int_eq(nde_ckpt_add_text(w, "t", NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_add_rng(w, "r", NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_add_optim(w, "o", NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_add_optim(NULL, "o", NULL), NDE_ERR_NULL);
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 2, NULL, &opt), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_optim(w, NULL, opt), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_add_optim(w, longname, opt), NDE_ERR_ARG);
  TT_MSG_HAS(".info");
  ck_assert_int_eq(nde_ckpt_add_i64(w, "o.info", (const int64_t[]){1}, 1), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_optim(w, "o", opt), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_has(NULL, "o"), 0);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "k", "v"), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "k", "w"), NDE_ERR_ARG);
  TT_MSG_HAS("set twice");
  ck_assert_int_eq(nde_ckpt_set_meta(w, "k2", "w"), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "a=b", "v"), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "", "v"), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "nl", "two\nlines"), NDE_ERR_ARG);
  TT_MSG_HAS("newline");
  ck_assert_int_eq(nde_ckpt_set_meta(NULL, "k", "v"), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_set_meta(w, NULL, "v"), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_set_meta(w, "k3", NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_writer_commit(NULL, "x"), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, ""), NDE_ERR_ARG);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "still_open", x, 2), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, "/nonexistent-nde-dir-q7/x.ckpt"), NDE_ERR_IO);
  /* The failed commit above sealed the writer (a retry may follow). */
  ck_assert_int_eq(nde_ckpt_add_f64(w, "late", x, 2), NDE_ERR_STATE);
  TT_MSG_HAS("already committed");
  ck_assert_int_eq(nde_ckpt_set_meta(w, "late", "v"), NDE_ERR_STATE);
  nde_optim_free(opt);
  nde_ckpt_writer_free(w);
  nde_ckpt_writer_free(NULL);
  ck_assert_str_eq(nde_ckpt_type_name(NDE_CKPT_F32), "f32");
  ck_assert_str_eq(nde_ckpt_type_name(NDE_CKPT_TEXT), "text");
  ck_assert_str_eq(nde_ckpt_type_name(0), "unknown");
}
END_TEST

Suite *ckpt_suite(void) {
  Suite *s = suite_create("ckpt");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, round_trip_all_types);
  tcase_add_test(tc, float_double_conversion);
  tcase_add_test(tc, reader_expectations);
  tcase_add_test(tc, optimizer_round_trip);
  tcase_add_test(tc, atomic_replace_and_failed_writes);
  tcase_add_test(tc, stale_temporaries_removed);
  tcase_add_test(tc, writer_bad_arguments);
  suite_add_tcase(s, tc);
  return s;
}
