/* Fuzz target: nde_ckpt_open and every accessor of train/ckpt_read.c.
 * Input: one flags byte, then the checkpoint file. Unless flags bit 0 is
 * set, the harness writes the right CRC-32 into a file with a full header
 * (so mutations reach the section table instead of stopping at the
 * checksum); with bit 0 the stored CRC is kept. On success every section is
 * read back through the accessor for its type and the documented errors
 * for a wrong type or count are checked. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_util.h"
#include "train/ckpt_impl.h"

/* The CRC the writer would store: header bytes [0, 28) then the payload. */
static void fix_crc(uint8_t *f, size_t n) {
  if (n < CKPT_HEADER_LEN) return;
  uint32_t crc = nde_ckpt_crc(0, f, CKPT_CRC_OFFSET);
  crc = nde_ckpt_crc(crc, f + CKPT_HEADER_LEN, n - CKPT_HEADER_LEN);
  ckpt_put_u32(f + CKPT_CRC_OFFSET, crc);
}

/* Read one section through the accessor of its type, then with a count one
 * too many (NDE_ERR_SHAPE) and through an accessor of another type
 * (NDE_ERR_FORMAT). */
static void read_section(const nde_ckpt *c, const char *name, nde_ckpt_type type, size_t count) {
  void *buf = malloc((count + 1) * 8);
  FUZZ_REQUIRE(buf);
  int rc;
  switch (type) {
  case NDE_CKPT_F32:
  case NDE_CKPT_F64:
    rc = nde_ckpt_read_f64(c, name, buf, count);
    FUZZ_REQUIRE(rc == NDE_OK);
    rc = nde_ckpt_read_f32(c, name, buf, count);
    FUZZ_REQUIRE(rc == NDE_OK || (type == NDE_CKPT_F64 && rc == NDE_ERR_NONFINITE));
    FUZZ_REQUIRE(nde_ckpt_read_real(c, name, buf, count + 1) == NDE_ERR_SHAPE);
    FUZZ_REQUIRE(nde_ckpt_read_i64(c, name, buf, count) == NDE_ERR_FORMAT);
    break;
  case NDE_CKPT_I64:
    FUZZ_REQUIRE(nde_ckpt_read_i64(c, name, buf, count) == NDE_OK);
    FUZZ_REQUIRE(nde_ckpt_read_i64(c, name, buf, count + 1) == NDE_ERR_SHAPE);
    FUZZ_REQUIRE(nde_ckpt_read_u64(c, name, buf, count) == NDE_ERR_FORMAT);
    break;
  case NDE_CKPT_U64: {
    FUZZ_REQUIRE(nde_ckpt_read_u64(c, name, buf, count) == NDE_OK);
    FUZZ_REQUIRE(nde_ckpt_read_u64(c, name, buf, count + 1) == NDE_ERR_SHAPE);
    FUZZ_REQUIRE(nde_ckpt_read_f64(c, name, buf, count) == NDE_ERR_FORMAT);
    nde_rng rng;
    rc = nde_ckpt_read_rng(c, name, &rng);
    FUZZ_REQUIRE(count == 4 ? rc == NDE_OK || rc == NDE_ERR_FORMAT : rc == NDE_ERR_SHAPE);
    break;
  }
  case NDE_CKPT_TEXT: {
    const char *text = NULL;
    FUZZ_REQUIRE(nde_ckpt_read_text(c, name, &text) == NDE_OK && text);
    FUZZ_REQUIRE(strlen(text) <= count && text[count] == '\0');
    FUZZ_REQUIRE(nde_ckpt_read_u64(c, name, buf, count) == NDE_ERR_FORMAT);
    break;
  }
  default: FUZZ_REQUIRE(!"a section of unknown type was accepted");
  }
  free(buf);
}

