/* Checkpoint reader: the whole file is read and verified once at open
 * (magic, version, announced size, CRC-32, then a bounds-checked walk of the
 * section table), so later look-ups cannot fail on corrupt bytes and every
 * problem is reported with the file's name. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/error_impl.h"
#include "train/ckpt_impl.h"

typedef struct section {
  char name[NDE_CKPT_NAME_MAX + 1];
  uint32_t type;
  size_t count;
  const unsigned char *data; /* into nde_ckpt.buf */
  char *text;                /* TEXT sections: a NUL-terminated copy */
} section;

struct nde_ckpt {
  char *path;
  unsigned char *buf; /* the whole file */
  size_t size;
  section *sec;
  int nsec;
  char *meta; /* copy of the "meta" text, '=' and '\n' replaced by NULs */
  const char **keys, **vals;
  size_t nmeta;
};

const char *nde_ckpt_type_name(int type) {
  switch (type) {
  case NDE_CKPT_F32: return "f32";
  case NDE_CKPT_F64: return "f64";
  case NDE_CKPT_I64: return "i64";
  case NDE_CKPT_U64: return "u64";
  case NDE_CKPT_TEXT: return "text";
  default: return "unknown";
  }
}

void nde_ckpt_free(nde_ckpt *c) {
  if (!c) return;
  if (c->sec)
    for (int i = 0; i < c->nsec; i++) free(c->sec[i].text);
  free(c->sec);
  free(c->meta);
  free(c->keys);
  free(c->vals);
  free(c->buf);
  free(c->path);
  free(c);
}

