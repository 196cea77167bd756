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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error_impl.h"
#include "nde/data.h"
#include "nde/models.h"
#include "nde/train.h"

static const char *const epoch_cols[] = {
    "epoch", "lr", "alpha", "train_loss", "train_err", "test_err", "nfe_f", "nfe_b",
    "nfe_b_recompute", "steps_f", "rejected_f", "steps_b", "test_nfe_f", "mean_energy", "effective_attractors",
    "seconds"};
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

int nde_train_evaluate(nde_model *m, const nde_dataset *ds, const double *mean, const double *std,
                       int subset, double *err, double *nfe_f) {
  NDE_CHECK_NULL(m, "nde_train_evaluate");
  NDE_CHECK_NULL(ds, "nde_train_evaluate");
  nde_batch_options bo = nde_batch_options_default();
  bo.batch_size = nde_model_get_options(m)->max_batch;
  bo.shuffle = subset > 0; /* a fixed random subset when asked for one */
  bo.subset = subset;
  bo.mean = mean;
  bo.std = std;
  bo.seed = 12345;
  nde_batch_iter *it;
  int rc = nde_batch_iter_create(ds, &bo, &it);
  if (rc) return rc;
  nde_model_set_training(m, 0);
  long wrong = 0, total = 0, nfe = 0, nb = 0;
  nde_batch b;
  while (!(rc = nde_batch_iter_next(it, &b)) && b.n > 0) {
    nde_model_result r;
    if ((rc = nde_model_forward(m, b.n, b.x, b.labels, 0, 0, &r))) break;
    wrong += r.nerr;
    total += b.n;
    nfe += r.fwd.nfe;
    nb++;
  }
  nde_model_set_training(m, 1);
  nde_batch_iter_free(it);
  if (rc) return rc;
  if (err) *err = total ? (double)wrong / total : 0;
  if (nfe_f) *nfe_f = nb ? (double)nfe / nb : 0;
  return NDE_OK;
}

/* Checkpoint after `epoch` epochs are complete. */
/* The summary so far travels in the checkpoint's meta, so a run resumed
 * after its last epoch still reports it. */
static const char *const sum_keys[] = {"train_loss", "train_err", "test_err", "nfe_f",
                                       "nfe_b", "test_nfe_f", "seconds_total", "effective"};

static void sum_values(const nde_train_summary *s, double seconds_total, double *v) {
  v[0] = s->train_loss, v[1] = s->train_err, v[2] = s->test_err, v[3] = s->nfe_f;
  v[4] = s->nfe_b, v[5] = s->test_nfe_f, v[6] = seconds_total, v[7] = s->effective_attractors;
}

