/* work_precision: the ODE-Net's training gradient, its accuracy against its
 * cost, for every adjoint configuration nde offers.
 *
 *   build/bench/work_precision [--input fashion|normal] [--batch 128]
 *        [--seeds 1,2,3] [--ckpt PATH]... [--grid full|front|defaults]
 *        [--threads 2] [--ref-h 0.015625] [--csv FILE] [--dump DIR]
 *        [--only TEXT] [--ref-dir DIR]
 *
 * States: the model at initialization for each seed (PyTorch default init,
 * nde_model_init) and, for each --ckpt, a trained checkpoint's weights (its
 * normalization applied to the input). Input: the first `batch` Fashion-MNIST
 * training images (pixel / 255 at initialization, as bench/torch_reference
 * feeds them) and their labels.
 *
 * For each state, the reference gradient is direct backpropagation through
 * RK4 at the step ref_h / 2 (see reference_config); a second one at ref_h
 * shows how far it has converged (the line "reference" prints their relative difference). The
 * references are best computed once by the double-precision build
 * (build-double/bench/work_precision --grid none --dump DIR) and read with
 * --ref-dir DIR by the float build, whose gradients users train with. Each
 * configuration then takes one untimed training step (forward + backward;
 * the first backward allocates) and one timed step, and prints NFE-F, NFE-B
 * (backward right-hand sides plus quadrature evaluations), seconds per step
 * and the gradient's relative L2 error ||g - g_ref|| / ||g_ref|| over all
 * parameters.
 *
 * Grids: `full` sweeps the tolerance 1e-2 .. 1e-6 for the checkpointed
 * adjoint (Hermite and polynomial interpolation, seminorm params and none,
 * backward atol = the forward atol and adjoint-scaled at two factors), the
 * backsolve adjoint (Adams and Dormand-Prince, each seminorm), and direct
 * backprop through RK4 at several steps; `front` a shorter list around the
 * defaults; `defaults` the model's default and the former default only;
 * `none` only the references.
 *
 * --dump DIR writes, per state, what bench/torch_reference needs to compute
 * its own gradients at the same weights and batch: <state>.params.f64 (the
 * flat parameter vector, float64 little-endian, nde's layout),
 * <state>.x.f64 (the batch as fed to the model), <state>.labels.i32 and
 * <state>.ref.txt (the reference loss, gradient norm and NFE). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nde/nde.h"

extern void openblas_set_num_threads(int);

#define MAX_STATES 16
#define IMG 784

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static const char *opt_str(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

/* One adjoint configuration. atol_b < 0 means adjoint-scaled with
 * atol_b_rel = -atol_b: an absolute tolerance of -atol_b x tol x RMS(a)
 * (so -1 is the library's default). */
typedef struct config {
  const char *family; /* curve name in the plot */
  int method, adjoint, interp, seminorm;
  double tol, atol_b, fixed_h;
} config;

/* The state a gradient is taken at. */
typedef struct state {
  char name[64];
  int seed;            /* > 0: initialization with this seed */
  const char *ckpt;    /* else: trained weights */
  nde_real *x;         /* batch * 784 */
  nde_real *params;    /* model parameters */
  size_t np;
} state;

typedef struct outcome {
  double loss, sec;
  long nfe_f, nfe_b;
  double *grad;
} outcome;

static nde_model_options base_options(int batch) {
  nde_model_options mo = nde_model_options_default(NDE_MODEL_ODENET);
  mo.max_batch = batch;
  return mo;
}

static void apply_config(nde_ode_options *o, const config *c) {
  o->method = c->method;
  o->adjoint = c->adjoint;
  o->interp = c->interp;
  o->seminorm = c->seminorm;
  o->rtol = o->atol = c->tol;
  o->atol_b = c->atol_b > 0 ? c->atol_b : 0;
  o->atol_b_rel = c->atol_b < 0 ? -c->atol_b : 0;
  if (c->fixed_h > 0) o->fixed_h = c->fixed_h;
}

/* One training step's gradient (and, with timed, the time of a second
 * step) of state s under configuration c applied to the model's options. */
