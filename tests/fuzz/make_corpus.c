/* Writes the seed corpus of the fuzz harnesses: a few small valid files and
 * edge cases per reader, in the harnesses' input formats (see the comment at
 * the top of each fuzz_*.c). Deterministic; run from the repository root as
 *   build/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
 * Inputs of fixed findings are added to the corpus by hand (named crash-*),
 * not by this program. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz_util.h"
#include "train/ckpt_impl.h"

static const char *root;

/* A growable byte buffer; out of memory ends the program. */
typedef struct buf {
  uint8_t *p;
  size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = 2 * (b->n + n) + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p) {
      fprintf(stderr, "make_corpus: out of memory\n");
      exit(1);
    }
  }
  if (n) memcpy(b->p + b->n, data, n);
  b->n += n;
}
static void put_u8(buf *b, unsigned v) {
  uint8_t c = (uint8_t)v;
  put(b, &c, 1);
}
static void put_le16(buf *b, size_t v) {
  put_u8(b, v & 0xff);
  put_u8(b, (v >> 8) & 0xff);
}
static void put_be32(buf *b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) put_u8(b, (v >> s) & 0xff);
}
static void put_le32(buf *b, uint32_t v) {
  uint8_t c[4];
  ckpt_put_u32(c, v);
  put(b, c, 4);
}
static void put_le64(buf *b, uint64_t v) {
  uint8_t c[8];
  ckpt_put_u64(c, v);
  put(b, c, 8);
}

static void write_seed(const char *dir, const char *name, const buf *b) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", root, dir);
  mkdir(path, 0777);
  snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f) != 0) {
    fprintf(stderr, "make_corpus: cannot write '%s'\n", path);
    exit(1);
  }
}

/* ---- IDX ---- */

static buf idx_labels(uint32_t n, const uint8_t *labels) {
  buf b = {0};
  put_be32(&b, 0x801);
  put_be32(&b, n);
  put(&b, labels, n);
  return b;
}

/* n images of h x w with a deterministic pattern; extra > 0 appends bytes,
 * extra < 0 drops them. */
static buf idx_images(uint32_t magic, uint32_t n, uint32_t h, uint32_t w, int extra) {
  buf b = {0};
  put_be32(&b, magic);
  put_be32(&b, n);
  put_be32(&b, h);
  put_be32(&b, w);
  size_t total = (size_t)n * h * w;
  if (total > 4096) total = 0; /* a header announcing more than the seed holds */
  for (size_t i = 0; i < total; i++) put_u8(&b, (i * 37 + 11) % 256);
  if (extra > 0)
    for (int i = 0; i < extra; i++) put_u8(&b, 0xee);
  if (extra < 0) b.n = b.n >= (size_t)-extra ? b.n - (size_t)-extra : 0;
  return b;
}

static buf gz(const buf *plain, int level) {
  buf b = {0};
  b.p = fuzz_gzip(plain->p, plain->n, level, &b.n);
  b.cap = b.n;
  return b;
}

/* The idx harnesses' input: u16 labels length, num_classes - 1, [flags],
 * labels, images. */
static void idx_seed(const char *dir, const char *name, int with_flags, unsigned flags,
                     int num_classes, const buf *lab, const buf *img) {
  buf b = {0};
  put_le16(&b, lab->n);
  put_u8(&b, (unsigned)(num_classes - 1));
  if (with_flags) put_u8(&b, flags);
  put(&b, lab->p, lab->n);
  put(&b, img->p, img->n);
  write_seed(dir, name, &b);
  free(b.p);
}

