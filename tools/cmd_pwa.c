/* nde pwa: the pointwise-affine stability grid of Drgona et al. 2020
 * (docs/methods.md section 6). For x_{k+1} = f(x_k), nx = 2, f an MLP of `depth` dense
 * layers (width nx by default, so every weight is square), each followed by
 * the activation, over
 *   depths 1, 4, 8 x activations relu, selu, gelu, tanh, sigmoid, softplus
 *   x bias off/on x weights plain, softsvd, spectral, gershgorin, pf,
 * it measures the spectrum of A*(x) on a grid over [-6, 6]^2, finds the fixed
 * points (GSL hybridsj from 64 starts) and their stability, simulates the
 * regions of attraction, counts the activation regions, and evaluates the
 * sufficient conditions (global stability of 0, contraction, local). The
 * weights of a (depth, parametrization) cell are the same for every
 * activation and bias setting (one generator for weights, one for biases),
 * so the columns of the table compare activations on equal weights.
 *
 * Writes OUT/summary.md and OUT/summary.csv, and for each (activation,
 * bias) three figures of depth (rows) x weights (columns) panels:
 *   OUT/eig_<act>_<bias>.png  eigenvalues of A*(x) over the grid with the unit circle,
 *   OUT/phase_<act>_<bias>.png  orbits from 8 points on the circle of radius 4,
 *                               fixed points marked by stability,
 *   OUT/regions_<act>_<bias>.png  activation regions (distinct on/off patterns)
 * (and .svg beside them with --svg). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nde/nde.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/plot.h"

#define NX 2
#define PI 3.14159265358979323846
#define MAX_DEPTHS 8
#define MAX_ACTS 8
#define NTRAJ 8
#define MAX_FP 64

typedef struct pwa_opts {
  const char *out;
  int depths[MAX_DEPTHS], ndepths;
  int acts[MAX_ACTS], nacts;
  int wkinds[5], nwkinds;
  int width, eig_grid, region_grid, roa_grid, roa_steps, traj_steps, starts;
  double smin, smax, box;
  unsigned long seed;
  unsigned formats;
} pwa_opts;

/* Everything measured for one configuration, including picture data. */
typedef struct cell {
  int depth, act, bias, wkind, skipped;
  double rho_min, rho_max, norm_max, lam_bound, lip_bound;
  int nfp, ncls[5], nkink, local_holds, converged, failed;
  double fp_x[MAX_FP][2];
  int fp_cls[MAX_FP];
  nde_stab_cond glob, contr;
  int stable_act, nregions;
  double roa[4]; /* fractions of orbits: settled at a listed fixed point, diverged, unsettled,
                    unlisted */
  double *eig;   /* 2 * neig values (re, im) */
  int neig;
  double traj[NTRAJ][2 * 64];
  int traj_len[NTRAJ];
  int *regions; /* region_grid^2 */
} cell;

static int parse_list(const char *s, int *out, int max, int (*parse)(const char *, int *),
                      const char *what) {
  int n = 0;
  char buf[256];
  while (s && *s) {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len == 0 || len >= sizeof buf || n == max) {
      fprintf(stderr, "nde pwa: bad %s list\n", what);
      return -1;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    if (parse(buf, &out[n])) {
      fprintf(stderr, "nde pwa: unknown %s '%s'\n", what, buf);
      return -1;
    }
    n++;
    s = e ? e + 1 : NULL;
  }
  return n;
}

static int parse_int(const char *s, int *v) {
  char *end;
  long x = strtol(s, &end, 10);
  if (*end || x < 1 || x > 64) return 1;
  *v = (int)x;
  return 0;
}

