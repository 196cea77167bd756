/* odenet_grad_accuracy: how far the ODE-Net's training gradient is from the
 * converged one, and what it costs, across solver settings.
 *
 *   build/bench/odenet_grad_accuracy [--batch 128] [--input normal|fashion]
 *        [--threads 2]
 *
 * One training step's gradient (Adams + checkpointed adjoint, the model's
 * defaults otherwise) at rtol = atol = 1e-3 and 1e-4, for nonlinear
 * convergence coefficients 0.1 (CVODES's) and 0.2 (the models' default),
 * the step-growth threshold eta_fixed_max 1.5 (CVODES's) and 1.2 (the
 * models' default), and at 1e-3 with backward absolute tolerances
 * atol_b = 1e-5, 1e-6, 1e-7,
 * each against a reference at rtol = atol = 1e-8 (atol_b: the model's
 * adjoint-scaled default unless given; bench/work_precision is the full
 * work-precision sweep). Prints per setting NFE-F,
 * NFE-B, |loss - reference loss| and the gradient's relative L2 error
 * ||g - g_ref|| / ||g_ref||. Input and init as odenet_step (seed 7). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"

static const char *opt_str(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

typedef struct setting {
  double tol, nls_coef, atol_b, eta_fixed_max;
} setting;

typedef struct outcome {
  double loss;
  long nfe_f, nfe_b;
  double *grad;
} outcome;

static int run(const setting *s, int batch, const nde_real *x, const int *labels, outcome *out) {
  nde_model_options mo = nde_model_options_default(NDE_MODEL_ODENET);
  mo.max_batch = batch;
  mo.ode.rtol = mo.ode.atol = s->tol;
  mo.ode.nls_coef = s->nls_coef;
  mo.ode.atol_b = s->atol_b;
  mo.ode.eta_fixed_max = s->eta_fixed_max;
  nde_model *m;
  if (nde_model_create(&mo, &m)) return 1;
  nde_rng rng;
  nde_rng_seed(&rng, 7);
  nde_model_init(m, &rng);
  nde_model_result r;
  nde_ode_stats bw;
  if (nde_model_forward(m, batch, x, labels, 1e-4, 1, &r) || nde_model_backward(m, &bw)) {
    nde_model_free(m);
    return 1;
  }
  const size_t np = nde_model_num_params(m);
  out->grad = malloc(np * sizeof *out->grad);
  if (!out->grad) return 1;
  for (size_t i = 0; i < np; i++) out->grad[i] = nde_model_grads(m)[i];
  out->loss = r.loss;
  out->nfe_f = r.fwd.nfe;
  out->nfe_b = bw.nfe + bw.nfe_quad;
  nde_model_free(m);
  return 0;
}

int main(int argc, char **argv) {
  nde_blas_restart_with_core(argv); /* OpenBLAS fell back to SSE kernels: retry */
  const int batch = atoi(opt_str(argc, argv, "--batch", "128"));
  const char *input = opt_str(argc, argv, "--input", "normal");
  if (nde_blas_set_threads(atoi(opt_str(argc, argv, "--threads", "2")))) {
    fprintf(stderr, "odenet_grad_accuracy: --threads: %s\n", nde_last_error());
    return 2;
  }
  if (batch < 1) {
    fprintf(stderr, "odenet_grad_accuracy: --batch must be >= 1\n");
    return 2;
  }
  const size_t nx = (size_t)batch * 784;
  nde_real *x = malloc(nx * sizeof *x);
  int *labels = malloc((size_t)batch * sizeof *labels);
  nde_rng rng;
  nde_rng_seed(&rng, 7);
  for (size_t i = 0; i < nx; i++) x[i] = (nde_real)nde_rng_normal(&rng);
  for (int i = 0; i < batch; i++) labels[i] = (int)nde_rng_below(&rng, 10);
  if (!strcmp(input, "fashion")) {
    nde_dataset *ds;
    if (nde_data_load_fashion_mnist(NDE_FASHION_MNIST_DIR, 1, &ds)) {
      fprintf(stderr, "odenet_grad_accuracy: %s\n", nde_last_error());
      return 1;
    }
    for (size_t i = 0; i < nx; i++) x[i] = (nde_real)(ds->pixels[i % ((size_t)ds->n * 784)] / 255.0);
    for (int i = 0; i < batch; i++) labels[i] = ds->labels[i % ds->n];
    nde_dataset_free(ds);
  } else if (strcmp(input, "normal")) {
    fprintf(stderr, "odenet_grad_accuracy: --input %s: choose normal or fashion\n", input);
    return 2;
  }
  const setting ref = {1e-8, 0, 1e-8, 1.5}; /* CVODES's settings, atol_b as before the scaled default */
  outcome o_ref;
  if (run(&ref, batch, x, labels, &o_ref)) {
    fprintf(stderr, "odenet_grad_accuracy: %s\n", nde_last_error());
    return 1;
  }
  const size_t np = 208266;
  double nref = 0;
  for (size_t i = 0; i < np; i++) nref += o_ref.grad[i] * o_ref.grad[i];
  printf("input: %s batch: %d reference: rtol = atol = 1e-8, nfe_f %ld, nfe_b %ld, loss %.8f\n",
         input, batch, o_ref.nfe_f, o_ref.nfe_b, o_ref.loss);
  /* eta_fixed_max 0 is CVODES's 1.5 */
  const setting s[] = {{1e-3, 0.1, 0, 0},    {1e-3, 0.2, 0, 0},    {1e-3, 0.2, 0, 1.2},
                       {1e-4, 0.1, 0, 0},    {1e-4, 0.2, 0, 0},    {1e-4, 0.2, 0, 1.2},
                       {1e-3, 0.2, 1e-5, 1.2}, {1e-3, 0.2, 1e-6, 1.2}, {1e-3, 0.2, 1e-7, 1.2}};
  for (size_t k = 0; k < sizeof s / sizeof *s; k++) {
    outcome o;
    if (run(&s[k], batch, x, labels, &o)) {
      fprintf(stderr, "odenet_grad_accuracy: %s\n", nde_last_error());
      return 1;
    }
    double e = 0;
    for (size_t i = 0; i < np; i++) e += (o.grad[i] - o_ref.grad[i]) * (o.grad[i] - o_ref.grad[i]);
    char ab[32] = "the model's (adjoint-scaled)";
    if (s[k].atol_b > 0) snprintf(ab, sizeof ab, "%g", s[k].atol_b);
    printf("rtol=atol %g nls_coef %g eta_fixed_max %g atol_b %s: nfe_f %ld nfe_b %ld "
           "loss_err %.2e grad_rel_l2_err %.4f\n",
           s[k].tol, s[k].nls_coef, s[k].eta_fixed_max > 0 ? s[k].eta_fixed_max : 1.5, ab,
           o.nfe_f, o.nfe_b, fabs(o.loss - o_ref.loss), sqrt(e / nref));
    free(o.grad);
  }
  free(o_ref.grad);
  free(x);
  free(labels);
  return 0;
}
