/* nde odespectrum CKPT [CKPT...]: the Jacobian spectrum of a trained
 * ODE-Net's function f(t, h) at the end of its ODE block, to ask whether
 * the learned dynamics are contractive there (issue 6; with and without
 * RMAN).
 *
 * For N test images (a seeded choice, the same for every checkpoint) the
 * tool runs the stem and the ODE block with the checkpoint's own solver (no
 * gradient) to h(T), then forms J = df/dh (T, h(T)) exactly by vjps
 * (nde_stab_net_jacobian: 2304 x 2304 for Fashion-MNIST) and reports its
 * spectral abscissa max Re lambda (the linearized flow dv/dt = J v decays iff
 * < 0), spectral radius, logarithmic norm mu_2 = lambda_max((J + J^T) / 2)
 * (< 0: contraction in the 2-norm, ||v(t)|| <= e^{mu_2 t} ||v(0)||), the
 * fraction of eigenvalues with negative real part, tr J / n (mean
 * eigenvalue, the divergence per dimension) and ||J||_F.
 *
 * The ODE function starts with GroupNorm (nets.h), so f(h) does not change
 * when a group's values are shifted (exactly) or scaled (up to the eps of
 * the normalization, relative O(eps / var)): J 1_g = 0 and J (h_g - mean_g)
 * ~ 0 for each of the G groups. Those 2G directions are neutral whatever was
 * learned: they force an eigenvalue 0 and v^T S v = 0, so neither the
 * abscissa nor mu_2 of the full J can be negative. The spectra are therefore
 * reported on the complement of those directions (nde_stab_jacobian_spectrum
 * with the 2G orthonormal null vectors built here; ||J N||_F / ||J||_F is
 * reported to show they are null), with mu_2 of the full space beside them.
 *
 * The model keeps its stem private; the stem and head-feature networks are
 * rebuilt here over the documented parameter layout [stem | odefunc | head
 * features | linear | attractors] (nde/models.h), and the head features of
 * the reconstructed h(T) are compared with the model's own forward pass on
 * the same batch, so a layout mismatch cannot pass silently. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/model_io.h"

enum { MAX_IMAGES = 128 };
/* |lambda| <= ZERO_RTOL ||J||_F counts as a zero eigenvalue. */
#define ZERO_RTOL 1e-6

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What one image gave. */
typedef struct img_result {
  int index, label, pred;
  double hnorm, fnorm; /* ||h(T)||_2, ||f(T, h(T))||_2 */
  nde_jac_summary s;
  double sec_jac, sec_eig;
} img_result;

/* What one checkpoint gave. */
typedef struct ckpt_result {
  const char *path;
  int attractors, dim;
  double T, nfe, feat_diff;
  char solver[64];
  img_result *img; /* n */
} ckpt_result;

static double l2d(const double *x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i] * x[i];
  return sqrt(s);
}

static double l2(const nde_real *x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
  return sqrt(s);
}

/* Orthonormal basis of the GroupNorm invariances at the state h (c x hw
 * values, `groups` groups of m = (c / groups) hw contiguous values): for
 * each group the constant vector 1_g / sqrt(m) and the centred state
 * (h_g - mean_g) / ||h_g - mean_g|| (orthogonal to it; left out for a
 * constant group). N is dim x 2 groups, row-major; returns k. */
static int groupnorm_null_space(const nde_real *h, size_t dim, int groups, double *N) {
  const size_t m = dim / (size_t)groups, kmax = 2 * (size_t)groups;
  memset(N, 0, dim * kmax * sizeof *N);
  int k = 0;
  for (int g = 0; g < groups; g++) {
    const nde_real *hg = h + (size_t)g * m;
    double mu = 0, ss = 0;
    for (size_t i = 0; i < m; i++) mu += hg[i];
    mu /= (double)m;
    for (size_t i = 0; i < m; i++) ss += ((double)hg[i] - mu) * ((double)hg[i] - mu);
    for (size_t i = 0; i < m; i++) N[((size_t)g * m + i) * kmax + (size_t)k] = 1 / sqrt((double)m);
    k++;
    if (ss > 0) {
      for (size_t i = 0; i < m; i++)
        N[((size_t)g * m + i) * kmax + (size_t)k] = ((double)hg[i] - mu) / sqrt(ss);
      k++;
    }
  }
  /* compact the columns to width k (row-major n x k) */
  for (size_t i = 0; i < dim; i++)
    for (int q = 0; q < k; q++) N[i * (size_t)k + (size_t)q] = N[i * kmax + (size_t)q];
  return k;
}

