/* nde train: train one model on Fashion-MNIST (or MNIST in the same format),
 * logging per-epoch and per-batch CSVs and a checkpoint under --out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/model_io.h"
#include "tools/train_job.h"

static void usage(FILE *f) {
  fprintf(f,
      "usage: nde train --out DIR [--model odenet|resnet6|resnet20|resnet32|resnet44|resnet56] [--rman H] [--epochs 5] [--batch 128]\n"
      "                 [--lr 0.1*batch/128] [--momentum 0.9] [--wd 0] [--milestones a,b,..]\n"
      "                 [--solver adams|bdf|dopri5|bosh3|euler|rk4] [--adjoint checkpoint|backsolve|direct]\n"
      "                 [--rtol 1e-3] [--atol 1e-3] [--batch-mode joint|per-sample]\n"
      "                 [--data DIR] [--subset N] [--test-subset N] [--seed 1] [--crop-pad 4] [--resume]\n"
      "Writes DIR/epochs.csv, DIR/batches.csv and DIR/checkpoint.ndeckpt (after every epoch).\n"
      "--resume continues from DIR/checkpoint.ndeckpt with the same options, also after a kill.\n"
      "A diverging run (a loss not finite or above 1000 ln 10, a solver at its step limit) stops\n"
      "with exit status 1 and leaves the checkpoint of the last good epoch.\n");
}

int nde_cmd_train(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "train", argc, argv)) return 2;
  if (args_flag(&a, "help")) {
    usage(stdout);
    args_free(&a);
    return 0;
  }
  int bad = 0, kind = NDE_MODEL_ODENET;
  const char *model = args_str(&a, "model", "odenet");
  if (nde_model_kind_parse(model, &kind)) {
    fprintf(stderr, "nde train: --model: %s\n", nde_last_error());
    bad = 1;
  }
  tool_train_job job;
  memset(&job, 0, sizeof job);
  job.model = nde_model_options_default(kind);
  job.train = nde_train_options_default();
  job.model.attractors = args_int(&a, "rman", 0, &bad);
  job.train.epochs = args_int(&a, "epochs", 5, &bad);
  job.train.batch = args_int(&a, "batch", 128, &bad);
  job.model.max_batch = job.train.batch < 128 ? 128 : job.train.batch;
  double lr = args_double(&a, "lr", 0.1 * job.train.batch / 128.0, &bad);
  job.train.optim_opts.momentum = args_double(&a, "momentum", 0.9, &bad);
  job.train.optim_opts.weight_decay = args_double(&a, "wd", 0, &bad);
  const char *ms = args_str(&a, "milestones", NULL);
  job.train.crop_pad = args_int(&a, "crop-pad", 4, &bad);
  job.train.subset_train = args_int(&a, "subset", 0, &bad);
  job.train.subset_test = args_int(&a, "test-subset", 0, &bad);
  long seed = args_long(&a, "seed", 1, &bad);
  job.train.seed = (uint64_t)seed;
  job.init_seed = (uint64_t)seed;
  job.train.out_dir = args_str(&a, "out", NULL);
  job.train.resume = args_flag(&a, "resume");
  job.data_dir = args_str(&a, "data", NULL);
  if (tool_read_ode_options(&a, &job.model)) bad = 1;
  if (bad || args_finish(&a)) {
    args_free(&a);
    return 2;
  }
  args_free(&a);
  if (!job.train.out_dir) {
    fprintf(stderr, "nde train: --out DIR is required\n");
    return 2;
  }
  int rc;
  if (ms) {
    int mil[NDE_SCHED_MAX_MILESTONES], nm = 0;
    const char *p = ms;
    while (*p && nm < NDE_SCHED_MAX_MILESTONES) {
      char *end;
      mil[nm++] = (int)strtol(p, &end, 10);
      if (end == p) break;
      p = *end == ',' ? end + 1 : end;
    }
    rc = nde_schedule_multistep(&job.train.schedule, lr, mil, nm, 0.1);
  } else {
    rc = nde_schedule_constant(&job.train.schedule, lr);
  }
  if (rc) return tool_fail("train", rc);
  job.train.progress = stderr;
  job.train.label = model;

  nde_dataset *train = NULL, *test = NULL;
  if ((rc = tool_load_fashion_mnist(job.data_dir, &train, &test))) return tool_fail("train", rc);
  /* the model takes the data's image shape (ResNet-20..56 default to CIFAR's 3x32x32) */
  job.model.in = nde_shape_chw(train->c, train->h, train->w);
  /* A batch whose memory cannot fit is refused here, naming the option,
   * before anything batch-sized is allocated. */
  size_t need = 0, avail = nde_memory_available();
  if (!nde_model_memory_estimate(&job.model, &need) && need > avail) {
    const double gib = 1024.0 * 1024.0 * 1024.0;
    fprintf(stderr, "nde train: --batch %d needs about %.1f GiB, %.1f GiB available\n",
            job.train.batch, need / gib, avail / gib);
    nde_dataset_free(train);
    nde_dataset_free(test);
    return 1;
  }
  nde_train_summary sum;
  size_t np = 0;
  rc = tool_train_job_run(&job, train, test, &sum, &np, NULL);
  nde_dataset_free(train);
  nde_dataset_free(test);
  if (rc) return tool_train_fail("train", rc, lr, job.train.out_dir);
  if (kind == NDE_MODEL_ODENET)
    printf("model: %s attractors: %d params: %zu solver: %s adjoint: %s\n", model, job.model.attractors,
           np, nde_ode_method_name(job.model.ode.method), nde_adjoint_kind_name(job.model.ode.adjoint));
  else
    printf("model: %s attractors: %d params: %zu\n", model, job.model.attractors, np);
  printf("epochs: %d test_err: %.2f%% train_err: %.2f%% nfe_f: %.1f nfe_b: %.1f sec_per_epoch: %.1f\n",
         sum.epochs_done, 100 * sum.test_err, 100 * sum.train_err, sum.nfe_f, sum.nfe_b, sum.sec_per_epoch);
  return 0;
}
