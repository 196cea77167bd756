/* nde table3: the RMAN paper's Table 3 on Fashion-MNIST. Trains, with the
 * same seed and schedule, an ODE-Net without RMAN (h = 0), an ODE-Net with
 * h = 8 placement attractors and the ResNet-6 baseline, then writes
 * OUT/table3.md (error, NFE-F and NFE-B per training batch over the last
 * epoch, effective attractors, parameters, seconds per epoch) and keeps each
 * run's CSVs and checkpoint under OUT/table3/<run>/.
 *
 * NFE are reported for the training solver (CVODES Adams with the
 * checkpointed adjoint by default, nde's fastest accurate choice) and, beside
 * it, for the other of the pair {Adams + checkpoint, Dormand-Prince 5(4) +
 * backsolve (torchdiffeq's default, behind the paper's numbers)}, measured
 * on the same trained weights: forward and backward over 5 training batches
 * without an update, and the forward over the test set.
 *
 * --resume continues each run from its checkpoint (a run already complete is
 * only re-evaluated), so a long full-data reproduction can span sessions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/model_io.h"
#include "tools/train_job.h"

typedef struct row {
  const char *name;
  int kind, h;
  nde_train_summary sum;
  size_t params;
  double other_f, other_b, other_test_f; /* the second solver, ODE-Nets only */
} row;

