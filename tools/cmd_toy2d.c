/* nde toy2d: the 2-D two-class toy of the RMAN paper's Figures 1 and 2
 * (docs/methods.md section 7). A simplified ResNet of 10 layers sharing one residual map
 *   x_{t+1} = x_t + F(x_t),   F(x) = W1 relu(W2^T x),   W1, W2 in R^{2x16},
 * (no biases, as in the paper) followed by a linear classifier, is trained
 * on two interleaved half-moons with and without RMAN (energy on x_10 with h
 * placement attractors, nde's rman module). For each model the command
 * writes the flow map of F (arrows, the paper's Figure 1) and the states
 * after every layer (Figure 2), placement attractors marked, and analyses
 * the learned map g(x) = x + F(x):
 *   - fixed points (zeros of F) by GSL hybridsj from many starts, classified
 *     by the spectrum of J_g (nde_fp_find on the PWA form of F);
 *   - since F has no bias it is positively homogeneous (F(c x) = c F(x),
 *     c > 0), so the origin is always fixed and sits on every ReLU kink:
 *     linearization says nothing there. The dynamics are then decided by the
 *     invariant rays {r u : r > 0} with g(u) = gamma u: orbits near an
 *     angularly attracting ray move towards it and scale by gamma per layer
 *     (gamma < 1: towards 0, gamma > 1: outwards);
 *   - regions of attraction of g by simulation (0, diverging, other).
 * Outputs: OUT/summary.md, OUT/states_<run>.png, OUT/flow_<run>.png (+ .svg
 * with --svg), runs "plain" (no RMAN) and "rman". */
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

#define PI 3.14159265358979323846
#define LAYERS 10
#define HIDDEN 16
#define MAX_RAYS 32

typedef struct toy_opts {
  const char *out;
  int n, steps, h;
  double lr, alpha, noise;
  unsigned long seed;
  unsigned formats;
} toy_opts;

typedef struct ray {
  double theta, gamma; /* direction and radial factor g(u) = gamma u */
  int attracting;      /* nearby directions turn towards it */
} ray;

typedef struct toy_run {
  const char *name;
  double box; /* half-width of the plotted square: 1.1 x the largest |coordinate| of states and
                 attractors */
  int h;
  /* model */
  nde_layer_spec fspec[3];
  nde_net *f[LAYERS], *cls;
  nde_rman *rman;
  nde_optim *opt;
  size_t np, off_c, off_m;
  nde_real *params, *grads;
  nde_real *xs; /* (LAYERS + 1) x n x 2 */
  nde_real *y, *dx, *dtmp, *logits, *dlogits;
  /* results */
  double loss, energy, acc;
  double spread[LAYERS + 1], mean_norm[LAYERS + 1], step_norm[LAYERS];
  int n_effective;
  int nfp, fp_cls[64];
  double fp_x[64][2], fp_margin[64];
  int nrays;
  ray rays[MAX_RAYS];
  double roa_zero, roa_div, roa_other;
  int *roa; /* ROA_G x ROA_G labels */
} toy_run;

#define ROA_G 61

/* Two interleaved half-moons centred at the origin, N(0, noise^2) jitter. */
static void make_moons(int n, double noise, nde_rng *rng, nde_real *x, int *label) {
  for (int i = 0; i < n; i++) {
    int c = i % 2;
    double t = PI * nde_rng_uniform(rng);
    double px = c ? 1 - cos(t) : cos(t), py = c ? 0.5 - sin(t) : sin(t);
    x[2 * i] = (nde_real)(1.5 * (px - 0.5) + noise * nde_rng_normal(rng));
    x[2 * i + 1] = (nde_real)(1.5 * (py - 0.25) + noise * nde_rng_normal(rng));
    label[i] = c;
  }
}

static void run_free(toy_run *r) {
  for (int t = 0; t < LAYERS; t++) nde_net_free(r->f[t]);
  nde_net_free(r->cls);
  nde_rman_free(r->rman);
  nde_optim_free(r->opt);
  free(r->params);
  free(r->grads);
  free(r->xs);
  free(r->y);
  free(r->dx);
  free(r->dtmp);
  free(r->logits);
  free(r->dlogits);
  free(r->roa);
}

