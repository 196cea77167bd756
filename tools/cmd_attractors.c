/* nde attractors CHECKPOINT: the RMAN statistics of a trained model (the
 * data of the paper's Table 2 and Figure 4): effective attractors, their
 * Gram matrix, attraction strengths per attractor and per pair, the
 * fraction of solely attracted outputs, and pooled-output norms, measured on
 * the test set. --csv PREFIX also writes PREFIX_gram.csv and
 * PREFIX_strength.csv for plotting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/model_io.h"
#include "tools/train_job.h"

int nde_cmd_attractors(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "attractors", argc, argv)) return 2;
  if (args_flag(&a, "help") || a.npositional != 1) {
    fprintf(a.npositional == 1 ? stdout : stderr,
            "usage: nde attractors CHECKPOINT [--data DIR] [--subset N] [--csv PREFIX]\n");
    int r = a.npositional == 1 ? 0 : 2;
    args_free(&a);
    return r;
  }
  int bad = 0;
  const char *path = a.positional[0], *data = args_str(&a, "data", NULL), *csv = args_str(&a, "csv", NULL);
  int subset = args_int(&a, "subset", 0, &bad);
  if (bad || args_finish(&a)) {
    args_free(&a);
    return 2;
  }
  args_free(&a);
  nde_model *m;
  double *mean, *std; /* one value per input channel of the checkpoint's model */
  int rc = tool_model_from_ckpt(path, 128, NULL, &m, &mean, &std);
  if (rc) return tool_fail("attractors", rc);
  const nde_model_options *mo = nde_model_get_options(m);
  if (mo->attractors == 0) {
    fprintf(stderr, "nde attractors: %s was trained without RMAN (0 attractors)\n", path);
    free(mean);
    free(std);
    nde_model_free(m);
    return 1;
  }
  nde_dataset *test = NULL;
  nde_rman_stats *st = NULL;
  rc = nde_data_load_fashion_mnist(data, 0, &test);
  if (!rc && tool_check_data_shape("attractors", path, m, test)) {
    nde_dataset_free(test);
    free(mean);
    free(std);
    nde_model_free(m);
    return 1;
  }
  if (!rc) rc = nde_rman_stats_create(mo->width, mo->attractors, &mo->rman, &st);
  if (!rc) rc = tool_pooled_features(m, test, mean, std, subset, 1, st, NULL, 0, NULL);
  if (!rc) {
    const int h = mo->attractors;
    printf("checkpoint: %s attractors: %d effective: %d (||m||^2 > %g)\n", path, h, st->n_effective,
           mo->rman.effective_threshold);
    printf("samples: %ld solely_attracted: %.4f (max a_j > %g) no_active_attractor: %ld\n", st->n,
           st->solely_fraction, mo->rman.solely_threshold, st->n_empty);
    printf("pooled_norm_mean: %.4f pooled_norm_std: %.4f\n", st->norm_mean, st->norm_std);
    printf("%4s %10s %10s\n", "j", "||m_j||^2", "strength");
    for (int j = 0; j < h; j++) printf("%4d %10.4f %10.4f\n", j, st->norm2[j], st->strength[j]);
    printf("gram (m_i . m_j):\n");
    for (int i = 0; i < h; i++) {
      for (int j = 0; j < h; j++) printf(" %8.3f", st->gram[i * h + j]);
      printf("\n");
    }
    if (csv) {
      char p1[4096], p2[4096];
      snprintf(p1, sizeof p1, "%s_gram.csv", csv);
      snprintf(p2, sizeof p2, "%s_strength.csv", csv);
      if (tool_write_matrix(p1, st->gram, h) || tool_write_matrix(p2, st->pair_strength, h)) rc = NDE_ERR_IO;
      else printf("wrote %s and %s\n", p1, p2);
    }
  }
  nde_rman_stats_free(st);
  nde_dataset_free(test);
  nde_model_free(m);
  free(mean);
  free(std);
  return rc ? tool_fail("attractors", rc) : 0;
}
