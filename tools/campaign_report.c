/* nde campaign's summaries: OUT/table3.md and OUT/table1.md from the run
 * directories (see tools/campaign.h), with the pictures under OUT/figures/.
 * Only finished runs (final.csv present) enter the statistics; the others
 * are listed as in progress or not started.
 *
 * Statistics: every metric as mean +- sample standard deviation over the
 * finished seeds; every claim of the paper as Welch's t-test between the
 * RMAN and the no-RMAN configuration (two-sided p) with a verdict at the 5%
 * level (nde_welch_verdict); "about six effective attractors" by whether 6
 * lies within mean +- 2 sd of the per-seed counts (nde_interval_verdict). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/campaign.h"
#include "tools/commands.h"
#include "tools/csv_read.h"
#include "tools/plot.h"
#include "tools/train_job.h"

enum { RUN_NONE = 0, RUN_PARTIAL, RUN_DONE };

typedef struct camp_run {
  int seed, state;
  long epochs_logged;
  tool_table final, epochs;
  char builds[256]; /* distinct build= values of sessions.txt */
} camp_run;

typedef struct report {
  const camp_settings *s;
  camp_run runs[CAMP_NCONFIGS][CAMP_MAX_SEEDS];
} report;

static int config_index(const char *name) {
  for (int c = 0; c < CAMP_NCONFIGS; c++)
    if (!strcmp(camp_configs[c].name, name)) return c;
  return -1;
}

/* The build= words of a run's sessions.txt, distinct, comma-separated. */
static void read_builds(const char *path, char *out, size_t cap) {
  out[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    char *b = strstr(line, " build=");
    if (!b) continue;
    b += 7;
    size_t n = strcspn(b, " \n");
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)(n < 127 ? n : 127), b);
    if (!strstr(out, word)) {
      size_t len = strlen(out);
      snprintf(out + len, cap - len, "%s%s", len ? ", " : "", word);
    }
  }
  fclose(f);
}

static void load_runs(report *r) {
  const camp_settings *s = r->s;
  for (int c = 0; c < CAMP_NCONFIGS; c++)
    for (int k = 0; k < s->nseeds; k++) {
      camp_run *run = &r->runs[c][k];
      char path[4400];
      run->seed = s->seeds[k];
      if (!s->use[c]) continue;
      camp_run_file(s, c, run->seed, "epochs.csv", path, sizeof path);
      if (tool_table_read(path, &run->epochs) == 0) run->state = RUN_PARTIAL;
      run->epochs_logged = run->epochs.nrow;
      camp_run_file(s, c, run->seed, "final.csv", path, sizeof path);
      if (tool_table_read(path, &run->final) == 0 && run->final.nrow == 1) run->state = RUN_DONE;
      camp_run_file(s, c, run->seed, "sessions.txt", path, sizeof path);
      read_builds(path, run->builds, sizeof run->builds);
    }
}

static void free_runs(report *r) {
  for (int c = 0; c < CAMP_NCONFIGS; c++)
    for (int k = 0; k < CAMP_MAX_SEEDS; k++) {
      tool_table_free(&r->runs[c][k].final);
      tool_table_free(&r->runs[c][k].epochs);
    }
}

/* Finite values of a final.csv column over the finished seeds of config c;
 * seeds[] (may be NULL) receives their seeds. */
static int values(const report *r, int c, const char *col, double *out, int *seeds) {
  int n = 0;
  for (int k = 0; k < r->s->nseeds; k++) {
    const camp_run *run = &r->runs[c][k];
    if (run->state != RUN_DONE) continue;
    double v = tool_table_get(&run->final, 0, col);
    if (!isfinite(v)) continue;
    if (seeds) seeds[n] = run->seed;
    out[n++] = v;
  }
  return n;
}

static int finished(const report *r, int c) {
  int n = 0;
  for (int k = 0; k < r->s->nseeds; k++) n += r->runs[c][k].state == RUN_DONE;
  return n;
}

/* "m ± sd" (n >= 2), "v (sd n/a)" (n = 1), "-" (n = 0), values times scale;
 * counts (prec 0) that do not vary as the plain number. */
static void fmt_stat(char *buf, size_t cap, const double *x, int n, double scale, int prec) {
  double m, sd;
  if (n == 0 || nde_mean_sd(x, n, &m, &sd)) {
    snprintf(buf, cap, "-");
    return;
  }
  if (prec == 0 && (n == 1 || sd == 0)) /* a count that does not vary, e.g. parameters */
    snprintf(buf, cap, "%.0f", scale * m);
  else if (n == 1)
    snprintf(buf, cap, "%.*f (sd n/a)", prec, scale * m);
  else
    snprintf(buf, cap, "%.*f ± %.*f", prec, scale * m, prec, scale * sd);
}

static void fmt_num(char *buf, size_t cap, double v, const char *fmt) {
  if (isnan(v))
    snprintf(buf, cap, "n/a");
  else
    snprintf(buf, cap, fmt, v);
}

/* ---- the per-configuration metrics table ---- */

typedef struct metric {
  const char *col, *label;
  double scale;
  int prec;
} metric;

