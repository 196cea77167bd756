/* Per-epoch CSV log. A row is assembled in memory and written with one
 * fwrite + fflush, so after a kill the file holds whole rows plus at most
 * one torn row, which nde_csv_append and nde_csv_resume remove when the run
 * resumes. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error_impl.h"
#include "nde/train.h"
#include "train/fault_impl.h"
#include "train/csv_impl.h"

#define CSV_MAX_HEADER 65536 /* longest header line accepted when resuming */

struct nde_csv {
  FILE *f;
  char *path;
  int ncol;
  char *header; /* the expected header line, without '\n' */
  char *line;   /* row being built */
  size_t len, cap;
  int nfields;       /* fields in the row being built */
  long rows;         /* data rows in the file */
  train_fault fault; /* test-only hook of the run writing this log */
};

/* Append n bytes to the row buffer. */
static int line_add(nde_csv *c, const char *s, size_t n) {
  if (c->len + n + 2 > c->cap) {
    size_t cap = c->cap ? c->cap : 256;
    while (cap < c->len + n + 2) cap *= 2;
    char *l = realloc(c->line, cap);
    if (!l) return nde_error(NDE_ERR_NOMEM, "csv '%s': no memory for a %zu-byte row", c->path, cap);
    c->line = l;
    c->cap = cap;
  }
  memcpy(c->line + c->len, s, n);
  c->len += n;
  return NDE_OK;
}

/* One field: separator, then the text, quoted (RFC 4180) when it holds a
 * comma or a quote. Newlines would split a row in two, so they are refused. */
static int field_add(nde_csv *c, const char *s, int quote_ok) {
  if (strpbrk(s, "\r\n"))
    return nde_error(NDE_ERR_ARG, "csv '%s': field %d contains a newline", c->path, c->nfields);
  int rc = c->nfields > 0 ? line_add(c, ",", 1) : NDE_OK;
  if (rc) return rc;
  if (!quote_ok || !strpbrk(s, ",\"")) return line_add(c, s, strlen(s));
  rc = line_add(c, "\"", 1);
  for (const char *q = s; !rc && *q; q++)
    rc = *q == '"' ? line_add(c, "\"\"", 2) : line_add(c, q, 1);
  return rc ? rc : line_add(c, "\"", 1);
}

static int check_columns(const char *path, const char *const *columns, int ncol) {
  NDE_CHECK_NULL(path, "csv open");
  NDE_CHECK_NULL(columns, "csv open");
  if (ncol < 1) return nde_error(NDE_ERR_ARG, "csv '%s': %d columns, need at least 1", path, ncol);
  for (int i = 0; i < ncol; i++) {
    if (!columns[i] || !columns[i][0])
      return nde_error(NDE_ERR_ARG, "csv '%s': column %d has no name", path, i);
  }
  return NDE_OK;
}

/* Build the handle and its header line (validating the column names). */
static int make(const char *path, const char *const *columns, int ncol, nde_csv **out) {
  int rc = check_columns(path, columns, ncol);
  if (rc) return rc;
  nde_csv *c = calloc(1, sizeof *c);
  if (!c || !(c->path = malloc(strlen(path) + 1))) {
    free(c);
    return nde_error(NDE_ERR_NOMEM, "csv '%s': no memory", path);
  }
  strcpy(c->path, path);
  c->ncol = ncol;
  for (int i = 0; i < ncol && !rc; i++) {
    rc = field_add(c, columns[i], 1);
    c->nfields++;
  }
  if (!rc && !(c->header = malloc(c->len + 1)))
    rc = nde_error(NDE_ERR_NOMEM, "csv '%s': no memory", path);
  if (rc) {
    if (rc == NDE_ERR_ARG) nde_error_wrap(rc, "header: ");
    nde_csv_free(c);
    return rc;
  }
  memcpy(c->header, c->line, c->len);
  c->header[c->len] = '\0';
  c->len = 0;
  c->nfields = 0;
  *out = c;
  return NDE_OK;
}

void csv_set_fault(nde_csv *c, const train_fault *fault) {
  if (c && fault) c->fault = *fault;
}

/* With a fault hook the first half of the line goes out (flushed) before
 * "csv.torn", so a test can leave a torn row behind. */
