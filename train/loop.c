/* The training loop: see the "training loop" section of nde/train.h.
 *
 * Reproducibility: the data order and augmentation come from the batch
 * iterator's generator, whose state is saved in the checkpoint after every
 * epoch together with the parameters, the optimizer state and the epoch, so
 * a resumed run replays exactly the batches an uninterrupted run would see. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error_impl.h"
#include "nde/data.h"
#include "nde/models.h"
#include "nde/train.h"
#include "train/ckpt_impl.h"
#include "train/csv_impl.h"
#include "train/fault_impl.h"

/* train_xent and test_loss came later: a log started by an older nde has
 * only the first EPOCH_COLS_V1 columns and is upgraded when its run resumes. */
static const char *const epoch_cols[] = {
    "epoch", "lr", "alpha", "train_loss", "train_err", "test_err", "nfe_f", "nfe_b",
    "nfe_b_recompute", "steps_f", "rejected_f", "steps_b", "test_nfe_f", "mean_energy", "effective_attractors",
    "seconds", "train_xent", "test_loss"};
#define EPOCH_COLS_V1 16
static const char *const batch_cols[] = {"epoch", "batch", "loss", "err", "nfe_f", "nfe_b",
                                         "nfe_b_recompute", "steps_f", "rejected_f", "steps_b",
                                         "seconds"};
#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

nde_train_options nde_train_options_default(void) {
  nde_train_options o;
  memset(&o, 0, sizeof o);
  o.epochs = 5;
  o.batch = 128;
  o.optim = NDE_OPTIM_SGD;
  o.optim_opts = nde_optim_options_default(NDE_OPTIM_SGD);
  o.optim_opts.momentum = 0.9;
  nde_schedule_constant(&o.schedule, 0.1);
  o.crop_pad = 4;
  o.seed = 1;
  return o;
}

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void join_path(char *buf, size_t cap, const char *dir, const char *name) {
  snprintf(buf, cap, "%s/%s", dir, name);
}

/* The model reads n * in.c * in.h * in.w values per batch and labels in
 * [0, nclasses): data of another sample shape would be read past its end
 * (or reinterpreted), so it is refused before any batch is made. */
static int check_data(const nde_model *m, const nde_dataset *ds, const char *where,
                      const char *which) {
  const nde_model_options *mo = nde_model_get_options(m);
  if (ds->c != mo->in.c || ds->h != mo->in.h || ds->w != mo->in.w)
    return nde_error(NDE_ERR_SHAPE, "%s: %s is %dx%dx%d but the model expects %dx%dx%d", where,
                     which, ds->c, ds->h, ds->w, mo->in.c, mo->in.h, mo->in.w);
  if (ds->num_classes > mo->nclasses)
    return nde_error(NDE_ERR_SHAPE, "%s: %s has %d classes but the model has %d", where, which,
                     ds->num_classes, mo->nclasses);
  return NDE_OK;
}

int nde_train_evaluate(nde_model *m, const nde_dataset *ds, const double *mean, const double *std,
                       int subset, double *err, double *nfe_f) {
  return nde_train_evaluate_loss(m, ds, mean, std, subset, err, NULL, nfe_f);
}

int nde_train_evaluate_loss(nde_model *m, const nde_dataset *ds, const double *mean,
                            const double *std, int subset, double *err, double *loss,
                            double *nfe_f) {
  NDE_CHECK_NULL(m, "nde_train_evaluate");
  NDE_CHECK_NULL(ds, "nde_train_evaluate");
  int rc = check_data(m, ds, "nde_train_evaluate", "data");
  if (rc) return rc;
  nde_batch_options bo = nde_batch_options_default();
  bo.batch_size = nde_model_get_options(m)->max_batch;
  bo.shuffle = subset > 0; /* a fixed random subset when asked for one */
  bo.subset = subset;
  bo.mean = mean;
  bo.std = std;
  bo.seed = 12345;
  nde_batch_iter *it;
  if ((rc = nde_batch_iter_create(ds, &bo, &it))) return rc;
  nde_model_set_training(m, 0);
  long wrong = 0, total = 0, nfe = 0, nb = 0;
  double xent = 0;
  nde_batch b;
  while (!(rc = nde_batch_iter_next(it, &b)) && b.n > 0) {
    nde_model_result r;
    if ((rc = nde_model_forward(m, b.n, b.x, b.labels, 0, 0, &r))) break;
    xent += r.xent * b.n; /* r.xent is the batch mean */
    wrong += r.nerr;
    total += b.n;
    nfe += r.fwd.nfe;
    nb++;
  }
  nde_model_set_training(m, 1);
  nde_batch_iter_free(it);
  if (rc) return rc;
  if (err) *err = total ? (double)wrong / total : 0;
  if (loss) *loss = total ? xent / total : 0;
  if (nfe_f) *nfe_f = nb ? (double)nfe / nb : 0;
  return NDE_OK;
}

