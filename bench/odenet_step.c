/* odenet_step: time training steps (forward + backward, no optimizer) of the
 * ODE-Net (docs/methods.md section 1) on Fashion-MNIST-sized random input.
 *
 *   build/bench/odenet_step [--batch 128] [--steps 20] [--solver adams]
 *        [--adjoint checkpoint] [--rtol 1e-3] [--atol 1e-3] [--threads 2]
 *        [--attractors 0] [--model odenet|resnet6]
 *        [--interp hermite|polynomial (default: the model's, polynomial)]
 *        [--checkpoint-steps 100] [--h0 0 (solver's estimate)]
 *        [--split 0 (ODE-function batch slices on their own threads; 0: --threads)]
 *        [--nls-coef C (default: the model's, 0.2; 0: CVODES's 0.1)]
 *        [--eta-fixed-max E (default: the model's, 1.2; 0: CVODES's 1.5)]
 *        [--input normal|fashion (N(0,1) pixels, or the first Fashion-MNIST
 *         training images scaled to [0, 1] as bench/torch_reference does)]
 *        [--atol-b A (default: the model's, adjoint-scaled)] [--seminorm params|none]
 *        [--ref-dir DIR [--state init-seed1]: weights, batch and labels of a
 *         state written by build/bench/work_precision --dump DIR, and
 *         grad_rel_err, the last step's gradient against its reference]
 *
 * Prints sec_per_step, nfe_f and nfe_b (means per step; nfe_b counts the
 * backward RHS plus quadrature evaluations), steps, peak_rss_mib (getrusage)
 * and gflops: the achieved rate of the convolution arithmetic, counting per
 * ODE-function evaluation the two 3x3 ConcatConvs (2 * 64 * 585 * 36 * 2
 * flops per sample), one such forward per forward RHS and, per backward RHS,
 * a forward recomputation plus the input- and weight-vjp (3 x), plus the
 * stem's and head's convolutions (forward and 2 x backward). The reference
 * figure quoted for torchdiffeq on this machine kind: 0.53-0.64 s per step at
 * NFE 20 / 20-26 (bench/torch_reference/README.md measures it).
 *
 * Also printed: sec_forward / sec_backward (the split of sec_per_step),
 * gemm_gflops, the rate of one BLAS gemm of the ODE function's convolution
 * shape (64 x 585 times 585 x 36 batch) measured in the same run, and
 * fraction_of_gemm = gflops / gemm_gflops; and min_sec_at_gemm_rate, the
 * time the counted convolution arithmetic alone would take at that rate (a
 * lower bound for this NFE with im2col convolutions: no nonlinearity, norm,
 * im2col or solver overhead). The counts are those of direct / im2col
 * convolution; since the ODE function's convolutions use Winograd's
 * F(3x3, 3x3) (nets/winograd.c, 3.24x fewer flops), gflops is an effective
 * rate, fraction_of_gemm can exceed 1 and min_sec_at_gemm_rate is no
 * longer a bound. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nde/nde.h"

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

/* conv flops of one sample: 2 * Cout * (Cin * k * k) * Hout * Wout */
/* Best of a few runs of C = A B with the ODE function's convolution shape
 * (Cout x Cin k k times Cin k k x H W batch), in the build's precision. */
static double gemm_rate(int batch) {
  const int m = 64, k = 65 * 9, n = 36 * batch;
  nde_real *a = calloc((size_t)m * k, sizeof *a), *b = calloc((size_t)k * n, sizeof *b),
           *c = calloc((size_t)m * n, sizeof *c);
  double best = 1e30;
  for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (nde_real)(i % 7) * 0.1f;
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (nde_real)(i % 5) * 0.1f;
  for (int r = 0; r < 12; r++) {
    double t0 = now_sec();
#if NDE_REAL_IS_DOUBLE
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, k, b, n, 0.0, c, n);
#else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
#endif
    double dt = now_sec() - t0;
    if (r > 1 && dt < best) best = dt;
  }
  free(a);
  free(b);
  free(c);
  return 2.0 * m * k * n / best * 1e-9;
}

/* Mean seconds of one ODE-function evaluation f(t, y) and of one
 * vector-Jacobian product with a fresh forward (what a backward RHS plus
 * its quadrature costs) at batch n, through a field split over `split`
 * threads: the per-evaluation costs, independent of NFE (the PyTorch
 * reference in bench/torch_reference prints the same two). */
