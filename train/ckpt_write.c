/* Checkpoint writer: sections are serialized into one growing in-memory
 * payload as they are added; commit writes header + payload to a temporary
 * file, makes it durable and renames it over the target, so a reader sees
 * either the old checkpoint or the new one, never a mixture, even when the
 * process is killed or the disk fills up mid-write. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error_impl.h"
#include "train/ckpt_impl.h"
#include "train/fault_impl.h"

_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE-754 binary32/binary64 expected");

struct nde_ckpt_writer {
  unsigned char *buf; /* payload bytes */
  size_t len, cap;
  char **names; /* section names so far (for uniqueness) */
  size_t nsec, capsec;
  char *meta; /* "key=value\n" lines, NULL until the first pair */
  size_t meta_len;
  int sealed;       /* 1 after the first commit: meta serialized, no more adds */
  int meta_section; /* 1 once the meta pairs were appended as a section */
};

uint32_t nde_ckpt_crc(uint32_t crc, const unsigned char *p, size_t n) {
  while (n > 0) {
    uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = (uint32_t)crc32(crc, p, piece);
    p += piece;
    n -= piece;
  }
  return crc;
}

int nde_ckpt_writer_create(nde_ckpt_writer **out) {
  NDE_CHECK_NULL(out, "nde_ckpt_writer_create");
  *out = calloc(1, sizeof **out);
  if (!*out) return nde_error(NDE_ERR_NOMEM, "nde_ckpt_writer_create: no memory");
  return NDE_OK;
}

void nde_ckpt_writer_free(nde_ckpt_writer *w) {
  if (!w) return;
  for (size_t i = 0; i < w->nsec; i++) free(w->names[i]);
  free(w->names);
  free(w->buf);
  free(w->meta);
  free(w);
}

static int reserve(nde_ckpt_writer *w, size_t extra, const char *name) {
  if (extra > SIZE_MAX - w->len)
    return nde_error(NDE_ERR_ARG, "checkpoint section '%s': size overflows", name);
  size_t need = w->len + extra;
  if (need <= w->cap) return NDE_OK;
  size_t cap = w->cap ? w->cap : 4096;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : 2 * cap;
  unsigned char *b = realloc(w->buf, cap);
  if (!b)
    return nde_error(NDE_ERR_NOMEM, "checkpoint section '%s': no memory for %zu bytes", name, cap);
  w->buf = b;
  w->cap = cap;
  return NDE_OK;
}

/* Validate the name, record it, write the section framing and return a
 * pointer to room for count elements of the type's size. */
static int begin_section(nde_ckpt_writer *w, const char *name, uint32_t type, size_t count,
                         const void *data, unsigned char **dst) {
  NDE_CHECK_NULL(w, "checkpoint writer");
  NDE_CHECK_NULL(name, "checkpoint writer");
  if (count > 0 && !data)
    return nde_error(NDE_ERR_NULL, "checkpoint section '%s': data is NULL for %zu values", name,
                     count);
  if (w->sealed)
    return nde_error(NDE_ERR_STATE, "checkpoint section '%s': writer already committed", name);
  if (!ckpt_name_ok(name))
    return nde_error(NDE_ERR_ARG,
                     "checkpoint section name '%.80s' must be 1..%d printable characters without "
                     "spaces",
                     name, NDE_CKPT_NAME_MAX);
  if (!strcmp(name, CKPT_META_NAME))
    return nde_error(NDE_ERR_ARG,
                     "checkpoint section name '%s' is reserved for "
                     "nde_ckpt_set_meta",
                     name);
  for (size_t i = 0; i < w->nsec; i++)
    if (!strcmp(w->names[i], name))
      return nde_error(NDE_ERR_ARG, "checkpoint section '%s' added twice", name);
  size_t esz = ckpt_elem_size(type), nlen = strlen(name);
  if (count > (SIZE_MAX - CKPT_SECTION_FIXED - nlen) / esz)
    return nde_error(NDE_ERR_ARG, "checkpoint section '%s': %zu values overflow", name, count);
  if (w->nsec == w->capsec) {
    size_t cap = w->capsec ? 2 * w->capsec : 8;
    char **nn = realloc(w->names, cap * sizeof *nn);
    if (!nn) return nde_error(NDE_ERR_NOMEM, "checkpoint section '%s': no memory", name);
    w->names = nn;
    w->capsec = cap;
  }
  int rc = reserve(w, CKPT_SECTION_FIXED + nlen + count * esz, name);
  if (rc) return rc;
  char *copy = malloc(nlen + 1);
  if (!copy) return nde_error(NDE_ERR_NOMEM, "checkpoint section '%s': no memory", name);
  memcpy(copy, name, nlen + 1);
  w->names[w->nsec++] = copy;
  unsigned char *b = w->buf + w->len;
  ckpt_put_u32(b, (uint32_t)nlen);
  memcpy(b + 4, name, nlen);
  ckpt_put_u32(b + 4 + nlen, type);
  ckpt_put_u64(b + 8 + nlen, (uint64_t)count);
  *dst = b + CKPT_SECTION_FIXED + nlen;
  w->len += CKPT_SECTION_FIXED + nlen + count * esz;
  return NDE_OK;
}