/* Checkpoint after `epoch` epochs are complete. */
/* The summary so far travels in the checkpoint's meta, so a run resumed
 * after its last epoch still reports it. */
static const char *const sum_keys[] = {"train_loss", "train_err", "test_err", "nfe_f",
                                       "nfe_b", "test_nfe_f", "seconds_total", "effective",
                                       "train_xent", "test_loss"};
#define SUM_KEYS 10
#define SUM_KEYS_V1 8 /* an older nde's checkpoints lack the last two: NaN then */

static void sum_values(const nde_train_summary *s, double seconds_total, double *v) {
  v[0] = s->train_loss, v[1] = s->train_err, v[2] = s->test_err, v[3] = s->nfe_f;
  v[4] = s->nfe_b, v[5] = s->test_nfe_f, v[6] = seconds_total, v[7] = s->effective_attractors;
  v[8] = s->train_xent, v[9] = s->test_loss;
}

static int save_checkpoint(const char *path, nde_model *m, nde_optim *opt, int epochs_done,
                           const nde_rng *data_rng, const double *mean, const double *std, int c,
                           const nde_train_summary *sum, double seconds_total,
                           const train_fault *fault) {
  nde_ckpt_writer *w;
  int rc = nde_ckpt_writer_create(&w);
  if (rc) return rc;
  nde_real *state;
  size_t nstate;
  nde_model_state(m, &state, &nstate);
  const nde_model_options *mo = nde_model_get_options(m);
  if (!rc) rc = nde_ckpt_add_real(w, "params", nde_model_params(m), nde_model_num_params(m));
  if (!rc && nstate) rc = nde_ckpt_add_real(w, "state", state, nstate);
  if (!rc) rc = nde_ckpt_add_optim(w, "optim", opt);
  if (!rc) rc = nde_ckpt_add_rng(w, "data_rng", data_rng);
  if (!rc) rc = nde_ckpt_add_f64(w, "norm_mean", mean, (size_t)c);
  if (!rc) rc = nde_ckpt_add_f64(w, "norm_std", std, (size_t)c);
  if (!rc) rc = nde_ckpt_set_meta_int(w, "epoch", epochs_done);
  if (!rc) rc = nde_ckpt_set_meta(w, "model", nde_model_kind_name(mo->kind));
  if (!rc) rc = nde_ckpt_set_meta_int(w, "attractors", mo->attractors);
  if (!rc) rc = nde_ckpt_set_meta_int(w, "width", mo->width);
  if (!rc) rc = nde_ckpt_set_meta_int(w, "groups", mo->groups);
  if (!rc) rc = nde_ckpt_set_meta_int(w, "nclasses", mo->nclasses);
  if (!rc) rc = nde_ckpt_set_meta_int(w, "in_c", mo->in.c);
  if (!rc) rc = nde_ckpt_set_meta_int(w, "in_h", mo->in.h);
  if (!rc) rc = nde_ckpt_set_meta_int(w, "in_w", mo->in.w);
  if (!rc) rc = nde_ckpt_set_meta(w, "solver", nde_ode_method_name(mo->ode.method));
  if (!rc) rc = nde_ckpt_set_meta(w, "adjoint", nde_adjoint_kind_name(mo->ode.adjoint));
  if (!rc) rc = nde_ckpt_set_meta_double(w, "rtol", mo->ode.rtol);
  if (!rc) rc = nde_ckpt_set_meta_double(w, "atol", mo->ode.atol);
  double v[SUM_KEYS];
  sum_values(sum, seconds_total, v);
  for (int i = 0; i < SUM_KEYS && !rc; i++) rc = nde_ckpt_set_meta_double(w, sum_keys[i], v[i]);
  if (!rc) rc = ckpt_writer_commit_hooked(w, path, fault);
  nde_ckpt_writer_free(w);
  return rc;
}

