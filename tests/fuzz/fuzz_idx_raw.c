/* Fuzz target: nde_data_load_idx on plain IDX files.
 * Input: u16 (little-endian) length L of the labels file, one byte
 * num_classes - 1, then the labels file (L bytes, fewer if the input ends)
 * and the images file (the rest). A file that starts with the gzip magic is
 * inflated by the reader, so its plain bytes are not compared. */
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  size_t nl = fuzz_u16(data, size);
  int num_classes = data[2] + 1;
  data += 3, size -= 3;
  if (nl > size) nl = size;
  const uint8_t *lab = data, *img = data + nl;
  size_t ni = size - nl;
  const char *lpath = fuzz_file(0, lab, nl), *ipath = fuzz_file(1, img, ni);
  const char *paths[] = {lpath, ipath, NULL};
  nde_dataset *ds = (nde_dataset *)1; /* the reader must set it */
  int rc = nde_data_load_idx(ipath, lpath, num_classes, &ds);
  int lgz = nl >= 2 && lab[0] == 0x1f && lab[1] == 0x8b;
  int igz = ni >= 2 && img[0] == 0x1f && img[1] == 0x8b;
  fuzz_check_idx(rc, ds, num_classes, lgz ? NULL : lab, nl, igz ? NULL : img, ni, paths);
  nde_dataset_free(ds);
  return 0;
}