int nde_ckpt_add_f32(nde_ckpt_writer *w, const char *name, const float *x, size_t n) {
  unsigned char *d;
  int rc = begin_section(w, name, NDE_CKPT_F32, n, x, &d);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    ckpt_put_u32(d + 4 * i, u);
  }
  return NDE_OK;
}

int nde_ckpt_add_f64(nde_ckpt_writer *w, const char *name, const double *x, size_t n) {
  unsigned char *d;
  int rc = begin_section(w, name, NDE_CKPT_F64, n, x, &d);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    uint64_t u;
    memcpy(&u, &x[i], 8);
    ckpt_put_u64(d + 8 * i, u);
  }
  return NDE_OK;
}

int nde_ckpt_add_real(nde_ckpt_writer *w, const char *name, const nde_real *x, size_t n) {
#if NDE_REAL_IS_DOUBLE
  return nde_ckpt_add_f64(w, name, x, n);
#else
  return nde_ckpt_add_f32(w, name, x, n);
#endif
}

int nde_ckpt_add_u64(nde_ckpt_writer *w, const char *name, const uint64_t *x, size_t n) {
  unsigned char *d;
  int rc = begin_section(w, name, NDE_CKPT_U64, n, x, &d);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) ckpt_put_u64(d + 8 * i, x[i]);
  return NDE_OK;
}

int nde_ckpt_add_i64(nde_ckpt_writer *w, const char *name, const int64_t *x, size_t n) {
  unsigned char *d;
  int rc = begin_section(w, name, NDE_CKPT_I64, n, x, &d);
  if (rc) return rc;
  /* Two's complement bit pattern; the reader converts back the same way. */
  for (size_t i = 0; i < n; i++) ckpt_put_u64(d + 8 * i, (uint64_t)x[i]);
  return NDE_OK;
}

int nde_ckpt_add_text(nde_ckpt_writer *w, const char *name, const char *text) {
  NDE_CHECK_NULL(text, "nde_ckpt_add_text");
  unsigned char *d;
  size_t n = strlen(text);
  int rc = begin_section(w, name, NDE_CKPT_TEXT, n, text, &d);
  if (rc) return rc;
  memcpy(d, text, n);
  return NDE_OK;
}

int nde_ckpt_add_rng(nde_ckpt_writer *w, const char *name, const nde_rng *rng) {
  NDE_CHECK_NULL(rng, "nde_ckpt_add_rng");
  return nde_ckpt_add_u64(w, name, rng->s, 4);
}

