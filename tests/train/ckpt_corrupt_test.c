/* Damaged checkpoints are rejected with a message naming the file and the
 * problem: flipped bytes (checksum), truncation, wrong magic or version,
 * and section tables that pass the checksum but are malformed (files made
 * by hand here, as a buggy or hostile writer would). */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "train_test.h"

/* A valid checkpoint with a few sections; returns its bytes. */
static char *good_file(const char *path, size_t *len) {
  const double x[4] = {1, 2, 3, 4};
  nde_ckpt_writer *w;
  ck_assert_int_eq(nde_ckpt_writer_create(&w), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_f64(w, "params", x, 4), NDE_OK);
  ck_assert_int_eq(nde_ckpt_add_text(w, "config", "width=64"), NDE_OK);
  ck_assert_int_eq(nde_ckpt_set_meta_int(w, "epoch", 3), NDE_OK);
  ck_assert_int_eq(nde_ckpt_writer_commit(w, path), NDE_OK);
  nde_ckpt_writer_free(w);
  char *b = tt_slurp(path, len);
  ck_assert_ptr_nonnull(b);
  return b;
}

/* Write bytes to path and check that opening fails with code and a message
 * containing what. */
static void expect_open_fails(const char *path, const void *bytes, size_t len, int code,
                              const char *what) {
  ck_assert_int_eq(tt_spit(path, bytes, len), 0);
  nde_ckpt *c = (nde_ckpt *)0x1;
  ck_assert_int_eq(nde_ckpt_open(path, &c), code);
  ck_assert_ptr_null(c);
  TT_MSG_HAS(what);
  TT_MSG_HAS(path);
}

START_TEST(flipped_bytes_fail_checksum) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "c.ckpt");
  size_t len;
  char *good = good_file(path, &len);
  char *bad = malloc(len);
  /* Every single-byte flip after the magic and version is caught: in the
   * payload, the section count, the reserved word and the CRC itself all
   * fail the checksum; the payload length fails the size check. */
  for (size_t at = 12; at < len; at++) {
    memcpy(bad, good, len);
    bad[at] ^= 0x10;
    ck_assert_int_eq(tt_spit(path, bad, len), 0);
    nde_ckpt *c = (nde_ckpt *)0x1;
    int rc = nde_ckpt_open(path, &c);
    int want = (at >= 16 && at < 24) ? NDE_ERR_FORMAT : NDE_ERR_CHECKSUM;
    ck_assert_msg(rc == want, "flip at byte %zu: got %d (%s)", at, rc, nde_last_error());
    ck_assert_ptr_null(c);
  }
  memcpy(bad, good, len);
  bad[len - 3] ^= 1; /* one bit of the payload */
  expect_open_fails(path, bad, len, NDE_ERR_CHECKSUM, "checksum mismatch");
  free(bad);
  free(good);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(truncated_and_foreign_files) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "t.ckpt");
  size_t len;
  char *good = good_file(path, &len);
  expect_open_fails(path, good, len - 5, NDE_ERR_FORMAT, "truncated");
  expect_open_fails(path, good, 32, NDE_ERR_FORMAT, "truncated");
  expect_open_fails(path, good, 20, NDE_ERR_FORMAT, "shorter than the 32-byte header");
  expect_open_fails(path, good, 4, NDE_ERR_FORMAT, "truncated");
  expect_open_fails(path, good, 0, NDE_ERR_FORMAT, "truncated");
  char *bad = malloc(len + 1);
  memcpy(bad, good, len);
  bad[len] = 'x';
  expect_open_fails(path, bad, len + 1, NDE_ERR_FORMAT, "unexpected bytes");
  memcpy(bad, good, len);
  bad[0] = 'P'; /* e.g. a PyTorch zip file */
  expect_open_fails(path, bad, len, NDE_ERR_FORMAT, "bad magic");
  expect_open_fails(path, "hello, this is text and not a checkpoint at all\n", 48, NDE_ERR_FORMAT,
                    "bad magic");
  memcpy(bad, good, len);
  bad[8] = 2; /* version 2, from a future nde */
  expect_open_fails(path, bad, len, NDE_ERR_FORMAT, "version 2");
  bad[8] = 0;
  expect_open_fails(path, bad, len, NDE_ERR_FORMAT, "version 0");
  free(bad);
  free(good);

  nde_ckpt *c;
  char missing[4200];
  snprintf(missing, sizeof missing, "%s/missing.ckpt", dir);
  ck_assert_int_eq(nde_ckpt_open(missing, &c), NDE_ERR_IO);
  TT_MSG_HAS("cannot open");
  TT_MSG_HAS("missing.ckpt");
  ck_assert_int_eq(nde_ckpt_open(dir, &c), NDE_ERR_IO);
  TT_MSG_HAS("not a regular file");
  ck_assert_int_eq(nde_ckpt_open(NULL, &c), NDE_ERR_NULL);
  ck_assert_int_eq(nde_ckpt_open(path, NULL), NDE_ERR_NULL);
  tt_rmtree(dir);
  free(dir);
}
END_TEST

/* ---- hand-made files with a correct checksum ---- */

typedef struct {
  unsigned char b[512];
  size_t n;
} bytes;