static void idx_seeds(void) {
  const uint8_t l3[3] = {0, 9, 4}, l1[1] = {0}, l2[2] = {0, 7};
  buf lab3 = idx_labels(3, l3), img3 = idx_images(0x803, 3, 2, 3, 0);
  buf lab1 = idx_labels(1, l1), img1 = idx_images(0x803, 1, 1, 1, 0);
  buf lab2 = idx_labels(2, l2), img2 = idx_images(0x803, 2, 2, 2, 0);
  buf img28 = idx_images(0x803, 2, 28, 28, 0);
  buf short3 = idx_images(0x803, 3, 2, 3, -1), long3 = idx_images(0x803, 3, 2, 3, 3);
  buf huge = idx_images(0x803, 0x7fffffff, 65536, 65536, 0);
  buf zero = idx_images(0x803, 3, 0, 3, 0), magic = idx_images(0x801, 3, 2, 3, 0);
  buf cut = {0}, empty = {0};
  put(&cut, lab3.p, 6);
  struct {
    const char *name;
    int ncls;
    const buf *lab, *img;
  } raw[] = {
      {"valid_3x2x3", 10, &lab3, &img3},      {"valid_1x1x1_one_class", 1, &lab1, &img1},
      {"valid_2x28x28", 10, &lab2, &img28},   {"label_out_of_range", 5, &lab2, &img2},
      {"count_mismatch", 10, &lab2, &img3},   {"images_truncated", 10, &lab3, &short3},
      {"images_trailing", 10, &lab3, &long3}, {"huge_dimensions", 10, &lab1, &huge},
      {"zero_dimension", 10, &lab3, &zero},   {"bad_magic", 10, &lab3, &magic},
      {"labels_header_cut", 10, &cut, &img3}, {"empty_files", 10, &empty, &empty},
  };
  for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
    idx_seed("idx_raw", raw[i].name, 0, 0, raw[i].ncls, raw[i].lab, raw[i].img);

  /* gzip: flags bit 0/1 wrap labels/images (level flags >> 4), bit 2 cuts
     the images stream short. */
  idx_seed("idx_gzip", "wrapped_valid_level6", 1, 0x63, 10, &lab3, &img3);
  idx_seed("idx_gzip", "wrapped_valid_stored", 1, 0x03, 10, &lab3, &img3);
  idx_seed("idx_gzip", "wrapped_valid_2x28x28_level9", 1, 0x93, 10, &lab2, &img28);
  idx_seed("idx_gzip", "wrapped_images_cut", 1, 0x67, 10, &lab3, &img3);
  idx_seed("idx_gzip", "wrapped_label_out_of_range", 1, 0x13, 5, &lab2, &img2);
  idx_seed("idx_gzip", "wrapped_huge_dimensions", 1, 0x63, 10, &lab1, &huge);
  idx_seed("idx_gzip", "wrapped_images_trailing", 1, 0x63, 10, &lab3, &long3);
  buf glab = gz(&lab3, 6), gimg = gz(&img3, 6), gimg28 = gz(&img28, 1);
  idx_seed("idx_gzip", "files_valid", 1, 0, 10, &glab, &gimg);
  idx_seed("idx_gzip", "files_gzip_labels_plain_images", 1, 0, 10, &glab, &img3);
  idx_seed("idx_gzip", "files_valid_2x28x28", 1, 0, 10, &lab2, &gimg28);
  buf bad = {0}; /* the CRC-32 in the trailer flipped */
  put(&bad, gimg.p, gimg.n);
  bad.p[bad.n - 8] ^= 0x5a;
  idx_seed("idx_gzip", "files_bad_crc", 1, 0, 10, &glab, &bad);
  buf half = {0}; /* the stream without its trailer */
  put(&half, gimg.p, gimg.n - 8);
  idx_seed("idx_gzip", "files_no_trailer", 1, 0, 10, &glab, &half);
  buf first = {0}, second = {0}, two = {0}; /* two gzip members, one file */
  put(&first, img3.p, 10);
  put(&second, img3.p + 10, img3.n - 10);
  buf g1 = gz(&first, 6), g2 = gz(&second, 6);
  put(&two, g1.p, g1.n);
  put(&two, g2.p, g2.n);
  idx_seed("idx_gzip", "files_two_members", 1, 0, 10, &glab, &two);
  buf garbage = {0};
  put(&garbage, gimg.p, gimg.n);
  put(&garbage, "garbage", 7);
  idx_seed("idx_gzip", "files_trailing_garbage", 1, 0, 10, &glab, &garbage);
  buf *all[] = {&lab3,  &img3, &lab1,  &img1,   &lab2, &img2, &img28, &short3,
                &long3, &huge, &zero,  &magic,  &cut,  &glab, &gimg,  &gimg28,
                &bad,   &half, &first, &second, &g1,   &g2,   &two,   &garbage};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->p);
}