/* Parameters [F: W2^T (16 x 2), W1 (2 x 16) | classifier (2 x 2 + 2) | m (h x 2)];
 * the ten layer networks are bound to the same F slice, so their vjps
 * accumulate the shared weights' gradient. */
static int run_create(const toy_opts *o, toy_run *r, nde_rng *rng) {
  const int n = o->n;
  r->fspec[0] = nde_spec_dense(HIDDEN);
  r->fspec[0].bias = 0;
  r->fspec[1] = nde_spec_act(NDE_LAYER_RELU);
  r->fspec[2] = nde_spec_dense(2);
  r->fspec[2].bias = 0;
  nde_layer_spec cs[] = {nde_spec_dense(2)};
  int rc = NDE_OK;
  for (int t = 0; !rc && t < LAYERS; t++)
    rc = nde_net_create(nde_shape_vec(2), n, r->fspec, 3, &r->f[t]);
  if (!rc) rc = nde_net_create(nde_shape_vec(2), n, cs, 1, &r->cls);
  if (rc) return rc;
  const size_t nf = nde_net_num_params(r->f[0]);
  r->off_c = nf;
  r->off_m = nf + nde_net_num_params(r->cls);
  r->np = r->off_m + nde_rman_num_params(2, r->h);
  r->params = calloc(r->np, sizeof(nde_real));
  r->grads = calloc(r->np, sizeof(nde_real));
  r->xs = malloc((size_t)(LAYERS + 1) * n * 2 * sizeof(nde_real));
  r->y = malloc((size_t)n * 2 * sizeof(nde_real));
  r->dx = malloc((size_t)n * 2 * sizeof(nde_real));
  r->dtmp = malloc((size_t)n * 2 * sizeof(nde_real));
  r->logits = malloc((size_t)n * 2 * sizeof(nde_real));
  r->dlogits = malloc((size_t)n * 2 * sizeof(nde_real));
  r->roa = malloc(ROA_G * ROA_G * sizeof(int));
  if (!r->params || !r->grads || !r->xs || !r->y || !r->dx || !r->dtmp || !r->logits ||
      !r->dlogits || !r->roa)
    return NDE_ERR_NOMEM;
  for (int t = 0; !rc && t < LAYERS; t++) rc = nde_net_bind(r->f[t], r->params, r->grads);
  if (!rc) rc = nde_net_bind(r->cls, r->params + r->off_c, r->grads + r->off_c);
  if (!rc) rc = nde_net_init(r->f[0], rng);
  if (!rc) rc = nde_net_init(r->cls, rng);
  if (!rc && r->h > 0) {
    nde_rman_options ro = nde_rman_options_default();
    ro.alpha0 = o->alpha;
    ro.alpha_step = 0;
    rc = nde_rman_create(2, r->h, &ro, &r->rman);
    if (!rc) rc = nde_rman_init_attractors(r->h, 2, r->params + r->off_m, rng);
  }
  nde_optim_options oo = nde_optim_options_default(NDE_OPTIM_ADAM);
  if (!rc) rc = nde_optim_create(NDE_OPTIM_ADAM, r->np, &oo, &r->opt);
  return rc;
}

/* States x_0..x_10 of the batch x (n x 2) into r->xs. */
static int forward_states(toy_run *r, int n, const nde_real *x) {
  memcpy(r->xs, x, (size_t)n * 2 * sizeof(nde_real));
  for (int t = 0; t < LAYERS; t++) {
    nde_real *cur = r->xs + (size_t)t * n * 2, *next = cur + (size_t)n * 2;
    int rc = nde_net_forward(r->f[t], 0, n, cur, r->y);
    if (rc) return rc;
    for (int k = 0; k < 2 * n; k++) next[k] = cur[k] + r->y[k];
  }
  return NDE_OK;
}