static int save_checkpoint(const char *path, nde_model *m, nde_optim *opt, int epochs_done,
                           const nde_rng *data_rng, const double *mean, const double *std, int c,
                           const nde_train_summary *sum, double seconds_total) {
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
  double v[8];
  sum_values(sum, seconds_total, v);
  for (int i = 0; i < 8 && !rc; i++) rc = nde_ckpt_set_meta_double(w, sum_keys[i], v[i]);
  if (!rc) rc = nde_ckpt_writer_commit(w, path);
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
  if (!rc) rc = nde_ckpt_meta_int(c, "epoch", &ep);
  double v[8] = {0};
  for (int i = 0; i < 8 && !rc; i++) rc = nde_ckpt_meta_double(c, sum_keys[i], &v[i]);
  /* Both become ints: out of int's range the epoch would wrap and the
     double's conversion is undefined. */
  if (!rc && (ep < 0 || ep > INT_MAX))
    rc = nde_error(NDE_ERR_FORMAT, "meta 'epoch' = %" PRId64 " is not an epoch count (0..%d)", ep,
                   INT_MAX);
  if (!rc && !(v[7] >= 0 && v[7] <= INT_MAX))
    rc = nde_error(NDE_ERR_FORMAT, "meta '%s' = %g is not a count (0..%d)", sum_keys[7], v[7],
                   INT_MAX);
  if (!rc) {
    sum->train_loss = v[0], sum->train_err = v[1], sum->test_err = v[2], sum->nfe_f = v[3];
    sum->nfe_b = v[4], sum->test_nfe_f = v[5], *seconds_total = v[6];
    sum->effective_attractors = (int)v[7];
  }
  nde_ckpt_free(c);
  if (rc) return nde_error_wrap(rc, "resume from %s: ", path);
  *epochs_done = (int)ep;
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
  if (train->c != mo->in.c || train->h != mo->in.h || train->w != mo->in.w ||
      (test && (test->c != train->c || test->h != train->h || test->w != train->w)))
    return nde_error(NDE_ERR_SHAPE, "nde_train_run: data shape (%d,%d,%d) does not match the model input (%d,%d,%d)",
                     train->c, train->h, train->w, mo->in.c, mo->in.h, mo->in.w);
  int rc = nde_schedule_check(&o->schedule);
  if (rc) return rc;

  char ckpt_path[4096], epochs_path[4096], batches_path[4096];
  join_path(ckpt_path, sizeof ckpt_path, o->out_dir, "checkpoint.ndeckpt");
  join_path(epochs_path, sizeof epochs_path, o->out_dir, "epochs.csv");
  join_path(batches_path, sizeof batches_path, o->out_dir, "batches.csv");

  double mean[4] = {0}, std[4] = {1, 1, 1, 1};
  if (train->c > 4) return nde_error(NDE_ERR_SHAPE, "nde_train_run: at most 4 channels supported");
  if ((rc = nde_data_channel_stats(train, mean, std))) return rc;

  nde_optim *opt = NULL;
  nde_batch_iter *it = NULL;
  nde_csv *ecsv = NULL, *bcsv = NULL;
  nde_rman_stats *rst = NULL;
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
  long keep_batches = -1;
  if (o->resume) {
    /* batches.csv rows logged after the checkpoint belong to an unfinished epoch */
    keep_batches = (long)epoch0 * nde_batch_iter_batches(it);
    rc = nde_csv_append(epochs_path, epoch_cols, NCOLS(epoch_cols), epoch0, &ecsv);
    if (!rc) rc = nde_csv_append(batches_path, batch_cols, NCOLS(batch_cols), keep_batches, &bcsv);
  } else {
    rc = nde_csv_create(epochs_path, epoch_cols, NCOLS(epoch_cols), &ecsv);
    if (!rc) rc = nde_csv_create(batches_path, batch_cols, NCOLS(batch_cols), &bcsv);
  }
  if (rc) goto done;

  sum.epochs_done = epoch0;
  int ran = 0;
  nde_model_set_training(m, 1);
  for (int epoch = epoch0; epoch < o->epochs; epoch++) {
    if (o->stop_after > 0 && ran >= o->stop_after) break;
    double t_epoch = now_sec();
    double lr = nde_lr_at(&o->schedule, epoch), alpha = nde_rman_alpha(&mo->rman, epoch);
    if ((rc = nde_batch_iter_start(it))) goto done;
    double loss_sum = 0, energy_sum = 0;
    long wrong = 0, seen = 0, nb = 0;
    double nfe_f = 0, nfe_b = 0, nfe_rc = 0, steps_f = 0, rej_f = 0, steps_b = 0;
    const int nbatches = nde_batch_iter_batches(it);
    nde_batch b;
    while (!(rc = nde_batch_iter_next(it, &b)) && b.n > 0) {
      double t_batch = now_sec();
      nde_model_result r;
      nde_ode_stats bw;
      if ((rc = nde_model_forward(m, b.n, b.x, b.labels, alpha, 1, &r))) goto batch_fail;
      if ((rc = nde_model_backward(m, &bw))) goto batch_fail;
      if ((rc = nde_optim_step(opt, nde_model_params(m), nde_model_grads(m), lr))) goto batch_fail;
      loss_sum += r.loss * b.n;
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
      if (o->progress)
        nde_progress(o->progress, "%s epoch %d/%d batch %ld/%d loss %.4f err %.2f%% nfe %.1f/%.1f %.2f s/batch",
                     o->label ? o->label : "", epoch + 1, o->epochs, nb, nbatches, loss_sum / seen,
                     100.0 * wrong / seen, nfe_f / nb, nfe_b / nb, (now_sec() - t_epoch) / nb);
      continue;
    batch_fail:
      nde_error_wrap(rc, "epoch %d batch %ld: ", epoch + 1, nb + 1);
      goto done;
    }
    if (rc) goto done;
    double test_err = NAN, test_nfe = NAN;
    if (test && (rc = nde_train_evaluate(m, test, mean, std, o->subset_test, &test_err, &test_nfe)))
      goto done;
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
    sum.nfe_f = nfe_f / nb;
    sum.nfe_b = nfe_b / nb;
    sum.test_nfe_f = test_nfe;
    sum.effective_attractors = neff;
    sec_total += secs;
    nde_rng data_rng;
    nde_batch_iter_get_rng(it, &data_rng);
    if ((rc = save_checkpoint(ckpt_path, m, opt, epoch + 1, &data_rng, mean, std, train->c, &sum,
                              sec_total)))
      goto done;
    double row[] = {epoch + 1, lr, alpha, loss_sum / seen, (double)wrong / seen, test_err,
                    nfe_f / nb, nfe_b / nb, nfe_rc / nb, steps_f / nb, rej_f / nb, steps_b / nb, test_nfe,
                    energy_sum / seen, neff, secs};
    if ((rc = nde_csv_row(ecsv, row, NCOLS(epoch_cols)))) goto done;
    if (o->progress) {
      nde_progress(o->progress, "%s epoch %d/%d loss %.4f train err %.2f%% test err %.2f%% nfe %.1f/%.1f %.1f s",
                   o->label ? o->label : "", epoch + 1, o->epochs, loss_sum / seen,
                   100.0 * wrong / seen, 100 * test_err, nfe_f / nb, nfe_b / nb, secs);
      nde_progress_done(o->progress);
    }
    ran++;
  }
  sum.sec_per_epoch = sum.epochs_done ? sec_total / sum.epochs_done : 0;
  if (summary) *summary = sum;
done:
  nde_csv_free(ecsv);
  nde_csv_free(bcsv);
  nde_rman_stats_free(rst);
  nde_batch_iter_free(it);
  nde_optim_free(opt);
  return rc;
}
