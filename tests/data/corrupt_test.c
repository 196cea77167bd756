/* Every kind of malformed file is rejected with its code and a message that
 * names the file and the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/datafiles.h"
#include "support/testutil.h"

static void expect(int rc, int want, const char *file, const char *problem) {
  ck_assert_msg(rc == want, "got %d (%s), want %d", rc, nde_last_error(), want);
  const char *msg = nde_last_error();
  ck_assert_msg(strstr(msg, file), "message '%s' does not name '%s'", msg, file);
  ck_assert_msg(strstr(msg, problem), "message '%s' does not say '%s'", msg, problem);
}

static int load(const char *ip, const char *lp, int classes) {
  nde_dataset *ds = (nde_dataset *)1;
  int rc = nde_data_load_idx(ip, lp, classes, &ds);
  if (rc) ck_assert_ptr_null(ds);
  nde_dataset_free(rc ? NULL : ds);
  return rc;
}

/* A good label file of n labels 0..n-1 (mod 10), written to slot 1. */
static const char *good_labels(const char *dir, int n) {
  uint8_t lb[16], buf[64];
  uint32_t d[1] = {(uint32_t)n};
  for (int i = 0; i < n; i++) lb[i] = (uint8_t)(i % 10);
  return df_write(dir, "labels", buf, df_idx(buf, 0x801, 1, d, lb, (size_t)n), 0, 1);
}

START_TEST(idx_corruptions) {
  const char *dir = df_tmpdir();
  uint8_t px[3 * 4 * 4], buf[256] = {0};
  memset(px, 9, sizeof px);
  const uint32_t dims[3] = {3, 4, 4};
  const char *lp = good_labels(dir, 3);
  const char *ip;
  size_t len;

  /* reference: the good pair loads */
  ip = df_write(dir, "good", buf, df_idx(buf, 0x803, 3, dims, px, sizeof px), 0, 0);
  ck_assert_int_eq(load(ip, lp, 10), NDE_OK);

  /* file missing */
  char missing[1100];
  snprintf(missing, sizeof missing, "%s/no-such-file", dir);
  expect(load(missing, lp, 10), NDE_ERR_IO, "no-such-file", "cannot open");
  expect(load(ip, missing, 10), NDE_ERR_IO, "no-such-file", "cannot open");

  /* bad magic: a label file given as images, and garbage */
  expect(load(lp, lp, 10), NDE_ERR_FORMAT, "labels", "bad magic 0x00000801");
  ip = df_write(dir, "magic", buf, df_idx(buf, 0x12345678, 3, dims, px, sizeof px), 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "magic", "bad magic 0x12345678");
  ip = df_write(dir, "float-type", buf, df_idx(buf, 0x0D03, 3, dims, px, sizeof px), 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "float-type", "bad magic");

  /* shorter than a magic; header cut short */
  ip = df_write(dir, "tiny", buf, 2, 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "tiny", "truncated");
  len = df_idx(buf, 0x803, 3, dims, px, 0);
  ip = df_write(dir, "shorthead", buf, len - 3, 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "shorthead", "truncated header");

  /* wrong dimensions */
  const uint32_t zero_rows[3] = {3, 0, 4}, huge_side[3] = {3, 100000, 4};
  ip = df_write(dir, "zerodim", buf, df_idx(buf, 0x803, 3, zero_rows, px, 0), 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "zerodim", "wrong dimensions");
  ip = df_write(dir, "hugedim", buf, df_idx(buf, 0x803, 3, huge_side, px, 0), 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "hugedim", "wrong dimensions");
  const uint32_t huge_total[3] = {0x7fffffff, 65536, 65536};
  ip = df_write(dir, "hugetotal", buf, df_idx(buf, 0x803, 3, huge_total, px, 0), 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "hugetotal", "exceeds");

  /* truncated data, plain and gzip; trailing bytes */
  len = df_idx(buf, 0x803, 3, dims, px, sizeof px);
  ip = df_write(dir, "cut", buf, len - 5, 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "cut", "truncated");
  ip = df_write(dir, "cut.gz", buf, len - 5, 1, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "cut.gz", "truncated");
  ip = df_write(dir, "long", buf, len + 2, 0, 0);
  expect(load(ip, lp, 10), NDE_ERR_FORMAT, "long", "2 trailing bytes");

  /* counts disagree */
  const char *lp4 = good_labels(dir, 4);
  ip = df_write(dir, "three", buf, df_idx(buf, 0x803, 3, dims, px, sizeof px), 0, 0);
  expect(load(ip, lp4, 10), NDE_ERR_FORMAT, "three", "holds 3 images but");
  ck_assert(strstr(nde_last_error(), "4 labels"));

  /* label out of range */
  lp = good_labels(dir, 3);
  expect(load(ip, lp, 2), NDE_ERR_FORMAT, "labels", "label 2 of sample 2 is out of range [0, 2)");

  /* arguments */
  nde_dataset *ds;
  ck_assert_int_eq(nde_data_load_idx(ip, lp, 0, &ds), NDE_ERR_ARG);
  ck_assert_int_eq(nde_data_load_idx(ip, lp, 300, &ds), NDE_ERR_ARG);
  ck_assert_int_eq(nde_data_load_idx(NULL, lp, 10, &ds), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_load_idx(ip, NULL, 10, &ds), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_load_idx(ip, lp, 10, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_load_fashion_mnist(dir, 0, NULL), NDE_ERR_NULL);
  char longdir[5000];
  memset(longdir, 'a', sizeof longdir - 1);
  longdir[sizeof longdir - 1] = '\0';
  ck_assert_int_eq(nde_data_load_fashion_mnist(longdir, 0, &ds), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "too long"));
  df_cleanup(dir);
}
END_TEST