/* Stem and head-feature networks of an ODE-Net model, bound to its
 * parameter vector at the offsets of the documented layout. */
static int rebuild_nets(nde_model *m, int n, nde_net **stem, nde_net **headf) {
  const nde_model_options *o = nde_model_get_options(m);
  nde_net *f = nde_model_odefunc(m);
  int rc = nde_net_create_odenet_stem(o->in, o->width, o->groups, n, stem);
  if (!rc) rc = nde_net_create_odenet_head_features(nde_net_out_shape(*stem), o->groups, n, headf);
  if (rc) return rc;
  const size_t ns = nde_net_num_params(*stem), nf = nde_net_num_params(f),
               nh = nde_net_num_params(*headf);
  const size_t nlin = (size_t)o->width * o->nclasses + o->nclasses;
  const size_t natt = (size_t)o->attractors * o->width;
  if (ns + nf + nh + nlin + natt != nde_model_num_params(m) ||
      nde_net_out_numel(*stem) != nde_net_in_numel(f)) {
    fprintf(stderr,
            "nde odespectrum: the model's parameter layout (%zu values) is not stem %zu + odefunc "
            "%zu + head %zu + linear %zu + attractors %zu\n",
            nde_model_num_params(m), ns, nf, nh, nlin, natt);
    return NDE_ERR_STATE;
  }
  nde_real *p = nde_model_params(m), *g = nde_model_grads(m);
  nde_net_bind(*stem, p, g);
  nde_net_bind(*headf, p + ns + nf, g + ns + nf);
  return NDE_OK;
}