static int load_checkpoint(const char *path, nde_model *m, nde_optim *opt, int *epochs_done,
                           nde_rng *data_rng, nde_train_summary *sum, double *seconds_total) {
  nde_ckpt *c;
  int rc = nde_ckpt_open(path, &c);
  if (rc) return rc;
  int64_t ep = 0;
  nde_real *state;
  size_t nstate;
  nde_model_state(m, &state, &nstate);
  rc = nde_ckpt_read_real(c, "params", nde_model_params(m), nde_model_num_params(m));
  if (!rc && nstate) rc = nde_ckpt_read_real(c, "state", state, nstate);
  if (!rc) rc = nde_ckpt_read_optim(c, "optim", opt);
  if (!rc) rc = nde_ckpt_read_rng(c, "data_rng", data_rng);
  if (!rc) rc = nde_ckpt_meta_int_in(c, "epoch", 0, INT_MAX, &ep); /* untrusted, becomes an int */
  double v[SUM_KEYS] = {0};
  for (int i = 0; i < SUM_KEYS_V1 && !rc; i++) rc = nde_ckpt_meta_double(c, sum_keys[i], &v[i]);
  for (int i = SUM_KEYS_V1; i < SUM_KEYS && !rc; i++)
    if (nde_ckpt_meta_double(c, sum_keys[i], &v[i])) v[i] = NAN;
  /* a count read back as a double becomes an int: out of range its
     conversion is undefined */
  if (!rc && !(v[7] >= 0 && v[7] <= INT_MAX))
    rc = nde_error(NDE_ERR_FORMAT, "meta '%s' = %g is not a count (0..%d)", sum_keys[7], v[7],
                   INT_MAX);
  if (!rc) {
    sum->train_loss = v[0], sum->train_err = v[1], sum->test_err = v[2], sum->nfe_f = v[3];
    sum->nfe_b = v[4], sum->test_nfe_f = v[5], *seconds_total = v[6];
    sum->effective_attractors = (int)v[7]; /* range-checked above */
    sum->train_xent = v[8], sum->test_loss = v[9];
  }
  nde_ckpt_free(c);
  if (rc) return nde_error_wrap(rc, "resume from %s: ", path);
  *epochs_done = (int)ep;
  return NDE_OK;
}

/* The run directory's commit protocol. The checkpoint is the single commit
 * point of an epoch: the epoch's rows are written to batches.csv and
 * epochs.csv and made durable (fsync) first, then the checkpoint goes to a
 * temporary file that is renamed over the previous one, and the directory
 * is synced. Whenever a kill strikes, the logs hold every row of the epochs
 * the checkpoint has done, possibly followed by rows (whole or torn) of the
 * epoch after it, and the directory may hold a stale temporary. Resuming
 * removes both, and the resumed run writes those rows again exactly as the
 * uninterrupted run did (training is reproducible bit for bit from the
 * checkpoint; only wall times differ). A fresh run first removes an earlier
 * run's checkpoint (durably), then truncates the logs, so no kill leaves a
 * checkpoint beside another run's logs. */
