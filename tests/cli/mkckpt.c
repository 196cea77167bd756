/* Test helper for tests/cli/check.sh: writes a checkpoint as the training
 * loop does (parameters, normalization per input channel, model meta) for an
 * ODE-Net of IN_C x 28 x 28 inputs, so that the program's checkpoint readers
 * can be tried on shapes and meta values nde train never writes.
 *
 *   cli_mkckpt OUT IN_C ATTRACTORS [KEY=VALUE ...]
 *
 * KEY=VALUE replaces a meta value as written (after the model was built
 * from the true ones), e.g. in_c=99999999999 or width=-3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"

#define NMETA 12

static int fail(const char *what) {
  fprintf(stderr, "cli_mkckpt: %s: %s\n", what, nde_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: cli_mkckpt OUT IN_C ATTRACTORS [KEY=VALUE ...]\n");
    return 2;
  }
  const char *out = argv[1];
  const int in_c = atoi(argv[2]), att = atoi(argv[3]);
  nde_model_options o = nde_model_options_default(NDE_MODEL_ODENET);
  o.in = nde_shape_chw(in_c, 28, 28);
  o.width = 8;
  o.groups = 4;
  o.attractors = att;
  o.max_batch = 1;
  nde_model *m;
  if (nde_model_create(&o, &m)) return fail("model");
  nde_rng rng;
  nde_rng_seed(&rng, 3);
  if (nde_model_init(m, &rng)) return fail("init");
  double *mean = malloc((size_t)in_c * sizeof *mean), *std = malloc((size_t)in_c * sizeof *std);
  if (!mean || !std) return 1;
  for (int k = 0; k < in_c; k++) mean[k] = 0.25, std[k] = 0.5;

  char vals[NMETA][64];
  const char *keys[NMETA] = {"model", "attractors", "width",  "groups",  "nclasses", "in_c",
                             "in_h",  "in_w",       "solver", "adjoint", "rtol",     "atol"};
  snprintf(vals[0], 64, "%s", nde_model_kind_name(o.kind));
  snprintf(vals[1], 64, "%d", o.attractors);
  snprintf(vals[2], 64, "%d", o.width);
  snprintf(vals[3], 64, "%d", o.groups);
  snprintf(vals[4], 64, "%d", o.nclasses);
  snprintf(vals[5], 64, "%d", o.in.c);
  snprintf(vals[6], 64, "%d", o.in.h);
  snprintf(vals[7], 64, "%d", o.in.w);
  snprintf(vals[8], 64, "%s", nde_ode_method_name(o.ode.method));
  snprintf(vals[9], 64, "%s", nde_adjoint_kind_name(o.ode.adjoint));
  snprintf(vals[10], 64, "%.17g", o.ode.rtol);
  snprintf(vals[11], 64, "%.17g", o.ode.atol);
  for (int i = 4; i < argc; i++) {
    const char *eq = strchr(argv[i], '=');
    int found = 0;
    for (int k = 0; eq && k < NMETA; k++)
      if (strlen(keys[k]) == (size_t)(eq - argv[i]) && !strncmp(keys[k], argv[i], eq - argv[i])) {
        snprintf(vals[k], 64, "%s", eq + 1);
        found = 1;
      }
    if (!found) {
      fprintf(stderr, "cli_mkckpt: unknown meta override '%s'\n", argv[i]);
      return 2;
    }
  }

  nde_ckpt_writer *w;
  if (nde_ckpt_writer_create(&w)) return fail("writer");
  int rc = nde_ckpt_add_real(w, "params", nde_model_params(m), nde_model_num_params(m));
  if (!rc) rc = nde_ckpt_add_f64(w, "norm_mean", mean, (size_t)in_c);
  if (!rc) rc = nde_ckpt_add_f64(w, "norm_std", std, (size_t)in_c);
  if (!rc) rc = nde_ckpt_set_meta_int(w, "epoch", 1);
  for (int k = 0; k < NMETA && !rc; k++) rc = nde_ckpt_set_meta(w, keys[k], vals[k]);
  if (!rc) rc = nde_ckpt_writer_commit(w, out);
  if (rc) return fail(out);
  nde_ckpt_writer_free(w);
  nde_model_free(m);
  free(mean);
  free(std);
  return 0;
}
