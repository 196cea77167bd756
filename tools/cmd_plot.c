/* nde plot: pictures of measurements.
 *
 *   nde plot --work-precision CSV [--work-precision CSV]... [--state NAME]
 *            [--out BASE]
 *
 * A work-precision picture: the training gradient's relative error against
 * seconds per step, log-log, one curve per configuration (the CSV column
 * `family`, prefixed by `impl`), the points of a curve joined in order of
 * decreasing tolerance (or, for fixed steps, of decreasing step). Reads the
 * CSVs that bench/work_precision (nde) and bench/torch_reference (PyTorch)
 * write, with the columns
 *   impl,state,family,method,adjoint,interp,seminorm,tol,atol_b,fixed_h,
 *   nfe_f,nfe_b,sec_per_step,grad_rel_err,loss_err
 * and draws the rows of one state (--state, default: the first row's).
 * Writes BASE.png and BASE.svg (default BASE: work-precision). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/plot.h"

#define WP_MAX_POINTS 2048
#define WP_MAX_CURVES 48
#define WP_FIELDS 15

typedef struct wp_point {
  char curve[96];
  double tol, h, sec, err;
} wp_point;

typedef struct wp_plot {
  wp_point *p;
  int n;
  char state[64];
  char curves[WP_MAX_CURVES][96];
  int ncurves;
  double x0, x1, y0, y1; /* log10 bounds */
} wp_plot;

/* Split a CSV line in place at commas (no quoting in these files). */
static int split_csv(char *line, char **f, int max) {
  int n = 0;
  line[strcspn(line, "\r\n")] = 0;
  for (char *s = line; n < max;) {
    f[n++] = s;
    char *c = strchr(s, ',');
    if (!c) break;
    *c = 0;
    s = c + 1;
  }
  return n;
}

static int parse_number(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return end == s || *end;
}

/* Append the rows of one CSV for the state (the first row's when empty). */
static int read_wp_csv(const char *path, wp_plot *w) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "nde plot: --work-precision %s: cannot open the file\n", path);
    return 1;
  }
  char line[1024];
  int lineno = 0, rc = 0;
  while (!rc && fgets(line, sizeof line, f)) {
    char *fl[WP_FIELDS + 1];
    lineno++;
    if (lineno == 1) {
      if (strncmp(line, "impl,state,family,", 18)) {
        fprintf(stderr, "nde plot: --work-precision %s: not a work-precision CSV (header)\n", path);
        rc = 1;
      }
      continue;
    }
    if (split_csv(line, fl, WP_FIELDS + 1) != WP_FIELDS) {
      fprintf(stderr, "nde plot: --work-precision %s line %d: expected %d fields\n", path, lineno,
              WP_FIELDS);
      rc = 1;
      break;
    }
    if (!w->state[0]) snprintf(w->state, sizeof w->state, "%s", fl[1]);
    if (strcmp(fl[1], w->state)) continue;
    if (w->n == WP_MAX_POINTS) {
      fprintf(stderr, "nde plot: more than %d points\n", WP_MAX_POINTS);
      rc = 1;
      break;
    }
    wp_point *p = &w->p[w->n];
    if (strlen(fl[0]) + strlen(fl[2]) + 2 > sizeof p->curve) {
      fprintf(stderr, "nde plot: --work-precision %s line %d: curve name too long\n", path,
              lineno);
      rc = 1;
      break;
    }
    snprintf(p->curve, sizeof p->curve, "%.40s %.54s", fl[0], fl[2]);
    if (parse_number(fl[7], &p->tol) || parse_number(fl[9], &p->h) ||
        parse_number(fl[12], &p->sec) || parse_number(fl[13], &p->err)) {
      fprintf(stderr, "nde plot: --work-precision %s line %d: a number does not parse\n", path,
              lineno);
      rc = 1;
      break;
    }
    if (p->sec > 0 && p->err > 0) w->n++; /* log axes: drop empty measurements */
  }
  fclose(f);
  return rc;
}

static int curve_index(wp_plot *w, const char *name) {
  for (int i = 0; i < w->ncurves; i++)
    if (!strcmp(w->curves[i], name)) return i;
  if (w->ncurves == WP_MAX_CURVES) return -1;
  snprintf(w->curves[w->ncurves], sizeof w->curves[0], "%s", name);
  return w->ncurves++;
}

/* Curves in order of decreasing tolerance, then decreasing step. */
static int by_curve_then_tol(const void *a, const void *b) {
  const wp_point *p = a, *q = b;
  int c = strcmp(p->curve, q->curve);
  if (c) return c;
  if (p->tol != q->tol) return p->tol < q->tol ? 1 : -1;
  return p->h < q->h ? 1 : p->h > q->h ? -1 : 0;
}