static void metrics_table(FILE *f, const report *r, const int *cfg, int ncfg, const metric *ms,
                          int nm) {
  fprintf(f, "| metric |");
  for (int i = 0; i < ncfg; i++) fprintf(f, " %s |", camp_configs[cfg[i]].label);
  fprintf(f, "\n|---|");
  for (int i = 0; i < ncfg; i++) fprintf(f, "---|");
  fprintf(f, "\n| seeds finished |");
  for (int i = 0; i < ncfg; i++) fprintf(f, " %d of %d |", finished(r, cfg[i]), r->s->nseeds);
  fprintf(f, "\n");
  for (int j = 0; j < nm; j++) {
    char cells[CAMP_NCONFIGS][96];
    int any = 0;
    for (int i = 0; i < ncfg; i++) {
      double x[CAMP_MAX_SEEDS];
      int n = values(r, cfg[i], ms[j].col, x, NULL);
      any |= n > 0;
      fmt_stat(cells[i], sizeof cells[i], x, n, ms[j].scale, ms[j].prec);
    }
    if (!any) continue;
    fprintf(f, "| %s |", ms[j].label);
    for (int i = 0; i < ncfg; i++) fprintf(f, " %s |", cells[i]);
    fprintf(f, "\n");
  }
}

/* ---- claims ---- */

typedef struct claim {
  char text[160];
  const char *col;
  int rman, base; /* config indices */
  int direction;  /* claimed sign of rman - base */
  double scale;
  int prec;
} claim;

static void claims_table(FILE *f, const report *r, const claim *cl, int n) {
  fprintf(f, "| claim | with RMAN | without | difference | Welch t | df | p | verdict |\n");
  fprintf(f, "|---|---|---|---|---|---|---|---|\n");
  for (int i = 0; i < n; i++) {
    double a[CAMP_MAX_SEEDS], b[CAMP_MAX_SEEDS];
    int na = values(r, cl[i].rman, cl[i].col, a, NULL),
        nb = values(r, cl[i].base, cl[i].col, b, NULL);
    nde_welch w;
    nde_verdict v = NDE_VERDICT_NA;
    char sa[96], sb[96], diff[48], t[32], df[32], p[32];
    fmt_stat(sa, sizeof sa, a, na, cl[i].scale, cl[i].prec);
    fmt_stat(sb, sizeof sb, b, nb, cl[i].scale, cl[i].prec);
    if (nde_welch_test(a, na, b, nb, &w) == NDE_OK) {
      nde_welch_verdict(&w, cl[i].direction, 0.05, &v);
      fmt_num(diff, sizeof diff, na && nb ? cl[i].scale * w.diff : NAN,
              cl[i].prec > 2 ? "%+.4f" : "%+.2f");
      fmt_num(t, sizeof t, w.t, "%.2f");
      fmt_num(df, sizeof df, w.df, "%.1f");
      fmt_num(p, sizeof p, w.p, "%.3g");
    } else {
      snprintf(diff, sizeof diff, "n/a");
      snprintf(t, sizeof t, "n/a");
      snprintf(df, sizeof df, "n/a");
      snprintf(p, sizeof p, "n/a");
    }
    fprintf(f, "| %s | %s (n = %d) | %s (n = %d) | %s | %s | %s | %s | %s |\n", cl[i].text, sa, na,
            sb, nb, diff, t, df, p, nde_verdict_name(v));
  }
}

/* "About six effective attractors whatever h": one line per RMAN config. */
static void six_attractors(FILE *f, const report *r, const int *cfg, int ncfg) {
  fprintf(f,
          "About six effective attractors whatever h (the paper's Table 2). Verdict: "
          "supported when 6 lies within mean ± 2 sd of the per-seed counts, contradicted when it "
          "lies outside, n/a with fewer than 2 seeds.\n\n");
  for (int i = 0; i < ncfg; i++) {
    int c = cfg[i];
    if (camp_configs[c].h == 0) continue;
    double x[CAMP_MAX_SEEDS], m = NAN, sd = NAN;
    int n = values(r, c, "effective", x, NULL);
    char st[96];
    fmt_stat(st, sizeof st, x, n, 1, 2);
    nde_verdict v = NDE_VERDICT_NA;
    if (n > 0) nde_mean_sd(x, n, &m, &sd);
    if (n > 0) nde_interval_verdict(x, n, 6, 2, &v);
    if (n >= 2)
      fprintf(f, "- %s: %s effective of %d (n = %d), mean ± 2 sd = [%.2f, %.2f]: %s.\n",
              camp_configs[c].label, st, camp_configs[c].h, n, m - 2 * sd, m + 2 * sd,
              nde_verdict_name(v));
    else
      fprintf(f, "- %s: %s effective of %d (n = %d): %s.\n", camp_configs[c].label, st,
              camp_configs[c].h, n, nde_verdict_name(v));
  }
  fprintf(f, "\n");
}

/* ---- pictures ---- */

