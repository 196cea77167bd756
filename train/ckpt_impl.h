/* Private to train/: the checkpoint file layout shared by the writer and the
 * reader (documented in nde/train.h), and little-endian byte helpers so a
 * file means the same on every host. */
#ifndef NDE_CKPT_IMPL_H
#define NDE_CKPT_IMPL_H

#include <stdint.h>
#include <string.h>

#include "nde/train.h"

#define CKPT_MAGIC "NDECKPT" /* 7 characters + the NUL = 8 bytes */
#define CKPT_MAGIC_LEN 8
#define CKPT_HEADER_LEN 32
#define CKPT_CRC_OFFSET 28 /* the CRC covers header bytes [0, 28) then the payload */
#define CKPT_META_NAME "meta"

/* Section framing: u32 name length, name, u32 type, u64 count. */
#define CKPT_SECTION_FIXED 16

static inline void ckpt_put_u32(unsigned char *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static inline void ckpt_put_u64(unsigned char *b, uint64_t v) {
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t ckpt_get_u32(const unsigned char *b) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
  return v;
}
static inline uint64_t ckpt_get_u64(const unsigned char *b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
  return v;
}

/* Bytes per element of a section type, 0 for an unknown type. */
static inline size_t ckpt_elem_size(uint32_t type) {
  switch (type) {
  case NDE_CKPT_F32: return 4;
  case NDE_CKPT_F64:
  case NDE_CKPT_I64:
  case NDE_CKPT_U64: return 8;
  case NDE_CKPT_TEXT: return 1;
  default: return 0;
  }
}

/* Section names and meta keys: 1..NDE_CKPT_NAME_MAX printable ASCII
 * characters (space excluded), so they print unambiguously in messages. */
static inline int ckpt_name_ok(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    if (n >= NDE_CKPT_NAME_MAX || s[n] <= ' ' || s[n] > '~') return 0;
  }
  return n > 0;
}

/* Remove a checkpoint (if there is one) and fsync its directory, so the
 * removal is durable before what follows it. */
int ckpt_remove_durably(const char *path);

/* zlib's crc32 takes 32-bit lengths: feed large buffers in pieces. */
uint32_t nde_ckpt_crc(uint32_t crc, const unsigned char *p, size_t n);

#endif
