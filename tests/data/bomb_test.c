/* Gzip bombs: a small .gz whose header announces a few samples but whose
 * stream inflates to hundreds of MiB. The IDX reader reads the header
 * first and inflates no more than it announces (plus a little to see that
 * more follows), so the file is refused as trailing data without the memory
 * the whole stream would take. A 1 MB labels .gz once made the reader
 * inflate 1 GiB (peak RSS 1025 MiB) before rejecting it. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "data/datafiles.h"
#include "support/testutil.h"

enum { BOMB_MIB = 256, N = 10, S = 28 };

/* dir/name.gz: an IDX header (magic, dims), `payload` bytes of valid data
 * (label / pixel 1) and then `extra_mib` MiB of zeros. */
static const char *write_bomb(const char *dir, const char *name, uint32_t magic, int ndim,
                              const uint32_t *dims, size_t payload, size_t extra_mib, int slot) {
  static char paths[4][1024];
  char *p = paths[slot];
  snprintf(p, sizeof paths[0], "%s/%s", dir, name);
  gzFile f = gzopen(p, "wb9");
  ck_assert_ptr_nonnull(f);
  uint8_t head[16];
  size_t hl = df_idx(head, magic, ndim, dims, NULL, 0);
  ck_assert_int_eq(gzwrite(f, head, (unsigned)hl), (int)hl);
  uint8_t *chunk = malloc(1 << 20);
  ck_assert_ptr_nonnull(chunk);
  memset(chunk, 1, payload);
  ck_assert_int_eq(gzwrite(f, chunk, (unsigned)payload), (int)payload);
  memset(chunk, 0, 1 << 20);
  for (size_t k = 0; k < extra_mib; k++) ck_assert_int_eq(gzwrite(f, chunk, 1 << 20), 1 << 20);
  free(chunk);
  ck_assert_int_eq(gzclose(f), Z_OK);
  return p;
}

/* Peak resident memory of this process so far, in KiB. */
static long peak_kib(void) {
  struct rusage ru;
  ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
  return ru.ru_maxrss;
}

/* Load the pair in a fresh child (its peak-RSS mark starts at what it
 * inherits, whatever the earlier tests in this process reached) and check
 * there that the load is refused as trailing data while the peak grew by
 * less than a tenth of the bomb. The exit status says what failed. */
static void load_in_child(const char *ip, const char *lp, const char *bad_file) {
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    long before = peak_kib();
    nde_dataset *ds = NULL;
    int rc = nde_data_load_idx(ip, lp, 10, &ds);
    long grew = peak_kib() - before;
    const char *msg = nde_last_error();
    int status = 0;
    if (rc != NDE_ERR_FORMAT || ds)
      status = 1;
    else if (!strstr(msg, bad_file) || !strstr(msg, "trailing bytes"))
      status = 2;
    else if (grew > BOMB_MIB * 1024 / 10)
      status = 3;
    fprintf(stderr, "gzip bomb %s: rc %d, peak RSS grew %ld KiB: %s\n", bad_file, rc, grew, msg);
    _exit(status);
  }
  int st = 0;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert_msg(WIFEXITED(st), "the loader died (signal %d)", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  ck_assert_msg(WEXITSTATUS(st) == 0, "%s: %s (see the child's line above)", bad_file,
                WEXITSTATUS(st) == 1   ? "not refused as NDE_ERR_FORMAT"
                : WEXITSTATUS(st) == 2 ? "message does not name the file and the trailing bytes"
                                       : "the reader inflated far more than the header announces");
}

START_TEST(idx_gzip_bomb_refused_within_header_size) {
  const char *dir = df_tmpdir();
  const uint32_t ldims[1] = {N}, idims[3] = {N, S, S};
  /* a labels bomb beside good images, then an images bomb beside good labels */
  const char *lbomb = write_bomb(dir, "labels-bomb.gz", 0x801, 1, ldims, N, BOMB_MIB, 0);
  const char *igood = write_bomb(dir, "images-good.gz", 0x803, 3, idims, (size_t)N * S * S, 0, 1);
  const char *ibomb =
      write_bomb(dir, "images-bomb.gz", 0x803, 3, idims, (size_t)N * S * S, BOMB_MIB, 2);
  const char *lgood = write_bomb(dir, "labels-good.gz", 0x801, 1, ldims, N, 0, 3);
  struct stat sb;
  ck_assert_int_eq(stat(lbomb, &sb), 0);
  ck_assert_msg(sb.st_size < BOMB_MIB * 1024 * 4, "the bomb should compress well: %ld bytes",
                (long)sb.st_size);
  nde_dataset *ds;
  ck_assert_int_eq(nde_data_load_idx(igood, lgood, 10, &ds), NDE_OK);
  ck_assert_int_eq(ds->n, N);
  ck_assert_int_eq(ds->pixels[(size_t)N * S * S - 1], 1);
  ck_assert_int_eq(ds->labels[N - 1], 1);
  nde_dataset_free(ds);
  load_in_child(igood, lbomb, "labels-bomb.gz");
  load_in_child(ibomb, lgood, "images-bomb.gz");
  df_cleanup(dir);
}
END_TEST

/* A header announcing far more than the file holds is refused when the
 * header is read, before the reader allocates what it announces (the
 * fuzzer's 20-byte file claiming 2.4 GB made it malloc that much first). */
START_TEST(idx_header_larger_than_file_refused_at_open) {
  const char *dir = df_tmpdir();
  char ip[4096], lp[4096];
  snprintf(ip, sizeof ip, "%s/images-liar", dir);
  snprintf(lp, sizeof lp, "%s/labels-ok", dir);
  const unsigned char img[16] = {0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28};
  FILE *f = fopen(ip, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fwrite(img, 1, sizeof img, f), sizeof img);
  fclose(f);
  unsigned char lab[8 + 60000] = {0, 0, 8, 1, 0, 0, 0xea, 0x60};
  f = fopen(lp, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fwrite(lab, 1, sizeof lab, f), sizeof lab);
  fclose(f);
  nde_dataset *ds = NULL;
  ck_assert_int_eq(nde_data_load_idx(ip, lp, 10, &ds), NDE_ERR_FORMAT);
  ck_assert_ptr_null(ds);
  ck_assert_msg(strstr(nde_last_error(), "more than a plain file of 16 bytes can hold"),
                "%s", nde_last_error());
  df_cleanup(dir);
}
END_TEST

Suite *data_bomb_suite(void) {
  Suite *s = suite_create("data_bomb");
  TCase *tc = tcase_create("bomb");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, idx_gzip_bomb_refused_within_header_size);
  tcase_add_test(tc, idx_header_larger_than_file_refused_at_open);
  suite_add_tcase(s, tc);
  return s;
}