/* An optimizer "<name>" described by "<name>.info" (kind, n, steps). */
static void read_optimizer(const nde_ckpt *c, const char *info_name) {
  size_t len = strlen(info_name);
  if (len <= 5 || strcmp(info_name + len - 5, ".info")) return;
  int64_t info[3];
  if (nde_ckpt_read_i64(c, info_name, info, 3)) return;
  if ((info[0] != NDE_OPTIM_SGD && info[0] != NDE_OPTIM_ADAM) || info[1] < 1 || info[1] > 4096)
    return;
  char name[NDE_CKPT_NAME_MAX + 1];
  memcpy(name, info_name, len - 5);
  name[len - 5] = '\0';
  nde_optim_options o = nde_optim_options_default((nde_optim_kind)info[0]);
  if (info[0] == NDE_OPTIM_SGD) o.momentum = 0.9;
  nde_optim *opt;
  FUZZ_REQUIRE(nde_optim_create((nde_optim_kind)info[0], (size_t)info[1], &o, &opt) == NDE_OK);
  int rc = nde_ckpt_read_optim(c, name, opt);
  FUZZ_REQUIRE(rc == NDE_OK || rc == NDE_ERR_FORMAT || rc == NDE_ERR_SHAPE ||
               rc == NDE_ERR_NONFINITE || rc == NDE_ERR_ARG);
  if (rc == NDE_OK) FUZZ_REQUIRE(nde_optim_steps(opt) == info[2]);
  nde_optim_free(opt);
}

/* Every "key=value" line of the meta text is found by nde_ckpt_meta. */
static void read_meta(const nde_ckpt *c) {
  const char *text;
  if (nde_ckpt_read_text(c, CKPT_META_NAME, &text)) return;
  for (const char *line = text; *line;) {
    const char *eq = strchr(line, '='), *end = strchr(line, '\n');
    FUZZ_REQUIRE(eq && end && eq < end); /* open refuses anything else */
    char key[256];
    size_t klen = (size_t)(eq - line);
    if (klen < sizeof key) {
      memcpy(key, line, klen);
      key[klen] = '\0';
      const char *value;
      FUZZ_REQUIRE(nde_ckpt_meta(c, key, &value) == NDE_OK);
      int64_t i;
      double d;
      int rc = nde_ckpt_meta_int(c, key, &i);
      FUZZ_REQUIRE(rc == NDE_OK || rc == NDE_ERR_FORMAT);
      rc = nde_ckpt_meta_double(c, key, &d);
      FUZZ_REQUIRE(rc == NDE_OK || rc == NDE_ERR_FORMAT);
    }
    line = end + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int keep_crc = data[0] & 1;
  data++, size--;
  uint8_t *f = malloc(size ? size : 1);
  FUZZ_REQUIRE(f);
  memcpy(f, data, size);
  if (!keep_crc) fix_crc(f, size);
  const char *path = fuzz_file(0, f, size);
  free(f);
  nde_ckpt *c = (nde_ckpt *)1; /* the reader must set it */
  int rc = nde_ckpt_open(path, &c);
  if (rc) {
    static const int allowed[] = {NDE_ERR_IO, NDE_ERR_FORMAT, NDE_ERR_CHECKSUM, NDE_ERR_NOMEM, 0};
    const char *paths[] = {path, NULL};
    fuzz_check_failure(rc, c, allowed, paths);
    return 0;
  }
  FUZZ_REQUIRE(c && !strcmp(nde_ckpt_path(c), path));
  int n = nde_ckpt_num_sections(c);
  FUZZ_REQUIRE(n >= 0);
  for (int i = 0; i < n; i++) {
    const char *name;
    nde_ckpt_type type, t2;
    size_t count, n2;
    FUZZ_REQUIRE(nde_ckpt_section_at(c, i, &name, &type, &count) == NDE_OK);
    FUZZ_REQUIRE(name && *name && nde_ckpt_has(c, name));
    FUZZ_REQUIRE(nde_ckpt_find(c, name, &t2, &n2) == NDE_OK && t2 == type && n2 == count);
    read_section(c, name, type, count);
    if (type == NDE_CKPT_I64 && count == 3) read_optimizer(c, name);
  }
  FUZZ_REQUIRE(nde_ckpt_section_at(c, n, NULL, NULL, NULL) == NDE_ERR_ARG);
  read_meta(c);
  nde_ckpt_free(c);
  return 0;
}
