/* nde campaign: the RMAN paper's claims at its own standard (every
 * configuration over several seeds, a step schedule, weight decay), on
 * Fashion-MNIST:
 *   Table 3  ODE-Net with h = 0 and h = 8 attractors, ResNet-6 beside them;
 *   Table 1  pre-activation ResNet-20 (BatchNorm) with h = 0 and h = 16;
 * then Table 2 (effective and used attractors), Figure 3a (training and
 * test loss per epoch), Figure 3b (pooled-feature norms), Figure 4's
 * statistics and NFE per epoch, with mean +- sd over the seeds and Welch
 * t-tests of the paper's claims (tools/campaign_report.c).
 *
 * Recipe (the paper's section 4.1 scaled to E epochs): SGD momentum 0.9,
 * batch 128, weight decay 5e-4 on every parameter, lr 0.1 divided by 10
 * after ceil(E/2) and ceil(3E/4) epochs, random crop with 4-pixel padding,
 * alpha = 1e-4 (1 + epoch), attractors from N(0, 1). The seed of a run
 * initializes the parameters (attractors included) and drives the data
 * order and the augmentation (and the training subset, with --subset).
 *
 * Order: seed by seed, every configuration of a seed before the next seed.
 * An interrupted campaign then leaves every configuration with the same
 * number of seeds (give or take one), so its partial summaries already
 * compare like with like: after the first seed a one-seed table, after the
 * second the first p-values. Each run resumes from its last epoch's
 * checkpoint and a finished run is skipped, so re-running the command only
 * finishes what is missing and rebuilds the summaries. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/args.h"
#include "tools/campaign.h"
#include "tools/commands.h"
#include "tools/model_io.h"
#include "tools/train_job.h"

const camp_config camp_configs[CAMP_NCONFIGS] = {
    {"table3", "odenet-h0", "ODE-Net", NDE_MODEL_ODENET, 0},
    {"table3", "odenet-h8", "ODE-Net + RMAN (h = 8)", NDE_MODEL_ODENET, 8},
    {"table3", "resnet6-h0", "ResNet-6", NDE_MODEL_RESNET6, 0},
    {"table1", "resnet20-h0", "ResNet-20", NDE_MODEL_RESNET20, 0},
    {"table1", "resnet20-h16", "ResNet-20 + RMAN (h = 16)", NDE_MODEL_RESNET20, 16},
};

void camp_run_dir(const camp_settings *s, int c, int seed, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s/%s/seed%d", s->out, camp_configs[c].table, camp_configs[c].name, seed);
}

void camp_run_file(const camp_settings *s, int c, int seed, const char *file, char *buf,
                   size_t cap) {
  snprintf(buf, cap, "%s/%s/%s/seed%d/%s", s->out, camp_configs[c].table, camp_configs[c].name,
           seed, file);
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: nde campaign [--seeds 1,2,3] [--out results/campaign] [--epochs 10] [--quick]\n"
      "                    [--only table3|table1] [--configs NAME,...] [--data DIR]\n"
      "                    [--subset N] [--test-subset N] [--nfe-batches 5]\n"
      "                    [--solver S] [--adjoint A] [--rtol R] [--atol A] [--batch-mode M]\n"
      "Trains, for every seed, Table 3's ODE-Net (h = 0 and h = 8) and ResNet-6 and Table 1's\n"
      "pre-activation ResNet-20 (h = 0 and h = 16) on Fashion-MNIST, then writes OUT/table3.md,\n"
      "OUT/table1.md (mean +- sd over seeds, Welch t-tests and verdicts of the paper's claims)\n"
      "and pictures under OUT/figures/. Runs live in OUT/<table>/<config>/seed<k>/; an\n"
      "interrupted run resumes from its checkpoint and a finished one is skipped, so the same\n"
      "command continues a campaign and, once all is done, only rebuilds the summaries.\n"
      "Configs: odenet-h0 odenet-h8 resnet6-h0 (table3), resnet20-h0 resnet20-h16 (table1).\n"
      "Solver options default to the library's (adams, checkpointed adjoint); NFE are also\n"
      "measured on the trained weights with the other of {adams, dopri5} over --nfe-batches\n"
      "training batches and the test set.\n"
      "--quick: 2 epochs on 1280 training and 1000 test images, 2 NFE batches, default\n"
      "--out results/campaign-quick (about 2 CPU-minutes per seed).\n");
}

/* "1,2,3" -> distinct non-negative seeds. */
static int parse_seeds(const char *text, camp_settings *s) {
  s->nseeds = 0;
  const char *p = text;
  while (*p) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < 0 || v > 1000000000L || (*end && *end != ',')) {
      fprintf(stderr,
              "nde campaign: --seeds expects non-negative integers separated by commas, got '%s'\n",
              text);
      return 2;
    }
    for (int i = 0; i < s->nseeds; i++)
      if (s->seeds[i] == v) {
        fprintf(stderr, "nde campaign: --seeds lists %ld twice\n", v);
        return 2;
      }
    if (s->nseeds == CAMP_MAX_SEEDS) {
      fprintf(stderr, "nde campaign: --seeds: at most %d seeds\n", CAMP_MAX_SEEDS);
      return 2;
    }
    s->seeds[s->nseeds++] = (int)v;
    p = *end ? end + 1 : end;
  }
  if (s->nseeds == 0) {
    fprintf(stderr, "nde campaign: --seeds is empty\n");
    return 2;
  }
  return 0;
}