/* Mean over the finished seeds of an epochs.csv column at each epoch. */
static int epoch_means(const report *r, int c, const char *col, double *x, double *y, int cap) {
  int ne = 0;
  for (int e = 0; e < cap; e++) {
    double sum = 0;
    int n = 0;
    for (int k = 0; k < r->s->nseeds; k++) {
      const camp_run *run = &r->runs[c][k];
      if (run->state != RUN_DONE) continue;
      double v = tool_table_get(&run->epochs, e, col);
      if (isfinite(v)) sum += v, n++;
    }
    if (!n) break;
    x[ne] = e + 1;
    y[ne++] = sum / n;
  }
  return ne;
}

typedef struct loss_fig {
  const report *r;
  int base, rman;
} loss_fig;

static void range_update(double *lo, double *hi, const double *y, int n) {
  for (int i = 0; i < n; i++)
    if (isfinite(y[i])) *lo = fmin(*lo, y[i]), *hi = fmax(*hi, y[i]);
}

static void draw_loss(void *ctx) {
  const loss_fig *lf = ctx;
  const int E = lf->r->s->epochs, cfg[2] = {lf->base, lf->rman}, col[2] = {PLOT_BLUE, PLOT_RED};
  double x[2][2][256], y[2][2][256], lo = INFINITY, hi = -INFINITY;
  int n[2][2];
  for (int i = 0; i < 2; i++) {
    n[i][0] = epoch_means(lf->r, cfg[i], "train_xent", x[i][0], y[i][0], E < 256 ? E : 256);
    n[i][1] = epoch_means(lf->r, cfg[i], "test_loss", x[i][1], y[i][1], E < 256 ? E : 256);
    for (int j = 0; j < 2; j++) range_update(&lo, &hi, y[i][j], n[i][j]);
  }
  if (!(hi > lo)) lo = 0, hi = 1;
  double pad = 0.08 * (hi - lo);
  char title[160];
  snprintf(title, sizeof title, "Training (dashed) and test (solid) loss, mean over seeds");
  plot_panel(0.5, E + 0.5, lo - pad, hi + 3 * pad, 0, "epoch", "cross-entropy", title);
  for (int i = 0; i < 2; i++) {
    plot_line_dashed(n[i][0], x[i][0], y[i][0], col[i], 2, 1);
    plot_line(n[i][1], x[i][1], y[i][1], col[i], 2);
    plot_points(n[i][1], x[i][1], y[i][1], col[i], PLOT_DISC, 0.6);
    plot_text(0.5 + 0.04 * E, hi + (2.4 - 0.9 * i) * pad, camp_configs[cfg[i]].label, col[i], 0,
              0.8);
  }
}

typedef struct norm_fig {
  const report *r;
  int cfg[2];
  double *v[2];
  long n[2];
} norm_fig;

/* Pooled norms of every finished seed of config c, concatenated. */
static long load_norms(const report *r, int c, double **out) {
  long n = 0, cap = 0;
  double *v = NULL;
  for (int k = 0; k < r->s->nseeds; k++) {
    if (r->runs[c][k].state != RUN_DONE) continue;
    char path[4400];
    camp_run_file(r->s, c, r->runs[c][k].seed, "norms.csv", path, sizeof path);
    tool_table t;
    if (tool_table_read(path, &t)) continue;
    for (long i = 0; i < t.nrow; i++) {
      if (n == cap) {
        cap = cap ? 2 * cap : 4096;
        double *nv = realloc(v, (size_t)cap * sizeof *nv);
        if (!nv) break;
        v = nv;
      }
      if (n < cap && isfinite(t.v[i * t.ncol])) v[n++] = t.v[i * t.ncol];
    }
    tool_table_free(&t);
  }
  *out = v;
  return n;
}

static void draw_norms(void *ctx) {
  const norm_fig *nf = ctx;
  enum { BINS = 40 };
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < 2; i++) range_update(&lo, &hi, nf->v[i], (int)nf->n[i]);
  if (!(hi > lo)) hi = lo + 1;
  const double w = (hi - lo) / BINS;
  double dens[2][BINS] = {{0}}, top = 0;
  for (int i = 0; i < 2; i++) {
    for (long q = 0; q < nf->n[i]; q++) {
      int b = (int)((nf->v[i][q] - lo) / w);
      dens[i][b < 0 ? 0 : b >= BINS ? BINS - 1 : b] += 1;
    }
    for (int b = 0; b < BINS; b++) {
      dens[i][b] = nf->n[i] ? dens[i][b] / (nf->n[i] * w) : 0;
      top = fmax(top, dens[i][b]);
    }
  }
  if (top <= 0) top = 1;
  plot_panel(lo - w, hi + w, 0, 1.25 * top, 0, "||x|| (pooled features, test set)", "density",
             "Pooled-feature norms with and without RMAN");
  const int col[2] = {PLOT_BLUE, PLOT_RED};
  for (int i = 0; i < 2; i++) {
    /* outline of the histogram: up and down at every bin edge */
    double x[2 * BINS + 2], y[2 * BINS + 2];
    int k = 0;
    x[k] = lo, y[k++] = 0;
    for (int b = 0; b < BINS; b++) {
      x[k] = lo + b * w, y[k++] = dens[i][b];
      x[k] = lo + (b + 1) * w, y[k++] = dens[i][b];
    }
    x[k] = hi, y[k++] = 0;
    if (nf->n[i]) plot_line(k, x, y, col[i], 2);
    char leg[160];
    snprintf(leg, sizeof leg, "%s (%ld outputs)", camp_configs[nf->cfg[i]].label, nf->n[i]);
    plot_text(lo + 0.02 * (hi - lo), (1.18 - 0.08 * i) * top, leg, col[i], 0, 0.8);
  }
}