static int train_step(const toy_opts *o, toy_run *r, const nde_real *x, const int *label) {
  const int n = o->n;
  int rc = forward_states(r, n, x), nerr = 0;
  nde_real *xL = r->xs + (size_t)LAYERS * n * 2;
  if (!rc) rc = nde_net_forward(r->cls, 0, n, xL, r->logits);
  double loss;
  if (!rc) rc = nde_softmax_xent(n, 2, r->logits, label, &loss, r->dlogits, &nerr);
  if (rc) return rc;
  memset(r->grads, 0, r->np * sizeof(nde_real));
  if ((rc = nde_net_vjp(r->cls, n, r->dlogits, r->dx, r->grads + r->off_c))) return rc;
  r->energy = 0;
  if (r->h > 0) {
    nde_rman_result res;
    rc = nde_rman_energy(r->rman, n, xL, r->params + r->off_m, o->alpha, r->dx, r->grads + r->off_m,
                         &res);
    if (rc) return rc;
    loss += res.loss;
    r->energy = res.mean_energy;
  }
  /* x_{t+1} = x_t + F(x_t): dL/dx_t = dL/dx_{t+1} + J_F^T dL/dx_{t+1}. */
  for (int t = LAYERS - 1; t >= 0; t--) {
    /* layer t's own network still holds its forward point x_t */
    if ((rc = nde_net_vjp(r->f[t], n, r->dx, r->dtmp, r->grads))) return rc;
    for (int k = 0; k < 2 * n; k++) r->dx[k] += r->dtmp[k];
  }
  r->loss = loss;
  r->acc = 1 - (double)nerr / n;
  return nde_optim_step(r->opt, r->params, r->grads, o->lr);
}

/* g(x) = x + F(x) through the PWA form of F (residual adapter). */
typedef struct toy_map {
  nde_pwa *pwa;
  const nde_real *par;
} toy_map;

static void g_at(nde_pwa_fn_ctx *c, double th, double *gx) {
  double u[2] = {cos(th), sin(th)};
  nde_pwa_fn(c, u, gx, NULL);
}

/* Angle from u(th) to g(u(th)), in (-pi, pi]. */
static double turn(nde_pwa_fn_ctx *c, double th) {
  double gx[2];
  g_at(c, th, gx);
  double u0 = cos(th), u1 = sin(th);
  return atan2(u0 * gx[1] - u1 * gx[0], u0 * gx[0] + u1 * gx[1]);
}

/* Invariant rays: zeros of turn() with a sign change away from the +-pi
 * wrap, refined by bisection. */
static int find_rays(nde_pwa_fn_ctx *c, ray *rays) {
  enum { SCAN = 7200 };
  int nr = 0;
  double prev = turn(c, 0);
  for (int k = 1; k <= SCAN && nr < MAX_RAYS; k++) {
    double a = 2 * PI * (k - 1) / SCAN, b = 2 * PI * k / SCAN, cur = turn(c, b);
    if ((prev < 0) != (cur < 0) && fabs(prev - cur) < PI) {
      double fa = prev;
      for (int it = 0; it < 60; it++) {
        double m = 0.5 * (a + b), fm = turn(c, m);
        if ((fm < 0) == (fa < 0))
          a = m, fa = fm;
        else
          b = m;
      }
      double th = 0.5 * (a + b), gx[2];
      g_at(c, th, gx);
      rays[nr].theta = th;
      rays[nr].gamma = hypot(gx[0], gx[1]);
      rays[nr].attracting = prev > 0 && cur < 0; /* turning back towards th from both sides */
      nr++;
    }
    prev = cur;
  }
  return nr;
}

