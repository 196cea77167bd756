/* nde chnode: the noise-robustness experiment of contractive Hamiltonian
 * neural ODEs (Zakwan, Xu, Ferrari-Trecate 2022; docs/methods.md section 5) on
 * Fashion-MNIST.
 *
 * Models: conv3x3(1 -> 8, pad 1) -> Hamiltonian block on each pixel's
 * 8-vector (N = 8 layers) -> Linear(6272 -> 10), with the block one of
 *   r1         residual baseline, forward Euler
 *   h1-j1      H-DNN H1 with J1, forward Euler
 *   h1-j2      H-DNN H1 with J2, forward Euler
 *   chnode     CH-NODE, forward Euler (the reference code's network)
 *   chnode-ode CH-NODE integrated by an adaptive nde solver with its adjoint
 * trained with Adam (lr 0.04, coupled weight decay), the rate times 0.8
 * after every epoch, batch 100, K and b ~ N(0, 1), and the smoothness
 * penalty on consecutive layers. Per-model h, weight decay and smoothness
 * weight default to the reference's Train_MNIST.py (see model_table).
 * Then test accuracy clean and under Gaussian noise (variance 0.05, 0.2,
 * clipped) and salt-and-pepper noise (amount 0.05, 0.2) on the normalized
 * images, `draws` draws each (mean and spread), and the gradient picture
 * ||dy_N / dy_{N-l}|| against l.
 *
 * Files under --out: chnode-fashion-mnist.md (or chnode-fashion-mnist-quick.md
 * with --quick), chnode-grads[-quick].csv, and chnode[-quick]/<model>/epochs.csv. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/plot.h"
#include "tools/train_job.h"

enum { NOISES = 4, MAX_DRAWS = 100, NMODELS = 5 };

typedef struct model_row {
  const char *name;
  int kind, continuous;
  double h, wd, smooth; /* reference Train_MNIST.py values */
} model_row;

/* smooth = (N - 1) alpha h: the reference adds its regularization inside a
 * loop over the N - 1 layer pairs, each call summing all pairs. */
static const model_row model_table[NMODELS] = {
    {"r1", NDE_HAM_R1, 0, 0.5, 2e-4, 7 * 1e-3 * 0.5},
    {"h1-j1", NDE_HAM_H1_J1, 0, 0.5, 4e-3, 7 * 8e-3 * 0.5},
    {"h1-j2", NDE_HAM_H1_J2, 0, 0.05, 2e-4, 7 * 1e-3 * 0.05},
    {"chnode", NDE_HAM_CHNODE, 0, 0.5, 2e-4, 7 * 1e-3 * 0.5},
    {"chnode-ode", NDE_HAM_CHNODE, 1, 0.5, 2e-4, 7 * 1e-3 * 0.5}};

static const char *noise_name[NOISES] = {"Gaussian var 0.05", "Gaussian var 0.2",
                                         "salt & pepper 0.05", "salt & pepper 0.2"};
static const double noise_level[NOISES] = {0.05, 0.2, 0.05, 0.2};

typedef struct run_opts {
  int epochs, subset, test_subset, ode_subset, ode_test_subset, batch, draws, grad_images;
  double lr, decay, h, wd, smooth, lo, hi;
  double ode_kappa, ode_init_k; /* chnode-ode's kappa and K init scale */
  long seed;
  nde_ode_options ode;
  const char *out;
  int quick;
} run_opts;