/* ---- CIFAR ---- */

enum { PIXELS = 3 * 32 * 32 };

static void cifar_record(buf *b, int cifar100, int coarse, int fine, int seed) {
  if (cifar100) put_u8(b, (unsigned)coarse);
  put_u8(b, (unsigned)fine);
  for (int i = 0; i < PIXELS; i++) put_u8(b, (unsigned)((i * 31 + seed * 7) % 251));
}

/* flags (bit 0 CIFAR-100, bit 1 two files), [u16 first length], files. */
static void cifar_seed(const char *name, unsigned flags, const buf *f0, const buf *f1) {
  buf b = {0};
  put_u8(&b, flags);
  if (flags & 2) put_le16(&b, f0->n);
  put(&b, f0->p, f0->n);
  if (f1) put(&b, f1->p, f1->n);
  write_seed("cifar", name, &b);
  free(b.p);
}

static void cifar_seeds(void) {
  buf c10 = {0}, c100 = {0}, bad10 = {0}, bad20 = {0}, one = {0}, empty = {0};
  cifar_record(&c10, 0, 0, 3, 1);
  cifar_record(&c10, 0, 0, 9, 2);
  cifar_record(&c100, 1, 19, 99, 3);
  cifar_record(&bad10, 0, 0, 10, 4);
  cifar_record(&bad20, 1, 20, 5, 5);
  cifar_record(&one, 0, 0, 0, 6);
  cifar_seed("cifar10_two_records", 0, &c10, NULL);
  cifar_seed("cifar100_one_record", 1, &c100, NULL);
  cifar_seed("cifar10_label_10", 0, &bad10, NULL);
  cifar_seed("cifar100_coarse_20", 1, &bad20, NULL);
  buf cut = {0};
  put(&cut, one.p, one.n - 1);
  cifar_seed("cifar10_record_cut", 0, &cut, NULL);
  cifar_seed("cifar10_two_files", 2, &one, &one);
  cifar_seed("cifar10_second_file_empty", 2, &one, &empty);
  cifar_seed("cifar10_empty", 0, &empty, NULL);
  buf g = gz(&one, 6);
  cifar_seed("cifar10_gzip", 0, &g, NULL);
  free(c10.p), free(c100.p), free(bad10.p), free(bad20.p), free(one.p), free(cut.p), free(g.p);
}

/* ---- checkpoints ---- */

/* The library's writer into a temporary file, read back. */
static buf committed(nde_ckpt_writer *w) {
  char dir[] = "/tmp/nde-corpus-XXXXXX", path[64];
  buf b = {0};
  if (!mkdtemp(dir)) exit(1);
  snprintf(path, sizeof path, "%s/c", dir);
  if (nde_ckpt_writer_commit(w, path)) {
    fprintf(stderr, "make_corpus: %s\n", nde_last_error());
    exit(1);
  }
  nde_ckpt_writer_free(w);
  FILE *f = fopen(path, "rb");
  uint8_t chunk[4096];
  size_t got;
  while (f && (got = fread(chunk, 1, sizeof chunk, f)) > 0) put(&b, chunk, got);
  if (f) fclose(f);
  unlink(path);
  rmdir(dir);
  return b;
}

static void ckpt_seed(const char *name, unsigned flags, const buf *file) {
  buf b = {0};
  put_u8(&b, flags);
  put(&b, file->p, file->n);
  write_seed("ckpt", name, &b);
  free(b.p);
}

/* A checkpoint assembled by hand (for what the writer refuses to make):
 * sections as (name, type, count, data bytes), the header's section count
 * and version as given; the CRC is right (the harness fixes it anyway). */