int nde_ckpt_add_optim(nde_ckpt_writer *w, const char *name, const nde_optim *opt) {
  NDE_CHECK_NULL(w, "nde_ckpt_add_optim");
  NDE_CHECK_NULL(name, "nde_ckpt_add_optim");
  NDE_CHECK_NULL(opt, "nde_ckpt_add_optim");
  char info[NDE_CKPT_NAME_MAX + 8];
  if (strlen(name) + 5 > NDE_CKPT_NAME_MAX)
    return nde_error(NDE_ERR_ARG,
                     "nde_ckpt_add_optim: name '%.80s' leaves no room for '.info' "
                     "within %d characters",
                     name, NDE_CKPT_NAME_MAX);
  snprintf(info, sizeof info, "%s.info", name);
  /* Check both names first so a clash does not leave half an optimizer. */
  for (size_t i = 0; i < w->nsec; i++)
    if (!strcmp(w->names[i], info))
      return nde_error(NDE_ERR_ARG, "checkpoint section '%s' added twice", info);
  nde_real *state;
  size_t count;
  /* nde_optim_state hands out a writable pointer; nothing is written here. */
  int rc = nde_optim_state((nde_optim *)opt, &state, &count);
  if (rc) return rc;
  rc = nde_ckpt_add_real(w, name, state, count);
  if (rc) return rc;
  int64_t meta[3] = {(int64_t)nde_optim_get_kind(opt), (int64_t)nde_optim_size(opt),
                     nde_optim_steps(opt)};
  return nde_ckpt_add_i64(w, info, meta, 3);
}

int nde_ckpt_set_meta(nde_ckpt_writer *w, const char *key, const char *value) {
  NDE_CHECK_NULL(w, "nde_ckpt_set_meta");
  NDE_CHECK_NULL(key, "nde_ckpt_set_meta");
  NDE_CHECK_NULL(value, "nde_ckpt_set_meta");
  if (w->sealed)
    return nde_error(NDE_ERR_STATE, "checkpoint meta '%s': writer already committed", key);
  if (!ckpt_name_ok(key) || strchr(key, '='))
    return nde_error(NDE_ERR_ARG,
                     "checkpoint meta key '%.80s' must be 1..%d printable characters without "
                     "spaces or '='",
                     key, NDE_CKPT_NAME_MAX);
  if (strpbrk(value, "\r\n"))
    return nde_error(NDE_ERR_ARG, "checkpoint meta '%s': value contains a newline", key);
  size_t klen = strlen(key), vlen = strlen(value);
  /* Keys are unique: look for "key=" at the start of a line. */
  for (size_t at = 0; at < w->meta_len;) {
    const char *line = w->meta + at;
    if (!strncmp(line, key, klen) && line[klen] == '=')
      return nde_error(NDE_ERR_ARG, "checkpoint meta key '%s' set twice", key);
    at += (size_t)(strchr(line, '\n') - line) + 1;
  }
  char *m = realloc(w->meta, w->meta_len + klen + vlen + 3);
  if (!m) return nde_error(NDE_ERR_NOMEM, "checkpoint meta '%s': no memory", key);
  w->meta = m;
  memcpy(m + w->meta_len, key, klen);
  m[w->meta_len + klen] = '=';
  memcpy(m + w->meta_len + klen + 1, value, vlen);
  m[w->meta_len + klen + 1 + vlen] = '\n';
  w->meta_len += klen + vlen + 2;
  m[w->meta_len] = '\0';
  return NDE_OK;
}

int nde_ckpt_set_meta_int(nde_ckpt_writer *w, const char *key, int64_t value) {
  char s[32];
  snprintf(s, sizeof s, "%" PRId64, value);
  return nde_ckpt_set_meta(w, key, s);
}

int nde_ckpt_set_meta_double(nde_ckpt_writer *w, const char *key, double value) {
  char s[40];
  snprintf(s, sizeof s, "%.17g", value);
  return nde_ckpt_set_meta(w, key, s);
}