typedef struct result {
  const model_row *m;
  double h, wd, smooth;
  size_t params;
  int trained, tested;
  double clean_acc, noise_mean[NOISES], noise_sd[NOISES];
  double gamma, rho, c2, sec_epoch, final_loss, nfe_f, nfe_b;
  double bsm_mean[64], bsm_min[64], bsm_max[64];
  int nl;
} result;

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: nde chnode [--quick] [--out results] [--models r1,h1-j1,h1-j2,chnode,chnode-ode]\n"
      "                  [--epochs 10] [--subset N] [--test-subset N] [--ode-subset N]\n"
      "                  [--ode-test-subset N] [--batch 100] [--lr 0.04] [--decay 0.8]\n"
      "                  [--draws 10] [--h H] [--wd WD] [--smooth S] [--noise-range "
      "image|skimage]\n"
      "                  [--solver adams] [--adjoint checkpoint] [--rtol 1e-3] [--atol 1e-3]\n"
      "                  [--ode-kappa 0.1] [--ode-init-k 0.3536] [--grad-images 2] [--data DIR]\n"
      "                  [--seed 1]\n"
      "Trains the five models of the CH-NODE experiment on Fashion-MNIST and reports clean\n"
      "and noisy test accuracy (mean and spread over --draws draws) and backward sensitivity\n"
      "norms. --h, --wd, --smooth override the per-model reference values for every model.\n"
      "--noise-range image clips noisy values to the normalized image range (default);\n"
      "skimage clips to [-1, 1] as skimage's random_noise does on the reference's inputs.\n"
      "chnode-ode starts from K ~ N(0, ode-init-k^2) with kappa = ode-kappa: with the\n"
      "reference's K ~ N(0, 1), kappa = 0.02 (gamma ~ 150) its flow is so stiff that an\n"
      "explicit or Adams solve costs ~35,000 right-hand sides per forward.\n"
      "--quick: 1 epoch on 2000 training images and 500 test images (chnode-ode: 100 and\n"
      "20), a few minutes on 2 cores; writes the -quick files.\n");
}

/* Parse "a,b,c" model names into flags. */
static int parse_models(const char *s, int *use) {
  for (int i = 0; i < NMODELS; i++) use[i] = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    int found = 0;
    for (int i = 0; i < NMODELS; i++)
      if (!strcmp(tok, model_table[i].name)) use[i] = found = 1;
    if (!found) {
      fprintf(stderr, "nde chnode: unknown model '%s' (r1, h1-j1, h1-j2, chnode, chnode-ode)\n",
              tok);
      return 2;
    }
  }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int make_clf(const model_row *m, const run_opts *ro, double h, double smooth,
                    nde_ham_clf **out) {
  nde_ham_clf_options o = nde_ham_clf_options_default(m->kind);
  o.ham.h = h;
  o.smooth = smooth;
  o.max_batch = ro->batch;
  o.continuous = m->continuous;
  o.ode = ro->ode;
  if (m->continuous) {
    o.ham.kappa = ro->ode_kappa;
    o.init_k = ro->ode_init_k;
  }
  return nde_ham_clf_create(&o, out);
}

/* Accuracy (fraction) on the test iterator: clean, and for each noise
 * setting and draw. rngs[s][d] carry on across batches. */
static int evaluate(nde_ham_clf *clf, nde_batch_iter *it, const run_opts *ro, result *r,
                    nde_real *xbuf, size_t numel) {
  nde_rng rngs[NOISES][MAX_DRAWS];
  for (int s = 0; s < NOISES; s++)
    for (int d = 0; d < ro->draws; d++) nde_rng_seed(&rngs[s][d], 1000003u * (s + 1) + d);
  long correct = 0, total = 0, nc[NOISES][MAX_DRAWS];
  memset(nc, 0, sizeof nc);
  int rc = nde_batch_iter_start(it);
  nde_batch b;
  int nb = 0, batches = nde_batch_iter_batches(it);
  while (!rc && !(rc = nde_batch_iter_next(it, &b)) && b.n > 0) {
    nde_ham_clf_result res;
    if ((rc = nde_ham_clf_forward(clf, b.n, b.x, b.labels, 0, &res))) break;
    correct += b.n - res.nerr;
    total += b.n;
    for (int s = 0; s < NOISES && !rc; s++)
      for (int d = 0; d < ro->draws && !rc; d++) {
        size_t len = (size_t)b.n * numel;
        memcpy(xbuf, b.x, len * sizeof *xbuf);
        rc = s < 2 ? nde_ham_noise_gaussian(xbuf, len, noise_level[s], ro->lo, ro->hi, &rngs[s][d])
                   : nde_ham_noise_salt_pepper(xbuf, len, noise_level[s], ro->lo, ro->hi,
                                               &rngs[s][d]);
        if (!rc) rc = nde_ham_clf_forward(clf, b.n, xbuf, b.labels, 0, &res);
        if (!rc) nc[s][d] += b.n - res.nerr;
      }
    nde_progress(stderr, "  %s: evaluating, batch %d/%d", r->m->name, ++nb, batches);
  }
  nde_progress_done(stderr);
  if (rc) return rc;
  r->clean_acc = (double)correct / total;
  for (int s = 0; s < NOISES; s++) {
    double m = 0, v = 0;
    for (int d = 0; d < ro->draws; d++) m += (double)nc[s][d] / total / ro->draws;
    for (int d = 0; d < ro->draws; d++) {
      double a = (double)nc[s][d] / total - m;
      v += a * a;
    }
    r->noise_mean[s] = m;
    r->noise_sd[s] = ro->draws > 1 ? sqrt(v / (ro->draws - 1)) : 0;
  }
  r->tested = 1;
  return NDE_OK;
}