static int run(const nde_model_options *mo0, const config *c, const state *s, int batch,
               const int *labels, int timed, outcome *out) {
  nde_model_options mo = *mo0;
  if (c) apply_config(&mo.ode, c);
  nde_model *m;
  if (nde_model_create(&mo, &m)) return 1;
  memcpy(nde_model_params(m), s->params, s->np * sizeof(nde_real));
  nde_model_result r;
  nde_ode_stats bw;
  int rc = nde_model_forward(m, batch, s->x, labels, 0, 1, &r) || nde_model_backward(m, &bw);
  if (!rc && timed) {
    nde_model_result r2;
    double t0 = now_sec();
    rc = nde_model_forward(m, batch, s->x, labels, 0, 1, &r2) || nde_model_backward(m, NULL);
    out->sec = now_sec() - t0;
  }
  if (!rc) {
    out->grad = malloc(s->np * sizeof *out->grad);
    if (!out->grad) rc = 1;
  }
  if (!rc) {
    for (size_t i = 0; i < s->np; i++) out->grad[i] = nde_model_grads(m)[i];
    out->loss = r.loss;
    out->nfe_f = r.fwd.nfe;
    out->nfe_b = bw.nfe + bw.nfe_quad;
  }
  nde_model_free(m);
  return rc;
}

static double rel_l2(const double *g, const double *ref, size_t n) {
  double e = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    e += (g[i] - ref[i]) * (g[i] - ref[i]);
    r += ref[i] * ref[i];
  }
  return sqrt(e / r);
}

/* The reference: direct backpropagation through classical RK4 at a small
 * fixed step h, the exact gradient of that discrete map, whose own error
 * against the ODE's is O(h^4). An adaptive reference at a tight tolerance
 * costs thousands of backward evaluations here (the adjoint-scaled test
 * at rtol 1e-6 ran for more than ten CPU minutes without finishing); RK4 at
 * h = 1/64 costs 256 evaluations each way. A second reference at h / 2
 * shows how far it has converged. */
static config reference_config(double h) {
  config c = {"reference", NDE_ODE_RK4, NDE_ADJ_DIRECT, NDE_INTERP_POLYNOMIAL,
              NDE_SEMINORM_PARAMS, 0, 0, h};
  return c;
}

static int run_reference(int batch, const state *s, const int *labels, double h, outcome *o) {
  nde_model_options mo = base_options(batch);
  config c = reference_config(h);
  return run(&mo, &c, s, batch, labels, 0, o);
}

/* ---- the grids ---- */

static const double tols_full[] = {1e-2, 1e-3, 1e-4, 1e-5, 1e-6};

static int add(config *c, int n, const char *fam, int method, int adj, int interp, int semi,
               double tol, double atol_b, double h) {
  config x = {fam, method, adj, interp, semi, tol, atol_b, h};
  c[n] = x;
  return n + 1;
}

static int grid_full(config *c) {
  int n = 0;
  for (int k = 0; k < 5; k++) {
    double t = tols_full[k];
    /* checkpoint: interpolation x seminorm x backward tolerance */
    n = add(c, n, "ckpt-poly-params-atolb=atol", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS, t, t, 0);
    n = add(c, n, "ckpt-poly-none-atolb=atol", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_NONE, t, t, 0);
    n = add(c, n, "ckpt-poly-params-scaled", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS, t, -1, 0);
    n = add(c, n, "ckpt-poly-none-scaled", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_NONE, t, -1, 0);
    n = add(c, n, "ckpt-poly-none-scaled/10", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_NONE, t, -0.1, 0);
    n = add(c, n, "ckpt-hermite-none-scaled", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_HERMITE, NDE_SEMINORM_NONE, t, -1, 0);
    n = add(c, n, "ckpt-hermite-params-atolb=atol", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_HERMITE, NDE_SEMINORM_PARAMS, t, t, 0);
    if (t < 1e-5) continue; /* backsolve at 1e-6 costs minutes per step */
    n = add(c, n, "backsolve-adams-params-scaled", NDE_ODE_ADAMS, NDE_ADJ_BACKSOLVE,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS, t, -1, 0);
    n = add(c, n, "backsolve-adams-none-scaled", NDE_ODE_ADAMS, NDE_ADJ_BACKSOLVE,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_NONE, t, -1, 0);
    n = add(c, n, "backsolve-dopri5-none-scaled", NDE_ODE_DOPRI5, NDE_ADJ_BACKSOLVE,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_NONE, t, -1, 0);
    n = add(c, n, "backsolve-dopri5-params-scaled", NDE_ODE_DOPRI5, NDE_ADJ_BACKSOLVE,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS, t, -1, 0);
    n = add(c, n, "backsolve-dopri5-params_state-scaled", NDE_ODE_DOPRI5, NDE_ADJ_BACKSOLVE,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS_STATE, t, -1, 0);
  }
  const double hs[] = {0.5, 0.25, 0.1, 0.05};
  for (int k = 0; k < 4; k++)
    n = add(c, n, "direct-rk4", NDE_ODE_RK4, NDE_ADJ_DIRECT, NDE_INTERP_POLYNOMIAL,
            NDE_SEMINORM_PARAMS, 0, 0, hs[k]);
  return n;
}