static int analyse_run(const toy_opts *o, toy_run *r, const nde_real *x, const int *label,
                       double box) {
  const int n = o->n;
  int rc = forward_states(r, n, x);
  if (rc) return rc;
  /* spread: mean distance to the class centroid, averaged over the classes */
  for (int t = 0; t <= LAYERS; t++) {
    const nde_real *s = r->xs + (size_t)t * n * 2;
    double cx[2] = {0}, cy[2] = {0}, cnt[2] = {0}, d[2] = {0}, nm = 0;
    for (int i = 0; i < n; i++) {
      cx[label[i]] += s[2 * i], cy[label[i]] += s[2 * i + 1], cnt[label[i]]++;
      nm += hypot(s[2 * i], s[2 * i + 1]);
    }
    for (int c = 0; c < 2; c++) cx[c] /= cnt[c], cy[c] /= cnt[c];
    for (int i = 0; i < n; i++)
      d[label[i]] += hypot(s[2 * i] - cx[label[i]], s[2 * i + 1] - cy[label[i]]);
    r->spread[t] = 0.5 * (d[0] / cnt[0] + d[1] / cnt[1]);
    r->mean_norm[t] = nm / n;
    if (t < LAYERS) {
      const nde_real *s2 = s + (size_t)n * 2;
      double st = 0;
      for (int i = 0; i < n; i++) st += hypot(s2[2 * i] - s[2 * i], s2[2 * i + 1] - s[2 * i + 1]);
      r->step_norm[t] = st / n;
    }
  }
  r->n_effective = 0;
  for (int j = 0; j < r->h; j++) {
    const nde_real *m = r->params + r->off_m + 2 * j;
    r->n_effective += (double)m[0] * m[0] + (double)m[1] * m[1] > 0.01;
  }
  /* the learned map */
  nde_pwa *pwa;
  if ((rc = nde_pwa_create(2, r->fspec, 3, &pwa))) return rc;
  nde_pwa_fn_ctx c = {pwa, r->params, 1};
  nde_fp_options fo = nde_fp_options_default();
  fo.lo = -box, fo.hi = box, fo.seed = o->seed;
  const double origin[2] = {0, 0};
  nde_fp_set *fps = NULL;
  rc = nde_fp_find(2, nde_pwa_fn, &c, &fo, origin, 1, &fps);
  if (!rc) {
    r->nfp = nde_fp_set_count(fps);
    for (int k = 0; k < r->nfp && k < 64; k++) {
      nde_fixed_point fp;
      nde_fp_set_get(fps, k, &fp);
      r->fp_x[k][0] = fp.x[0], r->fp_x[k][1] = fp.x[1];
      r->fp_cls[k] = fp.cls;
      nde_pwa_kink_margin(pwa, r->params, fp.x, &r->fp_margin[k]);
    }
  }
  r->nrays = rc ? 0 : find_rays(&c, r->rays);
  nde_grid2 g = {-box, box, -box, box, ROA_G, ROA_G, NULL, NULL, NULL};
  nde_roa_options ro = nde_roa_options_default();
  ro.max_steps = 2000;
  ro.escape = 1e4;
  if (!rc) rc = nde_roa_grid(2, nde_pwa_fn, &c, fps, &g, &ro, r->roa, NULL);
  if (!rc) {
    r->roa_zero = r->roa_div = r->roa_other = 0;
    for (int k = 0; k < ROA_G * ROA_G; k++) {
      int l = r->roa[k];
      int zero = 0;
      if (l >= 0) {
        nde_fixed_point fp;
        nde_fp_set_get(fps, l, &fp);
        zero = fabs(fp.x[0]) + fabs(fp.x[1]) < 1e-8;
      }
      if (zero)
        r->roa_zero += 1.0 / (ROA_G * ROA_G);
      else if (l == NDE_ROA_DIVERGED)
        r->roa_div += 1.0 / (ROA_G * ROA_G);
      else
        r->roa_other += 1.0 / (ROA_G * ROA_G);
      /* relabel for the picture: 0 -> origin, 1 -> other fixed point; negatives kept */
      r->roa[k] = l >= 0 ? (zero ? 0 : 1) : l;
    }
  }
  nde_fp_set_free(fps);
  nde_pwa_free(pwa);
  return rc;
}

/* ---- pictures ---- */

typedef struct toy_fig {
  const toy_opts *o;
  toy_run *r;
  const int *label;
  double box;
} toy_fig;

static void flow_panel(toy_fig *f, const char *title, int with_rays) {
  toy_run *r = f->r;
  const double B = f->box;
  enum { GA = 17 };
  double u[GA * GA], v[GA * GA];
  nde_pwa *pwa;
  if (nde_pwa_create(2, r->fspec, 3, &pwa)) return;
  for (int i = 0; i < GA; i++)
    for (int j = 0; j < GA; j++) {
      double x[2] = {-B + 2 * B * j / (GA - 1), -B + 2 * B * i / (GA - 1)}, F[2] = {0, 0};
      nde_pwa_eval(pwa, r->params, x, F, NULL, NULL, NULL);
      /* arrow length proportional to sqrt|F| keeps small and large arrows readable */
      double m = hypot(F[0], F[1]), k = m > 0 ? 1 / sqrt(m) : 0;
      u[i * GA + j] = k * F[0];
      v[i * GA + j] = k * F[1];
    }
  nde_pwa_free(pwa);
  plot_panel(-B, B, -B, B, 1, "x#d1#u", "x#d2#u", title);
  plot_arrows(GA, GA, -B, B, -B, B, u, v, 0.9, PLOT_NAVY);
  if (with_rays)
    for (int k = 0; k < r->nrays; k++) {
      double lx[2] = {0, 2 * B * cos(r->rays[k].theta)}, ly[2] = {0, 2 * B * sin(r->rays[k].theta)};
      plot_line(2, lx, ly, r->rays[k].attracting ? PLOT_GREEN : PLOT_RED, 1.0);
    }
}

