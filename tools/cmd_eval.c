/* nde eval CHECKPOINT: test error and NFE of a trained model. The solver can
 * be changed for the evaluation (e.g. --solver dopri5 on a model trained
 * with adams) to compare NFE on the same weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/model_io.h"
#include "tools/train_job.h"

int nde_cmd_eval(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "eval", argc, argv)) return 2;
  if (args_flag(&a, "help") || a.npositional != 1) {
    fprintf(a.npositional == 1 ? stdout : stderr,
            "usage: nde eval CHECKPOINT [--data DIR] [--subset N] [--solver S] [--rtol R] [--atol A]\n");
    int r = a.npositional == 1 ? 0 : 2;
    args_free(&a);
    return r;
  }
  int bad = 0;
  const char *path = a.positional[0], *data = args_str(&a, "data", NULL);
  int subset = args_int(&a, "subset", 0, &bad);
  nde_model_options probe = nde_model_options_default(NDE_MODEL_ODENET);
  int override = args_str(&a, "solver", NULL) || args_str(&a, "rtol", NULL) || args_str(&a, "atol", NULL);
  /* args_str marked them used; re-read through the shared parser */
  if (tool_read_ode_options(&a, &probe)) bad = 1;
  if (bad || args_finish(&a)) {
    args_free(&a);
    return 2;
  }
  nde_model *m;
  double *mean, *std; /* one value per input channel of the checkpoint's model */
  probe.ode.adjoint = NDE_ADJ_NONE;
  int rc = tool_model_from_ckpt(path, 128, override ? &probe.ode : NULL, &m, &mean, &std);
  args_free(&a);
  if (rc) return tool_fail("eval", rc);
  nde_dataset *test;
  if ((rc = nde_data_load_fashion_mnist(data, 0, &test))) {
    free(mean);
    free(std);
    nde_model_free(m);
    return tool_fail("eval", rc);
  }
  double err, nfe;
  rc = nde_train_evaluate(m, test, mean, std, subset, &err, &nfe);
  const nde_model_options *mo = nde_model_get_options(m);
  if (!rc) {
    printf("checkpoint: %s model: %s attractors: %d solver: %s rtol: %g atol: %g\n", path,
           nde_model_kind_name(mo->kind), mo->attractors, nde_ode_method_name(mo->ode.method),
           mo->ode.rtol, mo->ode.atol);
    printf("test_samples: %d test_err: %.2f%% nfe_f_per_batch: %.1f\n", subset ? subset : test->n,
           100 * err, nfe);
  }
  nde_dataset_free(test);
  nde_model_free(m);
  free(mean);
  free(std);
  return rc ? tool_fail("eval", rc) : 0;
}