static int read_file(nde_ckpt *c) {
  FILE *f = fopen(c->path, "rb");
  if (!f)
    return nde_error(NDE_ERR_IO, "checkpoint '%s': cannot open: %s", c->path, strerror(errno));
  struct stat st;
  int rc = NDE_OK;
  if (fstat(fileno(f), &st) != 0) {
    rc = nde_error(NDE_ERR_IO, "checkpoint '%s': cannot stat: %s", c->path, strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    rc = nde_error(NDE_ERR_IO, "checkpoint '%s': not a regular file", c->path);
  } else {
    c->size = (size_t)st.st_size;
    c->buf = malloc(c->size ? c->size : 1);
    if (!c->buf)
      rc = nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory for %zu bytes", c->path, c->size);
    else if (fread(c->buf, 1, c->size, f) != c->size)
      rc = nde_error(NDE_ERR_IO,
                     "checkpoint '%s': read of %zu bytes failed (file changed or I/O "
                     "error)",
                     c->path, c->size);
  }
  fclose(f);
  return rc;
}

/* Header checks, in the order that gives the most telling message. */
static int check_header(nde_ckpt *c, uint32_t *nsec, size_t *payload) {
  const char *p = c->path;
  if (c->size >= CKPT_MAGIC_LEN && memcmp(c->buf, CKPT_MAGIC, CKPT_MAGIC_LEN) != 0)
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': bad magic (not an nde checkpoint)", p);
  if (c->size < CKPT_HEADER_LEN)
    return nde_error(NDE_ERR_FORMAT,
                     "checkpoint '%s': truncated: %zu bytes, shorter than the "
                     "%d-byte header",
                     p, c->size, CKPT_HEADER_LEN);
  uint32_t version = ckpt_get_u32(c->buf + 8);
  if (version == 0 || version > NDE_CKPT_VERSION)
    return nde_error(NDE_ERR_FORMAT,
                     "checkpoint '%s': format version %" PRIu32 " not supported "
                     "(this library reads 1..%d)",
                     p, version, NDE_CKPT_VERSION);
  uint64_t plen = ckpt_get_u64(c->buf + 16);
  size_t have = c->size - CKPT_HEADER_LEN;
  if (plen > have)
    return nde_error(NDE_ERR_FORMAT,
                     "checkpoint '%s': truncated: header announces %" PRIu64
                     " payload bytes, the file holds %zu",
                     p, plen, have);
  if (plen < have)
    return nde_error(NDE_ERR_FORMAT,
                     "checkpoint '%s': %zu unexpected bytes after the %" PRIu64 "-byte payload", p,
                     have - (size_t)plen, plen);
  uint32_t want = ckpt_get_u32(c->buf + CKPT_CRC_OFFSET);
  uint32_t crc = nde_ckpt_crc((uint32_t)crc32(0L, Z_NULL, 0), c->buf, CKPT_CRC_OFFSET);
  crc = nde_ckpt_crc(crc, c->buf + CKPT_HEADER_LEN, have);
  if (crc != want)
    return nde_error(NDE_ERR_CHECKSUM,
                     "checkpoint '%s': checksum mismatch (stored CRC-32 %08" PRIx32
                     ", computed %08" PRIx32 "): the file is corrupt",
                     p, want, crc);
  *nsec = ckpt_get_u32(c->buf + 12);
  *payload = have;
  return NDE_OK;
}

static int find_index(const nde_ckpt *c, const char *name) {
  for (int i = 0; i < c->nsec; i++)
    if (!strcmp(c->sec[i].name, name)) return i;
  return -1;
}

/* Walk the section table; every length is checked against what remains. */
static int parse_sections(nde_ckpt *c, uint32_t nsec, size_t payload) {
  const char *p = c->path;
  if (nsec > payload / CKPT_SECTION_FIXED)
    return nde_error(NDE_ERR_FORMAT,
                     "checkpoint '%s': %" PRIu32 " sections cannot fit in %zu "
                     "bytes",
                     p, nsec, payload);
  c->sec = calloc(nsec ? nsec : 1, sizeof *c->sec);
  if (!c->sec) return nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", p);
  const unsigned char *b = c->buf + CKPT_HEADER_LEN;
  size_t at = 0;
  for (uint32_t i = 0; i < nsec; i++) {
    section *s = &c->sec[i];
    if (payload - at < 4)
      return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': section %" PRIu32 " header cut short", p,
                       i);
    uint32_t nlen = ckpt_get_u32(b + at);
    if (nlen == 0 || nlen > NDE_CKPT_NAME_MAX || payload - at < CKPT_SECTION_FIXED + (size_t)nlen)
      return nde_error(NDE_ERR_FORMAT,
                       "checkpoint '%s': section %" PRIu32 " has a bad name "
                       "length %" PRIu32,
                       p, i, nlen);
    memcpy(s->name, b + at + 4, nlen);
    s->name[nlen] = '\0';
    if (!ckpt_name_ok(s->name))
      return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': section %" PRIu32 " has an invalid name",
                       p, i);
    s->type = ckpt_get_u32(b + at + 4 + nlen);
    uint64_t count = ckpt_get_u64(b + at + 8 + nlen);
    size_t esz = ckpt_elem_size(s->type);
    if (esz == 0)
      return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': section '%s' has unknown type %" PRIu32, p,
                       s->name, s->type);
    at += CKPT_SECTION_FIXED + nlen;
    if (count > (payload - at) / esz)
      return nde_error(NDE_ERR_FORMAT,
                       "checkpoint '%s': section '%s' announces %" PRIu64
                       " values, more than the file holds",
                       p, s->name, count);
    s->count = (size_t)count;
    s->data = b + at;
    at += s->count * esz;
    if (find_index(c, s->name) >= 0)
      return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': section '%s' appears twice", p, s->name);
    c->nsec = (int)i + 1;
    if (s->type == NDE_CKPT_TEXT) {
      s->text = malloc(s->count + 1);
      if (!s->text) return nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", p);
      memcpy(s->text, s->data, s->count);
      s->text[s->count] = '\0';
    }
  }
  if (at != payload)
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': %zu bytes after the last section", p,
                     payload - at);
  return NDE_OK;
}