static int grid_front(config *c) {
  int n = 0;
  const double t3[] = {1e-2, 1e-3, 1e-4};
  for (int k = 0; k < 3; k++) {
    const double t = t3[k];
    n = add(c, n, "ckpt-poly-params-atolb=atol", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS, t, t, 0);
    n = add(c, n, "ckpt-poly-none-atolb=atol", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_NONE, t, t, 0);
    /* adjoint-scaled: atol_b = 0.1 x RMS(a) and 0.01 x RMS(a) */
    n = add(c, n, "ckpt-poly-params-scaled0.1", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS, t, -0.1 / t, 0);
    n = add(c, n, "ckpt-poly-none-scaled0.1", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_NONE, t, -0.1 / t, 0);
    n = add(c, n, "ckpt-poly-params-scaled0.01", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS, t, -0.01 / t, 0);
    n = add(c, n, "ckpt-poly-none-scaled0.01", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
            NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_NONE, t, -0.01 / t, 0);
  }
  return n;
}

/* The model's defaults as they stand (whatever nde_model_options_default
 * gives), and the pre-issue default (seminorm params, atol_b = atol). */
static int grid_defaults(config *c, int batch) {
  nde_model_options mo = base_options(batch);
  const nde_ode_options *o = &mo.ode;
  config d = {"default", o->method, o->adjoint, o->interp, o->seminorm, o->rtol,
              o->atol_b > 0 ? o->atol_b : -(o->atol_b_rel > 0 ? o->atol_b_rel : 1), 0};
  c[0] = d;
  return add(c, 1, "ckpt-poly-params-atolb=atol", NDE_ODE_ADAMS, NDE_ADJ_CHECKPOINT,
             NDE_INTERP_POLYNOMIAL, NDE_SEMINORM_PARAMS, 1e-3, 1e-3, 0);
}

/* ---- states ---- */

static int load_fashion_batch(int batch, double *pixels, int *labels) {
  nde_dataset *ds;
  if (nde_data_load_fashion_mnist(NULL, 1, &ds)) return 1;
  for (size_t i = 0; i < (size_t)batch * IMG; i++) pixels[i] = ds->pixels[i] / 255.0;
  for (int i = 0; i < batch; i++) labels[i] = ds->labels[i];
  nde_dataset_free(ds);
  return 0;
}

static int make_init_state(state *s, int seed, int batch, const double *pixels) {
  nde_model_options mo = base_options(batch);
  nde_model *m;
  if (nde_model_create(&mo, &m)) return 1;
  nde_rng rng;
  nde_rng_seed(&rng, (uint64_t)seed);
  nde_model_init(m, &rng);
  s->np = nde_model_num_params(m);
  s->params = malloc(s->np * sizeof *s->params);
  s->x = malloc((size_t)batch * IMG * sizeof *s->x);
  if (!s->params || !s->x) return 1;
  memcpy(s->params, nde_model_params(m), s->np * sizeof *s->params);
  for (size_t i = 0; i < (size_t)batch * IMG; i++) s->x[i] = (nde_real)pixels[i];
  nde_model_free(m);
  s->seed = seed;
  snprintf(s->name, sizeof s->name, "init-seed%d", seed);
  return 0;
}

/* Trained weights: parameters and the training's input normalization. */
static int make_ckpt_state(state *s, const char *path, int idx, int batch, const double *pixels) {
  nde_ckpt *c;
  if (nde_ckpt_open(path, &c)) return 1;
  nde_model_options mo = base_options(batch);
  nde_model *m;
  int rc = nde_model_create(&mo, &m);
  if (rc) {
    nde_ckpt_free(c);
    return 1;
  }
  s->np = nde_model_num_params(m);
  s->params = malloc(s->np * sizeof *s->params);
  s->x = malloc((size_t)batch * IMG * sizeof *s->x);
  double mean = 0, sd = 1;
  rc = !s->params || !s->x;
  if (!rc) rc = nde_ckpt_read_real(c, "params", s->params, s->np);
  if (!rc) rc = nde_ckpt_read_f64(c, "norm_mean", &mean, 1);
  if (!rc) rc = nde_ckpt_read_f64(c, "norm_std", &sd, 1);
  nde_ckpt_free(c);
  nde_model_free(m);
  if (rc) return 1;
  for (size_t i = 0; i < (size_t)batch * IMG; i++) s->x[i] = (nde_real)((pixels[i] - mean) / sd);
  s->ckpt = path;
  snprintf(s->name, sizeof s->name, "trained%d", idx);
  return 0;
}