static int open_run_dir(const char *ckpt_path, const char *epochs_path, const char *batches_path,
                        int resume, int epoch0, const train_fault *fault, nde_csv **ecsv,
                        nde_csv **bcsv) {
  int rc = nde_ckpt_remove_temporaries(ckpt_path);
  if (rc < 0) return rc;
  if (resume) {
    /* a log of an older nde gains the columns added since (nan in its rows) */
    int upgraded;
    rc = csv_upgrade_appended_columns(epochs_path, epoch_cols, EPOCH_COLS_V1, epoch_cols,
                                      NCOLS(epoch_cols), &upgraded);
    if (!rc) rc = nde_csv_resume(epochs_path, epoch_cols, NCOLS(epoch_cols), epoch0, ecsv);
    if (!rc) train_fault_at(fault, "log.repaired");
    if (!rc) rc = nde_csv_resume(batches_path, batch_cols, NCOLS(batch_cols), epoch0, bcsv);
    if (!rc) train_fault_at(fault, "log.repaired");
  } else {
    rc = ckpt_remove_durably(ckpt_path);
    if (!rc) rc = nde_csv_create(epochs_path, epoch_cols, NCOLS(epoch_cols), ecsv);
    if (!rc) rc = nde_csv_create(batches_path, batch_cols, NCOLS(batch_cols), bcsv);
  }
  if (rc) return rc;
  csv_set_fault(*ecsv, fault);
  csv_set_fault(*bcsv, fault);
  return NDE_OK;
}

/* Divergence (the rule is documented with nde_train_run): solver failures
 * that mean the state ran away, as opposed to a mistake in the set-up. */
static int is_runaway(int rc) {
  return rc == NDE_ERR_MAXSTEPS || rc == NDE_ERR_STEPSIZE || rc == NDE_ERR_NONFINITE;
}

/* Index of the first NaN or infinity in x, or n when there is none. */
static size_t first_nonfinite(const nde_real *x, size_t n) {
  size_t i = 0;
  while (i < n && isfinite(x[i])) i++;
  return i;
}

#define LOWER_LR "lower the learning rate"
#define LOOSEN "lower the learning rate or loosen the solver (step limit, tolerances)"

/* Record "training diverged in <where>: <why>; <checkpoint>; <remedy>
 * (<detail>)": the run stops before writing a checkpoint, so the directory
 * keeps the state after the last good epoch (epochs_done of them). The
 * detail (a solver's own message, possibly long) comes last. */
static int diverged(const char *ckpt_path, int epochs_done, const char *where, const char *why,
                    const char *remedy, const char *detail) {
  char note[4200] = "no checkpoint was written";
  if (epochs_done > 0)
    snprintf(note, sizeof note, "'%s' keeps the state after epoch %d", ckpt_path, epochs_done);
  char d[720] = "";
  if (detail) snprintf(d, sizeof d, " (%.700s)", detail);
  return nde_error(NDE_ERR_DIVERGED, "training diverged in %s: %s; %s; %s%s", where, why, note,
                   remedy, d);
}

/* A runaway failure rc of a pass (see is_runaway) as divergence. */
static int diverged_pass(int rc, const char *pass, const char *ckpt_path, int epochs_done,
                         const char *where) {
  char why[96], detail[700];
  snprintf(detail, sizeof detail, "%s", nde_last_error());
  if (rc == NDE_ERR_NONFINITE)
    snprintf(why, sizeof why, "the %s produced a non-finite value", pass);
  else
    snprintf(why, sizeof why, "the %s's ODE solve %s", pass,
             rc == NDE_ERR_MAXSTEPS ? "reached its step limit"
                                    : "failed, its step size underflowing");
  return diverged(ckpt_path, epochs_done, where, why, rc == NDE_ERR_NONFINITE ? LOWER_LR : LOOSEN,
                  detail);
}

/* The checks of one training batch (forward rc, loss, backward rc); returns
 * NDE_ERR_DIVERGED with its message, or rc (with the batch named). */