static void draw_wp(void *ctx) {
  wp_plot *w = ctx;
  char title[160];
  snprintf(title, sizeof title, "training-gradient accuracy and cost (%s)", w->state);
  plot_panel_log(w->x0, w->x1, w->y0, w->y1, 1, 1, "seconds per training step",
                 "relative L2 error of the parameter gradient", title);
  double x[64], y[64];
  for (int c = 0; c < w->ncurves; c++) {
    int n = 0;
    for (int i = 0; i < w->n && n < 64; i++)
      if (!strcmp(w->p[i].curve, w->curves[c])) {
        x[n] = log10(w->p[i].sec);
        y[n++] = log10(w->p[i].err);
      }
    int color = PLOT_RED + c % (PLOT_NCOLORS - PLOT_RED - 1);
    int marker = strncmp(w->curves[c], "torch", 5) ? PLOT_DISC : PLOT_SQUARE;
    plot_line(n, x, y, color, strncmp(w->curves[c], "torch", 5) ? 1.5 : 3);
    plot_points(n, x, y, color, marker, 0.8);
    /* legend: curve names down the right edge, in the curve's colour */
    double ly = w->y1 - (w->y1 - w->y0) * (0.04 + 0.035 * c);
    plot_text(w->x1 - 0.01 * (w->x1 - w->x0), ly, w->curves[c], color, 1.0, 0.55);
  }
}

static int work_precision_plot(const char **csvs, int ncsv, const char *state, const char *out) {
  wp_plot w;
  memset(&w, 0, sizeof w);
  w.p = calloc(WP_MAX_POINTS, sizeof *w.p);
  if (!w.p) return 1;
  if (state) snprintf(w.state, sizeof w.state, "%s", state);
  int rc = 0;
  for (int i = 0; i < ncsv && !rc; i++) rc = read_wp_csv(csvs[i], &w);
  if (!rc && w.n == 0) {
    fprintf(stderr, "nde plot: no rows for state '%s' in the CSVs\n", w.state);
    rc = 1;
  }
  if (!rc) {
    qsort(w.p, (size_t)w.n, sizeof *w.p, by_curve_then_tol);
    w.x0 = w.y0 = INFINITY;
    w.x1 = w.y1 = -INFINITY;
    for (int i = 0; i < w.n; i++) {
      if (curve_index(&w, w.p[i].curve) < 0) {
        fprintf(stderr, "nde plot: more than %d curves\n", WP_MAX_CURVES);
        rc = 1;
        break;
      }
      w.x0 = fmin(w.x0, floor(log10(w.p[i].sec) * 10) / 10);
      w.x1 = fmax(w.x1, ceil(log10(w.p[i].sec) * 10) / 10);
      w.y0 = fmin(w.y0, floor(log10(w.p[i].err)));
      w.y1 = fmax(w.y1, ceil(log10(w.p[i].err)));
    }
    /* room on the right for the legend */
    w.x1 += 0.45 * (w.x1 - w.x0) + 0.1;
  }
  if (!rc) rc = plot_render(out, PLOT_PNG | PLOT_SVG, 1200, 800, 1, 1, draw_wp, &w);
  if (!rc) printf("wrote %s.png and %s.svg (%d points, %d curves, state %s)\n", out, out, w.n,
                  w.ncurves, w.state);
  free(w.p);
  return rc;
}

static void plot_usage(FILE *f) {
  fprintf(f, "usage: nde plot --work-precision CSV [--work-precision CSV]... [--state NAME]\n"
             "                [--out BASE]\n"
             "Draws the training gradient's error against seconds per step (log-log), one\n"
             "curve per configuration, from the CSVs of build/bench/work_precision and\n"
             "bench/torch_reference; writes BASE.png and BASE.svg (default work-precision).\n");
}

int nde_cmd_plot(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      plot_usage(stdout);
      return 0;
    }
  /* --work-precision may repeat: collect it before the generic parser */
  const char *csvs[16];
  int ncsv = 0;
  char **rest = malloc((size_t)(argc + 1) * sizeof *rest);
  if (!rest) return 1;
  int nrest = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--work-precision")) {
      if (i + 1 >= argc || ncsv == 16) {
        fprintf(stderr, "nde plot: --work-precision needs a CSV file (at most 16)\n");
        free(rest);
        return 2;
      }
      csvs[ncsv++] = argv[++i];
      continue;
    }
    rest[nrest++] = argv[i];
  }
  rest[nrest] = NULL;
  nde_args a;
  if (args_init(&a, "plot", nrest, rest)) {
    free(rest);
    return 2;
  }
  const char *state = args_str(&a, "state", NULL);
  const char *out = args_str(&a, "out", "work-precision");
  int rc = args_finish(&a);
  args_free(&a);
  if (!rc && ncsv == 0) {
    plot_usage(stderr);
    rc = 2;
  }
  if (!rc) rc = work_precision_plot(csvs, ncsv, state, out);
  free(rest);
  return rc;
}