static int write_raw(const char *dir, const char *name, const char *ext, const void *p,
                     size_t size, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, size, n, f) != n || fclose(f)) {
    fprintf(stderr, "work_precision: cannot write %s\n", path);
    return 1;
  }
  return 0;
}

static int dump_state(const char *dir, const state *s, int batch, const int *labels,
                      const outcome *ref) {
  size_t nx = (size_t)batch * IMG;
  double *p = malloc((s->np > nx ? s->np : nx) * sizeof *p);
  if (!p) return 1;
  for (size_t i = 0; i < s->np; i++) p[i] = s->params[i];
  int rc = write_raw(dir, s->name, "params.f64", p, sizeof *p, s->np);
  for (size_t i = 0; i < nx; i++) p[i] = s->x[i];
  if (!rc) rc = write_raw(dir, s->name, "x.f64", p, sizeof *p, nx);
  if (!rc) rc = write_raw(dir, s->name, "labels.i32", labels, sizeof *labels, (size_t)batch);
  if (!rc) rc = write_raw(dir, s->name, "grad_ref.f64", ref->grad, sizeof(double), s->np);
  free(p);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.ref.txt", dir, s->name);
  FILE *f = rc ? NULL : fopen(path, "w");
  if (!f) return 1;
  fprintf(f, "loss %.12g\nnfe_f %ld\nnfe_b %ld\nbatch %d\nparams %zu\n", ref->loss, ref->nfe_f,
          ref->nfe_b, batch, s->np);
  return fclose(f) != 0;
}

/* A reference written by --dump (e.g. by the double-precision build):
 * <state>.grad_ref.f64 and the loss from <state>.ref.txt. */
static int load_reference(const char *dir, const state *s, outcome *o) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.grad_ref.f64", dir, s->name);
  o->grad = malloc(s->np * sizeof *o->grad);
  FILE *f = fopen(path, "rb");
  int rc = !o->grad || !f || fread(o->grad, sizeof *o->grad, s->np, f) != s->np || fgetc(f) != EOF;
  if (f) fclose(f);
  snprintf(path, sizeof path, "%s/%s.ref.txt", dir, s->name);
  f = rc ? NULL : fopen(path, "r");
  if (!f || fscanf(f, "loss %lf", &o->loss) != 1) rc = 1;
  if (f) fclose(f);
  if (rc) fprintf(stderr, "work_precision: cannot read the reference %s/%s.*\n", dir, s->name);
  return rc;
}

static const char *seminorm_name(int s) {
  return s == NDE_SEMINORM_NONE ? "none" : s == NDE_SEMINORM_PARAMS ? "params" : "params_state";
}

static void describe_atol_b(const config *c, char *buf, size_t n) {
  if (c->adjoint == NDE_ADJ_DIRECT)
    snprintf(buf, n, "-");
  else if (c->atol_b > 0)
    snprintf(buf, n, "%g", c->atol_b);
  else
    snprintf(buf, n, "%g*rms(a)", -c->atol_b * c->tol);
}