static int write_line(nde_csv *c, const char *s, size_t n) {
  size_t half = c->fault.fn ? n / 2 : 0;
  if (half > 0) {
    if (fwrite(s, 1, half, c->f) != half || fflush(c->f) != 0)
      return nde_error(NDE_ERR_IO, "csv '%s': write failed: %s", c->path, strerror(errno));
    train_fault_at(&c->fault, "csv.torn");
    s += half;
    n -= half;
  }
  if (fwrite(s, 1, n, c->f) != n || fputc('\n', c->f) == EOF || fflush(c->f) != 0)
    return nde_error(NDE_ERR_IO, "csv '%s': write failed: %s", c->path, strerror(errno));
  return NDE_OK;
}

int nde_csv_create(const char *path, const char *const *columns, int ncol, nde_csv **out) {
  NDE_CHECK_NULL(out, "nde_csv_create");
  *out = NULL;
  nde_csv *c;
  int rc = make(path, columns, ncol, &c);
  if (rc) return rc;
  c->f = fopen(path, "wb");
  if (!c->f)
    rc = nde_error(NDE_ERR_IO, "csv '%s': cannot create: %s", path, strerror(errno));
  else
    rc = write_line(c, c->header, strlen(c->header));
  if (rc) {
    nde_csv_free(c);
    return rc;
  }
  *out = c;
  return NDE_OK;
}

/* Read one field's worth of a data row: its first field as an integer.
 * Returns 1 and the value when the field is an integer, 0 otherwise; the
 * stream is left inside the row (or at its end when the row is shorter). */
static int read_first_int(FILE *f, long long *value, int *ch_out) {
  char field[32];
  size_t n = 0;
  int ch;
  while ((ch = getc(f)) != EOF && ch != ',' && ch != '\n' && n < sizeof field - 1)
    field[n++] = (char)ch;
  *ch_out = ch;
  field[n] = '\0';
  if (n == 0 || (ch != ',' && ch != '\n')) return 0;
  char *end;
  *value = strtoll(field, &end, 10);
  return *end == '\0';
}

/* Which leading data rows an existing log keeps when it is reopened. */
typedef struct keep_rule {
  long rows;  /* at most this many rows (< 0: no limit) */
  int by_key; /* 1: only rows whose first field is an integer <= max_key */
  long long max_key;
} keep_rule;

/* Scan an existing log: compare its header, count the whole rows to keep
 * and find where to cut (before the first row not kept, or after the last
 * '\n'). */
static int scan_existing(nde_csv *c, const keep_rule *keep, long *cut, int *rewrite_header) {
  FILE *f = c->f;
  size_t hlen = strlen(c->header);
  char *first = malloc(CSV_MAX_HEADER + 1);
  if (!first) return nde_error(NDE_ERR_NOMEM, "csv '%s': no memory", c->path);
  size_t n = 0;
  int ch;
  while ((ch = getc(f)) != EOF && ch != '\n' && n < CSV_MAX_HEADER) first[n++] = (char)ch;
  int rc = NDE_OK;
  if (ch != EOF && ch != '\n') {
    rc = nde_error(NDE_ERR_FORMAT, "csv '%s': first line longer than %d bytes", c->path,
                   CSV_MAX_HEADER);
  } else if (ch == EOF) {
    /* No complete header: a kill during the header write leaves a prefix of
     * it, which is safe to rewrite; anything else is someone else's file. */
    if (n <= hlen && !memcmp(first, c->header, n))
      *rewrite_header = 1;
    else
      rc = nde_error(NDE_ERR_FORMAT, "csv '%s': incomplete first line is not the header '%s'",
                     c->path, c->header);
  } else {
    if (n > 0 && first[n - 1] == '\r') n--;
    first[n] = '\0';
    if (memchr(first, '\0', n)) /* strcmp would stop at it */
      rc = nde_error(NDE_ERR_FORMAT,
                     "csv '%s': first line holds a NUL byte, it does not match the expected '%s'",
                     c->path, c->header);
    else if (strcmp(first, c->header) != 0)
      rc = nde_error(NDE_ERR_FORMAT, "csv '%s': header '%.200s' does not match the expected '%s'",
                     c->path, first, c->header);
  }
  free(first);
  if (rc || *rewrite_header) return rc;
  long rows = 0, end = ftell(f); /* offset just after the last complete line kept */
  while (keep->rows < 0 || rows < keep->rows) {
    ch = 0;
    if (keep->by_key) {
      long long key;
      if (!read_first_int(f, &key, &ch) || key > keep->max_key) break;
    }
    while (ch != '\n' && (ch = getc(f)) != EOF && ch != '\n') {
    }
    if (ch == EOF) break;
    rows++;
    end = ftell(f);
  }
  if (ferror(f))
    return nde_error(NDE_ERR_IO, "csv '%s': read failed: %s", c->path, strerror(errno));
  c->rows = rows;
  *cut = end;
  return NDE_OK;
}