typedef struct nfe_fig {
  const report *r;
  int cfg[2];
} nfe_fig;

static void draw_nfe(void *ctx) {
  const nfe_fig *nf = ctx;
  const char *cols[2] = {"nfe_f", "nfe_b"},
             *titles[2] = {"NFE-F per training batch", "NFE-B per training batch"};
  const int col[2] = {PLOT_BLUE, PLOT_RED}, E = nf->r->s->epochs < 256 ? nf->r->s->epochs : 256;
  const char *solver = nde_ode_method_name(nf->r->s->base.ode.method);
  for (int p = 0; p < 2; p++) {
    double lo = INFINITY, hi = -INFINITY, x[256], y[256];
    for (int i = 0; i < 2; i++)
      for (int k = 0; k < nf->r->s->nseeds; k++) {
        const camp_run *run = &nf->r->runs[nf->cfg[i]][k];
        if (run->state != RUN_DONE) continue;
        for (long e = 0; e < run->epochs.nrow && e < E; e++) {
          double v = tool_table_get(&run->epochs, e, cols[p]);
          range_update(&lo, &hi, &v, 1);
        }
      }
    if (!(hi > lo)) lo -= 1, hi += 1;
    double pad = 0.1 * (hi - lo);
    char title[96];
    snprintf(title, sizeof title, "%s (%s)", titles[p], solver);
    plot_panel(0.5, E + 0.5, lo - pad, hi + 3 * pad, 0, "epoch", "NFE", title);
    for (int i = 0; i < 2; i++) {
      /* every seed thin, the mean over seeds thick */
      for (int k = 0; k < nf->r->s->nseeds; k++) {
        const camp_run *run = &nf->r->runs[nf->cfg[i]][k];
        if (run->state != RUN_DONE) continue;
        int n = 0;
        for (long e = 0; e < run->epochs.nrow && e < E; e++) {
          x[n] = e + 1;
          y[n++] = tool_table_get(&run->epochs, e, cols[p]);
        }
        plot_line(n, x, y, col[i], 0.6);
      }
      int n = epoch_means(nf->r, nf->cfg[i], cols[p], x, y, E);
      plot_line(n, x, y, col[i], 2.5);
      plot_points(n, x, y, col[i], PLOT_DISC, 0.6);
      plot_text(0.5 + 0.04 * E, hi + (2.2 - 0.9 * i) * pad, camp_configs[nf->cfg[i]].label, col[i],
                0, 0.8);
    }
  }
}

/* Draw one picture as PNG and SVG; writes its markdown line. */
static void picture(FILE *md, const report *r, const char *name, const char *caption, int width,
                    int height, int nx, plot_draw_fn draw, void *ctx) {
  char base[4200];
  snprintf(base, sizeof base, "%s/figures/%s", r->s->out, name);
  if (!plot_available()) {
    fprintf(md, "%s: not drawn (this nde was built without PLplot).\n\n", caption);
    return;
  }
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/figures", r->s->out);
  if (tool_mkdirs(dir) == 0 &&
      plot_render(base, PLOT_PNG | PLOT_SVG, width, height, nx, 1, draw, ctx) == 0) {
    fprintf(
        md,
        "%s: [figures/%s.png](figures/%s.png) ([SVG](figures/%s.svg))\n\n![%s](figures/%s.png)\n\n",
        caption, name, name, name, caption, name);
    printf("wrote %s.png and %s.svg\n", base, base);
  } else {
    fprintf(md, "%s: could not be drawn (see the command's messages).\n\n", caption);
  }
}

static void loss_section(FILE *md, const report *r, const char *table, int base, int rman) {
  fprintf(md, "## Figure 3a: generalization gap\n\n");
  fprintf(md,
          "Generalization gap = test loss - training loss at the last epoch, both mean "
          "cross-entropy: the test loss on the test set after the epoch (evaluation mode), the "
          "training loss as the mean over the epoch's batches as trained (augmented, without the "
          "RMAN term). Claim: smaller with RMAN (see Claims).\n\n");
  const metric ms[] = {{"train_xent", "training loss (last epoch)", 1, 4},
                       {"test_loss", "test loss (last epoch)", 1, 4},
                       {"gap", "generalization gap", 1, 4}};
  const int cfg[2] = {base, rman};
  metrics_table(md, r, cfg, 2, ms, 3);
  fprintf(md, "\n");
  if (finished(r, base) + finished(r, rman) == 0) return;
  loss_fig lf = {r, base, rman};
  char name[64];
  snprintf(name, sizeof name, "%s-loss", table);
  picture(md, r, name, "Training and test loss per epoch", 900, 600, 1, draw_loss, &lf);
}