int nde_cmd_table3(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "table3", argc, argv)) return 2;
  if (args_flag(&a, "help")) {
    printf("usage: nde table3 [--quick] [--out results] [--epochs E] [--subset N] [--test-subset N]\n"
           "                  [--solver adams] [--rtol 1e-3] [--atol 1e-3] [--data DIR] [--seed 1]\n"
           "                  [--attractors 8] [--lr 0.1] [--resume]\n"
           "--quick: 2 epochs on a 6400-image training subset and a 2000-image test subset\n"
           "(a few minutes on 2 cores); the default is 5 epochs on the full data.\n"
           "--resume continues every run from OUT/table3/<run>/checkpoint.ndeckpt.\n");
    args_free(&a);
    return 0;
  }
  int bad = 0, quick = args_flag(&a, "quick");
  const char *out = args_str(&a, "out", "results"), *data = args_str(&a, "data", NULL);
  int epochs = args_int(&a, "epochs", quick ? 2 : 5, &bad);
  int subset = args_int(&a, "subset", quick ? 6400 : 0, &bad);
  int test_subset = args_int(&a, "test-subset", quick ? 2000 : 0, &bad);
  int h = args_int(&a, "attractors", 8, &bad);
  long seed = args_long(&a, "seed", 1, &bad);
  double lr = args_double(&a, "lr", 0.1, &bad);
  int resume = args_flag(&a, "resume");
  nde_model_options base = nde_model_options_default(NDE_MODEL_ODENET); /* adams + checkpoint */
  if (tool_read_ode_options(&a, &base)) bad = 1;
  if (bad || args_finish(&a)) {
    args_free(&a);
    return 2;
  }
  args_free(&a);

  nde_dataset *train = NULL, *test = NULL;
  int rc = tool_load_fashion_mnist(data, &train, &test);
  if (rc) return tool_fail("table3", rc);
  row rows[3] = {{"ODE-Net", NDE_MODEL_ODENET, 0, {0}, 0, 0, 0, 0},
                 {"ODE-Net + RMAN", NDE_MODEL_ODENET, h, {0}, 0, 0, 0, 0},
                 {"ResNet-6", NDE_MODEL_RESNET6, 0, {0}, 0, 0, 0, 0}};
  char dir[4096];
  nde_ode_options other = tool_other_solver(&base.ode);
  char ckpt[4200];
  time_t started = time(NULL);
  for (int r = 0; r < 3 && !rc; r++) {
    tool_train_job job;
    memset(&job, 0, sizeof job);
    job.model = base;
    job.model.kind = rows[r].kind;
    job.model.attractors = rows[r].h;
    job.train = nde_train_options_default();
    job.train.epochs = epochs;
    job.train.subset_train = subset;
    job.train.subset_test = test_subset;
    job.train.seed = (uint64_t)seed;
    job.init_seed = (uint64_t)seed;
    nde_schedule_constant(&job.train.schedule, lr);
    snprintf(dir, sizeof dir, "%s/table3/%s-h%d", out, nde_model_kind_name(rows[r].kind), rows[r].h);
    job.train.out_dir = dir;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.ndeckpt", dir);
    job.train.resume = resume && access(ckpt, R_OK) == 0;
    job.train.progress = stderr;
    job.train.label = rows[r].name;
    job.data_dir = data;
    fprintf(stderr, "table3: training %s (h = %d), %d epochs, logs in %s\n", rows[r].name, rows[r].h,
            epochs, dir);
    nde_model *m = NULL;
    rc = tool_train_job_run(&job, train, test, &rows[r].sum, &rows[r].params, &m);
    if (rc) break;
    if (rows[r].kind == NDE_MODEL_ODENET)
      rc = tool_measure_solver(m, &other, train, test, 5, test_subset, &rows[r].other_f,
                               &rows[r].other_b, &rows[r].other_test_f);
    nde_model_free(m);
    printf("%s: test error %.2f%% NFE-F %.1f NFE-B %.1f (%.1f s/epoch)\n", rows[r].name,
           100 * rows[r].sum.test_err, rows[r].sum.nfe_f, rows[r].sum.nfe_b, rows[r].sum.sec_per_epoch);
    fflush(stdout);
  }
  nde_dataset_free(train);
  nde_dataset_free(test);
  if (rc) return tool_train_fail("table3", rc, lr, dir);

  char path[4096], mach[400], date[64];
  tool_machine_line(mach, sizeof mach);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&started));
  snprintf(path, sizeof path, "%s/table3.md", out);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "nde table3: cannot write %s\n", path);
    return 1;
  }
  const char *sname = nde_ode_method_name(base.ode.method), *oname = nde_ode_method_name(other.method);
  fprintf(f, "# RMAN Table 3 on Fashion-MNIST (nde %s)\n\n", nde_version());
  fprintf(f, "Run: %s; machine: %s; nde_real: %s.\n\n", date, mach, NDE_REAL_IS_DOUBLE ? "double" : "float");
  fprintf(f,
          "Setting: %d epoch(s) on %d training images (%s), tested on %d images, batch 128, SGD "
          "momentum 0.9, lr %g (constant), random crop 28 pad 4, seed %ld; ODE block on [0, 1] "
          "with %s (adjoint: %s), rtol %g, atol %g; RMAN alpha = 1e-4 (1 + epoch).\n\n",
          epochs, subset ? subset : 60000, subset ? "a fixed seeded random subset" : "the full set",
          test_subset ? test_subset : 10000, lr, seed, sname, nde_adjoint_kind_name(base.ode.adjoint),
          base.ode.rtol, base.ode.atol);
  fprintf(f, "| model | h | test error %% | NFE-F (%s) | NFE-B (%s) | test NFE-F (%s) | NFE-F (%s) | NFE-B (%s) | "
             "test NFE-F (%s) | effective attractors | parameters | s/epoch |\n",
          sname, sname, sname, oname, oname, oname);
  fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int r = 0; r < 3; r++) {
    const row *w = &rows[r];
    char eff[32] = "-";
    if (w->h) snprintf(eff, sizeof eff, "%d of %d", w->sum.effective_attractors, w->h);
    if (w->kind == NDE_MODEL_ODENET)
      fprintf(f, "| %s | %d | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %zu | %.1f |\n", w->name,
              w->h, 100 * w->sum.test_err, w->sum.nfe_f, w->sum.nfe_b, w->sum.test_nfe_f, w->other_f,
              w->other_b, w->other_test_f, eff, w->params, w->sum.sec_per_epoch);
    else
      fprintf(f, "| %s | %d | %.2f | - | - | - | - | - | - | - | %zu | %.1f |\n", w->name, w->h,
              100 * w->sum.test_err, w->params, w->sum.sec_per_epoch);
  }
  fprintf(f,
          "\nNFE-F / NFE-B are means per training batch of 128 over the last epoch (NFE-B counts "
          "the backward right-hand side and the quadrature, not the forward recomputation between "
          "checkpoints); test NFE-F is the mean per test batch. The %s columns run the trained "
          "weights through %s (adjoint: %s) on 5 training batches without an update, and over the "
          "test set. ARKODE's Dormand-Prince costs 7 evaluations per attempted step plus 2-4 "
          "(torchdiffeq: 6 per step plus 2).\n\n"
          "Paper (CIFAR-10, ODE-Net, dopri5): 12.09%% error / NFE 26.3 without RMAN, 11.64%% / 32.4 "
          "with 8 attractors; CIFAR-100: 41.06%% / 26.4 vs 40.54%% / 32.4 with 16.\n\n"
          "CSVs and checkpoints: %s/table3/<model>-h<H>/ (epochs.csv, batches.csv, checkpoint.ndeckpt).\n",
          oname, oname, nde_adjoint_kind_name(other.adjoint), out);
  fclose(f);
  printf("wrote %s\n", path);
  FILE *in = fopen(path, "r");
  if (in) {
    char line[1024];
    while (fgets(line, sizeof line, in)) fputs(line, stdout);
    fclose(in);
  }
  return 0;
}