/* --only and --configs: which configurations run. */
static int select_configs(const char *only, const char *names, camp_settings *s) {
  if (only && strcmp(only, "table3") && strcmp(only, "table1")) {
    fprintf(stderr, "nde campaign: --only must be table3 or table1, got '%s'\n", only);
    return 2;
  }
  for (int c = 0; c < CAMP_NCONFIGS; c++) s->use[c] = !only || !strcmp(only, camp_configs[c].table);
  if (!names) return 0;
  int want[CAMP_NCONFIGS] = {0};
  char buf[512];
  snprintf(buf, sizeof buf, "%s", names);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    int found = -1;
    for (int c = 0; c < CAMP_NCONFIGS; c++)
      if (!strcmp(tok, camp_configs[c].name)) found = c;
    if (found < 0) {
      fprintf(stderr,
              "nde campaign: --configs: unknown configuration '%s' (choose from odenet-h0, "
              "odenet-h8, resnet6-h0, resnet20-h0, resnet20-h16)\n",
              tok);
      return 2;
    }
    want[found] = 1;
  }
  for (int c = 0; c < CAMP_NCONFIGS; c++) s->use[c] = s->use[c] && want[c];
  for (int c = 0; c < CAMP_NCONFIGS; c++)
    if (s->use[c]) return 0;
  fprintf(stderr, "nde campaign: --only and --configs leave no configuration to run\n");
  return 2;
}

/* The settings a run is made with, as key=value lines: a run directory made
 * with other settings is never resumed or reused. Solver settings only
 * matter to ODE-Nets. */
static void settings_text(const camp_settings *s, int c, int seed, char *buf, size_t cap) {
  const camp_config *cf = &camp_configs[c];
  const nde_ode_options *o = &s->base.ode;
  size_t n = (size_t)snprintf(
      buf, cap,
      "model=%s\nattractors=%d\nseed=%d\nepochs=%d\nbatch=%d\nlr=%.17g\nmomentum=%.17g\n"
      "weight_decay=%.17g\nmilestones=%d,%d\nlr_factor=0.1\ncrop_pad=4\nsubset=%d\ntest_subset=%d\n"
      "alpha0=%.17g\nalpha_step=%.17g\nrman_empty=%d\nnfe_batches=%d\nnde_real=%s\n",
      nde_model_kind_name(cf->kind), cf->h, seed, s->epochs, s->batch, s->lr, s->momentum,
      s->weight_decay, s->milestones[0], s->milestones[1], s->subset, s->test_subset,
      s->base.rman.alpha0, s->base.rman.alpha_step, s->base.rman.empty, s->nfe_batches,
      NDE_REAL_IS_DOUBLE ? "double" : "float");
  if (cf->kind != NDE_MODEL_ODENET || n >= cap) return;
  snprintf(buf + n, cap - n,
           "solver=%s\nadjoint=%s\nbatch_mode=%d\nrtol=%.17g\natol=%.17g\nrtol_b=%.17g\n"
           "atol_b=%.17g\nt0=%.17g\nT=%.17g\nmax_steps=%ld\nh0=%.17g\nhmin=%.17g\nhmax=%.17g\n"
           "interp=%d\ncheckpoint_steps=%ld\nseminorm=%d\nnls_coef=%.17g\neta_fixed_max=%.17g\n"
           "other_solver=%s\nother_adjoint=%s\n",
           nde_ode_method_name(o->method), nde_adjoint_kind_name(o->adjoint), o->batch_mode,
           o->rtol, o->atol, o->rtol_b, o->atol_b, o->t0, o->T, o->max_steps, o->h0, o->hmin,
           o->hmax, o->interp, o->checkpoint_steps, o->seminorm, o->nls_coef, o->eta_fixed_max,
           nde_ode_method_name(s->other.method), nde_adjoint_kind_name(s->other.adjoint));
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  while (b) {
    if (n + 1024 > cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) {
        free(b);
        b = NULL;
        break;
      }
      b = nb;
    }
    size_t k = fread(b + n, 1, cap - n - 1, f);
    n += k;
    if (k == 0) break;
  }
  fclose(f);
  if (b) b[n] = '\0';
  return b;
}