static void mark_attractors(toy_run *r) {
  for (int j = 0; j < r->h; j++) {
    double mx = r->params[r->off_m + 2 * j], my = r->params[r->off_m + 2 * j + 1];
    plot_points(1, &mx, &my, PLOT_BLUE, PLOT_SQUARE, 0.7);
  }
}

static void draw_states(void *vctx) {
  toy_fig *f = vctx;
  toy_run *r = f->r;
  const int n = f->o->n;
  double *x0 = malloc((size_t)n * sizeof *x0), *y0 = malloc((size_t)n * sizeof *y0);
  double *x1 = malloc((size_t)n * sizeof *x1), *y1 = malloc((size_t)n * sizeof *y1);
  if (!x0 || !y0 || !x1 || !y1) goto done;
  for (int t = 0; t <= LAYERS; t++) {
    const nde_real *s = r->xs + (size_t)t * n * 2;
    int a = 0, b = 0;
    for (int i = 0; i < n; i++) {
      if (f->label[i])
        x1[b] = s[2 * i], y1[b++] = s[2 * i + 1];
      else
        x0[a] = s[2 * i], y0[a++] = s[2 * i + 1];
    }
    char title[96];
    snprintf(title, sizeof title, "%s: time step %d (spread %.3f)", r->name, t, r->spread[t]);
    plot_panel(-f->box, f->box, -f->box, f->box, 1, "x#d1#u", "x#d2#u", title);
    plot_points(a, x0, y0, PLOT_ORANGE, PLOT_DISC, 0.5);
    plot_points(b, x1, y1, PLOT_PURPLE, PLOT_DISC, 0.5);
    if (t == LAYERS) mark_attractors(r);
  }
  char title[96];
  snprintf(title, sizeof title, "%s: flow of F (length ~ sqrt|F|)", r->name);
  flow_panel(f, title, 0);
  mark_attractors(r);
done:
  free(x0);
  free(y0);
  free(x1);
  free(y1);
}

static void draw_flow(void *vctx) {
  toy_fig *f = vctx;
  toy_run *r = f->r;
  char title[128];
  snprintf(title, sizeof title, "%s: F and invariant rays (green attract, red repel)", r->name);
  flow_panel(f, title, 1);
  mark_attractors(r);
  double zx = 0, zy = 0;
  plot_points(1, &zx, &zy, PLOT_BLACK, PLOT_CROSS, 2);
  /* regions of attraction of g: origin, other fixed point, diverged, unsettled, unlisted */
  static const int pos[2][3] = {{120, 200, 120}, {250, 250, 120}};
  static const int neg[3][3] = {{240, 150, 150}, {200, 200, 200}, {150, 170, 240}};
  snprintf(title, sizeof title, "%s: orbits of g (green -> 0, red diverge)", r->name);
  plot_panel(-f->box, f->box, -f->box, f->box, 1, "x#d1#u", "x#d2#u", title);
  plot_labels(ROA_G, ROA_G, -f->box, f->box, -f->box, f->box, r->roa, pos, 2, neg, 3);
  mark_attractors(r);
}

/* ---- report ---- */