int main(int argc, char **argv) {
  nde_blas_restart_with_core(argv); /* OpenBLAS fell back to SSE kernels: retry */
  const int batch = atoi(opt_str(argc, argv, "--batch", "128"));
  const char *grid = opt_str(argc, argv, "--grid", "full");
  const char *csv_path = opt_str(argc, argv, "--csv", NULL);
  const char *dump = opt_str(argc, argv, "--dump", NULL);
  const char *only = opt_str(argc, argv, "--only", NULL);
  const char *ref_dir = opt_str(argc, argv, "--ref-dir", NULL);
  const double ref_h = atof(opt_str(argc, argv, "--ref-h", "0.015625"));
  const int threads = atoi(opt_str(argc, argv, "--threads", "2"));
  openblas_set_num_threads(threads);
  if (batch < 1 || !(ref_h > 0) || threads < 1) {
    fprintf(stderr, "work_precision: --batch, --ref-h and --threads must be positive\n");
    return 2;
  }
  double *pixels = malloc((size_t)batch * IMG * sizeof *pixels);
  int *labels = malloc((size_t)batch * sizeof *labels);
  if (!pixels || !labels) return 1;
  if (load_fashion_batch(batch, pixels, labels)) {
    fprintf(stderr, "work_precision: %s\n", nde_last_error());
    return 1;
  }
  state states[MAX_STATES];
  int ns = 0;
  memset(states, 0, sizeof states);
  char seeds[256];
  snprintf(seeds, sizeof seeds, "%s", opt_str(argc, argv, "--seeds", "1,2,3"));
  for (char *tok = strtok(seeds, ","); tok && ns < MAX_STATES; tok = strtok(NULL, ","))
    if (atoi(tok) > 0 && make_init_state(&states[ns++], atoi(tok), batch, pixels)) {
      fprintf(stderr, "work_precision: %s\n", nde_last_error());
      return 1;
    }
  for (int i = 1; i + 1 < argc && ns < MAX_STATES; i++)
    if (!strcmp(argv[i], "--ckpt")) {
      if (make_ckpt_state(&states[ns], argv[i + 1], ns + 1, batch, pixels)) {
        fprintf(stderr, "work_precision: %s: %s\n", argv[i + 1], nde_last_error());
        return 1;
      }
      ns++;
    }
  config cfg[128];
  int nc = !strcmp(grid, "full")       ? grid_full(cfg)
           : !strcmp(grid, "front")    ? grid_front(cfg)
           : !strcmp(grid, "defaults") ? grid_defaults(cfg, batch)
                                       : 0;
  FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
  if (csv_path && !csv) {
    fprintf(stderr, "work_precision: cannot write %s\n", csv_path);
    return 1;
  }
  if (csv)
    fprintf(csv, "impl,state,family,method,adjoint,interp,seminorm,tol,atol_b,fixed_h,nfe_f,nfe_b,"
                 "sec_per_step,grad_rel_err,loss_err\n");
  printf("input: fashion (first %d training images) threads: %d reference: direct RK4, h = %g\n",
         batch, threads, ref_h / 2);
  for (int si = 0; si < ns; si++) {
    state *s = &states[si];
    outcome ref = {0}, ref2 = {0};
    if (ref_dir) {
      if (load_reference(ref_dir, s, &ref2)) return 1;
      printf("%s reference: %s/%s.grad_ref.f64 (loss %.10f)\n", s->name, ref_dir, s->name,
             ref2.loss);
    } else {
      if (run_reference(batch, s, labels, ref_h, &ref) ||
          run_reference(batch, s, labels, ref_h / 2, &ref2)) {
        fprintf(stderr, "work_precision: %s: reference: %s\n", s->name, nde_last_error());
        return 1;
      }
      printf("%s reference (nde_real = %s): direct RK4 h = %g: loss %.10f; h = %g against it: "
             "grad_rel_err %.2e\n",
             s->name, NDE_REAL_IS_DOUBLE ? "double" : "float", ref_h / 2, ref2.loss, ref_h,
             rel_l2(ref.grad, ref2.grad, s->np));
    }
    fflush(stdout);
    if (dump && dump_state(dump, s, batch, labels, &ref2)) return 1;
    for (int k = 0; k < nc; k++) {
      const config *c = &cfg[k];
      if (only && !strstr(c->family, only)) continue;
      outcome o;
      char ab[48];
      describe_atol_b(c, ab, sizeof ab);
      nde_model_options mo = base_options(batch);
      if (run(&mo, c, s, batch, labels, 1, &o)) {
        printf("%s %-36s tol %-6g atol_b %-12s: failed: %s\n", s->name, c->family, c->tol, ab,
               nde_last_error());
        continue;
      }
      double err = rel_l2(o.grad, ref2.grad, s->np);
      printf("%s %-36s tol %-6g atol_b %-12s h %-5g: nfe_f %4ld nfe_b %4ld sec %.3f "
             "grad_rel_err %.4f\n",
             s->name, c->family, c->tol, ab, c->fixed_h, o.nfe_f, o.nfe_b, o.sec, err);
      fflush(stdout);
      if (csv) {
        fprintf(csv, "nde,%s,%s,%s,%s,%s,%s,%g,%s,%g,%ld,%ld,%.4f,%.6g,%.3g\n", s->name,
                c->family, nde_ode_method_name(c->method), nde_adjoint_kind_name(c->adjoint),
                c->interp == NDE_INTERP_HERMITE ? "hermite" : "polynomial",
                seminorm_name(c->seminorm), c->tol, ab, c->fixed_h, o.nfe_f, o.nfe_b, o.sec, err,
                fabs(o.loss - ref2.loss));
        fflush(csv);
      }
      free(o.grad);
    }
    free(ref.grad);
    free(ref2.grad);
  }
  if (csv) fclose(csv);
  for (int si = 0; si < ns; si++) {
    free(states[si].params);
    free(states[si].x);
  }
  free(pixels);
  free(labels);
  return 0;
}