static void norms_section(FILE *md, const report *r, const char *table, int base, int rman) {
  fprintf(md, "## Figure 3b: pooled-feature norms on the test set\n\n");
  fprintf(md,
          "‖x‖ of the globally pooled features (where RMAN attaches) of every test image, with "
          "the trained weights; per run its mean, then mean ± sd over seeds. The histogram pools "
          "all finished seeds. Claim: smaller with RMAN (see Claims).\n\n");
  const metric ms[] = {{"norm_mean", "mean ‖x‖", 1, 3},
                       {"norm_sd", "sd of ‖x‖ within a run", 1, 3}};
  const int cfg[2] = {base, rman};
  metrics_table(md, r, cfg, 2, ms, 2);
  fprintf(md, "\n");
  if (finished(r, base) + finished(r, rman) == 0) return;
  norm_fig nf = {r, {base, rman}, {NULL, NULL}, {0, 0}};
  for (int i = 0; i < 2; i++) nf.n[i] = load_norms(r, nf.cfg[i], &nf.v[i]);
  char name[64];
  snprintf(name, sizeof name, "%s-norms", table);
  picture(md, r, name, "Histogram of the pooled-feature norms", 900, 600, 1, draw_norms, &nf);
  free(nf.v[0]);
  free(nf.v[1]);
}

/* Figure 4's statistics for the first finished seed of an RMAN config. */
static void figure4_section(FILE *md, const report *r, int c) {
  fprintf(md, "## Figure 4 statistics\n\n");
  int k = 0;
  while (k < r->s->nseeds && r->runs[c][k].state != RUN_DONE) k++;
  if (k == r->s->nseeds) {
    fprintf(md, "No finished run of %s yet.\n\n", camp_configs[c].label);
    return;
  }
  const camp_run *run = &r->runs[c][k];
  char path[4400];
  camp_run_file(r->s, c, run->seed, "attractors.csv", path, sizeof path);
  tool_table t;
  if (tool_table_read(path, &t) || t.nrow < 1) {
    fprintf(md, "%s is missing.\n\n", path);
    return;
  }
  const int h = (int)t.nrow;
  int eff[256], ne = 0;
  for (int j = 0; j < h && ne < 256; j++)
    if (tool_table_get(&t, j, "norm2") > 0.01) eff[ne++] = j;
  double sum_strength = 0, neg = 0, pairs = 0;
  for (int i = 0; i < ne; i++) {
    sum_strength += tool_table_get(&t, eff[i], "strength");
    for (int j = 0; j < ne; j++) {
      if (i == j) continue;
      char g[16];
      snprintf(g, sizeof g, "gram%d", eff[j]);
      pairs++;
      neg += tool_table_get(&t, eff[i], g) < 0;
    }
  }
  fprintf(md,
          "%s, seed %d, on %g test images: %d effective attractors of %d (‖m‖² > 0.01). "
          "Diagonal (mean attraction strength (1/n) sum_x a_j(x)) summed over them: %.3f (the "
          "paper: about 1). Outputs solely attracted (max_j a_j > 0.9): %.2f%% (the paper: about "
          "4%% on CIFAR-100). Outputs with no active attractor: %.2f%%. Off-diagonal Gram entries "
          "m_i^T m_j < 0 between effective attractors: %g of %g (the paper: all).\n\n",
          camp_configs[c].label, run->seed, tool_table_get(&run->final, 0, "test_samples"), ne, h,
          sum_strength, 100 * tool_table_get(&run->final, 0, "solely_fraction"),
          100 * tool_table_get(&run->final, 0, "no_active_fraction"), neg, pairs);
  fprintf(md,
          "Pair radius (i, j), i != j: (1/n) sum of a_i(x) + a_j(x) over the outputs whose two "
          "strongest active attractors are i and j; diagonal: mean strength of j. Gram m_i^T m_j "
          "in brackets.\n\n| attractor | ‖m‖² |");
  for (int j = 0; j < ne; j++) fprintf(md, " %d |", eff[j]);
  fprintf(md, "\n|---|---|");
  for (int j = 0; j < ne; j++) fprintf(md, "---|");
  fprintf(md, "\n");
  for (int i = 0; i < ne; i++) {
    fprintf(md, "| %d | %.3f |", eff[i], tool_table_get(&t, eff[i], "norm2"));
    for (int j = 0; j < ne; j++) {
      char g[16], p[16];
      snprintf(g, sizeof g, "gram%d", eff[j]);
      snprintf(p, sizeof p, "pair%d", eff[j]);
      fprintf(md, " %.3f (%.2f) |", tool_table_get(&t, eff[i], p), tool_table_get(&t, eff[i], g));
    }
    fprintf(md, "\n");
  }
  fprintf(md, "\nData: `%s` (all %d attractors).\n\n", path, h);
  tool_table_free(&t);
}

/* ---- the two summaries ---- */