/* Backward sensitivity norms over the pixels of the first grad_images test
 * images (their block inputs). */
static int gradient_picture(nde_ham_clf *clf, nde_batch_iter *it, const run_opts *ro, result *r) {
  int rc = nde_batch_iter_start(it);
  nde_batch b;
  if (!rc) rc = nde_batch_iter_next(it, &b);
  if (rc) return rc;
  int n = ro->grad_images < b.n ? ro->grad_images : b.n;
  if ((rc = nde_ham_clf_forward(clf, n, b.x, NULL, 0, NULL))) return rc;
  nde_ham *ham = nde_ham_clf_ham(clf);
  const nde_ham_options *ho = nde_ham_get_options(ham);
  nde_shape in = nde_ham_clf_get_options(clf)->in;
  int ns = n * in.h * in.w, nf = ho->nf, N = ho->nlayers;
  double *y0 = malloc((size_t)ns * nf * sizeof *y0);
  double *phi = malloc((size_t)N * ns * nf * nf * sizeof *phi);
  if (!y0 || !phi) {
    free(y0);
    free(phi);
    return NDE_ERR_NOMEM;
  }
  memcpy(y0, nde_ham_clf_block_input(clf), (size_t)ns * nf * sizeof *y0);
  if (nde_ham_clf_ode(clf))
    rc = nde_ham_ode_layer_jacobians(nde_ham_clf_ode(clf), ns, y0, phi);
  else
    rc = nde_ham_step_jacobians(ham, ns, y0, phi);
  if (!rc) rc = nde_ham_bsm_norms(N, ns, nf, phi, r->bsm_mean, r->bsm_min, r->bsm_max);
  r->nl = N;
  free(y0);
  free(phi);
  return rc;
}