static void eval_costs(int n, int split, double *sec_f, double *sec_vjp) {
  nde_net *nets[8] = {0};
  nde_field *f = NULL;
  const int per = (n + split - 1) / split;
  nde_rng rng;
  nde_rng_seed(&rng, 3);
  for (int k = 0; k < split; k++) {
    if (nde_net_create_odefunc(nde_shape_chw(64, 6, 6), 32, per, &nets[k])) {
      fprintf(stderr, "odenet_step: %s\n", nde_last_error());
      exit(1);
    }
    if (k) nde_net_bind(nets[k], nde_net_params(nets[0]), nde_net_grads(nets[0]));
  }
  nde_net_init(nets[0], &rng);
  if (nde_field_create_net_split(nets, split, &f)) {
    fprintf(stderr, "odenet_step: %s\n", nde_last_error());
    exit(1);
  }
  const size_t len = (size_t)n * 2304, np = nde_field_num_params(f);
  double *y = malloc(len * sizeof *y), *a = malloc(len * sizeof *a), *o = malloc(len * sizeof *o);
  double *g = calloc(np, sizeof *g);
  for (size_t i = 0; i < len; i++) y[i] = nde_rng_normal(&rng), a[i] = 1e-3 * nde_rng_normal(&rng);
  const int reps = 20;
  nde_field_rhs(f, 0.5, n, y, o);
  double t0 = now_sec();
  for (int r = 0; r < reps; r++) nde_field_rhs(f, 0.5, n, y, o);
  *sec_f = (now_sec() - t0) / reps;
  t0 = now_sec();
  for (int r = 0; r < reps; r++) nde_field_vjp(f, 0.5, n, y, a, o, g);
  *sec_vjp = (now_sec() - t0) / reps;
  free(y);
  free(a);
  free(o);
  free(g);
  nde_field_free(f);
  for (int k = 0; k < split; k++) nde_net_free(nets[k]);
}

/* A state written by build/bench/work_precision --dump DIR: the model's
 * parameters, the batch and labels, and the converged reference gradient. */
static int read_f64(const char *dir, const char *state, const char *ext, double *v, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.%s", dir, state, ext);
  FILE *f = fopen(path, "rb");
  int bad = !f || fread(v, sizeof *v, n, f) != n || fgetc(f) != EOF;
  if (f) fclose(f);
  if (bad) fprintf(stderr, "odenet_step: cannot read %zu values from %s\n", n, path);
  return bad;
}

static int load_state(const char *dir, const char *state, nde_model *m, int batch, nde_real *x,
                      int *labels, double **grad_ref) {
  const size_t np = nde_model_num_params(m), nx = (size_t)batch * 784;
  double *buf = malloc((np > nx ? np : nx) * sizeof *buf);
  *grad_ref = malloc(np * sizeof **grad_ref);
  if (!buf || !*grad_ref) return 1;
  int rc = read_f64(dir, state, "params.f64", buf, np);
  for (size_t i = 0; !rc && i < np; i++) nde_model_params(m)[i] = (nde_real)buf[i];
  if (!rc) rc = read_f64(dir, state, "x.f64", buf, nx);
  for (size_t i = 0; !rc && i < nx; i++) x[i] = (nde_real)buf[i];
  if (!rc) rc = read_f64(dir, state, "grad_ref.f64", *grad_ref, np);
  free(buf);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.labels.i32", dir, state);
  FILE *f = rc ? NULL : fopen(path, "rb");
  if (!rc && (!f || fread(labels, sizeof *labels, (size_t)batch, f) != (size_t)batch)) {
    fprintf(stderr, "odenet_step: cannot read %d labels from %s\n", batch, path);
    rc = 1;
  }
  if (f) fclose(f);
  return rc;
}

static double conv_flops(int cin, int cout, int k, int hout, int wout) {
  return 2.0 * cout * cin * k * k * hout * wout;
}