/* First line where two settings texts differ, for the message. */
static void first_difference(const char *have, const char *want, char *buf, size_t cap) {
  const char *a = have, *b = want;
  while (*a || *b) {
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (la != lb || strncmp(a, b, la)) {
      snprintf(buf, cap, "it has '%.*s', this command gives '%.*s'", (int)la, a, (int)lb, b);
      return;
    }
    a += la + (a[la] == '\n');
    b += lb + (b[lb] == '\n');
  }
  snprintf(buf, cap, "they differ");
}

static int write_atomic(const char *path, const char *text) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  int bad = !f || fputs(text, f) == EOF;
  if (f && fclose(f)) bad = 1;
  if (!bad && rename(tmp, path)) bad = 1;
  if (bad) {
    fprintf(stderr, "nde campaign: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return 1;
  }
  return 0;
}

/* Before training anything: every existing run directory of this command
 * must have been made with this command's settings. */
static int check_existing_runs(const camp_settings *s) {
  int bad = 0;
  char first[9000] = "";
  for (int k = 0; k < s->nseeds; k++)
    for (int c = 0; c < CAMP_NCONFIGS; c++) {
      if (!s->use[c]) continue;
      char path[4400], want[4096], diff[600];
      camp_run_file(s, c, s->seeds[k], "settings.txt", path, sizeof path);
      char *have = slurp(path);
      if (!have) continue;
      settings_text(s, c, s->seeds[k], want, sizeof want);
      if (strcmp(have, want)) {
        if (!bad++) {
          first_difference(have, want, diff, sizeof diff);
          camp_run_dir(s, c, s->seeds[k], path, sizeof path);
          snprintf(first, sizeof first, "%s was made with other settings (%s)", path, diff);
        }
      }
      free(have);
    }
  if (bad)
    fprintf(stderr,
            "nde campaign: %s%s. Finish a campaign with its own settings, or give another --out "
            "(or delete the runs) to start over.\n",
            first, bad > 1 ? ", and so were other runs of this command" : "");
  return bad ? 2 : 0;
}

/* Data, loaded when the first run needs it. */
typedef struct camp_data {
  nde_dataset *train, *test;
  double *mean, *std; /* per channel of the training data */
} camp_data;

static void camp_data_free(camp_data *d) {
  nde_dataset_free(d->train);
  nde_dataset_free(d->test);
  free(d->mean);
  free(d->std);
}

static int load_data(const camp_settings *s, camp_data *d) {
  if (d->train) return 0;
  int rc = tool_load_fashion_mnist(s->data, &d->train, &d->test);
  if (!rc) {
    d->mean = calloc((size_t)d->train->c, sizeof *d->mean);
    d->std = calloc((size_t)d->train->c, sizeof *d->std);
    rc = d->mean && d->std ? nde_data_channel_stats(d->train, d->mean, d->std) : NDE_ERR_NOMEM;
  }
  return rc ? tool_fail("campaign", rc) : 0;
}

static int64_t checkpoint_epoch(const char *path) {
  nde_ckpt *c;
  int64_t e = -1;
  if (access(path, R_OK) != 0 || nde_ckpt_open(path, &c)) return -1;
  if (nde_ckpt_meta_int(c, "epoch", &e)) e = -1;
  nde_ckpt_free(c);
  return e;
}

static void utc_now(char *buf, size_t cap) {
  time_t t = time(NULL);
  strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
}