static int run_model(const model_row *m, const run_opts *ro, const nde_dataset *train,
                     const nde_dataset *test, const double *mean, const double *std, result *r) {
  memset(r, 0, sizeof *r);
  r->m = m;
  r->h = ro->h > 0 ? ro->h : m->h;
  r->wd = ro->wd >= 0 ? ro->wd : m->wd;
  r->smooth = ro->smooth >= 0 ? ro->smooth : m->smooth;
  nde_ham_clf *clf = NULL;
  nde_optim *opt = NULL;
  nde_batch_iter *tr = NULL, *te = NULL;
  nde_csv *csv = NULL;
  nde_real *xbuf = NULL;
  int rc = make_clf(m, ro, r->h, r->smooth, &clf);
  if (rc) goto done;
  r->params = nde_ham_clf_num_params(clf);
  nde_rng rng;
  nde_rng_seed(&rng, (uint64_t)ro->seed);
  if ((rc = nde_ham_clf_init(clf, &rng))) goto done;
  nde_optim_options oo = nde_optim_options_default(NDE_OPTIM_ADAM);
  oo.weight_decay = r->wd;
  if ((rc = nde_optim_create(NDE_OPTIM_ADAM, r->params, &oo, &opt))) goto done;
  nde_schedule sched;
  if ((rc = nde_schedule_step(&sched, ro->lr, 1, ro->decay))) goto done;
  nde_batch_options bo = nde_batch_options_default();
  bo.batch_size = ro->batch;
  bo.mean = mean;
  bo.std = std;
  bo.seed = (uint64_t)ro->seed;
  bo.subset = m->continuous ? ro->ode_subset : ro->subset;
  if ((rc = nde_batch_iter_create(train, &bo, &tr))) goto done;
  bo.shuffle = 0;
  bo.subset = m->continuous ? ro->ode_test_subset : ro->test_subset;
  if ((rc = nde_batch_iter_create(test, &bo, &te))) goto done;
  size_t numel = nde_dataset_sample_numel(test);
  xbuf = malloc((size_t)ro->batch * numel * sizeof *xbuf);
  if (!xbuf) {
    rc = NDE_ERR_NOMEM;
    goto done;
  }
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/chnode%s/%s", ro->out, ro->quick ? "-quick" : "", m->name);
  if (tool_mkdirs(dir)) {
    rc = NDE_ERR_IO;
    goto done;
  }
  snprintf(path, sizeof path, "%s/epochs.csv", dir);
  const char *cols[] = {"epoch", "lr", "train_loss", "train_err", "gamma",
                        "rho",   "c2", "nfe_f",      "nfe_b",     "seconds"};
  if ((rc = nde_csv_create(path, cols, 10, &csv))) goto done;
  double tsum = 0;
  for (int e = 0; e < ro->epochs; e++) {
    double lr = nde_lr_at(&sched, e), t0 = now_s(), loss = 0, nfef = 0, nfeb = 0;
    long err = 0, seen = 0;
    int nb = 0, batches = nde_batch_iter_batches(tr);
    nde_ham_clf_result res;
    memset(&res, 0, sizeof res);
    if ((rc = nde_batch_iter_start(tr))) goto done;
    nde_batch b;
    while (!(rc = nde_batch_iter_next(tr, &b)) && b.n > 0) {
      nde_ode_stats bw;
      if ((rc = nde_ham_clf_forward(clf, b.n, b.x, b.labels, 1, &res))) goto done;
      if ((rc = nde_ham_clf_backward(clf, &bw))) goto done;
      if ((rc = nde_optim_step(opt, nde_ham_clf_params(clf), nde_ham_clf_grads(clf), lr)))
        goto done;
      loss += res.loss * b.n;
      err += res.nerr;
      seen += b.n;
      nfef += res.fwd.nfe;
      nfeb += bw.nfe + bw.nfe_quad;
      nb++;
      nde_progress(stderr, "  %s: epoch %d/%d batch %d/%d loss %.4f gamma %.4g", m->name, e + 1,
                   ro->epochs, nb, batches, res.loss, res.con.gamma);
    }
    if (rc) goto done;
    nde_progress_done(stderr);
    double sec = now_s() - t0;
    tsum += sec;
    r->final_loss = loss / seen;
    r->gamma = res.con.gamma;
    r->rho = res.con.rho;
    r->c2 = res.con.c2;
    r->nfe_f = nb ? nfef / nb : 0;
    r->nfe_b = nb ? nfeb / nb : 0;
    double row[10] = {e,           lr,         loss / seen, (double)err / seen, res.con.gamma,
                      res.con.rho, res.con.c2, r->nfe_f,    r->nfe_b,           sec};
    if ((rc = nde_csv_row(csv, row, 10))) goto done;
    fprintf(stderr, "  %s: epoch %d: loss %.4f train err %.2f%% gamma %.4g rho %.3g (%.1f s)\n",
            m->name, e + 1, loss / seen, 100.0 * err / seen, res.con.gamma, res.con.rho, sec);
  }
  r->trained = 1;
  r->sec_epoch = ro->epochs ? tsum / ro->epochs : 0;
  /* gamma and the contraction constants of the final parameters. */
  nde_ham_contraction con;
  if ((rc = nde_ham_update_gamma(nde_ham_clf_ham(clf), &con))) goto done;
  r->gamma = con.gamma;
  r->rho = con.rho;
  r->c2 = con.c2;
  if ((rc = evaluate(clf, te, ro, r, xbuf, numel))) goto done;
  rc = gradient_picture(clf, te, ro, r);
done:
  if (rc) fprintf(stderr, "nde chnode: model %s: %s\n", m->name, nde_last_error());
  free(xbuf);
  nde_csv_free(csv);
  nde_batch_iter_free(tr);
  nde_batch_iter_free(te);
  nde_optim_free(opt);
  nde_ham_clf_free(clf);
  return rc;
}