static void put32(bytes *x, uint32_t v) {
  for (int i = 0; i < 4; i++) x->b[x->n++] = (unsigned char)(v >> (8 * i));
}
static void put64(bytes *x, uint64_t v) {
  for (int i = 0; i < 8; i++) x->b[x->n++] = (unsigned char)(v >> (8 * i));
}
static void put_raw(bytes *x, const void *p, size_t n) {
  memcpy(x->b + x->n, p, n);
  x->n += n;
}
/* A section with nbytes of data (zeros if data is NULL). */
static void put_section(bytes *x, const char *name, uint32_t type, uint64_t count, const void *data,
                        size_t nbytes) {
  put32(x, (uint32_t)strlen(name));
  put_raw(x, name, strlen(name));
  put32(x, type);
  put64(x, count);
  if (data)
    put_raw(x, data, nbytes);
  else {
    memset(x->b + x->n, 0, nbytes);
    x->n += nbytes;
  }
}

/* Header for the payload (with its CRC), then the payload, to path. */
static void write_made(const char *path, uint32_t nsec, const bytes *payload) {
  bytes f = {{0}, 0};
  put_raw(&f, "NDECKPT", 8);
  put32(&f, 1);
  put32(&f, nsec);
  put64(&f, payload->n);
  put32(&f, 0);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, f.b, 28);
  crc = crc32(crc, payload->b, (uInt)payload->n);
  put32(&f, (uint32_t)crc);
  put_raw(&f, payload->b, payload->n);
  ck_assert_int_eq(tt_spit(path, f.b, f.n), 0);
}

static void expect_made_fails(const char *path, uint32_t nsec, const bytes *payload,
                              const char *what) {
  write_made(path, nsec, payload);
  nde_ckpt *c = (nde_ckpt *)0x1;
  ck_assert_int_eq(nde_ckpt_open(path, &c), NDE_ERR_FORMAT);
  ck_assert_ptr_null(c);
  TT_MSG_HAS(what);
  TT_MSG_HAS(path);
}

START_TEST(malformed_section_tables) {
  char *dir = tt_tmpdir(), path[4096];
  tt_join(path, sizeof path, dir, "m.ckpt");
  bytes p = {{0}, 0};
  /* The hand-made format itself is right: a good one opens. */
  put_section(&p, "x", NDE_CKPT_F64, 2, NULL, 16);
  put_section(&p, "meta", NDE_CKPT_TEXT, 8, "a=1\nb=2\n", 8);
  write_made(path, 2, &p);
  nde_ckpt *c;
  ck_assert_int_eq(nde_ckpt_open(path, &c), NDE_OK);
  const char *v;
  ck_assert_int_eq(nde_ckpt_meta(c, "b", &v), NDE_OK);
  ck_assert_str_eq(v, "2");
  nde_ckpt_free(c);

  p.n = 0;
  put_section(&p, "x", NDE_CKPT_F64, 2, NULL, 16);
  expect_made_fails(path, 2, &p, "cut short");
  expect_made_fails(path, 1000, &p, "cannot fit");
  put_raw(&p, "abc", 3);
  expect_made_fails(path, 1, &p, "bytes after the last section");

  p.n = 0;
  put32(&p, 0); /* empty name */
  put32(&p, NDE_CKPT_F64);
  put64(&p, 0);
  expect_made_fails(path, 1, &p, "bad name length");

  p.n = 0;
  put_section(&p, "a b", NDE_CKPT_F64, 0, NULL, 0);
  expect_made_fails(path, 1, &p, "invalid name");

  p.n = 0;
  put_section(&p, "x", 9, 0, NULL, 0);
  expect_made_fails(path, 1, &p, "unknown type 9");

  p.n = 0;
  put_section(&p, "x", NDE_CKPT_F64, 3, NULL, 16); /* announces 24 bytes, holds 16 */
  expect_made_fails(path, 1, &p, "more than the file holds");

  p.n = 0;
  put_section(&p, "x", NDE_CKPT_F32, (uint64_t)1 << 62, NULL, 0); /* count * 4 would overflow */
  expect_made_fails(path, 1, &p, "more than the file holds");

  p.n = 0;
  put_section(&p, "x", NDE_CKPT_F64, 1, NULL, 8);
  put_section(&p, "x", NDE_CKPT_F64, 1, NULL, 8);
  expect_made_fails(path, 2, &p, "appears twice");

  p.n = 0;
  put_section(&p, "meta", NDE_CKPT_F64, 1, NULL, 8);
  expect_made_fails(path, 1, &p, "not text");

  p.n = 0;
  put_section(&p, "meta", NDE_CKPT_TEXT, 9, "a=1\nnoeq\n", 9);
  expect_made_fails(path, 1, &p, "meta line 2");
  p.n = 0;
  put_section(&p, "meta", NDE_CKPT_TEXT, 3, "a=1", 3); /* no final newline */
  expect_made_fails(path, 1, &p, "meta line 1");
  tt_rmtree(dir);
  free(dir);
}
END_TEST

Suite *ckpt_corrupt_suite(void) {
  Suite *s = suite_create("ckpt_corrupt");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, flipped_bytes_fail_checksum);
  tcase_add_test(tc, truncated_and_foreign_files);
  tcase_add_test(tc, malformed_section_tables);
  suite_add_tcase(s, tc);
  return s;
}
