/* Fuzz target: nde_data_load_idx on gzip-compressed IDX files (the way
 * Fashion-MNIST is installed).
 * Input: u16 (little-endian) length L of the labels part, one byte
 * num_classes - 1, one flags byte, then the labels part (L bytes, fewer if
 * the input ends) and the images part (the rest). Flags:
 *   bit 0 / bit 1: the harness gzips the labels / images part (level =
 *                  flags >> 4 modulo 10), so the IDX content behind a valid
 *                  gzip stream is fuzzed; otherwise the part is the file as
 *                  it is (fuzzing the gzip stream itself)
 *   bit 2:         cut the gzipped images file short by 1 + (flags >> 4)
 *                  bytes (a truncated download) */
#include <stdlib.h>

#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  size_t nl = fuzz_u16(data, size);
  int num_classes = data[2] + 1, flags = data[3], level = (flags >> 4) % 10;
  data += 4, size -= 4;
  if (nl > size) nl = size;
  const uint8_t *lab = data, *img = data + nl;
  size_t ni = size - nl;
  uint8_t *lgz = NULL, *igz = NULL;
  size_t nlgz = nl, nigz = ni;
  if (flags & 1) lgz = fuzz_gzip(lab, nl, level, &nlgz);
  if (flags & 2) {
    igz = fuzz_gzip(img, ni, level, &nigz);
    size_t cut = 1 + (size_t)(flags >> 4);
    if (flags & 4) nigz = nigz > cut ? nigz - cut : 0;
  }
  const char *lpath = fuzz_file(0, lgz ? lgz : lab, nlgz);
  const char *ipath = fuzz_file(1, igz ? igz : img, nigz);
  const char *paths[] = {lpath, ipath, NULL};
  nde_dataset *ds = (nde_dataset *)1; /* the reader must set it */
  int rc = nde_data_load_idx(ipath, lpath, num_classes, &ds);
  /* A cut stream must be refused, whatever it held. */
  if ((flags & 6) == 6) FUZZ_REQUIRE(rc != NDE_OK);
  /* The plain content is known where the harness compressed it. */
  fuzz_check_idx(rc, ds, num_classes, lgz ? lab : NULL, nl, igz ? img : NULL, ni, paths);
  nde_dataset_free(ds);
  free(lgz);
  free(igz);
  return 0;
}