static int check_batch(int rc, const char *pass, const char *ckpt_path, int epoch, long batch,
                       double loss, double bound, int default_bound, int nclasses) {
  char where[64], why[160];
  snprintf(where, sizeof where, "epoch %d, batch %ld", epoch + 1, batch);
  if (rc) {
    if (!is_runaway(rc)) return nde_error_wrap(rc, "%s: ", where);
    return diverged_pass(rc, pass, ckpt_path, epoch, where);
  }
  if (!isfinite(loss)) {
    snprintf(why, sizeof why, "the loss is not finite (%g)", loss);
    return diverged(ckpt_path, epoch, where, why, LOWER_LR, NULL);
  }
  if (loss > bound) {
    if (default_bound)
      snprintf(why, sizeof why, "the loss %.4g is above the bound 1000 ln %d = %.4g (%d classes)",
               loss, nclasses, bound, nclasses);
    else
      snprintf(why, sizeof why, "the loss %.4g is above the bound max_loss = %.4g", loss, bound);
    return diverged(ckpt_path, epoch, where, why, LOWER_LR, NULL);
  }
  return NDE_OK;
}

int nde_train_run(nde_model *m, const nde_dataset *train, const nde_dataset *test,
                  const nde_train_options *o, nde_train_summary *summary) {
  NDE_CHECK_NULL(m, "nde_train_run");
  NDE_CHECK_NULL(train, "nde_train_run");
  NDE_CHECK_NULL(o, "nde_train_run");
  NDE_CHECK_NULL(o->out_dir, "nde_train_run");
  const nde_model_options *mo = nde_model_get_options(m);
  if (o->epochs < 1) return nde_error(NDE_ERR_ARG, "nde_train_run: epochs = %d must be >= 1", o->epochs);
  if (o->batch < 1 || o->batch > mo->max_batch)
    return nde_error(NDE_ERR_BATCH, "nde_train_run: batch %d outside [1, %d] (the model's max_batch)",
                     o->batch, mo->max_batch);
  int rc = check_data(m, train, "nde_train_run", "training data");
  if (!rc && test) rc = check_data(m, test, "nde_train_run", "test data");
  if (!rc && (isnan(o->max_loss) || o->max_loss < 0))
    rc = nde_error(NDE_ERR_ARG, "nde_train_run: max_loss = %g must be >= 0 (0: 1000 ln K)",
                   o->max_loss);
  if (!rc) rc = nde_schedule_check(&o->schedule);
  if (rc) return rc;
  const int default_bound = o->max_loss == 0;
  const double max_loss = default_bound ? 1000 * log(mo->nclasses) : o->max_loss;
  const size_t np = nde_model_num_params(m);

  char ckpt_path[4096], epochs_path[4096], batches_path[4096];
  join_path(ckpt_path, sizeof ckpt_path, o->out_dir, "checkpoint.ndeckpt");
  join_path(epochs_path, sizeof epochs_path, o->out_dir, "epochs.csv");
  join_path(batches_path, sizeof batches_path, o->out_dir, "batches.csv");

  /* per-channel normalization: as many values as the data has channels */
  double *mean = malloc((size_t)train->c * sizeof *mean);
  double *std = malloc((size_t)train->c * sizeof *std);
  if (!mean || !std) {
    free(mean);
    free(std);
    return nde_error(NDE_ERR_NOMEM, "nde_train_run: no memory for %d channels' statistics",
                     train->c);
  }
  if ((rc = nde_data_channel_stats(train, mean, std))) {
    free(mean);
    free(std);
    return rc;
  }

  nde_optim *opt = NULL;
  nde_batch_iter *it = NULL;
  nde_csv *ecsv = NULL, *bcsv = NULL;
  nde_rman_stats *rst = NULL;
  int shown = 0; /* a progress line is open on the terminal */
  if ((rc = nde_optim_create(o->optim, nde_model_num_params(m), &o->optim_opts, &opt))) goto done;
  nde_batch_options bo = nde_batch_options_default();
  bo.batch_size = o->batch;
  bo.subset = o->subset_train;
  bo.crop_pad = o->crop_pad;
  bo.hflip = o->hflip;
  bo.mean = mean;
  bo.std = std;
  bo.seed = o->seed;
  if ((rc = nde_batch_iter_create(train, &bo, &it))) goto done;
  if (mo->attractors > 0 && (rc = nde_rman_stats_create(mo->width, mo->attractors, &mo->rman, &rst)))
    goto done;

  int epoch0 = 0;
  nde_train_summary sum;
  memset(&sum, 0, sizeof sum);
  double sec_total = 0; /* over all epochs of the run, across resumptions */
  if (o->resume) {
    nde_rng data_rng;
    if ((rc = load_checkpoint(ckpt_path, m, opt, &epoch0, &data_rng, &sum, &sec_total))) goto done;
    if ((rc = nde_batch_iter_set_rng(it, &data_rng))) goto done;
  }
  const train_fault fault = {o->fault_hook, o->fault_ctx};
  if ((rc = open_run_dir(ckpt_path, epochs_path, batches_path, o->resume, epoch0, &fault, &ecsv,
                         &bcsv)))
    goto done;

  sum.epochs_done = epoch0;
  char where[64];
  int ran = 0;
  nde_model_set_training(m, 1);
  for (int epoch = epoch0; epoch < o->epochs; epoch++) {
    if (o->stop_after > 0 && ran >= o->stop_after) break;
    double t_epoch = now_sec();
    double lr = nde_lr_at(&o->schedule, epoch), alpha = nde_rman_alpha(&mo->rman, epoch);
    if ((rc = nde_batch_iter_start(it))) goto done;
    double loss_sum = 0, xent_sum = 0, energy_sum = 0;
    long wrong = 0, seen = 0, nb = 0;
    double nfe_f = 0, nfe_b = 0, nfe_rc = 0, steps_f = 0, rej_f = 0, steps_b = 0;
    const int nbatches = nde_batch_iter_batches(it);
    nde_batch b;
    while (!(rc = nde_batch_iter_next(it, &b)) && b.n > 0) {
      double t_batch = now_sec();
      nde_model_result r;
      nde_ode_stats bw;
      rc = nde_model_forward(m, b.n, b.x, b.labels, alpha, 1, &r);
      if ((rc = check_batch(rc, "forward pass", ckpt_path, epoch, nb + 1, rc ? 0 : r.loss, max_loss,
                            default_bound, mo->nclasses)))
        goto done;
      rc = nde_model_backward(m, &bw);
      if ((rc = check_batch(rc, "backward pass", ckpt_path, epoch, nb + 1, r.loss, max_loss,
                            default_bound, mo->nclasses)))
        goto done;
      size_t bad = first_nonfinite(nde_model_grads(m), np);
      const int bad_grad = bad < np;
      if (!bad_grad) {
        if ((rc = nde_optim_step(opt, nde_model_params(m), nde_model_grads(m), lr)))
          goto batch_fail;
        bad = first_nonfinite(nde_model_params(m), np);
      }
      if (bad < np) {
        char why[96];
        snprintf(where, sizeof where, "epoch %d, batch %ld", epoch + 1, nb + 1);
        snprintf(why, sizeof why, "the %s is not finite (parameter %zu)",
                 bad_grad ? "gradient" : "updated parameter", bad);
        rc = diverged(ckpt_path, epoch, where, why, LOWER_LR, NULL);
        goto done;
      }
      loss_sum += r.loss * b.n;
      xent_sum += r.xent * b.n;
      energy_sum += r.mean_energy * b.n;
      wrong += r.nerr;
      seen += b.n;
      nb++;
      long bf = r.fwd.nfe, bb = bw.nfe + bw.nfe_quad;
      nfe_f += bf;
      nfe_b += bb;
      nfe_rc += bw.nfe_recompute;
      steps_f += r.fwd.steps;
      rej_f += r.fwd.rejected;
      steps_b += bw.steps;
      double dt = now_sec() - t_batch;
      nde_csv_put_int(bcsv, epoch + 1);
      nde_csv_put_int(bcsv, nb);
      nde_csv_put_double(bcsv, r.loss);
      nde_csv_put_double(bcsv, (double)r.nerr / b.n);
      nde_csv_put_int(bcsv, bf);
      nde_csv_put_int(bcsv, bb);
      nde_csv_put_int(bcsv, bw.nfe_recompute);
      nde_csv_put_int(bcsv, r.fwd.steps);
      nde_csv_put_int(bcsv, r.fwd.rejected);
      nde_csv_put_int(bcsv, bw.steps);
      nde_csv_put_double(bcsv, dt);
      if ((rc = nde_csv_end_row(bcsv))) goto done;
      train_fault_at(&fault, "batch.row");
      if (o->progress)
        shown |= nde_progress(o->progress,
                              "%s epoch %d/%d batch %ld/%d loss %.4f err %.2f%% nfe %.1f/%.1f "
                              "%.2f s/batch",
                              o->label ? o->label : "", epoch + 1, o->epochs, nb, nbatches,
                              loss_sum / seen, 100.0 * wrong / seen, nfe_f / nb, nfe_b / nb,
                              (now_sec() - t_epoch) / nb);
      continue;
    batch_fail:
      nde_error_wrap(rc, "epoch %d, batch %ld: ", epoch + 1, nb + 1);
      goto done;
    }
    if (rc) goto done;
    double test_err = NAN, test_nfe = NAN, test_loss = NAN;
    if (test && (rc = nde_train_evaluate_loss(m, test, mean, std, o->subset_test, &test_err,
                                              &test_loss, &test_nfe))) {
      snprintf(where, sizeof where, "epoch %d (its test evaluation)", epoch + 1);
      rc = is_runaway(rc) ? diverged_pass(rc, "test evaluation", ckpt_path, epoch, where)
                          : nde_error_wrap(rc, "%s: ", where);
      goto done;
    }
    int neff = 0;
    if (rst) {
      nde_rman_stats_set_attractors(rst, nde_model_attractors(m));
      neff = rst->n_effective;
    }
    double secs = now_sec() - t_epoch;
    sum.epochs_done = epoch + 1;
    sum.train_loss = loss_sum / seen;
    sum.train_err = (double)wrong / seen;
    sum.test_err = test_err;
    sum.train_xent = xent_sum / seen;
    sum.test_loss = test_loss;
    sum.nfe_f = nfe_f / nb;
    sum.nfe_b = nfe_b / nb;
    sum.test_nfe_f = test_nfe;
    sum.effective_attractors = neff;
    sec_total += secs;
    double row[] = {epoch + 1, lr, alpha, loss_sum / seen, (double)wrong / seen, test_err,
                    nfe_f / nb, nfe_b / nb, nfe_rc / nb, steps_f / nb, rej_f / nb, steps_b / nb, test_nfe,
                    energy_sum / seen, neff, secs, xent_sum / seen, test_loss};
    if ((rc = nde_csv_row(ecsv, row, NCOLS(epoch_cols)))) goto done;
    train_fault_at(&fault, "epoch.row");
    /* the rows first, durably; then the checkpoint commits the epoch */
    if ((rc = nde_csv_sync(bcsv)) || (rc = nde_csv_sync(ecsv))) goto done;
    train_fault_at(&fault, "logs.synced");
    nde_rng data_rng;
    nde_batch_iter_get_rng(it, &data_rng);
    if ((rc = save_checkpoint(ckpt_path, m, opt, epoch + 1, &data_rng, mean, std, train->c, &sum,
                              sec_total, &fault)))
      goto done;
    if (o->progress) {
      nde_progress(o->progress, "%s epoch %d/%d loss %.4f train err %.2f%% test err %.2f%% nfe %.1f/%.1f %.1f s",
                   o->label ? o->label : "", epoch + 1, o->epochs, loss_sum / seen,
                   100.0 * wrong / seen, 100 * test_err, nfe_f / nb, nfe_b / nb, secs);
      nde_progress_done(o->progress);
      shown = 0;
    }
    train_fault_at(&fault, "epoch.done");
    ran++;
  }
  sum.sec_per_epoch = sum.epochs_done ? sec_total / sum.epochs_done : 0;
  if (summary) *summary = sum;
done:
  if (rc && shown) nde_progress_done(o->progress); /* the caller's message on a line of its own */
  free(mean);
  free(std);
  nde_csv_free(ecsv);
  nde_csv_free(bcsv);
  nde_rman_stats_free(rst);
  nde_batch_iter_free(it);
  nde_optim_free(opt);
  return rc;
}