static int analyse(const char *path, const nde_dataset *test, const int *idx, int n, FILE *csv,
                   int ck, ckpt_result *cr) {
  nde_model *m = NULL;
  double *mean = NULL, *std = NULL; /* one value per input channel of the model */
  int rc = tool_model_from_ckpt(path, MAX_IMAGES, NULL, &m, &mean, &std);
  if (rc) return tool_fail("odespectrum", rc);
  const nde_model_options *o = nde_model_get_options(m);
  if (o->kind != NDE_MODEL_ODENET || !nde_model_odefunc(m)) {
    fprintf(stderr,
            "nde odespectrum: %s is a %s model; the ODE-function Jacobian needs an ODE-Net "
            "(odenet) checkpoint\n",
            path, nde_model_kind_name(o->kind));
    free(mean);
    free(std);
    nde_model_free(m);
    return 1;
  }
  nde_net *stem = NULL, *headf = NULL, *f = nde_model_odefunc(m);
  const size_t numel = nde_dataset_sample_numel(test);
  if (test->c != o->in.c || test->h != o->in.h || test->w != o->in.w) {
    fprintf(stderr, "nde odespectrum: %s expects %dx%dx%d images, the test set has %dx%dx%d\n",
            path, o->in.c, o->in.h, o->in.w, test->c, test->h, test->w);
    free(mean);
    free(std);
    nde_model_free(m);
    return 1;
  }
  const size_t dim = nde_net_in_numel(f);
  nde_real *x = malloc((size_t)n * numel * sizeof *x);
  int *labels = malloc((size_t)n * sizeof *labels);
  double *y0 = malloc((size_t)n * dim * sizeof *y0), *yT = malloc((size_t)n * dim * sizeof *yT);
  nde_real *hT = malloc((size_t)n * dim * sizeof *hT), *fv = malloc(dim * sizeof *fv);
  nde_real *feat = malloc((size_t)n * o->width * sizeof *feat);
  double *J = malloc(dim * dim * sizeof *J);
  double *Nb = malloc(dim * 2 * (size_t)o->groups * sizeof *Nb);
  double *re = malloc(dim * sizeof *re), *im = malloc(dim * sizeof *im),
         *sym = malloc(dim * sizeof *sym);
  cr->img = calloc((size_t)n, sizeof *cr->img);
  if (!x || !labels || !y0 || !yT || !hT || !fv || !feat || !J || !Nb || !re || !im || !sym ||
      !cr->img) {
    fprintf(stderr, "nde odespectrum: out of memory (n = %d, dimension %zu)\n", n, dim);
    rc = 1;
    goto done;
  }
  cr->path = path;
  cr->attractors = o->attractors;
  cr->dim = (int)dim;
  cr->T = o->ode.T;
  snprintf(cr->solver, sizeof cr->solver, "%s rtol %g atol %g", nde_ode_method_name(o->ode.method),
           o->ode.rtol, o->ode.atol);
  for (int i = 0; i < n; i++) {
    labels[i] = test->labels[idx[i]];
    if ((rc = nde_data_get(test, idx[i], mean, std, x + (size_t)i * numel))) break;
  }
  /* The model's own pass on the batch: predictions and the reference head
   * features. */
  nde_model_result res;
  if (!rc) rc = nde_model_set_training(m, 0);
  if (!rc) rc = nde_model_forward(m, n, x, labels, 0, 0, &res);
  if (rc) {
    rc = tool_fail("odespectrum", rc);
    goto done;
  }
  memcpy(feat, nde_model_features(m), (size_t)n * o->width * sizeof *feat);
  const nde_real *logits = nde_model_logits(m);
  for (int i = 0; i < n; i++) {
    int best = 0;
    for (int k = 1; k < o->nclasses; k++)
      if (logits[i * o->nclasses + k] > logits[i * o->nclasses + best]) best = k;
    cr->img[i].pred = best;
    cr->img[i].label = labels[i];
    cr->img[i].index = idx[i];
  }
  /* h(T) through the rebuilt stem and the model's solver (same batch, so the
   * same joint step sequence as the forward above). */
  if ((rc = rebuild_nets(m, n, &stem, &headf))) {
    rc = rc == NDE_ERR_STATE ? 1 : tool_fail("odespectrum", rc);
    goto done;
  }
  nde_ode *ode = nde_model_ode(m);
  nde_ode_stats st;
  rc = nde_net_forward(stem, 0, n, x, NULL);
  if (!rc) {
    const nde_real *h0 = nde_net_output(stem);
    for (size_t i = 0; i < (size_t)n * dim; i++) y0[i] = h0[i];
    rc = nde_ode_solve(ode, n, y0, yT);
  }
  if (!rc) rc = nde_ode_last_stats(ode, &st, NULL);
  if (!rc) {
    for (size_t i = 0; i < (size_t)n * dim; i++) hT[i] = (nde_real)yT[i];
    rc = nde_net_forward(headf, 0, n, hT, NULL);
  }
  if (rc) {
    rc = tool_fail("odespectrum", rc);
    goto done;
  }
  cr->nfe = (double)st.nfe;
  double dmax = 0, fmax_ = 0;
  const nde_real *fe = nde_net_output(headf);
  for (size_t i = 0; i < (size_t)n * o->width; i++) {
    dmax = fmax(dmax, fabs((double)fe[i] - (double)feat[i]));
    fmax_ = fmax(fmax_, fabs((double)feat[i]));
  }
  cr->feat_diff = dmax;
  if (dmax > 1e-4 * (1 + fmax_)) {
    fprintf(stderr,
            "nde odespectrum: %s: the rebuilt stem + ODE block + head give features %g away "
            "from the model's own (scale %g): layout mismatch\n",
            path, dmax, fmax_);
    rc = 1;
    goto done;
  }
  for (int i = 0; i < n; i++) {
    img_result *r = &cr->img[i];
    const nde_real *h = hT + (size_t)i * dim;
    double t0 = now_s();
    rc = nde_net_forward(f, cr->T, 1, h, fv);
    if (!rc) rc = nde_stab_net_jacobian(f, cr->T, h, J);
    double t1 = now_s();
    const int k = groupnorm_null_space(h, dim, o->groups, Nb);
    /* Numerically zero: well below the spectrum's scale, the float build's
     * J being exact to ~1e-7 ||J|| (zero_max and nonzero_min are reported to
     * show where the gap lies). */
    if (!rc)
      rc = nde_stab_jacobian_spectrum((int)dim, J, k, Nb, ZERO_RTOL * l2d(J, dim * dim), re, im,
                                      sym, &r->s);
    if (rc) {
      rc = tool_fail("odespectrum", rc);
      goto done;
    }
    r->sec_jac = t1 - t0;
    r->sec_eig = now_s() - t1;
    r->hnorm = l2(h, dim);
    r->fnorm = l2(fv, dim);
    fprintf(stderr,
            "nde odespectrum: %s image %d: max Re %.4g, rho %.4g, mu2 %.4g, mu2 full %.4g, "
            "null resid %.2g (J %.1f s, spectra %.1f s)\n",
            path, idx[i], r->s.abscissa, r->s.rho, r->s.mu2, r->s.mu2_full, r->s.null_resid,
            r->sec_jac, r->sec_eig);
    if (csv)
      for (int q = 0; q < r->s.n; q++)
        fprintf(csv, "%d,%d,%d,%d,%.9g,%.9g,%.9g\n", ck, o->attractors, idx[i], q, re[q], im[q],
                sym[q]);
  }
done:
  nde_net_free(stem);
  nde_net_free(headf);
  free(x);
  free(labels);
  free(y0);
  free(yT);
  free(hT);
  free(fv);
  free(feat);
  free(J);
  free(Nb);
  free(re);
  free(im);
  free(sym);
  nde_model_free(m);
  free(mean);
  free(std);
  return rc;
}