static void write_run(FILE *md, const toy_run *r) {
  fprintf(md, "## %s (%s)\n\n", r->name, r->h ? "with RMAN" : "without RMAN");
  fprintf(md, "- final training loss %.4f (RMAN mean energy %.4f), training accuracy %.3f\n",
          r->loss, r->energy, r->acc);
  if (r->h)
    fprintf(md, "- placement attractors: %d, effective (||m||^2 > 0.01): %d\n", r->h,
            r->n_effective);
  fprintf(md,
          "- per-class spread (mean distance to the class centroid) t = 0 -> 10: %.3f -> %.3f\n",
          r->spread[0], r->spread[LAYERS]);
  fprintf(md,
          "- mean ||x_t||: t = 0: %.3f, t = 10: %.3f; mean step ||x_{t+1} - x_t|| first / last "
          "layer: %.3f / %.3f\n",
          r->mean_norm[0], r->mean_norm[LAYERS], r->step_norm[0], r->step_norm[LAYERS - 1]);
  fprintf(md,
          "- fixed points of g(x) = x + F(x) found (hybridsj, 64 random starts + the origin): %d\n",
          r->nfp);
  for (int k = 0; k < r->nfp && k < 8; k++)
    fprintf(md, "  - (%.4g, %.4g): %s by the Jacobian%s\n", r->fp_x[k][0], r->fp_x[k][1],
            nde_fp_class_name(r->fp_cls[k]),
            r->fp_margin[k] > 1e-9 * (1 + fmax(fabs(r->fp_x[k][0]), fabs(r->fp_x[k][1])))
                ? ""
                : " — on a ReLU kink, so the linearization decides nothing");
  fprintf(md, "- invariant rays g(u) = gamma u (F is positively homogeneous): %d\n", r->nrays);
  for (int k = 0; k < r->nrays; k++)
    fprintf(md, "  - angle %.1f deg, gamma %.4f (%s along the ray), directions nearby turn %s it\n",
            r->rays[k].theta * 180 / PI, r->rays[k].gamma,
            r->rays[k].gamma < 1 ? "contracting" : "expanding",
            r->rays[k].attracting ? "towards" : "away from");
  fprintf(
      md,
      "- regions of attraction of g over the plotted box [-%g, %g]^2 (%dx%d grid, 2000 steps): "
      "%.2f reach the "
      "origin, %.2f diverge, %.2f other (settle on a non-isolated fixed point, or unsettled)\n\n",
      r->box, r->box, ROA_G, ROA_G, r->roa_zero, r->roa_div, r->roa_other);
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: nde toy2d [--out results/toy2d] [--rman 4] [--alpha 0.5] [--steps 3000] [--lr 0.01]\n"
      "                 [--points 256] [--noise 0.1] [--seed 1] [--svg] [--no-png]\n"
      "Trains the 2-D two-class toy (10 shared residual layers x += W1 relu(W2^T x)) without and "
      "with\n"
      "RMAN and writes OUT/summary.md, OUT/states_<run>.png and OUT/flow_<run>.png.\n");
}