/* Split the "meta" section into key/value pairs ("key=value" lines). */
static int parse_meta(nde_ckpt *c) {
  int i = find_index(c, CKPT_META_NAME);
  if (i < 0) return NDE_OK;
  const section *s = &c->sec[i];
  if (s->type != NDE_CKPT_TEXT)
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': section 'meta' is %s, not text", c->path,
                     nde_ckpt_type_name((int)s->type));
  size_t lines = 0;
  for (size_t k = 0; k < s->count; k++) lines += s->text[k] == '\n';
  c->meta = malloc(s->count + 1);
  c->keys = malloc((lines + 1) * sizeof *c->keys);
  c->vals = malloc((lines + 1) * sizeof *c->vals);
  if (!c->meta || !c->keys || !c->vals)
    return nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", c->path);
  memcpy(c->meta, s->text, s->count + 1);
  for (char *line = c->meta; *line;) {
    char *end = strchr(line, '\n');
    char *eq = strchr(line, '=');
    if (!end || !eq || eq > end)
      return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': meta line %zu is not 'key=value'", c->path,
                       c->nmeta + 1);
    *eq = '\0';
    *end = '\0';
    c->keys[c->nmeta] = line;
    c->vals[c->nmeta] = eq + 1;
    c->nmeta++;
    line = end + 1;
  }
  return NDE_OK;
}

int nde_ckpt_open(const char *path, nde_ckpt **out) {
  NDE_CHECK_NULL(out, "nde_ckpt_open");
  *out = NULL;
  NDE_CHECK_NULL(path, "nde_ckpt_open");
  nde_ckpt *c = calloc(1, sizeof *c);
  if (!c) return nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", path);
  c->path = malloc(strlen(path) + 1);
  if (!c->path) {
    free(c);
    return nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", path);
  }
  strcpy(c->path, path);
  uint32_t nsec = 0;
  size_t payload = 0;
  int rc = read_file(c);
  if (!rc) rc = check_header(c, &nsec, &payload);
  if (!rc) rc = parse_sections(c, nsec, payload);
  if (!rc) rc = parse_meta(c);
  if (rc) {
    nde_ckpt_free(c);
    return rc;
  }
  *out = c;
  return NDE_OK;
}

const char *nde_ckpt_path(const nde_ckpt *c) { return c ? c->path : NULL; }

int nde_ckpt_num_sections(const nde_ckpt *c) { return c ? c->nsec : 0; }

int nde_ckpt_section_at(const nde_ckpt *c, int i, const char **name, nde_ckpt_type *type,
                        size_t *count) {
  NDE_CHECK_NULL(c, "nde_ckpt_section_at");
  if (i < 0 || i >= c->nsec)
    return nde_error(NDE_ERR_ARG, "checkpoint '%s': section index %d outside [0, %d)", c->path, i,
                     c->nsec);
  if (name) *name = c->sec[i].name;
  if (type) *type = (nde_ckpt_type)c->sec[i].type;
  if (count) *count = c->sec[i].count;
  return NDE_OK;
}

int nde_ckpt_has(const nde_ckpt *c, const char *name) {
  return c && name && find_index(c, name) >= 0;
}

/* The named section, or an error naming the file and the section. */
static int lookup(const nde_ckpt *c, const char *name, const section **s) {
  NDE_CHECK_NULL(c, "checkpoint read");
  NDE_CHECK_NULL(name, "checkpoint read");
  int i = find_index(c, name);
  if (i < 0)
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': missing section '%s'", c->path, name);
  *s = &c->sec[i];
  return NDE_OK;
}

int nde_ckpt_find(const nde_ckpt *c, const char *name, nde_ckpt_type *type, size_t *count) {
  const section *s;
  int rc = lookup(c, name, &s);
  if (rc) return rc;
  if (type) *type = (nde_ckpt_type)s->type;
  if (count) *count = s->count;
  return NDE_OK;
}