/* Mean and sample standard deviation of field `get` over the images. */
static void mean_sd(const img_result *r, int n, double (*get)(const img_result *), double *mu,
                    double *sd) {
  double s = 0, q = 0;
  for (int i = 0; i < n; i++) s += get(&r[i]);
  *mu = s / n;
  for (int i = 0; i < n; i++) q += (get(&r[i]) - *mu) * (get(&r[i]) - *mu);
  *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}
static double g_abs(const img_result *r) { return r->s.abscissa; }
static double g_rho(const img_result *r) { return r->s.rho; }
static double g_mu2(const img_result *r) { return r->s.mu2; }
static double g_mu2full(const img_result *r) { return r->s.mu2_full; }
static double g_mu2min(const img_result *r) { return r->s.mu2_min; }
static double g_zero(const img_result *r) { return r->s.nzero; }
static double g_neg(const img_result *r) { return r->s.frac_neg * r->s.n; }
static double g_pos(const img_result *r) { return r->s.frac_pos * r->s.n; }
/* Mean real part of the non-zero eigenvalues (the zeros add nothing to the
 * trace). */
static double g_mre(const img_result *r) {
  return r->s.n > r->s.nzero ? r->s.trace / (r->s.n - r->s.nzero) : 0;
}
static double g_fro(const img_result *r) { return r->s.fro; }
static double g_f(const img_result *r) { return r->fnorm; }
static double g_h(const img_result *r) { return r->hnorm; }

enum { NCOL = 12 };
static double (*const col_get[NCOL])(const img_result *) = {
    g_abs, g_rho, g_mu2, g_mu2full, g_mu2min, g_zero, g_neg, g_pos, g_mre, g_fro, g_f, g_h};
static const char *const col_fmt[NCOL] = {"%.4f", "%.4f", "%.4f", "%.4f", "%.3f", "%.0f",
                                          "%.0f", "%.0f", "%.5f", "%.2f", "%.2f", "%.2f"};
static const char *const col_head = "max Re | rho | mu2 | mu2 full | lmin(S) | zero | Re<0 | "
                                    "Re>=0 | mean Re | norm F | f norm | h norm |";