int main(int argc, char **argv) {
  nde_blas_restart_with_core(argv); /* OpenBLAS fell back to SSE kernels: retry */
  const int batch = atoi(opt_str(argc, argv, "--batch", "128"));
  const int steps = atoi(opt_str(argc, argv, "--steps", "20"));
  const int threads = atoi(opt_str(argc, argv, "--threads", "2"));
  const int natt = atoi(opt_str(argc, argv, "--attractors", "0"));
  int kind, method, adjoint;
  if (nde_model_kind_parse(opt_str(argc, argv, "--model", "odenet"), &kind) ||
      nde_ode_method_parse(opt_str(argc, argv, "--solver", "adams"), &method) ||
      nde_adjoint_kind_parse(opt_str(argc, argv, "--adjoint", "checkpoint"), &adjoint)) {
    fprintf(stderr, "odenet_step: %s\n", nde_last_error());
    return 2;
  }
  if (nde_blas_set_threads(threads)) {
    fprintf(stderr, "odenet_step: --threads: %s\n", nde_last_error());
    return 2;
  }
  nde_model_options mo = nde_model_options_default(kind);
  mo.max_batch = batch;
  mo.attractors = natt;
  mo.ode.method = method;
  mo.ode.adjoint = adjoint;
  const char *rtol_s = opt_str(argc, argv, "--rtol", NULL), *atol_s = opt_str(argc, argv, "--atol", NULL);
  if (rtol_s) mo.ode.rtol = atof(rtol_s); /* default: the model's */
  if (atol_s) mo.ode.atol = atof(atol_s);
  const char *atol_b = opt_str(argc, argv, "--atol-b", NULL);
  if (atol_b) mo.ode.atol_b = atof(atol_b);
  const char *semi = opt_str(argc, argv, "--seminorm", NULL);
  if (semi) mo.ode.seminorm = !strcmp(semi, "none") ? NDE_SEMINORM_NONE : NDE_SEMINORM_PARAMS;
  const char *interp = opt_str(argc, argv, "--interp", NULL); /* default: the model's */
  if (interp)
    mo.ode.interp = strcmp(interp, "polynomial") ? NDE_INTERP_HERMITE : NDE_INTERP_POLYNOMIAL;
  mo.ode.checkpoint_steps = atol(opt_str(argc, argv, "--checkpoint-steps", "100"));
  mo.ode.h0 = atof(opt_str(argc, argv, "--h0", "0"));
  mo.threads = atoi(opt_str(argc, argv, "--split", "0"));
  const char *nls = opt_str(argc, argv, "--nls-coef", NULL); /* default: the model's (0.2) */
  if (nls) mo.ode.nls_coef = atof(nls);
  const char *efx = opt_str(argc, argv, "--eta-fixed-max", NULL); /* default: the model's (1.2) */
  if (efx) mo.ode.eta_fixed_max = atof(efx);
  nde_model *m;
  if (nde_model_create(&mo, &m)) {
    fprintf(stderr, "odenet_step: %s\n", nde_last_error());
    return 1;
  }
  nde_rng rng;
  nde_rng_seed(&rng, 7);
  nde_model_init(m, &rng);
  size_t nx = (size_t)batch * 28 * 28;
  nde_real *x = malloc(nx * sizeof *x);
  int *labels = malloc((size_t)batch * sizeof *labels);
  for (size_t i = 0; i < nx; i++) x[i] = (nde_real)nde_rng_normal(&rng);
  for (int i = 0; i < batch; i++) labels[i] = (int)nde_rng_below(&rng, 10);
  const char *input = opt_str(argc, argv, "--input", "normal");
  if (!strcmp(input, "fashion")) { /* the first training images, pixel / 255, as the reference */
    nde_dataset *ds;
    if (nde_data_load_fashion_mnist(NDE_FASHION_MNIST_DIR, 1, &ds)) {
      fprintf(stderr, "odenet_step: %s\n", nde_last_error());
      return 1;
    }
    for (size_t i = 0; i < nx; i++) x[i] = (nde_real)(ds->pixels[i % ((size_t)ds->n * 784)] / 255.0);
    nde_dataset_free(ds);
  } else if (strcmp(input, "normal")) {
    fprintf(stderr, "odenet_step: --input %s: choose normal or fashion\n", input);
    return 2;
  }

  const char *ref_dir = opt_str(argc, argv, "--ref-dir", NULL);
  const char *state = opt_str(argc, argv, "--state", "init-seed1");
  double *grad_ref = NULL;
  if (ref_dir && load_state(ref_dir, state, m, batch, x, labels, &grad_ref)) return 1;

  double t_total = 0, t_fwd = 0, nfe_f = 0, nfe_b = 0, st_f = 0, st_b = 0;
  int rc = 0;
  for (int s = -1; s < steps && !rc; s++) { /* s = -1: warm-up, not timed */
    nde_model_result r;
    nde_ode_stats bw;
    double t0 = now_sec();
    rc = nde_model_forward(m, batch, x, labels, 1e-4, 1, &r);
    double t1 = now_sec();
    if (!rc) rc = nde_model_backward(m, &bw);
    double dt = now_sec() - t0;
    if (s >= 0 && !rc) {
      t_total += dt;
      t_fwd += t1 - t0;
      nfe_f += r.fwd.nfe;
      nfe_b += bw.nfe + bw.nfe_quad;
      st_f += r.fwd.steps;
      st_b += bw.steps;
    }
  }
  if (rc) {
    fprintf(stderr, "odenet_step: %s\n", nde_last_error());
    return 1;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  /* convolution arithmetic per sample */
  double f_ode = 2 * conv_flops(65, 64, 3, 6, 6);
  double f_stem =
      conv_flops(1, 64, 3, 26, 26) + conv_flops(64, 64, 4, 13, 13) + conv_flops(64, 64, 4, 6, 6);
  double per_step = 3 * f_stem; /* forward + input/weight vjp */
  if (kind == NDE_MODEL_ODENET)
    per_step += (nfe_f / steps) * f_ode + (nfe_b / steps) * 3 * f_ode;
  else
    per_step += 6 * 3 * 2 * conv_flops(64, 64, 3, 6, 6);
  per_step *= batch;
  double sps = t_total / steps;
  printf("model: %s solver: %s adjoint: %s interp: %s batch: %d threads: %d rtol: %g atol: %g "
         "attractors: %d split: %d input: %s nls_coef: %g eta_fixed_max: %g\n",
         nde_model_kind_name(kind), nde_ode_method_name(method), nde_adjoint_kind_name(adjoint),
         mo.ode.interp == NDE_INTERP_POLYNOMIAL ? "polynomial" : "hermite", batch, threads,
         mo.ode.rtol, mo.ode.atol, natt, mo.threads ? mo.threads : threads, input,
         mo.ode.nls_coef > 0 ? mo.ode.nls_coef : 0.1,
         mo.ode.eta_fixed_max > 0 ? mo.ode.eta_fixed_max : 1.5);
  printf("blas_core: %s\n", nde_blas_core());
  printf("sec_per_step: %.4f\n", sps);
  if (grad_ref) {
    const nde_real *g = nde_model_grads(m);
    double e = 0, r = 0;
    for (size_t i = 0; i < nde_model_num_params(m); i++) {
      e += (g[i] - grad_ref[i]) * (g[i] - grad_ref[i]);
      r += grad_ref[i] * grad_ref[i];
    }
    printf("grad_rel_err: %.4f (state %s, against %s/%s.grad_ref.f64)\n", sqrt(e / r), state,
           ref_dir, state);
    printf("atol_b: %s\n", mo.ode.atol_b > 0 ? "absolute" : "adjoint-scaled");
  }
  printf("sec_forward: %.4f\nsec_backward: %.4f\n", t_fwd / steps, (t_total - t_fwd) / steps);
  printf("nfe_f: %.1f\nnfe_b: %.1f\nsteps_f: %.1f\nsteps_b: %.1f\n", nfe_f / steps, nfe_b / steps,
         st_f / steps, st_b / steps);
  printf("peak_rss_mib: %.1f\n", ru.ru_maxrss / 1024.0);
  printf("gflops: %.1f\n", per_step / sps * 1e-9);
  double g = gemm_rate(batch);
  printf("gemm_gflops: %.1f\nfraction_of_gemm: %.3f\nmin_sec_at_gemm_rate: %.4f\n", g,
         per_step / sps * 1e-9 / g, per_step * 1e-9 / g);
  if (kind == NDE_MODEL_ODENET) {
    double sf, sv;
    const int split = mo.threads ? mo.threads : threads;
    eval_costs(batch, split, &sf, &sv);
    printf("sec_f_eval: %.5f\nsec_vjp_eval: %.5f\n", sf, sv);
  }
  nde_model_free(m);
  free(x);
  free(labels);
  return 0;
}