typedef struct raw_section {
  const char *name;
  uint32_t type;
  uint64_t count;
  const void *data;
  size_t len;
} raw_section;

static buf assemble(uint32_t version, uint32_t nsec, const raw_section *s, int n) {
  buf pay = {0}, b = {0};
  for (int i = 0; i < n; i++) {
    put_le32(&pay, (uint32_t)strlen(s[i].name));
    put(&pay, s[i].name, strlen(s[i].name));
    put_le32(&pay, s[i].type);
    put_le64(&pay, s[i].count);
    put(&pay, s[i].data, s[i].len);
  }
  put(&b, CKPT_MAGIC, CKPT_MAGIC_LEN);
  put_le32(&b, version);
  put_le32(&b, nsec);
  put_le64(&b, pay.n);
  put_le32(&b, 0);
  put_le32(&b, 0);
  put(&b, pay.p, pay.n);
  uint32_t crc = nde_ckpt_crc(0, b.p, CKPT_CRC_OFFSET);
  crc = nde_ckpt_crc(crc, b.p + CKPT_HEADER_LEN, pay.n);
  ckpt_put_u32(b.p + CKPT_CRC_OFFSET, crc);
  free(pay.p);
  return b;
}

static void ckpt_seeds(void) {
  nde_ckpt_writer *w;
  nde_real params[5] = {0.5f, -1, 2, 0, 1e-3f};
  double state[3] = {1e300, -0.0, 3.25};
  int64_t ints[2] = {-7, 1LL << 40};
  nde_rng rng;
  nde_rng_seed(&rng, 42);
  nde_optim_options oo = nde_optim_options_default(NDE_OPTIM_SGD);
  oo.momentum = 0.9;
  nde_optim *sgd, *adam;
  if (nde_optim_create(NDE_OPTIM_SGD, 5, &oo, &sgd) ||
      nde_optim_create(NDE_OPTIM_ADAM, 2, NULL, &adam) || nde_ckpt_writer_create(&w))
    exit(1);
  nde_ckpt_add_real(w, "params", params, 5);
  nde_ckpt_add_f64(w, "state", state, 3);
  nde_ckpt_add_optim(w, "optim", sgd);
  nde_ckpt_add_rng(w, "data_rng", &rng);
  nde_ckpt_add_i64(w, "ints", ints, 2);
  nde_ckpt_add_text(w, "note", "a checkpoint=seed\nof two lines");
  nde_ckpt_set_meta_int(w, "epoch", 3);
  nde_ckpt_set_meta_double(w, "lr", 0.1);
  nde_ckpt_set_meta(w, "model", "odenet");
  buf full = committed(w);
  ckpt_seed("valid_full", 0, &full);
  ckpt_seed("valid_full_stored_crc", 1, &full);
  buf corrupt = {0};
  put(&corrupt, full.p, full.n);
  corrupt.p[full.n / 2] ^= 0x01;
  ckpt_seed("checksum_mismatch", 1, &corrupt);
  buf cut = {0};
  put(&cut, full.p, full.n - 5);
  ckpt_seed("truncated", 0, &cut);

  if (nde_ckpt_writer_create(&w)) exit(1);
  buf empty = committed(w);
  ckpt_seed("valid_no_sections", 0, &empty);

  if (nde_ckpt_writer_create(&w)) exit(1);
  nde_ckpt_add_optim(w, "adam", adam);
  nde_ckpt_set_meta_int(w, "steps", 12);
  buf small = committed(w);
  ckpt_seed("valid_adam", 0, &small);

  buf header = {0};
  put(&header, full.p, 20);
  ckpt_seed("header_cut", 0, &header);

  const double big[2] = {1e300, -1e300};
  const char *meta_bad = "epoch=3\nnovalue\n", *meta_ok = "a=1\nb=x=y\nc=\n=empty key\n";
  const uint64_t zero4[4] = {0, 0, 0, 0};
  const int64_t info_neg[3] = {NDE_OPTIM_SGD, 2, -1};
  const double two[2] = {1, 2};
  raw_section dup[2] = {{"x", NDE_CKPT_F64, 2, two, 16}, {"x", NDE_CKPT_F64, 2, two, 16}};
  raw_section unknown = {"x", 9, 2, two, 16};
  raw_section overflow = {"big", NDE_CKPT_F64, 2, big, 16};
  raw_section badmeta = {"meta", NDE_CKPT_TEXT, strlen(meta_bad), meta_bad, strlen(meta_bad)};
  raw_section okmeta = {"meta", NDE_CKPT_TEXT, strlen(meta_ok), meta_ok, strlen(meta_ok)};
  raw_section rng0 = {"rng", NDE_CKPT_U64, 4, zero4, 32};
  raw_section neg[2] = {{"o", NDE_CKPT_F64, 2, two, 16}, {"o.info", NDE_CKPT_I64, 3, info_neg, 24}};
  raw_section count_big = {"x", NDE_CKPT_F64, 1ULL << 61, two, 16};
  raw_section space = {"a b", NDE_CKPT_F64, 2, two, 16};
  struct {
    const char *name;
    buf b;
  } hand[] = {
      {"duplicate_section", assemble(1, 2, dup, 2)},
      {"unknown_type", assemble(1, 1, &unknown, 1)},
      {"f64_overflows_float", assemble(1, 1, &overflow, 1)},
      {"meta_not_key_value", assemble(1, 1, &badmeta, 1)},
      {"meta_edge_cases", assemble(1, 1, &okmeta, 1)},
      {"rng_all_zero", assemble(1, 1, &rng0, 1)},
      {"optim_negative_steps", assemble(1, 2, neg, 2)},
      {"count_beyond_file", assemble(1, 1, &count_big, 1)},
      {"name_with_space", assemble(1, 1, &space, 1)},
      {"version_2", assemble(2, 1, &overflow, 1)},
      {"section_count_too_big", assemble(1, 1000000, &overflow, 1)},
      {"section_count_short", assemble(1, 1, dup, 2)},
  };
  for (size_t i = 0; i < sizeof hand / sizeof hand[0]; i++) {
    ckpt_seed(hand[i].name, 0, &hand[i].b);
    free(hand[i].b.p);
  }
  free(full.p), free(corrupt.p), free(cut.p), free(empty.p), free(small.p), free(header.p);
  nde_optim_free(sgd);
  nde_optim_free(adam);
}