static int parse_act(const char *s, int *v) {
  static const struct {
    const char *name;
    int kind;
  } t[] = {{"relu", NDE_LAYER_RELU},        {"selu", NDE_LAYER_SELU},
           {"gelu", NDE_LAYER_GELU},        {"tanh", NDE_LAYER_TANH},
           {"sigmoid", NDE_LAYER_SIGMOID},  {"softplus", NDE_LAYER_SOFTPLUS},
           {"identity", NDE_LAYER_IDENTITY}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (!strcmp(s, t[i].name)) {
      *v = t[i].kind;
      return 0;
    }
  return 1;
}

static int parse_wkind(const char *s, int *v) { return nde_wparam_kind_parse(s, v) ? 1 : 0; }

static const char *act_name(int kind) {
  nde_stab_act a;
  return nde_stab_act_info(kind, &a) ? "?" : a.name;
}

/* Build the network of a cell: specs, nde_net (for the parameter layout
 * and nde_net_forward), PWA object, weights from the parametrization. */
static int build(const pwa_opts *o, cell *c, nde_net **net, nde_pwa **pwa) {
  nde_layer_spec specs[2 * 64];
  for (int l = 0; l < c->depth; l++) {
    specs[2 * l] = nde_spec_dense(l + 1 == c->depth ? NX : o->width);
    specs[2 * l].bias = c->bias;
    specs[2 * l + 1] = nde_spec_act(c->act);
  }
  int rc = nde_net_create(nde_shape_vec(NX), 1, specs, 2 * c->depth, net);
  if (!rc) rc = nde_pwa_create(NX, specs, 2 * c->depth, pwa);
  if (rc) return rc;
  nde_rng rw, rb;
  nde_rng_seed(&rw, o->seed * 1000003UL + (unsigned long)c->depth * 101 + (unsigned long)c->wkind);
  nde_rng_seed(&rb, o->seed * 7919UL + (unsigned long)c->depth);
  nde_real *par = nde_net_params(*net);
  for (int l = 0; !rc && l < c->depth; l++) {
    size_t off, cnt;
    nde_shape os;
    nde_net_layer_params(*net, 2 * l, &off, &cnt);
    nde_net_layer_out_shape(*net, 2 * l, &os);
    const int rows = os.c, cols = l == 0 ? NX : o->width;
    nde_wparam *w = NULL;
    rc = nde_wparam_create(c->wkind, rows, cols, o->smin, o->smax, &w);
    nde_real *theta = NULL;
    if (!rc && !(theta = malloc(nde_wparam_num_params(w) * sizeof *theta + 1))) rc = NDE_ERR_NOMEM;
    if (!rc) rc = nde_wparam_init(w, theta, &rw);
    if (!rc) rc = nde_wparam_weight(w, theta, par + off);
    if (!rc && c->bias) {
      double a = 1 / sqrt((double)cols);
      for (int k = 0; k < rows; k++)
        par[off + (size_t)rows * cols + k] = (nde_real)nde_rng_uniform_range(&rb, -a, a);
    }
    free(theta);
    nde_wparam_free(w);
  }
  return rc;
}

static int analyse(const pwa_opts *o, cell *c) {
  nde_net *net = NULL;
  nde_pwa *pwa = NULL;
  nde_spectrum *sp = NULL;
  nde_fp_set *fps = NULL;
  int *label = NULL, rc = build(o, c, &net, &pwa);
  if (rc == NDE_ERR_SHAPE) { /* Gershgorin needs square weights (--width != 2) */
    c->skipped = 1;
    nde_pwa_free(pwa);
    nde_net_free(net);
    return NDE_OK;
  }
  const nde_real *par = net ? nde_net_params(net) : NULL;
  const int G = o->eig_grid;
  double *samples = malloc((size_t)G * G * NX * sizeof *samples);
  c->eig = malloc((size_t)G * G * NX * 2 * sizeof *c->eig);
  c->regions = malloc((size_t)o->region_grid * o->region_grid * sizeof *c->regions);
  label = malloc((size_t)o->roa_grid * o->roa_grid * sizeof *label);
  if (!rc && (!samples || !c->eig || !c->regions || !label)) rc = NDE_ERR_NOMEM;
  if (!rc) rc = nde_spectrum_create(NX, &sp);
  /* Spectrum of A*(x) over the grid. */
  nde_grid2 g = {-o->box, o->box, -o->box, o->box, G, G, NULL, NULL, NULL};
  c->rho_min = INFINITY;
  c->rho_max = c->norm_max = 0;
  c->neig = 0;
  for (int i = 0; !rc && i < G; i++)
    for (int j = 0; !rc && j < G; j++) {
      double *x = samples + (size_t)(i * G + j) * NX, A[NX * NX], re[NX], im[NX], sv[NX];
      nde_grid2_point(&g, NX, i, j, x);
      if ((rc = nde_pwa_eval(pwa, par, x, NULL, A, NULL, NULL))) break;
      if ((rc = nde_spectrum_eig(sp, A, re, im, NULL, NULL))) break;
      if ((rc = nde_spectrum_svd(sp, NX, NX, A, sv))) break;
      double rho = hypot(re[0], im[0]);
      c->rho_min = fmin(c->rho_min, rho);
      c->rho_max = fmax(c->rho_max, rho);
      c->norm_max = fmax(c->norm_max, sv[0]);
      for (int k = 0; k < NX; k++) {
        c->eig[2 * c->neig] = re[k];
        c->eig[2 * c->neig + 1] = im[k];
        c->neig++;
      }
    }
  if (!rc) rc = nde_pwa_bounds(pwa, par, &c->lam_bound, &c->lip_bound);
  nde_stab_act ai;
  nde_stab_act_info(c->act, &ai);
  c->stable_act = ai.stable;
  if (!rc) rc = nde_stab_global_origin(pwa, par, G * G, samples, &c->glob);
  if (!rc) rc = nde_stab_contraction(pwa, par, G * G, samples, &c->contr);
  /* Fixed points and their stability. */
  nde_pwa_fn_ctx fc = {pwa, par, 0};
  nde_fp_options fo = nde_fp_options_default();
  fo.nstarts = o->starts;
  fo.lo = -o->box;
  fo.hi = o->box;
  fo.seed = o->seed;
  if (!rc) rc = nde_fp_find(NX, nde_pwa_fn, &fc, &fo, NULL, 0, &fps);
  if (!rc) {
    c->nfp = nde_fp_set_count(fps);
    nde_fp_set_starts(fps, &c->converged, &c->failed);
    memset(c->ncls, 0, sizeof c->ncls);
    c->local_holds = c->nkink = 0;
    for (int k = 0; k < c->nfp; k++) {
      nde_fixed_point fp;
      double margin;
      nde_fp_set_get(fps, k, &fp);
      if ((rc = nde_pwa_kink_margin(pwa, par, fp.x, &margin))) break;
      /* on (or within rounding of) a kink the Jacobian is one-sided and its
       * spectrum does not classify the point: count it apart */
      int kink = !(margin > 1e-9 * (1 + fmax(fabs(fp.x[0]), fabs(fp.x[1]))));
      c->nkink += kink;
      if (!kink) c->ncls[fp.cls]++;
      if (k < MAX_FP) {
        c->fp_x[k][0] = fp.x[0];
        c->fp_x[k][1] = fp.x[1];
        c->fp_cls[k] = kink ? 0 : fp.cls;
      }
      nde_stab_cond lc;
      if ((rc = nde_stab_local(pwa, par, fp.x, 1e-8, &lc))) break;
      c->local_holds += lc.verdict == NDE_STAB_HOLDS;
    }
  }
  /* Regions of attraction by simulation. */
  nde_grid2 gr = {-o->box, o->box, -o->box, o->box, o->roa_grid, o->roa_grid, NULL, NULL, NULL};
  nde_roa_options ro = nde_roa_options_default();
  ro.max_steps = o->roa_steps;
  if (!rc) rc = nde_roa_grid(NX, nde_pwa_fn, &fc, fps, &gr, &ro, label, NULL);
  if (!rc) {
    const int npts = o->roa_grid * o->roa_grid;
    memset(c->roa, 0, sizeof c->roa);
    for (int k = 0; k < npts; k++) {
      int l = label[k];
      int slot = l >= 0 ? 0 : l == NDE_ROA_DIVERGED ? 1 : l == NDE_ROA_UNSETTLED ? 2 : 3;
      c->roa[slot] += 1.0 / npts;
    }
  }
  /* Activation regions. */
  nde_grid2 gg = {-o->box,        o->box, -o->box, o->box, o->region_grid,
                  o->region_grid, NULL,   NULL,    NULL};
  if (!rc) rc = nde_pwa_region_map(pwa, par, &gg, c->regions, &c->nregions);
  /* Phase portrait: orbits from 8 points on the circle of radius 4. */
  for (int t = 0; !rc && t < NTRAJ; t++) {
    double x0[2] = {4 * cos(2 * PI * t / NTRAJ), 4 * sin(2 * PI * t / NTRAJ)};
    int done;
    rc = nde_stab_iterate(NX, nde_pwa_fn, &fc, x0, o->traj_steps, 1e3, c->traj[t], &done);
    c->traj_len[t] = done + 1;
  }
  free(samples);
  free(label);
  nde_fp_set_free(fps);
  nde_spectrum_free(sp);
  nde_pwa_free(pwa);
  nde_net_free(net);
  return rc;
}

/* ---- figures ---- */

typedef struct fig_ctx {
  const pwa_opts *o;
  cell *cells; /* ndepths x nwkinds, row-major */
} fig_ctx;

/* index 0: on a kink (unclassified) */
static const int cls_color[5] = {PLOT_BLACK, PLOT_GREEN, PLOT_RED, PLOT_ORANGE, PLOT_GREY};
static const int cls_marker[5] = {PLOT_SQUARE, PLOT_DISC, PLOT_CIRCLE, PLOT_CROSS, PLOT_SQUARE};

static void mark_fixed_points(const cell *c) {
  for (int k = 0; k < c->nfp && k < MAX_FP; k++)
    plot_points(1, &c->fp_x[k][0], &c->fp_x[k][1], cls_color[c->fp_cls[k]],
                cls_marker[c->fp_cls[k]], 1.6);
}

static void panel_title(const cell *c, char *buf, size_t n, const char *what) {
  snprintf(buf, n, "%s L=%d: %s", nde_wparam_kind_name(c->wkind), c->depth, what);
}

static void draw_eig(void *vctx) {
  fig_ctx *f = vctx;
  for (int d = 0; d < f->o->ndepths; d++)
    for (int w = 0; w < f->o->nwkinds; w++) {
      const cell *c = &f->cells[d * f->o->nwkinds + w];
      char t[160], what[96];
      if (c->skipped) {
        panel_title(c, t, sizeof t, "n/a (square weights only)");
        plot_panel(-1.2, 1.2, -1.2, 1.2, 1, "Re", "Im", t);
        continue;
      }
      double R = 1.2;
      for (int k = 0; k < c->neig; k++) R = fmax(R, 1.1 * hypot(c->eig[2 * k], c->eig[2 * k + 1]));
      R = fmin(R, 4);
      snprintf(what, sizeof what, "#gr(A*) in [%.2f, %.2f]", c->rho_min, c->rho_max);
      panel_title(c, t, sizeof t, what);
      plot_panel(-R, R, -R, R, 1, "Re #gl", "Im #gl", t);
      plot_circle(0, 0, 1, PLOT_GREY, 1.5);
      double *re = malloc((size_t)c->neig * sizeof *re), *im = malloc((size_t)c->neig * sizeof *im);
      if (re && im) {
        for (int k = 0; k < c->neig; k++) re[k] = c->eig[2 * k], im[k] = c->eig[2 * k + 1];
        plot_points(c->neig, re, im, PLOT_BLUE, PLOT_DISC, 0.8);
      }
      free(re);
      free(im);
    }
}

static void draw_phase(void *vctx) {
  fig_ctx *f = vctx;
  static const int tc[NTRAJ] = {PLOT_RED,    PLOT_BLUE, PLOT_GREEN, PLOT_ORANGE,
                                PLOT_PURPLE, PLOT_CYAN, PLOT_BROWN, PLOT_PINK};
  const double B = f->o->box;
  for (int d = 0; d < f->o->ndepths; d++)
    for (int w = 0; w < f->o->nwkinds; w++) {
      const cell *c = &f->cells[d * f->o->nwkinds + w];
      char t[160], what[96];
      snprintf(what, sizeof what, c->skipped ? "n/a" : "%d fixed points", c->nfp);
      panel_title(c, t, sizeof t, what);
      plot_panel(-B, B, -B, B, 1, "x#d1#u", "x#d2#u", t);
      if (c->skipped) continue;
      plot_circle(0, 0, 4, PLOT_LIGHTGREY, 1);
      for (int k = 0; k < NTRAJ; k++) {
        double x[64], y[64];
        int n = c->traj_len[k];
        for (int s = 0; s < n; s++) x[s] = c->traj[k][2 * s], y[s] = c->traj[k][2 * s + 1];
        plot_line(n, x, y, tc[k], 1.2);
        plot_points(n, x, y, tc[k], PLOT_DOT, 0.6);
        plot_points(1, x, y, tc[k], PLOT_TRIANGLE, 0.9);
      }
      mark_fixed_points(c);
    }
}

static void draw_regions(void *vctx) {
  fig_ctx *f = vctx;
  const double B = f->o->box;
  const int G = f->o->region_grid;
  enum { NCOL = 48 };
  int colors[NCOL][3];
  for (int k = 0; k < NCOL; k++) plot_category_color(k, colors[k]);
  for (int d = 0; d < f->o->ndepths; d++)
    for (int w = 0; w < f->o->nwkinds; w++) {
      const cell *c = &f->cells[d * f->o->nwkinds + w];
      char t[160], what[96];
      snprintf(what, sizeof what, c->skipped ? "n/a" : "%d regions", c->nregions);
      panel_title(c, t, sizeof t, what);
      plot_panel(-B, B, -B, B, 1, "x#d1#u", "x#d2#u", t);
      if (c->skipped) continue;
      plot_labels(G, G, -B, B, -B, B, c->regions, (const int(*)[3])colors, NCOL, NULL, 0);
      mark_fixed_points(c);
    }
}

/* ---- tables ---- */

static const char *short_verdict(int v) { return nde_stab_verdict_name(v); }

static int write_tables(const pwa_opts *o, cell *all, int ncells, const char *cmdline) {
  char path[4096];
  snprintf(path, sizeof path, "%s/summary.csv", o->out);
  FILE *csv = fopen(path, "w");
  snprintf(path, sizeof path, "%s/summary.md", o->out);
  FILE *md = fopen(path, "w");
  if (!csv || !md) {
    fprintf(stderr, "nde pwa: cannot write the summary under %s\n", o->out);
    if (csv) fclose(csv);
    if (md) fclose(md);
    return 1;
  }
  fprintf(
      csv,
      "activation,bias,depth,weights,rho_min,rho_max,norm_max,lambda_bound,lip_bound,"
      "fixed_points,stable,unstable,saddle,marginal,on_kink,local_holds,starts_converged,starts_"
      "failed,"
      "global_origin,global_bound,global_sampled,contraction,contraction_bound,contraction_sampled,"
      "stable_activation,regions,roa_fixed_point,roa_diverged,roa_unsettled,roa_unlisted\n");
  fprintf(md, "# PWA stability grid (Drgona et al. 2020; docs/methods.md section 6)\n\n");
  fprintf(md, "Produced by `%s`.\n\n", cmdline);
  fprintf(
      md,
      "Map x_{k+1} = f(x_k), nx = 2, f = depth x (dense %dx%d -> activation); weights bounded in "
      "[smin, smax] = [%g, %g] for the parametrizations (plain = PyTorch default init); grid over "
      "[-%g, %g]^2.\n\n",
      o->width, o->width, o->smin, o->smax, o->box, o->box);
  fprintf(md,
          "Columns: rho(A*) = range of the spectral radius of A*(x) over a %dx%d grid; ||A*|| = "
          "its largest "
          "2-norm there; fixed points found from %d random starts (s/u/sd/m = stable, unstable, "
          "saddle, marginal "
          "by the Jacobian's spectrum; k = on a ReLU/SELU kink, where the Jacobian is one-sided "
          "and classifies nothing; "
          "loc = how many pass the local test rho(J) < 1 at a differentiable point); "
          "global = sufficient condition for global exponential stability of 0 (needs b* = 0; "
          "bound = prod "
          "lambda_sup ||W||); contr = contraction (bound = prod Lip(sigma) ||W||); act = stable "
          "activation "
          "(|sigma(z)/z| <= 1); regions = distinct activation patterns on a %dx%d grid; RoA = "
          "fraction of a "
          "%dx%d grid of initial states whose orbit (simulated) settles at one of the fixed points "
          "found / diverges "
          "/ does not settle in %d steps (cycles, slow or chaotic orbits) / settles at a point the "
          "solver did not "
          "list.\n\n",
          o->eig_grid, o->eig_grid, o->starts, o->region_grid, o->region_grid, o->roa_grid,
          o->roa_grid, o->roa_steps);
  fprintf(
      md,
      "Verdicts are those of SUFFICIENT conditions: `holds` proves the conclusion; `fails` means a "
      "sample "
      "point refutes the premise (||A*(x)|| >= 1, resp. ||J(x)|| > 1 where f is differentiable); "
      "`undecided` means the bound is >= 1 with no refuting sample; `n/a` means the hypotheses are "
      "not met "
      "(bias or sigma(0) != 0 for the global test). None of `fails`, `undecided`, `n/a` says the "
      "map is "
      "unstable.\n\n");
  fprintf(md, "Pictures (one per activation and bias, rows = depth, columns = weights): "
              "eig_<act>_<bias>.png "
              "(eigenvalues of A*(x) over the grid, unit circle grey), phase_<act>_<bias>.png "
              "(orbits from 8 points "
              "on the circle of radius 4, start triangles; fixed points: green disc stable, red "
              "circle unstable, orange "
              "cross saddle, grey square marginal, black square on a kink), "
              "regions_<act>_<bias>.png (activation "
              "regions in random colours, fixed points marked; for smooth activations a region is "
              "a sign pattern of "
              "the pre-activations, for ReLU it is a linear piece of f).\n\n");
  fprintf(md, "| act | bias | depth | weights | rho(A*) | max ‖A*‖ | fixed pts (s/u/sd/m/k) | loc "
              "| global (bound) | "
              "contr (bound) | act stable | regions | RoA fixed pt/div/unsettled/unlisted |\n");
  fprintf(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int k = 0; k < ncells; k++) {
    const cell *c = &all[k];
    const char *an = act_name(c->act), *wn = nde_wparam_kind_name(c->wkind);
    if (c->skipped) {
      fprintf(md, "| %s | %s | %d | %s | n/a (square weights only) |||||||||\n", an,
              c->bias ? "on" : "off", c->depth, wn);
      continue;
    }
    fprintf(csv,
            "%s,%d,%d,%s,%.6g,%.6g,%.6g,%.6g,%.6g,%d,%d,%d,%d,%d,%d,%d,%d,%d,%s,%.6g,%.6g,%s,%.6g,%"
            ".6g,%d,%d,%.4f,%.4f,%.4f,%.4f\n",
            an, c->bias, c->depth, wn, c->rho_min, c->rho_max, c->norm_max, c->lam_bound,
            c->lip_bound, c->nfp, c->ncls[1], c->ncls[2], c->ncls[3], c->ncls[4], c->nkink,
            c->local_holds, c->converged, c->failed, short_verdict(c->glob.verdict), c->glob.bound,
            c->glob.sampled, short_verdict(c->contr.verdict), c->contr.bound, c->contr.sampled,
            c->stable_act, c->nregions, c->roa[0], c->roa[1], c->roa[2], c->roa[3]);
    fprintf(md,
            "| %s | %s | %d | %s | %.3g–%.3g | %.3g | %d (%d/%d/%d/%d/%d) | %d | %s (%.3g) | %s "
            "(%.3g) | %s | %d | "
            "%.2f/%.2f/%.2f/%.2f |\n",
            an, c->bias ? "on" : "off", c->depth, wn, c->rho_min, c->rho_max, c->norm_max, c->nfp,
            c->ncls[1], c->ncls[2], c->ncls[3], c->ncls[4], c->nkink, c->local_holds,
            short_verdict(c->glob.verdict), c->glob.bound, short_verdict(c->contr.verdict),
            c->contr.bound, c->stable_act ? "yes" : "no", c->nregions, c->roa[0], c->roa[1],
            c->roa[2], c->roa[3]);
  }
  int bad = fclose(csv) | fclose(md);
  if (bad) fprintf(stderr, "nde pwa: error writing the summary under %s\n", o->out);
  return bad ? 1 : 0;
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: nde pwa [--out results/pwa] [--depths 1,4,8] [--acts "
      "relu,selu,gelu,tanh,sigmoid,softplus]\n"
      "               [--weights plain,softsvd,spectral,gershgorin,pf] [--smin 0.5] [--smax 1.0]\n"
      "               [--width 2] [--box 6] [--eig-grid 21] [--region-grid 121] [--roa-grid 41]\n"
      "               [--roa-steps 400] [--traj-steps 40] [--starts 64] [--seed 1] [--svg] "
      "[--no-png]\n"
      "Stability analysis of x -> f(x) for MLPs f: R^2 -> R^2 over the paper's grid; writes\n"
      "OUT/summary.md, OUT/summary.csv and eig_/phase_/regions_<act>_<bias>.png pictures.\n");
}

int nde_cmd_pwa(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "pwa", argc, argv)) return 2;
  if (args_flag(&a, "help")) {
    usage(stdout);
    args_free(&a);
    return 0;
  }
  pwa_opts o;
  memset(&o, 0, sizeof o);
  int bad = 0;
  o.out = args_str(&a, "out", "results/pwa");
  const char *ds = args_str(&a, "depths", "1,4,8");
  const char *as = args_str(&a, "acts", "relu,selu,gelu,tanh,sigmoid,softplus");
  const char *ws = args_str(&a, "weights", "plain,softsvd,spectral,gershgorin,pf");
  o.smin = args_double(&a, "smin", 0.5, &bad);
  o.smax = args_double(&a, "smax", 1.0, &bad);
  o.width = args_int(&a, "width", NX, &bad);
  o.box = args_double(&a, "box", 6, &bad);
  o.eig_grid = args_int(&a, "eig-grid", 21, &bad);
  o.region_grid = args_int(&a, "region-grid", 121, &bad);
  o.roa_grid = args_int(&a, "roa-grid", 41, &bad);
  o.roa_steps = args_int(&a, "roa-steps", 400, &bad);
  o.traj_steps = args_int(&a, "traj-steps", 40, &bad);
  o.starts = args_int(&a, "starts", 64, &bad);
  o.seed = (unsigned long)args_long(&a, "seed", 1, &bad);
  int svg = args_flag(&a, "svg"), nopng = args_flag(&a, "no-png");
  if (bad || args_finish(&a) || a.npositional) {
    if (a.npositional) usage(stderr);
    args_free(&a);
    return 2;
  }
  args_free(&a);
  o.formats = (nopng ? 0 : PLOT_PNG) | (svg ? PLOT_SVG : 0);
  if ((o.ndepths = parse_list(ds, o.depths, MAX_DEPTHS, parse_int, "depth")) < 1 ||
      (o.nacts = parse_list(as, o.acts, MAX_ACTS, parse_act, "activation")) < 1 ||
      (o.nwkinds = parse_list(ws, o.wkinds, 5, parse_wkind, "weights")) < 1)
    return 2;
  if (o.width < 1 || o.width > 64 || o.eig_grid < 2 || o.region_grid < 2 || o.roa_grid < 2 ||
      o.roa_steps < 1 || o.traj_steps < 1 || o.traj_steps > 63 || o.starts < 1 || !(o.box > 0)) {
    fprintf(stderr, "nde pwa: sizes out of range (width 1..64, grids >= 2, traj-steps 1..63, "
                    "starts >= 1, box > 0)\n");
    return 2;
  }
  if (mkdir(o.out, 0777) && access(o.out, W_OK)) {
    fprintf(stderr, "nde pwa: cannot create %s\n", o.out);
    return 1;
  }
  char cmdline[1024];
  int pos = snprintf(cmdline, sizeof cmdline, "nde pwa");
  for (int i = 0; i < argc && pos < (int)sizeof cmdline - 1; i++)
    pos += snprintf(cmdline + pos, sizeof cmdline - (size_t)pos, " %s", argv[i]);

  const int per_fig = o.ndepths * o.nwkinds, ncells = o.nacts * 2 * per_fig;
  cell *all = calloc((size_t)ncells, sizeof *all);
  if (!all) return tool_fail("pwa", NDE_ERR_NOMEM);
  int rc = 0, fig_fail = 0, k = 0;
  for (int ai = 0; !rc && ai < o.nacts; ai++)
    for (int bias = 0; !rc && bias < 2; bias++) {
      cell *fig = all + k;
      for (int d = 0; !rc && d < o.ndepths; d++)
        for (int w = 0; !rc && w < o.nwkinds; w++, k++) {
          cell *c = &all[k];
          c->depth = o.depths[d];
          c->act = o.acts[ai];
          c->bias = bias;
          c->wkind = o.wkinds[w];
          rc = analyse(&o, c);
          if (rc)
            fprintf(stderr, "nde pwa: %s bias %d depth %d %s: ", act_name(c->act), bias, c->depth,
                    nde_wparam_kind_name(c->wkind));
        }
      if (rc) break;
      printf("%-8s bias %-3s: ", act_name(o.acts[ai]), bias ? "on" : "off");
      for (int q = 0; q < per_fig; q++)
        printf("%s%d", q ? " " : "", fig[q].skipped ? -1 : fig[q].nfp);
      printf("  (fixed points per depth x weights)\n");
      if (o.formats) {
        fig_ctx fc = {&o, fig};
        char base[4096];
        const char *bn = bias ? "bias" : "nobias";
        const int W = 330 * o.nwkinds, H = 320 * o.ndepths;
        snprintf(base, sizeof base, "%s/eig_%s_%s", o.out, act_name(o.acts[ai]), bn);
        fig_fail |= plot_render(base, o.formats, W, H, o.nwkinds, o.ndepths, draw_eig, &fc);
        snprintf(base, sizeof base, "%s/phase_%s_%s", o.out, act_name(o.acts[ai]), bn);
        fig_fail |= plot_render(base, o.formats, W, H, o.nwkinds, o.ndepths, draw_phase, &fc);
        snprintf(base, sizeof base, "%s/regions_%s_%s", o.out, act_name(o.acts[ai]), bn);
        fig_fail |= plot_render(base, o.formats, W, H, o.nwkinds, o.ndepths, draw_regions, &fc);
      }
      for (int q = 0; q < per_fig; q++) {
        free(fig[q].eig);
        free(fig[q].regions);
        fig[q].eig = NULL;
        fig[q].regions = NULL;
      }
    }
  int wr = rc ? 0 : write_tables(&o, all, ncells, cmdline);
  for (int q = 0; q < ncells; q++) {
    free(all[q].eig);
    free(all[q].regions);
  }
  free(all);
  if (rc) return tool_fail("pwa", rc);
  if (!wr) printf("wrote %s/summary.md and %s/summary.csv\n", o.out, o.out);
  return wr || fig_fail ? 1 : 0;
}