static void report(FILE *o, const ckpt_result *cr, int nck, int n, unsigned long seed) {
  double resid = 0, tj = 0, te = 0, fd = 0, zmax = 0, nzmin = INFINITY;
  for (int c = 0; c < nck; c++)
    for (int i = 0; i < n; i++) {
      fd = fmax(fd, cr[c].feat_diff);
      zmax = fmax(zmax, cr[c].img[i].s.zero_max);
      nzmin = fmin(nzmin, cr[c].img[i].s.nonzero_min);
      resid = fmax(resid, cr[c].img[i].s.null_resid);
      tj += cr[c].img[i].sec_jac;
      te += cr[c].img[i].sec_eig;
    }
  fprintf(o, "## ODE-function Jacobian spectrum at h(T)\n\n");
  fprintf(o,
          "J = df/dh (T, h(T)), %d x %d, exact by vjps; %d test images (seed %lu), the same for "
          "every checkpoint; nde_real = %s.\n\n",
          cr[0].dim, cr[0].dim, n, seed, NDE_REAL_IS_DOUBLE ? "double" : "float");
  fprintf(o,
          "The ODE function starts with GroupNorm, so J is null on the %d directions of "
          "per-group shifts and scalings of h (max ||J N||_F / ||J||_F here: %.2g): they give %d "
          "eigenvalues 0 and force max Re >= 0 and mu2 >= 0 on the full space. The columns below "
          "are on the complement of those directions (n = %d), except `mu2 full`. Any other "
          "kernel vector v of J (ReLUs that are off) also has v^T J v = 0, so mu2 >= 0 whenever "
          "the `zero` column is not 0: a negative mu2 is then impossible, and its size (how fast "
          "the most expanding direction grows) is what can be compared.\n\n",
          cr[0].dim - cr[0].img[0].s.n, resid, cr[0].dim - cr[0].img[0].s.n, cr[0].img[0].s.n);
  fprintf(o, "- max Re: spectral abscissa (< 0: the linearized flow dv/dt = J v decays)\n"
             "- rho: spectral radius\n"
             "- mu2: lambda_max((J + J^T)/2), the log-norm (< 0: contraction in the 2-norm)\n"
             "- mu2 full: the same on all of R^n\n"
             "- lmin(S): lambda_min((J + J^T)/2)\n"
             "- zero, Re<0, Re>=0: eigenvalue counts: |lambda| <= 1e-6 ||J||_F, and the others "
             "by the sign of the real part\n"
             "- mean Re: mean real part of the non-zero eigenvalues\n"
             "- norm F: ||J||_F; f norm: ||f(T, h(T))||_2; h norm: ||h(T)||_2\n\n");
  fprintf(o, "### Mean (sample sd) over the images\n\n");
  fprintf(o, "| checkpoint | h | solver | NFE | errors | %s\n", col_head);
  fprintf(o, "|---|---|---|---|---|");
  for (int k = 0; k < NCOL; k++) fprintf(o, "---|");
  fputc('\n', o);
  for (int c = 0; c < nck; c++) {
    int nerr = 0;
    for (int i = 0; i < n; i++) nerr += cr[c].img[i].pred != cr[c].img[i].label;
    fprintf(o, "| %s | %d | %s | %.0f | %d/%d |", cr[c].path, cr[c].attractors, cr[c].solver,
            cr[c].nfe, nerr, n);
    for (int k = 0; k < NCOL; k++) {
      double mu, sd;
      mean_sd(cr[c].img, n, col_get[k], &mu, &sd);
      fputc(' ', o);
      fprintf(o, col_fmt[k], mu);
      fputs(" (", o);
      fprintf(o, col_fmt[k], sd);
      fputs(") |", o);
    }
    fputc('\n', o);
  }
  fprintf(o, "\n### Per image\n\n| h | image | label | pred | %s\n|---|---|---|---|", col_head);
  for (int k = 0; k < NCOL; k++) fprintf(o, "---|");
  fputc('\n', o);
  for (int c = 0; c < nck; c++)
    for (int i = 0; i < n; i++) {
      const img_result *r = &cr[c].img[i];
      fprintf(o, "| %d | %d | %d | %d |", cr[c].attractors, r->index, r->label, r->pred);
      for (int k = 0; k < NCOL; k++) {
        fputc(' ', o);
        fprintf(o, col_fmt[k], col_get[k](r));
        fputs(" |", o);
      }
      fputc('\n', o);
    }
  fprintf(o,
          "\nZero eigenvalues: the largest |lambda| counted as zero is %.3g, the smallest one "
          "not counted %.3g (over all images). Time per image: Jacobian %.2f s, spectra "
          "(nonsymm + 2 symm) %.1f s. Rebuilt stem and ODE block vs the model's own forward: "
          "max |feature difference| %.3g.\n",
          zmax, nzmin, tj / (n * nck), te / (n * nck), fd);
}