/* On the first commit, append the meta pairs as the TEXT section "meta". */
static int seal(nde_ckpt_writer *w) {
  if (w->sealed) return NDE_OK;
  if (w->meta_len > 0) {
    size_t nlen = strlen(CKPT_META_NAME);
    int rc = reserve(w, CKPT_SECTION_FIXED + nlen + w->meta_len, CKPT_META_NAME);
    if (rc) return rc;
    unsigned char *b = w->buf + w->len;
    ckpt_put_u32(b, (uint32_t)nlen);
    memcpy(b + 4, CKPT_META_NAME, nlen);
    ckpt_put_u32(b + 4 + nlen, NDE_CKPT_TEXT);
    ckpt_put_u64(b + 8 + nlen, (uint64_t)w->meta_len);
    memcpy(b + CKPT_SECTION_FIXED + nlen, w->meta, w->meta_len);
    w->len += CKPT_SECTION_FIXED + nlen + w->meta_len;
    w->meta_section = 1; /* counted in the header, not in names[] */
  }
  w->sealed = 1;
  return NDE_OK;
}

/* Directory part of path ("." when there is none), for fsync after rename. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 1;
  char *d = malloc(n + 1);
  if (!d) return NULL;
  if (slash)
    memcpy(d, path, n);
  else
    d[0] = '.';
  d[n] = '\0';
  return d;
}

static int write_all(FILE *f, const unsigned char *p, size_t n) {
  return fwrite(p, 1, n, f) == n ? 0 : -1;
}

/* Make the rename itself durable. Some file systems cannot fsync a
 * directory (EINVAL); the data is then as durable as the platform allows. */
static int sync_dir(const char *path) {
  char *dir = dir_of(path);
  if (!dir) return nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  int rc = NDE_OK;
  if (fd < 0) {
    rc = nde_error(NDE_ERR_IO,
                   "checkpoint '%s' was written but its directory '%s' could not be "
                   "opened for fsync: %s",
                   path, dir, strerror(errno));
  } else {
    if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)
      rc = nde_error(NDE_ERR_IO,
                     "checkpoint '%s' was written but fsync of directory '%s' "
                     "failed: %s",
                     path, dir, strerror(errno));
    close(fd);
  }
  free(dir);
  return rc;
}

int nde_ckpt_writer_commit(nde_ckpt_writer *w, const char *path) {
  return ckpt_writer_commit_hooked(w, path, NULL);
}

/* Write the payload; with a fault hook, in two halves with the file flushed
 * between them, so a test can kill the process with a torn temporary. */
static int write_payload(FILE *f, const unsigned char *p, size_t n, const train_fault *fault) {
  size_t half = fault && fault->fn ? n / 2 : 0;
  if (half > 0) {
    if (write_all(f, p, half) || fflush(f) != 0) return -1;
    train_fault_at(fault, "ckpt.partial");
  }
  return write_all(f, p + half, n - half);
}

