/* Fuzz target: nde_data_load_cifar (CIFAR-10/100 binary files).
 * Input: one flags byte (bit 0: CIFAR-100; bit 1: two files), a u16
 * (little-endian) length L of the first file when there are two, then the
 * file bytes (the first file L bytes, fewer if the input ends, the second
 * the rest). On success the dataset must hold exactly the records. */
#include <string.h>

#include "fuzz/fuzz_util.h"

enum { PIXELS = 3 * 32 * 32 };

/* The records of one file against samples [at, at + len / rec). */
static void check_records(const nde_dataset *ds, int cifar100, const uint8_t *f, size_t len,
                          size_t *at) {
  size_t nlab = cifar100 ? 2 : 1, rec = nlab + PIXELS;
  FUZZ_REQUIRE(len > 0 && len % rec == 0);
  for (size_t r = 0; r < len / rec; r++, (*at)++) {
    const uint8_t *p = f + r * rec;
    FUZZ_REQUIRE(*at < (size_t)ds->n);
    FUZZ_REQUIRE(ds->labels[*at] == p[nlab - 1] && ds->labels[*at] < ds->num_classes);
    if (cifar100) FUZZ_REQUIRE(ds->coarse[*at] == p[0] && p[0] < 20);
    FUZZ_REQUIRE(memcmp(ds->pixels + *at * PIXELS, p + nlab, PIXELS) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int cifar100 = data[0] & 1, two = (data[0] >> 1) & 1;
  data++, size--;
  size_t n0 = size;
  if (two) {
    if (size < 2) return 0;
    n0 = fuzz_u16(data, size);
    data += 2, size -= 2;
    if (n0 > size) n0 = size;
  }
  const char *paths[3] = {fuzz_file(0, data, n0), NULL, NULL};
  if (two) paths[1] = fuzz_file(1, data + n0, size - n0);
  nde_dataset *ds = (nde_dataset *)1; /* the reader must set it */
  int rc = nde_data_load_cifar(paths, two ? 2 : 1, cifar100, &ds);
  if (rc) {
    static const int allowed[] = {NDE_ERR_IO, NDE_ERR_FORMAT, NDE_ERR_NOMEM, 0};
    fuzz_check_failure(rc, ds, allowed, paths);
    return 0;
  }
  int gz = n0 >= 2 && data[0] == 0x1f && data[1] == 0x8b; /* inflated by the reader */
  if (two && size - n0 >= 2 && data[n0] == 0x1f && data[n0 + 1] == 0x8b) gz = 1;
  FUZZ_REQUIRE(ds && ds->n >= 1 && ds->c == 3 && ds->h == 32 && ds->w == 32);
  FUZZ_REQUIRE(ds->num_classes == (cifar100 ? 100 : 10) && !ds->coarse == !cifar100);
  for (int i = 0; i < ds->n; i++) {
    FUZZ_REQUIRE(ds->labels[i] >= 0 && ds->labels[i] < ds->num_classes);
    if (cifar100) FUZZ_REQUIRE(ds->coarse[i] >= 0 && ds->coarse[i] < 20);
  }
  if (!gz) {
    size_t at = 0;
    check_records(ds, cifar100, data, n0, &at);
    if (two) check_records(ds, cifar100, data + n0, size - n0, &at);
    FUZZ_REQUIRE(at == (size_t)ds->n);
  }
  nde_dataset_free(ds);
  return 0;
}