static int reopen(const char *path, const char *const *columns, int ncol, const keep_rule *keep,
                  nde_csv **out) {
  *out = NULL;
  nde_csv *c;
  int rc = make(path, columns, ncol, &c);
  if (rc) return rc;
  c->f = fopen(path, "r+b");
  if (!c->f && errno == ENOENT) {
    nde_csv_free(c);
    return nde_csv_create(path, columns, ncol, out);
  }
  struct stat st;
  long cut = 0;
  int rewrite = 0;
  if (!c->f)
    rc = nde_error(NDE_ERR_IO, "csv '%s': cannot open for resuming: %s", path, strerror(errno));
  else if (fstat(fileno(c->f), &st) != 0 || !S_ISREG(st.st_mode))
    rc = nde_error(NDE_ERR_IO, "csv '%s': not a regular file, cannot resume", path);
  else if (st.st_size > 0)
    rc = scan_existing(c, keep, &cut, &rewrite);
  else
    rewrite = 1;
  /* Drop the torn or unwanted tail, then continue writing at the cut. */
  if (!rc && (fseek(c->f, cut, SEEK_SET) != 0 || ftruncate(fileno(c->f), cut) != 0))
    rc = nde_error(NDE_ERR_IO, "csv '%s': cannot truncate to %ld bytes: %s", path, cut,
                   strerror(errno));
  if (!rc && rewrite) rc = write_line(c, c->header, strlen(c->header));
  if (rc) {
    nde_csv_free(c);
    return rc;
  }
  *out = c;
  return NDE_OK;
}

int nde_csv_append(const char *path, const char *const *columns, int ncol, long keep_rows,
                   nde_csv **out) {
  NDE_CHECK_NULL(out, "nde_csv_append");
  const keep_rule keep = {keep_rows, 0, 0};
  return reopen(path, columns, ncol, &keep, out);
}

int nde_csv_resume(const char *path, const char *const *columns, int ncol, long last_epoch,
                   nde_csv **out) {
  NDE_CHECK_NULL(out, "nde_csv_resume");
  const keep_rule keep = {-1, 1, last_epoch};
  return reopen(path, columns, ncol, &keep, out);
}

int nde_csv_sync(nde_csv *c) {
  NDE_CHECK_NULL(c, "nde_csv_sync");
  /* Some file systems cannot fsync (EINVAL): rows are then as durable as
   * the platform allows. */
  if (fflush(c->f) != 0 || (fsync(fileno(c->f)) != 0 && errno != EINVAL && errno != ENOTSUP))
    return nde_error(NDE_ERR_IO, "csv '%s': cannot make the rows durable (fsync): %s", c->path,
                     strerror(errno));
  return NDE_OK;
}

void nde_csv_free(nde_csv *c) {
  if (!c) return;
  if (c->f) fclose(c->f);
  free(c->line);
  free(c->header);
  free(c->path);
  free(c);
}

int nde_csv_num_cols(const nde_csv *c) { return c ? c->ncol : 0; }

long nde_csv_num_rows(const nde_csv *c) { return c ? c->rows : 0; }

static int put(nde_csv *c, const char *text, int quote_ok) {
  if (c->nfields >= c->ncol)
    return nde_error(NDE_ERR_ARG, "csv '%s': row already has all %d fields", c->path, c->ncol);
  size_t len0 = c->len;
  int rc = field_add(c, text, quote_ok);
  if (rc) {
    c->len = len0;
    return rc;
  }
  c->nfields++;
  return NDE_OK;
}

int nde_csv_put_double(nde_csv *c, double v) {
  NDE_CHECK_NULL(c, "nde_csv_put_double");
  char s[40];
  snprintf(s, sizeof s, "%.10g", v);
  return put(c, s, 0);
}

int nde_csv_put_int(nde_csv *c, long long v) {
  NDE_CHECK_NULL(c, "nde_csv_put_int");
  char s[32];
  snprintf(s, sizeof s, "%lld", v);
  return put(c, s, 0);
}

int nde_csv_put_str(nde_csv *c, const char *s) {
  NDE_CHECK_NULL(c, "nde_csv_put_str");
  NDE_CHECK_NULL(s, "nde_csv_put_str");
  return put(c, s, 1);
}