static void status_section(FILE *md, const report *r, const int *cfg, int ncfg) {
  int done = 0, total = 0;
  char builds[1024] = "";
  for (int i = 0; i < ncfg; i++)
    for (int k = 0; k < r->s->nseeds; k++) {
      const camp_run *run = &r->runs[cfg[i]][k];
      total++;
      done += run->state == RUN_DONE;
      /* distinct builds over the runs */
      char copy[256];
      snprintf(copy, sizeof copy, "%s", run->builds);
      for (char *b = strtok(copy, ", "); b; b = strtok(NULL, ", "))
        if (!strstr(builds, b)) {
          size_t len = strlen(builds);
          snprintf(builds + len, sizeof builds - len, "%s%s", len ? ", " : "", b);
        }
    }
  fprintf(md, "Runs: %d of %d finished.", done, total);
  for (int i = 0; i < ncfg; i++)
    for (int k = 0; k < r->s->nseeds; k++) {
      const camp_run *run = &r->runs[cfg[i]][k];
      if (run->state == RUN_PARTIAL)
        fprintf(md, " In progress: %s seed %d (%ld of %d epochs).", camp_configs[cfg[i]].name,
                run->seed, run->epochs_logged, r->s->epochs);
      else if (run->state == RUN_NONE)
        fprintf(md, " Not started: %s seed %d.", camp_configs[cfg[i]].name, run->seed);
    }
  fprintf(md, " Trained by the builds: %s.\n\n", builds[0] ? builds : "-");
}

static void header(FILE *md, const report *r, const char *title, const int *cfg, int ncfg) {
  const camp_settings *s = r->s;
  char mach[400], date[64];
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  tool_machine_line(mach, sizeof mach);
  fprintf(md, "# %s\n\n", title);
  fprintf(md, "Command (from the repository root):\n\n    %s\n\n", s->command);
  fprintf(md,
          "- Summary written %s by nde %s, built from commit %s (nde_real %s, OpenBLAS core %s).\n"
          "- Machine: %s. Other jobs may share it: seconds per epoch are wall times.\n",
          date, nde_version(), tool_build_commit(), NDE_REAL_IS_DOUBLE ? "double" : "float",
          nde_blas_core(), mach);
  fprintf(
      md,
      "- Data: Fashion-MNIST, %d training images (%s), %d test images%s.\n"
      "- Recipe, every model: epochs %d, batch %d, SGD momentum %g, weight decay %g (every "
      "parameter), lr %g divided by 10 after epochs %d and %d, random crop 28 with 4-pixel "
      "padding; RMAN on the pooled features, alpha = %g + %g x epoch (epoch from 0), attractors "
      "initialized N(0, 1). Seeds: ",
      s->subset ? s->subset : 60000, s->subset ? "a seeded random subset per seed" : "all",
      s->test_subset ? s->test_subset : 10000, s->test_subset ? " (a fixed random subset)" : "",
      s->epochs, s->batch, s->momentum, s->weight_decay, s->lr, s->milestones[0], s->milestones[1],
      s->base.rman.alpha0, s->base.rman.alpha_step);
  for (int k = 0; k < s->nseeds; k++) fprintf(md, "%s%d", k ? ", " : "", s->seeds[k]);
  fprintf(md, " (a seed sets the initialization, the data order and the augmentation).\n");
  int any_ode = 0;
  for (int i = 0; i < ncfg; i++) any_ode |= camp_configs[cfg[i]].kind == NDE_MODEL_ODENET;
  if (any_ode)
    fprintf(md,
            "- ODE block on [%g, %g]: %s with the %s adjoint, rtol %g, atol %g (the library's "
            "defaults unless the command says otherwise). On the trained weights also %s (%s "
            "adjoint): forward and backward over %d training batches without an update, and the "
            "forward over the test images.\n",
            s->base.ode.t0, s->base.ode.T, nde_ode_method_name(s->base.ode.method),
            nde_adjoint_kind_name(s->base.ode.adjoint), s->base.ode.rtol, s->base.ode.atol,
            nde_ode_method_name(s->other.method), nde_adjoint_kind_name(s->other.adjoint),
            s->nfe_batches);
  fprintf(
      md,
      "- Statistics: mean ± sample sd over the finished seeds; claims by Welch's t-test (two-sided "
      "p, Welch-Satterthwaite df) at the 5%% level: supported (p < 0.05, difference in the "
      "claimed direction), contradicted (p < 0.05, opposite direction), not resolved at this "
      "sample size (p >= 0.05); n/a with fewer than 2 seeds on a side. Several claims are "
      "tested at once without correction for multiple comparisons.\n\n");
  status_section(md, r, cfg, ncfg);
}