/* A gzip file whose compressed stream is damaged in the middle. */
START_TEST(idx_corrupt_gzip_stream) {
  const char *dir = df_tmpdir();
  enum { N = 50, S = 28 };
  static uint8_t px[N * S * S], buf[N * S * S + 64];
  for (size_t q = 0; q < sizeof px; q++) px[q] = (uint8_t)(q * 2654435761u >> 13);
  const uint32_t dims[3] = {N, S, S};
  const char *ip = df_write(dir, "img.gz", buf, df_idx(buf, 0x803, 3, dims, px, sizeof px), 1, 0);
  const char *lp = NULL;
  {
    uint8_t lb[N], lbuf[N + 16];
    uint32_t d[1] = {N};
    memset(lb, 1, sizeof lb);
    lp = df_write(dir, "lab", lbuf, df_idx(lbuf, 0x801, 1, d, lb, N), 0, 1);
  }
  ck_assert_int_eq(load(ip, lp, 10), NDE_OK);
  /* the compressed stream cut in the middle */
  FILE *g = fopen(ip, "rb");
  ck_assert_ptr_nonnull(g);
  static uint8_t zbuf[sizeof buf];
  size_t zlen = fread(zbuf, 1, sizeof zbuf, g);
  fclose(g);
  ck_assert(zlen > 100 && zlen < sizeof zbuf);
  const char *cut = df_write(dir, "cutstream.gz", zbuf, zlen / 2, 0, 2);
  int rc = load(cut, lp, 10);
  ck_assert_msg(rc == NDE_ERR_IO || rc == NDE_ERR_FORMAT, "rc %d: %s", rc, nde_last_error());
  ck_assert_msg(strstr(nde_last_error(), "cutstream.gz"), "%s", nde_last_error());
  printf("cut gzip stream: %s\n", nde_last_error());
  /* flip bytes in the middle of the deflate data */
  FILE *f = fopen(ip, "r+b");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  ck_assert_int_eq(fseek(f, size / 2, SEEK_SET), 0);
  uint8_t junk[64];
  memset(junk, 0xA5, sizeof junk);
  ck_assert_uint_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
  fclose(f);
  rc = load(ip, lp, 10);
  ck_assert_msg(rc == NDE_ERR_IO || rc == NDE_ERR_FORMAT, "rc %d: %s", rc, nde_last_error());
  ck_assert_msg(strstr(nde_last_error(), "img.gz"), "%s", nde_last_error());
  printf("damaged gzip stream: %s\n", nde_last_error());
  df_cleanup(dir);
}
END_TEST