/* The gradient picture: log10 of the mean ||dy_N / dy_{N-l}|| against l,
 * one line per model (the norms span many decades: the discrete CH-NODE's
 * explode, the continuous one's shrink). */
typedef struct grad_plot {
  const result *res;
  int nres;
} grad_plot;

static void draw_grads(void *ctx) {
  const grad_plot *g = ctx;
  double lo = 0, hi = 0;
  int nl = 1;
  for (int i = 0; i < g->nres; i++)
    for (int l = 0; l < g->res[i].nl; l++) {
      double v = log10(g->res[i].bsm_mean[l]);
      lo = fmin(lo, v);
      hi = fmax(hi, v);
      nl = g->res[i].nl > nl ? g->res[i].nl : nl;
    }
  double pad = 0.08 * (hi - lo + 1e-9);
  plot_panel(0.5, nl + 0.5, lo - pad, hi + 3 * pad, 0, "l (layers back from the output)",
             "log10 mean ||dy#dN#u / dy#dN-l#u||",
             "Backward sensitivity of the Hamiltonian blocks");
  double one[2] = {0, 0}, xs[2] = {0.5, nl + 0.5};
  plot_line(2, xs, one, PLOT_LIGHTGREY, 1.0);
  for (int i = 0, k = 0; i < g->nres; i++) {
    const result *r = &g->res[i];
    if (!r->nl) continue;
    double x[64], y[64];
    for (int l = 0; l < r->nl; l++) {
      x[l] = l + 1;
      y[l] = log10(r->bsm_mean[l]);
    }
    int color = PLOT_RED + k;
    plot_line(r->nl, x, y, color, 2.0);
    plot_points(r->nl, x, y, color, PLOT_DISC, 1.0);
    plot_text(0.7, hi + 2.5 * pad - k * 0.07 * (hi - lo + 1e-9), r->m->name, color, 0, 0.9);
    k++;
  }
}