/* Section lookup plus the caller's expectations: an accepted type and n. */
static int expect(const nde_ckpt *c, const char *name, const void *x, size_t n, int want_float,
                  uint32_t want_type, const section **s) {
  int rc = lookup(c, name, s);
  if (rc) return rc;
  if (n > 0 && !x)
    return nde_error(NDE_ERR_NULL, "checkpoint '%s': NULL buffer for section '%s'", c->path, name);
  uint32_t t = (*s)->type;
  int ok = want_float ? (t == NDE_CKPT_F32 || t == NDE_CKPT_F64) : t == want_type;
  if (!ok)
    return nde_error(NDE_ERR_FORMAT,
                     "checkpoint '%s': section '%s' holds %s values, caller wants %s", c->path,
                     name, nde_ckpt_type_name((int)t),
                     want_float ? "floating-point" : nde_ckpt_type_name((int)want_type));
  if ((*s)->count != n)
    return nde_error(NDE_ERR_SHAPE,
                     "checkpoint '%s': section '%s' holds %zu values, caller "
                     "expects %zu",
                     c->path, name, (*s)->count, n);
  return NDE_OK;
}

static float get_f32(const unsigned char *b) {
  uint32_t u = ckpt_get_u32(b);
  float v;
  memcpy(&v, &u, 4);
  return v;
}

static double get_f64(const unsigned char *b) {
  uint64_t u = ckpt_get_u64(b);
  double v;
  memcpy(&v, &u, 8);
  return v;
}

int nde_ckpt_read_f32(const nde_ckpt *c, const char *name, float *x, size_t n) {
  const section *s;
  int rc = expect(c, name, x, n, 1, 0, &s);
  if (rc) return rc;
  if (s->type == NDE_CKPT_F32) {
    for (size_t i = 0; i < n; i++) x[i] = get_f32(s->data + 4 * i);
    return NDE_OK;
  }
  /* Narrowing a double build's values: a finite value beyond the float
   * range would silently become Inf, so refuse it. */
  for (size_t i = 0; i < n; i++) {
    double v = get_f64(s->data + 8 * i);
    if (isfinite(v) && fabs(v) > FLT_MAX)
      return nde_error(NDE_ERR_NONFINITE,
                       "checkpoint '%s': section '%s' value %zu (%g) overflows "
                       "float",
                       c->path, name, i, v);
    x[i] = (float)v;
  }
  return NDE_OK;
}

int nde_ckpt_read_f64(const nde_ckpt *c, const char *name, double *x, size_t n) {
  const section *s;
  int rc = expect(c, name, x, n, 1, 0, &s);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++)
    x[i] = s->type == NDE_CKPT_F64 ? get_f64(s->data + 8 * i) : (double)get_f32(s->data + 4 * i);
  return NDE_OK;
}

int nde_ckpt_read_real(const nde_ckpt *c, const char *name, nde_real *x, size_t n) {
#if NDE_REAL_IS_DOUBLE
  return nde_ckpt_read_f64(c, name, x, n);
#else
  return nde_ckpt_read_f32(c, name, x, n);
#endif
}

int nde_ckpt_read_i64(const nde_ckpt *c, const char *name, int64_t *x, size_t n) {
  const section *s;
  int rc = expect(c, name, x, n, 0, NDE_CKPT_I64, &s);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    uint64_t u = ckpt_get_u64(s->data + 8 * i);
    memcpy(&x[i], &u, 8); /* two's complement bit pattern, as written */
  }
  return NDE_OK;
}

int nde_ckpt_read_u64(const nde_ckpt *c, const char *name, uint64_t *x, size_t n) {
  const section *s;
  int rc = expect(c, name, x, n, 0, NDE_CKPT_U64, &s);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) x[i] = ckpt_get_u64(s->data + 8 * i);
  return NDE_OK;
}

int nde_ckpt_read_text(const nde_ckpt *c, const char *name, const char **text) {
  NDE_CHECK_NULL(text, "nde_ckpt_read_text");
  const section *s;
  int rc = lookup(c, name, &s);
  if (rc) return rc;
  if (s->type != NDE_CKPT_TEXT)
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': section '%s' holds %s values, not text",
                     c->path, name, nde_ckpt_type_name((int)s->type));
  *text = s->text;
  return NDE_OK;
}

int nde_ckpt_read_rng(const nde_ckpt *c, const char *name, nde_rng *rng) {
  NDE_CHECK_NULL(rng, "nde_ckpt_read_rng");
  uint64_t s[4];
  int rc = nde_ckpt_read_u64(c, name, s, 4);
  if (rc) return rc;
  /* xoshiro256** never leaves the all-zero state, so it marks a bad file. */
  if (!(s[0] | s[1] | s[2] | s[3]))
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': generator state '%s' is all zero", c->path,
                     name);
  memcpy(rng->s, s, sizeof s);
  return NDE_OK;
}