START_TEST(cifar_corruptions) {
  const char *dir = df_tmpdir();
  uint8_t *buf = malloc(4 * 3074);
  ck_assert_ptr_nonnull(buf);
  size_t len = df_cifar(buf, 0, 3, 0);
  const char *good = df_write(dir, "good.bin", buf, len, 0, 0);
  const char *paths[2] = {good, NULL};
  nde_dataset *ds = (nde_dataset *)1;

  paths[1] = df_write(dir, "cut.bin", buf, len - 100, 0, 1);
  expect(nde_data_load_cifar(paths, 2, 0, &ds), NDE_ERR_FORMAT, "cut.bin", "truncated");
  ck_assert_ptr_null(ds);
  paths[1] = df_write(dir, "empty.bin", buf, 0, 0, 1);
  expect(nde_data_load_cifar(paths, 2, 0, &ds), NDE_ERR_FORMAT, "empty.bin", "not a positive");
  /* a CIFAR-10 file read as CIFAR-100 does not divide into 3074-byte records */
  expect(nde_data_load_cifar(paths, 1, 1, &ds), NDE_ERR_FORMAT, "good.bin", "3074-byte record");
  buf[3073] = 10; /* label of record 1 */
  paths[1] = df_write(dir, "badlabel.bin", buf, len, 0, 1);
  expect(nde_data_load_cifar(paths, 2, 0, &ds), NDE_ERR_FORMAT, "badlabel.bin",
         "record 1 has label 10 out of range [0, 10)");
  len = df_cifar(buf, 0, 2, 1);
  buf[3074] = 20; /* coarse label of record 1 */
  paths[1] = df_write(dir, "badcoarse.bin", buf, len, 0, 1);
  expect(nde_data_load_cifar(paths + 1, 1, 1, &ds), NDE_ERR_FORMAT, "badcoarse.bin",
         "coarse label 20");
  buf[3074] = 19;
  buf[3075] = 100; /* fine label of record 1 */
  paths[1] = df_write(dir, "badfine.bin", buf, len, 0, 1);
  expect(nde_data_load_cifar(paths + 1, 1, 1, &ds), NDE_ERR_FORMAT, "badfine.bin",
         "label 100 out of range [0, 100)");
  char missing[1100];
  snprintf(missing, sizeof missing, "%s/data_batch_9.bin", dir);
  paths[1] = missing;
  expect(nde_data_load_cifar(paths, 2, 0, &ds), NDE_ERR_IO, "data_batch_9.bin", "cannot open");
  paths[1] = NULL;
  ck_assert_int_eq(nde_data_load_cifar(paths, 2, 0, &ds), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_load_cifar(paths, 0, 0, &ds), NDE_ERR_ARG);
  ck_assert_int_eq(nde_data_load_cifar(NULL, 1, 0, &ds), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_load_cifar(paths, 1, 0, NULL), NDE_ERR_NULL);
  free(buf);
  df_cleanup(dir);
}
END_TEST

Suite *data_corrupt_suite(void) {
  Suite *s = suite_create("data_corrupt");
  TCase *tc = tcase_create("corrupt");
  tcase_add_test(tc, idx_corruptions);
  tcase_add_test(tc, idx_corrupt_gzip_stream);
  tcase_add_test(tc, cifar_corruptions);
  suite_add_tcase(s, tc);
  return s;
}