int nde_csv_end_row(nde_csv *c) {
  NDE_CHECK_NULL(c, "nde_csv_end_row");
  int have = c->nfields;
  size_t len = c->len;
  c->nfields = 0; /* the row is consumed whatever happens next */
  c->len = 0;
  if (have != c->ncol)
    return nde_error(NDE_ERR_ARG, "csv '%s': row has %d fields, the header has %d", c->path, have,
                     c->ncol);
  int rc = write_line(c, c->line, len);
  if (!rc) c->rows++;
  return rc;
}

int nde_csv_row(nde_csv *c, const double *values, int n) {
  NDE_CHECK_NULL(c, "nde_csv_row");
  NDE_CHECK_NULL(values, "nde_csv_row");
  if (n != c->ncol || c->nfields != 0)
    return nde_error(NDE_ERR_ARG,
                     "csv '%s': row of %d values (%d fields pending), the header has "
                     "%d columns",
                     c->path, n, c->nfields, c->ncol);
  for (int i = 0; i < n; i++) {
    int rc = nde_csv_put_double(c, values[i]);
    if (rc) {
      c->nfields = 0;
      c->len = 0;
      return rc;
    }
  }
  return nde_csv_end_row(c);
}

/* Join column names with commas (numeric logs: names need no quoting). */
static int header_line(const char *const *cols, int n, char *buf, size_t cap) {
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    int w = snprintf(buf + len, cap - len, "%s%s", i ? "," : "", cols[i]);
    if (w < 0 || (size_t)w >= cap - len) return -1;
    len += (size_t)w;
  }
  return 0;
}

int csv_upgrade_appended_columns(const char *path, const char *const *old_cols, int n_old,
                                 const char *const *new_cols, int n_new, int *upgraded) {
  *upgraded = 0;
  if (n_new <= n_old) return NDE_OK;
  for (int i = 0; i < n_old; i++)
    if (strcmp(old_cols[i], new_cols[i]))
      return nde_error(NDE_ERR_ARG, "csv '%s': new columns do not extend the old ones", path);
  char old_h[4096], new_h[4096];
  if (header_line(old_cols, n_old, old_h, sizeof old_h) ||
      header_line(new_cols, n_new, new_h, sizeof new_h))
    return nde_error(NDE_ERR_ARG, "csv '%s': header too long", path);
  FILE *in = fopen(path, "rb");
  if (!in) return NDE_OK; /* nothing to upgrade */
  size_t hl = strlen(old_h);
  char *line = malloc(CSV_MAX_HEADER + 2);
  if (!line) {
    fclose(in);
    return nde_error(NDE_ERR_NOMEM, "csv '%s': no memory", path);
  }
  if (!fgets(line, CSV_MAX_HEADER + 2, in) || strncmp(line, old_h, hl) ||
      (line[hl] != '\n' && !(line[hl] == '\r' && line[hl + 1] == '\n'))) {
    free(line);
    fclose(in);
    return NDE_OK; /* another header: not ours to change */
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.upgrade.%ld", path, (long)getpid());
  FILE *out = fopen(tmp, "wb");
  if (!out) {
    int e = errno;
    free(line);
    fclose(in);
    return nde_error(NDE_ERR_IO, "csv '%s': cannot create %s: %s", path, tmp, strerror(e));
  }
  int bad = fprintf(out, "%s\n", new_h) < 0;
  while (!bad && fgets(line, CSV_MAX_HEADER + 2, in)) {
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n') break; /* torn last row (or an overlong one): dropped */
    line[--n] = '\0';
    if (n && line[n - 1] == '\r') line[--n] = '\0';
    bad = fputs(line, out) == EOF;
    for (int i = n_old; i < n_new && !bad; i++) bad = fputs(",nan", out) == EOF;
    if (!bad) bad = fputc('\n', out) == EOF;
  }
  int read_bad = ferror(in);
  free(line);
  fclose(in);
  bad |= fflush(out) != 0 || fsync(fileno(out)) != 0;
  bad |= fclose(out) != 0;
  int rc = NDE_OK;
  if (read_bad)
    rc = nde_error(NDE_ERR_IO, "csv '%s': read failed while upgrading its header", path);
  else if (bad)
    rc = nde_error(NDE_ERR_IO, "csv '%s': writing the upgraded log %s failed: %s", path, tmp,
                   strerror(errno));
  else if (rename(tmp, path) != 0)
    rc = nde_error(NDE_ERR_IO, "csv '%s': cannot replace it with the upgraded log: %s", path,
                   strerror(errno));
  if (rc) {
    unlink(tmp);
    return rc;
  }
  *upgraded = 1;
  return NDE_OK;
}