int nde_cmd_toy2d(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "toy2d", argc, argv)) return 2;
  if (args_flag(&a, "help")) {
    usage(stdout);
    args_free(&a);
    return 0;
  }
  toy_opts o;
  int bad = 0;
  o.out = args_str(&a, "out", "results/toy2d");
  o.h = args_int(&a, "rman", 4, &bad);
  o.alpha = args_double(&a, "alpha", 0.5, &bad);
  o.steps = args_int(&a, "steps", 3000, &bad);
  o.lr = args_double(&a, "lr", 0.01, &bad);
  o.n = args_int(&a, "points", 256, &bad);
  o.noise = args_double(&a, "noise", 0.1, &bad);
  o.seed = (unsigned long)args_long(&a, "seed", 1, &bad);
  int svg = args_flag(&a, "svg"), nopng = args_flag(&a, "no-png");
  if (bad || args_finish(&a) || a.npositional) {
    if (a.npositional) usage(stderr);
    args_free(&a);
    return 2;
  }
  args_free(&a);
  o.formats = (nopng ? 0 : PLOT_PNG) | (svg ? PLOT_SVG : 0);
  if (o.h < 1 || o.h > 64 || o.steps < 1 || o.n < 4 || o.n > 100000 || !(o.lr > 0) ||
      !(o.alpha >= 0) || !(o.noise >= 0)) {
    fprintf(stderr, "nde toy2d: --rman 1..64, --steps >= 1, --points 4..100000, --lr > 0, --alpha, "
                    "--noise >= 0\n");
    return 2;
  }
  if (mkdir(o.out, 0777) && access(o.out, W_OK)) {
    fprintf(stderr, "nde toy2d: cannot create %s\n", o.out);
    return 1;
  }
  nde_real *x = malloc((size_t)o.n * 2 * sizeof *x);
  int *label = malloc((size_t)o.n * sizeof *label);
  if (!x || !label) {
    free(x);
    free(label);
    return tool_fail("toy2d", NDE_ERR_NOMEM);
  }
  nde_rng drng;
  nde_rng_seed(&drng, o.seed);
  make_moons(o.n, o.noise, &drng, x, label);

  toy_run runs[2];
  memset(runs, 0, sizeof runs);
  runs[0].name = "plain";
  runs[1].name = "rman";
  runs[1].h = o.h;
  int rc = NDE_OK;
  for (int k = 0; !rc && k < 2; k++) {
    nde_rng rng;
    nde_rng_seed(&rng, o.seed + 17); /* same initial F and classifier for both runs */
    rc = run_create(&o, &runs[k], &rng);
    for (int s = 0; !rc && s < o.steps; s++) {
      rc = train_step(&o, &runs[k], x, label);
      if (!rc && (s + 1) % (o.steps / 5 > 0 ? o.steps / 5 : 1) == 0)
        printf("%-5s step %5d loss %.4f acc %.3f%s\n", runs[k].name, s + 1, runs[k].loss,
               runs[k].acc, runs[k].h ? "" : "");
    }
  }
  for (int k = 0; !rc && k < 2; k++) {
    double box = 0;
    rc = forward_states(&runs[k], o.n, x);
    for (size_t i = 0; !rc && i < (size_t)(LAYERS + 1) * o.n * 2; i++)
      box = fmax(box, fabs(runs[k].xs[i]));
    for (int j = 0; j < runs[k].h; j++)
      for (int q = 0; q < 2; q++) box = fmax(box, fabs(runs[k].params[runs[k].off_m + 2 * j + q]));
    box = ceil(1.1 * box * 2) / 2;
    runs[k].box = !(box > 0) ? 1 : box > 1e3 ? 1e3 : box;
    if (!rc) rc = analyse_run(&o, &runs[k], x, label, runs[k].box);
  }
  int fail = 0;
  if (!rc) {
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.md", o.out);
    FILE *md = fopen(path, "w");
    if (!md) {
      fprintf(stderr, "nde toy2d: cannot write %s\n", path);
      fail = 1;
    } else {
      fprintf(md, "# 2-D toy of the RMAN paper (Figures 1-2; docs/methods.md section 7)\n\n");
      fprintf(md,
              "Two interleaved half-moons (%d points, noise %.2g), 10 residual layers sharing F(x) "
              "= W1 relu(W2^T x) "
              "(W1, W2 in R^{2x16}, no bias), linear classifier on x_10; Adam lr %g, %d full-batch "
              "steps, seed %lu. "
              "RMAN: %d placement attractors, energy weight alpha = %g (constant; the paper's 1e-4 "
              "(1 + epoch) "
              "schedule is for CIFAR). Both runs start from the same weights.\n\n",
              o.n, o.noise, o.lr, o.steps, o.seed, o.h, o.alpha);
      for (int k = 0; k < 2; k++) write_run(md, &runs[k]);
      fprintf(
          md,
          "Pictures: states_<run>.png (states after each layer, classes orange/purple, placement "
          "attractors blue squares, last panel the flow map of F), flow_<run>.png (flow map with "
          "invariant "
          "rays; regions of attraction of g).\n");
      fail = fclose(md) != 0;
      printf("wrote %s\n", path);
    }
    for (int k = 0; k < 2 && o.formats; k++) {
      toy_fig f = {&o, &runs[k], label, runs[k].box};
      char base[4096];
      snprintf(base, sizeof base, "%s/states_%s", o.out, runs[k].name);
      fail |= plot_render(base, o.formats, 1400, 1050, 4, 3, draw_states, &f);
      snprintf(base, sizeof base, "%s/flow_%s", o.out, runs[k].name);
      fail |= plot_render(base, o.formats, 1300, 640, 2, 1, draw_flow, &f);
    }
  }
  for (int k = 0; k < 2; k++) run_free(&runs[k]);
  free(x);
  free(label);
  if (rc) return tool_fail("toy2d", rc);
  return fail;
}