static void per_run_table(FILE *md, const report *r, const int *cfg, int ncfg, int ode) {
  fprintf(
      md,
      "## Every run\n\n| config | seed | test error %% | train loss | test loss | gap |%s ‖x‖ | "
      "effective | used | s/epoch |\n|---|---|---|---|---|---|%s---|---|---|---|\n",
      ode ? " NFE-F | NFE-B | test NFE-F (other solver) |" : "", ode ? "---|---|---|" : "");
  for (int i = 0; i < ncfg; i++)
    for (int k = 0; k < r->s->nseeds; k++) {
      const camp_run *run = &r->runs[cfg[i]][k];
      if (run->state != RUN_DONE) continue;
      const tool_table *t = &run->final;
#define G(col) tool_table_get(t, 0, col)
      fprintf(md, "| %s | %d | %.2f | %.4f | %.4f | %.4f |", camp_configs[cfg[i]].name, run->seed,
              100 * G("test_err"), G("train_xent"), G("test_loss"), G("gap"));
      if (ode) {
        char a[32], b[32], c[32];
        fmt_num(a, sizeof a, G("nfe_f"), "%.1f");
        fmt_num(b, sizeof b, G("nfe_b"), "%.1f");
        fmt_num(c, sizeof c, G("other_test_nfe_f"), "%.1f");
        fprintf(md, " %s | %s | %s |", a, b, c);
      }
      char e[32], u[32];
      fmt_num(e, sizeof e, G("effective"), "%.0f");
      fmt_num(u, sizeof u, G("used"), "%.0f");
      fprintf(md, " %.3f | %s | %s | %.1f |\n", G("norm_mean"), e, u, G("sec_per_epoch"));
#undef G
    }
  fprintf(md, "\nPer-epoch logs, checkpoints and measurements: `%s/<table>/<config>/seed<k>/`.\n",
          r->s->out);
}

static void table2_section(FILE *md, const report *r) {
  fprintf(md, "## Table 2: effective and used attractors\n\n");
  fprintf(md,
          "Effective: ‖m_j‖² > 0.01 (the paper's definition). Used: mean attraction strength "
          "over the test outputs (1/n) sum_x a_j(x) > %g, i.e. the attractor carries at least 1%% "
          "of the attraction an average output feels. Solely attracted: outputs with max_j a_j > "
          "0.9.\n\n",
          CAMP_USED_THRESHOLD);
  int cfg[CAMP_NCONFIGS], n = 0;
  for (int c = 0; c < CAMP_NCONFIGS; c++)
    if (r->s->use[c] && camp_configs[c].h > 0) cfg[n++] = c;
  const metric ms[] = {{"effective", "effective attractors", 1, 2},
                       {"used", "used attractors", 1, 2},
                       {"solely_fraction", "solely attracted outputs %", 100, 2},
                       {"no_active_fraction", "outputs with no active attractor %", 100, 2}};
  metrics_table(md, r, cfg, n, ms, 4);
  fprintf(md, "\n");
  six_attractors(md, r, cfg, n);
}

static int write_table3(const report *r) {
  const camp_settings *s = r->s;
  int cfg[3], n = 0;
  for (int c = 0; c < CAMP_NCONFIGS; c++)
    if (s->use[c] && !strcmp(camp_configs[c].table, "table3")) cfg[n++] = c;
  if (!n) return 0;
  char path[4200];
  snprintf(path, sizeof path, "%s/table3.md", s->out);
  FILE *md = fopen(path, "w");
  if (!md) {
    fprintf(stderr, "nde campaign: cannot write %s\n", path);
    return 1;
  }
  header(md, r, "RMAN Table 3 on Fashion-MNIST: ODE-Net with and without RMAN, over seeds", cfg, n);
  const char *sv = nde_ode_method_name(s->base.ode.method),
             *ov = nde_ode_method_name(s->other.method);
  char l[6][96];
  snprintf(l[0], sizeof l[0], "NFE-F (%s) per training batch, last epoch", sv);
  snprintf(l[1], sizeof l[1], "NFE-B (%s) per training batch, last epoch", sv);
  snprintf(l[2], sizeof l[2], "test NFE-F (%s) per test batch", sv);
  snprintf(l[3], sizeof l[3], "NFE-F (%s) on trained weights", ov);
  snprintf(l[4], sizeof l[4], "NFE-B (%s) on trained weights", ov);
  snprintf(l[5], sizeof l[5], "test NFE-F (%s) per test batch", ov);
  const metric ms[] = {{"test_err", "test error %", 100, 2},
                       {"nfe_f", l[0], 1, 1},
                       {"nfe_b", l[1], 1, 1},
                       {"test_nfe_f", l[2], 1, 1},
                       {"other_nfe_f", l[3], 1, 1},
                       {"other_nfe_b", l[4], 1, 1},
                       {"other_test_nfe_f", l[5], 1, 1},
                       {"effective", "effective attractors", 1, 2},
                       {"used", "used attractors", 1, 2},
                       {"norm_mean", "mean pooled norm ‖x‖", 1, 3},
                       {"gap", "generalization gap", 1, 4},
                       {"params", "parameters", 1, 0},
                       {"sec_per_epoch", "wall seconds per epoch", 1, 1}};
  fprintf(md, "## Table 3\n\n");
  metrics_table(md, r, cfg, n, ms, (int)(sizeof ms / sizeof ms[0]));
  fprintf(md,
          "\nNFE-F / NFE-B: evaluations of the ODE function per batch of 128; NFE-B counts the "
          "backward right-hand side and the quadrature. ARKODE's Dormand-Prince costs 7 per "
          "attempted step plus 2-4 (torchdiffeq's dopri5: 6 per step plus 2). The paper (CIFAR-10, "
          "dopri5): 12.09%% error / NFE 26.3 without RMAN, 11.64%% / 32.4 with 8 attractors.\n\n");
  int base = config_index("odenet-h0"), rman = config_index("odenet-h8");
  if (s->use[base] && s->use[rman]) {
    claim cl[6] = {
        {"", "test_err", rman, base, -1, 100, 2}, {"", "nfe_f", rman, base, +1, 1, 1},
        {"", "nfe_b", rman, base, +1, 1, 1},      {"", "other_test_nfe_f", rman, base, +1, 1, 1},
        {"", "norm_mean", rman, base, -1, 1, 3},  {"", "gap", rman, base, -1, 1, 4}};
    snprintf(cl[0].text, sizeof cl[0].text, "RMAN lowers the test error %% (ODE-Net)");
    snprintf(cl[1].text, sizeof cl[1].text, "RMAN raises NFE: NFE-F (%s) per training batch", sv);
    snprintf(cl[2].text, sizeof cl[2].text, "RMAN raises NFE: NFE-B (%s) per training batch", sv);
    snprintf(cl[3].text, sizeof cl[3].text, "RMAN raises NFE: test NFE-F (%s), the paper's solver",
             ov);
    snprintf(cl[4].text, sizeof cl[4].text, "RMAN gives smaller pooled norms (mean ‖x‖)");
    snprintf(cl[5].text, sizeof cl[5].text, "RMAN gives a smaller generalization gap");
    fprintf(md, "## Claims\n\n");
    claims_table(md, r, cl, 6);
    fprintf(md, "\n");
  }
  table2_section(md, r);
  if (s->use[base] && s->use[rman]) {
    loss_section(md, r, "table3", base, rman);
    norms_section(md, r, "table3", base, rman);
    fprintf(md, "## NFE per epoch\n\n");
    if (finished(r, base) + finished(r, rman) > 0) {
      nfe_fig nf = {r, {base, rman}};
      picture(md, r, "table3-nfe", "NFE per epoch (thin: each seed, thick: mean)", 1200, 500, 2,
              draw_nfe, &nf);
    }
  }
  if (s->use[rman]) figure4_section(md, r, rman);
  per_run_table(md, r, cfg, n, 1);
  fclose(md);
  printf("wrote %s\n", path);
  return 0;
}

