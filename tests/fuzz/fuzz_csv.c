/* Fuzz target: nde_csv_append, which reads the log a resumed run left
 * behind (epochs.csv, batches.csv; train/csv_log.c).
 * Input: one byte k (bit 7 set: keep every row, else keep_rows = k & 0x7f),
 * one byte c (1 + c % 3 columns of "epoch", "loss", "note"), then the old
 * file. The outcome is checked against the documented behaviour computed
 * here: refused exactly when the first line is not the header; otherwise
 * the file becomes the header (when the old one was empty or a cut-off
 * header) or the old file up to its last whole line, at most keep_rows rows
 * after the header; one appended row must then follow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_util.h"

/* Expected length of the old file that is kept (-1: refused; -2: header
 * written anew) and the rows it holds. */
static long expected_cut(const uint8_t *old, size_t n, const char *hdr, long keep, long *rows) {
  size_t hlen = strlen(hdr);
  *rows = 0;
  if (n == 0) return -2;
  const uint8_t *nl = memchr(old, '\n', n);
  if (!nl) return n <= hlen && !memcmp(old, hdr, n) ? -2 : -1;
  size_t len = (size_t)(nl - old);
  if (len > 0 && old[len - 1] == '\r') len--;
  if (len != hlen || memcmp(old, hdr, hlen)) return -1;
  size_t at = (size_t)(nl - old) + 1, cut = at;
  while (keep < 0 || *rows < keep) {
    const uint8_t *e = memchr(old + at, '\n', n - at);
    if (!e) break;
    at = (size_t)(e - old) + 1;
    cut = at;
    (*rows)++;
  }
  return (long)cut;
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  FUZZ_REQUIRE(f);
  size_t cap = 4096;
  uint8_t *b = malloc(cap);
  FUZZ_REQUIRE(b);
  *n = 0;
  size_t got;
  while ((got = fread(b + *n, 1, cap - *n, f)) > 0) {
    *n += got;
    if (*n == cap) {
      b = realloc(b, cap *= 2);
      FUZZ_REQUIRE(b);
    }
  }
  fclose(f);
  return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const cols[] = {"epoch", "loss", "note"};
  static const char *const headers[] = {"epoch", "epoch,loss", "epoch,loss,note"};
  if (size < 2) return 0;
  long keep = data[0] & 0x80 ? -1 : data[0] & 0x7f;
  int ncol = 1 + data[1] % 3;
  const char *hdr = headers[ncol - 1];
  const uint8_t *old = data + 2;
  size_t n = size - 2;
  const char *path = fuzz_file(0, old, n);
  nde_csv *c = (nde_csv *)1; /* the reader must set it */
  int rc = nde_csv_append(path, cols, ncol, keep, &c);
  long rows, cut = expected_cut(old, n, hdr, keep, &rows);
  /* A first line beyond the reader's 64 KiB limit may be refused as well. */
  const uint8_t *nl = memchr(old, '\n', n);
  if (rc && (size_t)(nl ? nl - old : (long)n) > 65536) return 0;
  if (cut == -1) {
    static const int allowed[] = {NDE_ERR_FORMAT, 0};
    const char *paths[] = {path, NULL};
    fuzz_check_failure(rc, c, allowed, paths);
    return 0;
  }
  FUZZ_REQUIRE(rc == NDE_OK && c);
  FUZZ_REQUIRE(nde_csv_num_cols(c) == ncol && nde_csv_num_rows(c) == rows);
  double row[3] = {1, 2.5, -3};
  FUZZ_REQUIRE(nde_csv_row(c, row, ncol) == NDE_OK && nde_csv_num_rows(c) == rows + 1);
  nde_csv_free(c);
  static const char *const lines[] = {"1\n", "1,2.5\n", "1,2.5,-3\n"};
  const char *line = lines[ncol - 1];
  size_t got, keep_len = cut == -2 ? strlen(hdr) + 1 : (size_t)cut;
  uint8_t *now = slurp(path, &got);
  FUZZ_REQUIRE(got == keep_len + strlen(line));
  if (cut == -2)
    FUZZ_REQUIRE(!memcmp(now, hdr, strlen(hdr)) && now[strlen(hdr)] == '\n');
  else
    FUZZ_REQUIRE(!memcmp(now, old, keep_len));
  FUZZ_REQUIRE(!memcmp(now + keep_len, line, strlen(line)));
  free(now);
  return 0;
}