int nde_ckpt_read_optim(const nde_ckpt *c, const char *name, nde_optim *opt) {
  NDE_CHECK_NULL(c, "nde_ckpt_read_optim");
  NDE_CHECK_NULL(name, "nde_ckpt_read_optim");
  NDE_CHECK_NULL(opt, "nde_ckpt_read_optim");
  char info[NDE_CKPT_NAME_MAX + 8];
  snprintf(info, sizeof info, "%.*s.info", NDE_CKPT_NAME_MAX, name);
  int64_t meta[3];
  int rc = nde_ckpt_read_i64(c, info, meta, 3);
  if (rc) return rc;
  if (meta[0] != (int64_t)nde_optim_get_kind(opt))
    return nde_error(NDE_ERR_KIND, "checkpoint '%s': optimizer '%s' is %s, the caller's is %s",
                     c->path, name, nde_optim_kind_name((int)meta[0]),
                     nde_optim_kind_name(nde_optim_get_kind(opt)));
  if (meta[1] != (int64_t)nde_optim_size(opt))
    return nde_error(NDE_ERR_SHAPE,
                     "checkpoint '%s': optimizer '%s' covers %" PRId64
                     " parameters, the caller's %zu",
                     c->path, name, meta[1], nde_optim_size(opt));
  if (meta[2] < 0)
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': optimizer '%s' has a negative step count",
                     c->path, name);
  nde_real *state;
  size_t count;
  rc = nde_optim_state(opt, &state, &count);
  if (!rc) rc = nde_ckpt_read_real(c, name, state, count);
  if (!rc) rc = nde_optim_set_steps(opt, meta[2]);
  return rc;
}

int nde_ckpt_meta(const nde_ckpt *c, const char *key, const char **value) {
  NDE_CHECK_NULL(c, "nde_ckpt_meta");
  NDE_CHECK_NULL(key, "nde_ckpt_meta");
  NDE_CHECK_NULL(value, "nde_ckpt_meta");
  for (size_t i = 0; i < c->nmeta; i++)
    if (!strcmp(c->keys[i], key)) {
      *value = c->vals[i];
      return NDE_OK;
    }
  return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': missing meta key '%s'", c->path, key);
}

int nde_ckpt_meta_int(const nde_ckpt *c, const char *key, int64_t *value) {
  NDE_CHECK_NULL(value, "nde_ckpt_meta_int");
  const char *s;
  int rc = nde_ckpt_meta(c, key, &s);
  if (rc) return rc;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno == ERANGE)
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': meta '%s' = '%s' is not an integer", c->path,
                     key, s);
  *value = (int64_t)v;
  return NDE_OK;
}

int nde_ckpt_meta_int_in(const nde_ckpt *c, const char *key, int64_t lo, int64_t hi,
                         int64_t *value) {
  NDE_CHECK_NULL(value, "nde_ckpt_meta_int_in");
  int64_t v = 0; /* set when rc == 0 (GCC cannot see it through the call) */
  int rc = nde_ckpt_meta_int(c, key, &v);
  if (rc) return rc;
  if (v < lo || v > hi)
    return nde_error(NDE_ERR_FORMAT,
                     "checkpoint '%s': meta '%s' = %" PRId64 " outside [%" PRId64 ", %" PRId64 "]",
                     c->path, key, v, lo, hi);
  *value = v;
  return NDE_OK;
}

int nde_ckpt_meta_double(const nde_ckpt *c, const char *key, double *value) {
  NDE_CHECK_NULL(value, "nde_ckpt_meta_double");
  const char *s;
  int rc = nde_ckpt_meta(c, key, &s);
  if (rc) return rc;
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end)
    return nde_error(NDE_ERR_FORMAT, "checkpoint '%s': meta '%s' = '%s' is not a number", c->path,
                     key, s);
  *value = v;
  return NDE_OK;
}