static int write_table1(const report *r) {
  const camp_settings *s = r->s;
  int cfg[2], n = 0;
  for (int c = 0; c < CAMP_NCONFIGS; c++)
    if (s->use[c] && !strcmp(camp_configs[c].table, "table1")) cfg[n++] = c;
  if (!n) return 0;
  char path[4200];
  snprintf(path, sizeof path, "%s/table1.md", s->out);
  FILE *md = fopen(path, "w");
  if (!md) {
    fprintf(stderr, "nde campaign: cannot write %s\n", path);
    return 1;
  }
  header(
      md, r,
      "RMAN Table 1 on Fashion-MNIST: pre-activation ResNet-20 with and without RMAN, over seeds",
      cfg, n);
  const metric ms[] = {{"test_err", "test error %", 100, 2},
                       {"effective", "effective attractors", 1, 2},
                       {"used", "used attractors", 1, 2},
                       {"norm_mean", "mean pooled norm ‖x‖", 1, 3},
                       {"gap", "generalization gap", 1, 4},
                       {"params", "parameters", 1, 0},
                       {"sec_per_epoch", "wall seconds per epoch", 1, 1}};
  fprintf(md, "## Table 1\n\n");
  metrics_table(md, r, cfg, n, ms, (int)(sizeof ms / sizeof ms[0]));
  fprintf(md, "\nThe paper (CIFAR-10, ResNet-20, 160 epochs): 7.95 ± 0.08%% error without RMAN, "
              "7.90 ± 0.05%% with 16 attractors.\n\n");
  int base = config_index("resnet20-h0"), rman = config_index("resnet20-h16");
  if (s->use[base] && s->use[rman]) {
    claim cl[3] = {
        {"RMAN lowers the test error % (ResNet-20)", "test_err", rman, base, -1, 100, 2},
        {"RMAN gives smaller pooled norms (mean ‖x‖)", "norm_mean", rman, base, -1, 1, 3},
        {"RMAN gives a smaller generalization gap", "gap", rman, base, -1, 1, 4}};
    fprintf(md, "## Claims\n\n");
    claims_table(md, r, cl, 3);
    fprintf(md, "\n");
  }
  table2_section(md, r);
  if (s->use[base] && s->use[rman]) {
    loss_section(md, r, "table1", base, rman);
    norms_section(md, r, "table1", base, rman);
  }
  if (s->use[rman]) figure4_section(md, r, rman);
  per_run_table(md, r, cfg, n, 0);
  fclose(md);
  printf("wrote %s\n", path);
  return 0;
}

int camp_report(const camp_settings *s) {
  report *r = calloc(1, sizeof *r);
  if (!r) return 1;
  r->s = s;
  load_runs(r);
  int rc = write_table3(r);
  rc |= write_table1(r);
  free_runs(r);
  free(r);
  return rc;
}