static int append_session(const char *dir, long from_epoch, const char *command) {
  char path[4400], date[64];
  snprintf(path, sizeof path, "%s/sessions.txt", dir);
  utc_now(date, sizeof date);
  FILE *f = fopen(path, "a");
  if (!f) {
    fprintf(stderr, "nde campaign: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  fprintf(f, "%s build=%s from_epoch=%ld command=%s\n", date, tool_build_commit(), from_epoch,
          command);
  return fclose(f) ? 1 : 0;
}

/* Pooled-feature norms of the test images, one per line. */
static int write_norms(const char *dir, const double *norms, long n) {
  char path[4400];
  snprintf(path, sizeof path, "%s/norms.csv", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "nde campaign: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  fprintf(f, "norm\n");
  for (long i = 0; i < n; i++) fprintf(f, "%.7g\n", norms[i]);
  return fclose(f) ? 1 : 0;
}

static int write_attractors(const char *dir, const nde_rman_stats *st) {
  char path[4400];
  snprintf(path, sizeof path, "%s/attractors.csv", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "nde campaign: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  const int h = st->h;
  fprintf(f, "j,norm2,strength,strongest_fraction");
  for (int i = 0; i < h; i++) fprintf(f, ",gram%d", i);
  for (int i = 0; i < h; i++) fprintf(f, ",pair%d", i);
  fprintf(f, "\n");
  for (int j = 0; j < h; j++) {
    fprintf(f, "%d,%.8g,%.8g,%.8g", j, st->norm2[j], st->strength[j],
            st->pair_fraction[(size_t)j * h + j]);
    for (int i = 0; i < h; i++) fprintf(f, ",%.8g", st->gram[(size_t)j * h + i]);
    for (int i = 0; i < h; i++) fprintf(f, ",%.8g", st->pair_strength[(size_t)j * h + i]);
    fprintf(f, "\n");
  }
  return fclose(f) ? 1 : 0;
}

/* The results of a run, one CSV row; written last, atomically. */
typedef struct camp_final {
  const char *key;
  double v;
} camp_final;

static int write_final(const char *dir, const camp_final *kv, int n) {
  char path[4400], text[8192];
  size_t len = 0;
  for (int i = 0; i < n; i++)
    len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", i ? "," : "", kv[i].key);
  len += (size_t)snprintf(text + len, sizeof text - len, "\n");
  for (int i = 0; i < n; i++)
    len += (size_t)snprintf(text + len, sizeof text - len, "%s%.10g", i ? "," : "", kv[i].v);
  snprintf(text + len, sizeof text - len, "\n");
  snprintf(path, sizeof path, "%s/final.csv", dir);
  return write_atomic(path, text);
}

/* After training: the measurements on the trained weights. */
static int measure_run(const camp_settings *s, int c, const char *dir, nde_model *m,
                       const nde_train_summary *sum, size_t params, camp_data *d) {
  const camp_config *cf = &camp_configs[c];
  const nde_model_options *mo = nde_model_get_options(m);
  long cap = s->test_subset > 0 && s->test_subset < d->test->n ? s->test_subset : d->test->n, n = 0;
  double *norms = malloc((size_t)cap * sizeof *norms);
  nde_rman_stats *st = NULL;
  int rc = norms ? NDE_OK : NDE_ERR_NOMEM;
  if (!rc && cf->h > 0) rc = nde_rman_stats_create(mo->width, mo->attractors, &mo->rman, &st);
  /* the test subset nde_train_evaluate uses (seed 12345), so norms and errors share images */
  if (!rc)
    rc = tool_pooled_features(m, d->test, d->mean, d->std, s->test_subset, 12345, st, norms, cap,
                              &n);
  double of = NAN, ob = NAN, otf = NAN;
  if (!rc && cf->kind == NDE_MODEL_ODENET)
    rc = tool_measure_solver(m, &s->other, d->train, d->test, s->nfe_batches, s->test_subset, &of,
                             &ob, &otf);
  if (rc) {
    free(norms);
    nde_rman_stats_free(st);
    return tool_fail("campaign", rc);
  }
  double nmean, nsd;
  nde_mean_sd(norms, (int)(n < cap ? n : cap), &nmean, &nsd);
  int bad = write_norms(dir, norms, n < cap ? n : cap);
  double eff = NAN, used = NAN, solely = NAN, empty = NAN;
  if (st) {
    eff = st->n_effective;
    used = 0;
    for (int j = 0; j < st->h; j++) used += st->strength[j] > CAMP_USED_THRESHOLD;
    solely = st->solely_fraction;
    empty = st->n ? (double)st->n_empty / st->n : NAN;
    bad |= write_attractors(dir, st);
  }
  const int ode = cf->kind == NDE_MODEL_ODENET;
  const camp_final kv[] = {
      {"epochs", sum->epochs_done},
      {"params", (double)params},
      {"test_err", sum->test_err},
      {"train_loss", sum->train_loss},
      {"train_xent", sum->train_xent},
      {"test_loss", sum->test_loss},
      {"gap", sum->test_loss - sum->train_xent},
      {"nfe_f", ode ? sum->nfe_f : NAN},
      {"nfe_b", ode ? sum->nfe_b : NAN},
      {"test_nfe_f", ode ? sum->test_nfe_f : NAN},
      {"other_nfe_f", of},
      {"other_nfe_b", ob},
      {"other_test_nfe_f", otf},
      {"norm_mean", nmean},
      {"norm_sd", nsd},
      {"test_samples", (double)n},
      {"effective", eff},
      {"used", used},
      {"solely_fraction", solely},
      {"no_active_fraction", empty},
      {"sec_per_epoch", sum->sec_per_epoch},
  };
  if (!bad) bad = write_final(dir, kv, (int)(sizeof kv / sizeof kv[0]));
  free(norms);
  nde_rman_stats_free(st);
  return bad;
}

/* Train (or resume) one run and measure it; a finished run is skipped.
 * Returns 0, 1 (this run failed) or -1 (nothing can run: no data). */
static int run_one(const camp_settings *s, int c, int seed, camp_data *d, int index, int total) {
  const camp_config *cf = &camp_configs[c];
  char dir[4096], path[4400], text[4096];
  camp_run_dir(s, c, seed, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/final.csv", dir);
  if (access(path, R_OK) == 0) {
    printf("campaign: [%d/%d] %s/%s seed %d: finished earlier, skipped\n", index, total, cf->table,
           cf->name, seed);
    return 0;
  }
  if (load_data(s, d)) return -1;
  if (tool_mkdirs(dir)) return 1;
  snprintf(path, sizeof path, "%s/settings.txt", dir);
  settings_text(s, c, seed, text, sizeof text);
  if (access(path, R_OK) != 0 && write_atomic(path, text)) return 1;

  tool_train_job job;
  memset(&job, 0, sizeof job);
  job.model = s->base;
  job.model.kind = cf->kind;
  job.model.attractors = cf->h;
  job.model.in = nde_shape_chw(d->train->c, d->train->h, d->train->w);
  job.train = nde_train_options_default();
  job.train.epochs = s->epochs;
  job.train.batch = s->batch;
  job.train.optim_opts.momentum = s->momentum;
  job.train.optim_opts.weight_decay = s->weight_decay;
  nde_schedule_multistep(&job.train.schedule, s->lr, s->milestones, 2, 0.1);
  job.train.crop_pad = 4;
  job.train.subset_train = s->subset;
  job.train.subset_test = s->test_subset;
  job.train.seed = (uint64_t)seed; /* data order, augmentation, training subset */
  job.init_seed = (uint64_t)seed;  /* parameters and attractors */
  job.train.out_dir = dir;
  snprintf(path, sizeof path, "%s/checkpoint.ndeckpt", dir);
  int64_t done = checkpoint_epoch(path);
  job.train.resume = done >= 0;
  job.train.progress = stderr;
  char label[128];
  snprintf(label, sizeof label, "%s seed %d", cf->name, seed);
  job.train.label = label;
  job.data_dir = s->data;
  if (done >= s->epochs)
    printf("campaign: [%d/%d] %s/%s seed %d: trained earlier, measuring\n", index, total, cf->table,
           cf->name, seed);
  else
    printf("campaign: [%d/%d] %s/%s seed %d: %s epoch %ld of %d, logs in %s\n", index, total,
           cf->table, cf->name, seed, done > 0 ? "resuming after" : "training from",
           (long)(done > 0 ? done : 0), s->epochs, dir);
  fflush(stdout);
  if (done < s->epochs && append_session(dir, done > 0 ? (long)done : 0, s->command)) return 1;
  nde_train_summary sum;
  size_t params = 0;
  nde_model *m = NULL;
  int rc = tool_train_job_run(&job, d->train, d->test, &sum, &params, &m);
  if (rc) return tool_fail("campaign", rc);
  int bad = measure_run(s, c, dir, m, &sum, params, d);
  nde_model_free(m);
  if (!bad)
    printf(
        "campaign: %s seed %d: test error %.2f%%, test loss %.4f, train xent %.4f, %.1f s/epoch\n",
        cf->name, seed, 100 * sum.test_err, sum.test_loss, sum.train_xent, sum.sec_per_epoch);
  fflush(stdout);
  return bad;
}

int nde_cmd_campaign(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "campaign", argc, argv)) return 2;
  if (args_flag(&a, "help")) {
    usage(stdout);
    args_free(&a);
    return 0;
  }
  camp_settings s;
  memset(&s, 0, sizeof s);
  int bad = 0;
  s.quick = args_flag(&a, "quick");
  s.out = args_str(&a, "out", s.quick ? "results/campaign-quick" : "results/campaign");
  s.data = args_str(&a, "data", NULL);
  s.epochs = (int)args_long(&a, "epochs", s.quick ? 2 : 10, &bad);
  s.subset = (int)args_long(&a, "subset", s.quick ? 1280 : 0, &bad);
  s.test_subset = (int)args_long(&a, "test-subset", s.quick ? 1000 : 0, &bad);
  s.nfe_batches = (int)args_long(&a, "nfe-batches", s.quick ? 2 : 5, &bad);
  const char *seeds = args_str(&a, "seeds", "1,2,3"), *only = args_str(&a, "only", NULL);
  const char *configs = args_str(&a, "configs", NULL);
  /* model options as the library gives them (nde_ode_options_default() with
     the models' adjustments), then the command line's solver options */
  s.base = nde_model_options_default(NDE_MODEL_ODENET);
  if (tool_read_ode_options(&a, &s.base)) bad = 1;
  if (!bad && parse_seeds(seeds, &s)) bad = 1;
  if (!bad && select_configs(only, configs, &s)) bad = 1;
  if (!bad && (s.epochs < 1 || s.subset < 0 || s.test_subset < 0 || s.nfe_batches < 1)) {
    fprintf(stderr, "nde campaign: --epochs and --nfe-batches must be >= 1, --subset and "
                    "--test-subset >= 0\n");
    bad = 1;
  }
  if (bad || args_finish(&a)) {
    args_free(&a);
    return 2;
  }
  args_free(&a);
  s.batch = 128;
  s.lr = 0.1;
  s.momentum = 0.9;
  s.weight_decay = 5e-4;
  s.milestones[0] = (s.epochs + 1) / 2;     /* ceil(E / 2) */
  s.milestones[1] = (3 * s.epochs + 3) / 4; /* ceil(3E / 4) */
  if (s.milestones[1] <= s.milestones[0]) s.milestones[1] = s.milestones[0] + 1;
  s.other = tool_other_solver(&s.base.ode);
  tool_command_line("campaign", argc, argv, s.command, sizeof s.command);
  if (check_existing_runs(&s)) return 2;

  int total = 0, index = 0, failed = 0, fatal = 0;
  for (int c = 0; c < CAMP_NCONFIGS; c++) total += s.use[c] * s.nseeds;
  camp_data d;
  memset(&d, 0, sizeof d);
  for (int k = 0; k < s.nseeds; k++)
    for (int c = 0; c < CAMP_NCONFIGS; c++) {
      if (!s.use[c]) continue;
      int r = fatal ? 0 : run_one(&s, c, s.seeds[k], &d, ++index, total);
      if (r < 0) fatal = 1;
      if (r > 0) {
        fprintf(stderr, "nde campaign: %s/%s seed %d failed; going on with the other runs\n",
                camp_configs[c].table, camp_configs[c].name, s.seeds[k]);
        failed++;
      }
    }
  if (fatal) {
    camp_data_free(&d);
    return 1;
  }
  camp_data_free(&d);
  int rc = camp_report(&s);
  if (failed) fprintf(stderr, "nde campaign: %d of %d runs failed (see above)\n", failed, total);
  return failed || rc ? 1 : 0;
}