int nde_cmd_odespectrum(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "odespectrum", argc, argv)) return 2;
  if (args_flag(&a, "help") || a.npositional < 1) {
    fprintf(a.npositional >= 1 ? stdout : stderr,
            "usage: nde odespectrum CKPT [CKPT...] [--images N] [--seed S] [--data DIR] "
            "[--out FILE.md] [--csv PREFIX]\n"
            "  Jacobian spectrum of an ODE-Net's ODE function at h(T) for N test images "
            "(default 8,\n  the same seeded choice for every checkpoint); --csv writes "
            "PREFIX-eigenvalues.csv\n  (checkpoint,attractors,image,k,re,im,sym: eigenvalues "
            "by decreasing real part,\n  symmetric-part eigenvalues decreasing).\n");
    int r = a.npositional >= 1 ? 0 : 2;
    args_free(&a);
    return r;
  }
  int bad = 0;
  const char *data = args_str(&a, "data", NULL), *out = args_str(&a, "out", NULL),
             *csvp = args_str(&a, "csv", NULL);
  long n = args_long(&a, "images", 8, &bad);
  long seed = args_long(&a, "seed", 1, &bad);
  if (!bad && (n < 1 || n > MAX_IMAGES)) {
    fprintf(stderr, "nde odespectrum: --images must be in [1, %d], got %ld\n", MAX_IMAGES, n);
    bad = 1;
  }
  if (bad || args_finish(&a)) {
    args_free(&a);
    return 2;
  }
  const int nck = a.npositional;
  const char *paths[8];
  for (int c = 0; c < nck; c++) paths[c] = a.positional[c];
  args_free(&a);

  nde_dataset *test = NULL;
  int rc = nde_data_load_fashion_mnist(data, 0, &test);
  if (rc) return tool_fail("odespectrum", rc);
  int *perm = malloc((size_t)test->n * sizeof *perm);
  ckpt_result cr[8];
  memset(cr, 0, sizeof cr);
  FILE *csv = NULL;
  int status = 0;
  if (!perm) {
    fprintf(stderr, "nde odespectrum: out of memory\n");
    status = 1;
    goto done;
  }
  if (n > test->n) n = test->n;
  nde_rng rng;
  nde_rng_seed(&rng, (uint64_t)seed);
  nde_data_permutation(perm, test->n, &rng);
  if (csvp) {
    char name[4096];
    snprintf(name, sizeof name, "%s-eigenvalues.csv", csvp);
    if (!(csv = fopen(name, "w"))) {
      fprintf(stderr, "nde odespectrum: cannot write %s\n", name);
      status = 1;
      goto done;
    }
    fprintf(csv, "checkpoint,attractors,image,k,re,im,sym\n");
  }
  for (int c = 0; c < nck && !status; c++)
    status = analyse(paths[c], test, perm, (int)n, csv, c, &cr[c]);
  if (csv && fclose(csv)) {
    fprintf(stderr, "nde odespectrum: error writing the CSV file\n");
    status = 1;
  }
  csv = NULL;
  if (!status) {
    report(stdout, cr, nck, (int)n, (unsigned long)seed);
    if (out) {
      FILE *fo = fopen(out, "w");
      if (!fo) {
        fprintf(stderr, "nde odespectrum: cannot write %s\n", out);
        status = 1;
      } else {
        report(fo, cr, nck, (int)n, (unsigned long)seed);
        if (fclose(fo)) {
          fprintf(stderr, "nde odespectrum: error writing %s\n", out);
          status = 1;
        }
      }
    }
  }
done:
  if (csv) fclose(csv);
  for (int c = 0; c < nck; c++) free(cr[c].img);
  free(perm);
  nde_dataset_free(test);
  return status;
}