static int write_outputs(const run_opts *ro, const result *res, int nres, const char *cmdline,
                         const char *date, const char *noise_range) {
  char path[4200];
  const char *q = ro->quick ? "-quick" : "";
  snprintf(path, sizeof path, "%s/chnode-grads%s.csv", ro->out, q);
  const char *cols[] = {"model", "l", "mean", "min", "max"};
  nde_csv *csv;
  int rc = nde_csv_create(path, cols, 5, &csv);
  if (rc) return rc;
  for (int i = 0; i < nres && !rc; i++)
    for (int l = 0; l < res[i].nl && !rc; l++) {
      if (!rc) rc = nde_csv_put_str(csv, res[i].m->name);
      if (!rc) rc = nde_csv_put_int(csv, l + 1);
      if (!rc) rc = nde_csv_put_double(csv, res[i].bsm_mean[l]);
      if (!rc) rc = nde_csv_put_double(csv, res[i].bsm_min[l]);
      if (!rc) rc = nde_csv_put_double(csv, res[i].bsm_max[l]);
      if (!rc) rc = nde_csv_end_row(csv);
    }
  nde_csv_free(csv);
  if (rc) return rc;
  int pictures = 0;
  if (plot_available()) {
    grad_plot gp = {res, nres};
    snprintf(path, sizeof path, "%s/chnode-grads%s", ro->out, q);
    pictures = !plot_render(path, PLOT_PNG | PLOT_SVG, 900, 600, 1, 1, draw_grads, &gp);
  }
  snprintf(path, sizeof path, "%s/chnode-fashion-mnist%s.md", ro->out, q);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "nde chnode: cannot write %s\n", path);
    return NDE_ERR_IO;
  }
  char mach[400];
  tool_machine_line(mach, sizeof mach);
  fprintf(f, "# CH-NODE noise robustness on Fashion-MNIST (nde %s)%s\n\n", nde_version(),
          ro->quick ? ", quick run" : "");
  fprintf(f, "Command: `nde chnode %s`  \nRun: %s; machine: %s; nde_real: %s.\n\n", cmdline, date,
          mach, NDE_REAL_IS_DOUBLE ? "double" : "float");
  fprintf(f,
          "Setting: conv3x3(1 -> 8, pad 1) -> Hamiltonian block on each pixel's 8-vector "
          "(N = 8 layers, K_j, b_j ~ N(0, 1), kappa = 0.02) -> Linear(6272 -> 10); Adam lr %g "
          "(x %g per epoch), coupled weight decay, batch %d, %d epoch(s); training images: %s "
          "(chnode-ode: %s); test images: %s (chnode-ode: %s); seed %ld. Noise on the "
          "normalized images, clipped to %s; %d draws per setting (mean +- sample standard "
          "deviation). chnode-ode: %s, adjoint %s, rtol %g, atol %g, one solve per layer "
          "over [j h, (j+1) h], K_j ~ N(0, %.4g^2) at init and kappa = %g (the reference's "
          "initialization makes its flow too stiff for CPU solves: gamma c2 ~ 5000).\n\n",
          ro->lr, ro->decay, ro->batch, ro->epochs, ro->subset ? "a seeded subset" : "all 60000",
          ro->ode_subset ? "a seeded subset" : "all",
          ro->test_subset ? "the first subset" : "all 10000",
          ro->ode_test_subset ? "the first subset" : "all", ro->seed, noise_range, ro->draws,
          nde_ode_method_name(ro->ode.method), nde_adjoint_kind_name(ro->ode.adjoint), ro->ode.rtol,
          ro->ode.atol, ro->ode_init_k, ro->ode_kappa);
  if (ro->subset || ro->test_subset || ro->ode_subset || ro->ode_test_subset)
    fprintf(f, "Subset sizes: train %d, test %d; chnode-ode train %d, test %d (0 = all).\n\n",
            ro->subset, ro->test_subset, ro->ode_subset, ro->ode_test_subset);
  fprintf(f, "| model | h | weight decay | smoothness | clean %% |");
  for (int s = 0; s < NOISES; s++) fprintf(f, " %s %% |", noise_name[s]);
  fprintf(f, " gamma | rho | c2 | NFE-F / NFE-B | s/epoch |\n|---|---|---|---|---|");
  for (int s = 0; s < NOISES; s++) fprintf(f, "---|");
  fprintf(f, "---|---|---|---|---|\n");
  for (int i = 0; i < nres; i++) {
    const result *r = &res[i];
    if (!r->trained) {
      fprintf(f, "| %s | failed (see the log) |\n", r->m->name);
      continue;
    }
    fprintf(f, "| %s | %g | %g | %g | %.2f |", r->m->name, r->h, r->wd, r->smooth,
            100 * r->clean_acc);
    for (int s = 0; s < NOISES; s++)
      fprintf(f, " %.2f +- %.2f |", 100 * r->noise_mean[s], 100 * r->noise_sd[s]);
    if (r->m->kind == NDE_HAM_CHNODE)
      fprintf(f, " %.4g | %.3g | %.4g |", r->gamma, r->rho, r->c2);
    else
      fprintf(f, " - | - | %.4g |", r->c2);
    if (r->m->continuous)
      fprintf(f, " %.0f / %.0f |", r->nfe_f, r->nfe_b);
    else
      fprintf(f, " - |");
    fprintf(f, " %.1f |\n", r->sec_epoch);
  }
  fprintf(f,
          "\nBackward sensitivity ||dy_N / dy_{N-l}||_2 (mean over the pixels of %d test "
          "image(s); min and max in chnode-grads%s.csv%s%s%s):\n\n| model |",
          ro->grad_images, q, pictures ? ", plotted in chnode-grads" : "", pictures ? q : "",
          pictures ? ".png / .svg" : "");
  int nl = 0;
  for (int i = 0; i < nres; i++) nl = res[i].nl > nl ? res[i].nl : nl;
  for (int l = 1; l <= nl; l++) fprintf(f, " l = %d |", l);
  fprintf(f, "\n|---|");
  for (int l = 1; l <= nl; l++) fprintf(f, "---|");
  fprintf(f, "\n");
  for (int i = 0; i < nres; i++) {
    if (!res[i].nl) continue;
    fprintf(f, "| %s |", res[i].m->name);
    for (int l = 0; l < res[i].nl; l++) fprintf(f, " %.3g |", res[i].bsm_mean[l]);
    fprintf(f, "\n");
  }
  fprintf(f, "\nNotes. gamma is the reference's 1/sqrt(1 - alpha^2 - 1e-6), recomputed from the "
             "parameters before every forward (after every optimizer step) without gradient; rho "
             "is the certified contraction rate of the continuous flow, c2 = max_j "
             "lambda_max(K_j^T K_j) + kappa^2. The forward-Euler networks (chnode included) "
             "contract only for h <= 2 rho / ((1 + gamma^2) c2^2), far below h = 0.5, so only "
             "chnode-ode carries the contraction guarantee. The reference's first batch runs with "
             "gamma = 0 (its update follows the first step); here gamma is set from the initial "
             "parameters. The features enter the linear layer pixel-major (a fixed permutation of "
             "PyTorch's channel-major flatten).\n");
  fclose(f);
  printf("wrote %s and %s/chnode-grads%s.csv\n", path, ro->out, q);
  return NDE_OK;
}