/* ---- CSV logs ---- */

/* keep byte (bit 7: all rows), column-count byte, old file. */
static void csv_seed(const char *name, unsigned keep, unsigned ncol_byte, const char *file,
                     size_t n) {
  buf b = {0};
  put_u8(&b, keep);
  put_u8(&b, ncol_byte);
  put(&b, file, n);
  write_seed("csv", name, &b);
  free(b.p);
}
#define CSV_SEED(name, keep, ncol, text) csv_seed(name, keep, ncol, text, sizeof text - 1)

static void csv_seeds(void) {
  CSV_SEED("three_rows_keep_all", 0x80, 2, "epoch,loss,note\n0,1.5,a\n1,1.25,b\n2,1,\"c,d\"\n");
  CSV_SEED("three_rows_keep_2", 2, 2, "epoch,loss,note\n0,1.5,a\n1,1.25,b\n2,1,c\n");
  CSV_SEED("torn_last_row", 0x80, 1, "epoch,loss\n0,1.5\n1,1.2");
  CSV_SEED("crlf_header", 0x80, 1, "epoch,loss\r\n0,1.5\r\n");
  CSV_SEED("empty", 0x80, 0, "");
  CSV_SEED("header_cut", 1, 2, "epoch,lo");
  CSV_SEED("header_only", 0, 0, "epoch\n");
  CSV_SEED("wrong_header", 0x80, 1, "epoch,lr\n0,0.1\n");
  CSV_SEED("nul_in_header", 0x80, 0, "epoch\0,other\n0\n");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS-DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  root = argv[1];
  mkdir(root, 0777);
  idx_seeds();
  cifar_seeds();
  ckpt_seeds();
  csv_seeds();
  return 0;
}