int ckpt_writer_commit_hooked(nde_ckpt_writer *w, const char *path, const train_fault *fault) {
  NDE_CHECK_NULL(w, "nde_ckpt_writer_commit");
  NDE_CHECK_NULL(path, "nde_ckpt_writer_commit");
  if (!path[0]) return nde_error(NDE_ERR_ARG, "nde_ckpt_writer_commit: empty path");
  int rc = seal(w);
  if (rc) return rc;
  size_t nsec = w->nsec + (size_t)w->meta_section;
  if (nsec > UINT32_MAX)
    return nde_error(NDE_ERR_ARG, "checkpoint '%s': %zu sections, at most %" PRIu32, path, nsec,
                     UINT32_MAX);

  unsigned char hdr[CKPT_HEADER_LEN];
  memset(hdr, 0, sizeof hdr);
  memcpy(hdr, CKPT_MAGIC, CKPT_MAGIC_LEN); /* copies the terminating NUL too */
  ckpt_put_u32(hdr + 8, NDE_CKPT_VERSION);
  ckpt_put_u32(hdr + 12, (uint32_t)nsec);
  ckpt_put_u64(hdr + 16, (uint64_t)w->len);
  ckpt_put_u32(hdr + 24, 0); /* reserved */
  uint32_t crc = nde_ckpt_crc((uint32_t)crc32(0L, Z_NULL, 0), hdr, CKPT_CRC_OFFSET);
  crc = nde_ckpt_crc(crc, w->buf, w->len);
  ckpt_put_u32(hdr + CKPT_CRC_OFFSET, crc);

  size_t tlen = strlen(path) + 32;
  char *tmp = malloc(tlen);
  if (!tmp) return nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", path);
  snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

  FILE *f = fopen(tmp, "wb");
  if (!f) {
    rc = nde_error(NDE_ERR_IO, "checkpoint '%s': cannot create temporary file '%s': %s", path, tmp,
                   strerror(errno));
    free(tmp);
    return rc;
  }
  const char *failed = NULL;
  if (write_all(f, hdr, sizeof hdr) || write_payload(f, w->buf, w->len, fault))
    failed = "write";
  else if (fflush(f) != 0)
    failed = "flush";
  else if (fsync(fileno(f)) != 0)
    failed = "fsync";
  int err = failed ? errno : 0;
  if (fclose(f) != 0 && !failed) {
    failed = "close";
    err = errno;
  }
  if (!failed) train_fault_at(fault, "ckpt.written");
  if (!failed && rename(tmp, path) != 0) {
    failed = "rename";
    err = errno;
  }
  if (failed) {
    unlink(tmp); /* the previous checkpoint, if any, is untouched */
    rc = nde_error(NDE_ERR_IO, "checkpoint '%s': %s of temporary file '%s' failed: %s", path,
                   failed, tmp, strerror(err));
    free(tmp);
    return rc;
  }
  free(tmp);
  train_fault_at(fault, "ckpt.renamed");
  return sync_dir(path);
}

/* "<base>.tmp.<digits>": the name commit gives its temporary. */
static int is_temporary_of(const char *name, const char *base) {
  size_t n = strlen(base);
  if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0) return 0;
  const char *d = name + n + 5;
  if (!*d) return 0;
  for (; *d; d++)
    if (*d < '0' || *d > '9') return 0;
  return 1;
}

int nde_ckpt_remove_temporaries(const char *path) {
  NDE_CHECK_NULL(path, "nde_ckpt_remove_temporaries");
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!*base) return nde_error(NDE_ERR_ARG, "checkpoint path '%s' names a directory", path);
  char *dir = dir_of(path);
  if (!dir) return nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", path);
  DIR *d = opendir(dir);
  if (!d) {
    int rc = nde_error(NDE_ERR_IO, "checkpoint '%s': cannot list directory '%s': %s", path, dir,
                       strerror(errno));
    free(dir);
    return rc;
  }
  int removed = 0, rc = NDE_OK;
  struct dirent *e;
  while (!rc && (e = readdir(d)) != NULL) {
    if (!is_temporary_of(e->d_name, base)) continue;
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    char *p = malloc(len);
    if (!p) {
      rc = nde_error(NDE_ERR_NOMEM, "checkpoint '%s': no memory", path);
      break;
    }
    snprintf(p, len, "%s/%s", dir, e->d_name);
    if (unlink(p) == 0)
      removed++;
    else if (errno != ENOENT)
      rc = nde_error(NDE_ERR_IO, "checkpoint '%s': cannot remove the stale temporary '%s': %s",
                     path, p, strerror(errno));
    free(p);
  }
  closedir(d);
  free(dir);
  return rc ? rc : removed;
}

int ckpt_remove_durably(const char *path) {
  if (unlink(path) != 0) {
    if (errno == ENOENT) return NDE_OK;
    return nde_error(NDE_ERR_IO, "checkpoint '%s': cannot remove it: %s", path, strerror(errno));
  }
  return sync_dir(path);
}