int nde_cmd_chnode(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "chnode", argc, argv)) return 2;
  if (args_flag(&a, "help")) {
    usage(stdout);
    args_free(&a);
    return 0;
  }
  run_opts ro;
  memset(&ro, 0, sizeof ro);
  int bad = 0;
  ro.quick = args_flag(&a, "quick");
  ro.out = args_str(&a, "out", "results");
  const char *models = args_str(&a, "models", "r1,h1-j1,h1-j2,chnode,chnode-ode");
  ro.epochs = args_int(&a, "epochs", ro.quick ? 1 : 10, &bad);
  ro.subset = args_int(&a, "subset", ro.quick ? 2000 : 0, &bad);
  ro.test_subset = args_int(&a, "test-subset", ro.quick ? 500 : 0, &bad);
  ro.ode_subset = args_int(&a, "ode-subset", ro.quick ? 100 : ro.subset, &bad);
  ro.ode_test_subset = args_int(&a, "ode-test-subset", ro.quick ? 20 : ro.test_subset, &bad);
  ro.ode_kappa = args_double(&a, "ode-kappa", 0.1, &bad);
  ro.ode_init_k = args_double(&a, "ode-init-k", 1 / sqrt(8.0), &bad);
  ro.batch = args_int(&a, "batch", 100, &bad);
  ro.lr = args_double(&a, "lr", 0.04, &bad);
  ro.decay = args_double(&a, "decay", 0.8, &bad);
  ro.draws = args_int(&a, "draws", 10, &bad);
  ro.h = args_double(&a, "h", -1, &bad);
  ro.wd = args_double(&a, "wd", -1, &bad);
  ro.smooth = args_double(&a, "smooth", -1, &bad);
  ro.grad_images = args_int(&a, "grad-images", 2, &bad);
  ro.seed = args_long(&a, "seed", 1, &bad);
  const char *range = args_str(&a, "noise-range", "image");
  const char *data = args_str(&a, "data", NULL);
  ro.ode = nde_ode_options_default();
  const char *solver = args_str(&a, "solver", "adams");
  const char *adjoint = args_str(&a, "adjoint", "checkpoint");
  ro.ode.rtol = args_double(&a, "rtol", 1e-3, &bad);
  ro.ode.atol = args_double(&a, "atol", 1e-3, &bad);
  int use[NMODELS];
  if (parse_models(models, use)) bad = 1;
  if (nde_ode_method_parse(solver, &ro.ode.method) ||
      nde_adjoint_kind_parse(adjoint, &ro.ode.adjoint)) {
    fprintf(stderr, "nde chnode: %s\n", nde_last_error());
    bad = 1;
  }
  if (strcmp(range, "image") && strcmp(range, "skimage")) {
    fprintf(stderr, "nde chnode: --noise-range expects image or skimage, got '%s'\n", range);
    bad = 1;
  }
  if (ro.draws < 1 || ro.draws > MAX_DRAWS || ro.batch < 1 || ro.epochs < 0 || ro.grad_images < 1 ||
      ro.grad_images > ro.batch) {
    fprintf(stderr,
            "nde chnode: need 1 <= --draws <= %d, --batch >= 1, --epochs >= 0, "
            "1 <= --grad-images <= --batch\n",
            MAX_DRAWS);
    bad = 1;
  }
  /* The command as run, for the results file. */
  char cmdline[1024] = "";
  for (int i = 0; i < argc; i++) {
    size_t len = strlen(cmdline);
    snprintf(cmdline + len, sizeof cmdline - len, "%s%s", i ? " " : "", argv[i]);
  }
  if (bad || args_finish(&a)) {
    args_free(&a);
    return 2;
  }
  args_free(&a);
  if (tool_mkdirs(ro.out)) return 1;

  nde_dataset *train = NULL, *test = NULL;
  int rc = tool_load_fashion_mnist(data, &train, &test);
  if (rc) return tool_fail("chnode", rc);
  /* the classifiers read images of their input shape (1x28x28): another
   * shape would be read past its end */
  const nde_shape want = nde_ham_clf_options_default(NDE_HAM_CHNODE).in;
  const nde_dataset *sets[2] = {train, test};
  for (int k = 0; k < 2; k++)
    if (sets[k]->c != want.c || sets[k]->h != want.h || sets[k]->w != want.w) {
      fprintf(stderr, "nde chnode: the %s data are %dx%dx%d images, the models take %dx%dx%d\n",
              k ? "test" : "training", sets[k]->c, sets[k]->h, sets[k]->w, want.c, want.h, want.w);
      nde_dataset_free(train);
      nde_dataset_free(test);
      return 1;
    }
  double mean[1], std[1]; /* want.c == 1 channel */
  if ((rc = nde_data_channel_stats(train, mean, std))) {
    nde_dataset_free(train);
    nde_dataset_free(test);
    return tool_fail("chnode", rc);
  }
  char range_desc[128];
  if (!strcmp(range, "image")) {
    ro.lo = (0 - mean[0]) / std[0];
    ro.hi = (1 - mean[0]) / std[0];
    snprintf(range_desc, sizeof range_desc, "the normalized image range [%.4f, %.4f]", ro.lo,
             ro.hi);
  } else {
    ro.lo = -1;
    ro.hi = 1;
    snprintf(range_desc, sizeof range_desc, "[-1, 1] (skimage's range for signed inputs)");
  }
  time_t started = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&started));
  result res[NMODELS];
  int nres = 0, failed = 0;
  for (int i = 0; i < NMODELS; i++) {
    if (!use[i]) continue;
    fprintf(stderr, "chnode: %s\n", model_table[i].name);
    double t0 = now_s();
    if (run_model(&model_table[i], &ro, train, test, mean, std, &res[nres])) failed = 1;
    result *r = &res[nres++];
    if (r->tested)
      printf("%-10s clean %.2f%%  gauss 0.05 %.2f%%  gauss 0.2 %.2f%%  s&p 0.05 %.2f%%  s&p 0.2 "
             "%.2f%%  (%.0f s)\n",
             r->m->name, 100 * r->clean_acc, 100 * r->noise_mean[0], 100 * r->noise_mean[1],
             100 * r->noise_mean[2], 100 * r->noise_mean[3], now_s() - t0);
    fflush(stdout);
  }
  nde_dataset_free(train);
  nde_dataset_free(test);
  rc = write_outputs(&ro, res, nres, cmdline, date, range_desc);
  if (rc) return tool_fail("chnode", rc);
  return failed ? 1 : 0;
}
