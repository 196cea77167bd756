/* nde/train.h: the model-independent pieces of training: optimizers over one
 * flat parameter vector, learning-rate schedules, checkpoint files, per-epoch
 * CSV logs and a terminal progress line.
 *
 * Typical use (one epoch of a training loop):
 *   nde_optim *opt;
 *   nde_optim_options o = nde_optim_options_default(NDE_OPTIM_SGD);
 *   o.momentum = 0.9;
 *   nde_optim_create(NDE_OPTIM_SGD, n, &o, &opt);
 *   nde_schedule s;
 *   nde_schedule_multistep(&s, 0.1, (int[]){60, 100, 140}, 3, 0.1);
 *   double lr = nde_lr_at(&s, epoch);
 *   for (each batch) { ...grad...; nde_optim_step(opt, params, grad, lr); }
 *   nde_ckpt_writer *w;
 *   nde_ckpt_writer_create(&w);
 *   nde_ckpt_add_real(w, "params", params, n);
 *   nde_ckpt_add_optim(w, "optim", opt);
 *   nde_ckpt_add_rng(w, "rng", &rng);
 *   nde_ckpt_set_meta_int(w, "epoch", epoch);
 *   nde_ckpt_writer_commit(w, "run/last.ndeckpt");   // atomic replace
 *   nde_ckpt_writer_free(w);
 *
 * THREAD SAFETY. An optimizer, a checkpoint writer and a CSV log are each
 * used by one thread at a time. An opened checkpoint (nde_ckpt) is only
 * read: threads may read one at once. Schedules are plain data. Two
 * threads must not commit checkpoints to the same path at once, and two
 * training runs need different output directories. The progress line
 * writes in pieces: leave it to one thread.
 */
#ifndef NDE_TRAIN_H
#define NDE_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "nde/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Optimizers (PyTorch semantics) over a flat vector p and its gradient g.
 *
 * SGD (torch.optim.SGD), with wd = weight_decay, mu = momentum:
 *   g' = g + wd p
 *   v  = g'                              on the first step (t = 0)
 *   v  = mu v + (1 - dampening) g'       afterwards
 *   d  = g' + mu v  (Nesterov)  or  d = v   (mu = 0: d = g')
 *   p -= lr d
 * Adam (torch.optim.Adam), t counted from 1:
 *   g' = g + wd p                        (coupled; AdamW instead does p *= 1 - lr wd)
 *   m  = b1 m + (1 - b1) g',   v = b2 v + (1 - b2) g'^2
 *   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Arithmetic is done in double per element and stored as nde_real.
 * ====================================================================== */

typedef enum nde_optim_kind { NDE_OPTIM_SGD = 1, NDE_OPTIM_ADAM = 2 } nde_optim_kind;

typedef struct nde_optim_options {
  double weight_decay; /* wd >= 0 (0) */
  /* SGD */
  double momentum;  /* mu in [0, 1) (0) */
  double dampening; /* in [0, 1] (0); must be 0 with Nesterov, as in PyTorch */
  int nesterov;     /* 1: Nesterov momentum (needs momentum > 0) (0) */
  /* Adam */
  double beta1, beta2; /* moment decay rates in [0, 1) (0.9, 0.999) */
  double eps;          /* > 0, added to sqrt(v_hat) (1e-8) */
  int decoupled;       /* 1: AdamW decay p *= 1 - lr wd instead of g' = g + wd p (0) */
} nde_optim_options;

typedef struct nde_optim nde_optim;

/* PyTorch defaults for a kind (all zero but Adam's betas and eps). */
NDE_API nde_optim_options nde_optim_options_default(nde_optim_kind kind);

/* Name of a kind ("sgd", "adam") or "unknown". */
NDE_API const char *nde_optim_kind_name(int kind);

/* Create an optimizer for n > 0 parameters; opts NULL means the defaults.
 * Options are validated (ranges above). State starts at zero, step count 0. */
NDE_API int nde_optim_create(nde_optim_kind kind, size_t n, const nde_optim_options *opts,
                             nde_optim **out);
NDE_API void nde_optim_free(nde_optim *opt);

/* One update of p (n values, in place) from gradient g (n values, not
 * modified, must not alias p) at learning rate lr (finite, >= 0). Never
 * allocates. */
NDE_API int nde_optim_step(nde_optim *opt, nde_real *p, const nde_real *g, double lr);

/* Weight decay is applied to every parameter by default (PyTorch's default,
 * norm gammas/betas and biases included). set_decay_mask copies n flags
 * (nonzero: decay, 0: exempt); NULL restores "decay everything".
 * exclude_decay exempts p[offset .. offset+count), e.g. a layer's range from
 * nde_net_layer_params. */
NDE_API int nde_optim_set_decay_mask(nde_optim *opt, const unsigned char *mask);
NDE_API int nde_optim_exclude_decay(nde_optim *opt, size_t offset, size_t count);

NDE_API nde_optim_kind nde_optim_get_kind(const nde_optim *opt);
NDE_API size_t nde_optim_size(const nde_optim *opt); /* n */
NDE_API nde_optim_options nde_optim_get_options(const nde_optim *opt);

/* The optimizer's state as one contiguous vector of *count values, for
 * checkpoints: SGD [v] (n values; count is 0 without momentum), Adam [m | v]
 * (2n values). Writing through *state restores a saved state. */
NDE_API int nde_optim_state(nde_optim *opt, nde_real **state, size_t *count);

/* Number of steps taken (Adam's t; SGD uses it to start the momentum
 * buffer). set_steps restores it from a checkpoint (>= 0). */
NDE_API int64_t nde_optim_steps(const nde_optim *opt);
NDE_API int nde_optim_set_steps(nde_optim *opt, int64_t steps);

/* Zero the state and the step count (options and mask kept). */
NDE_API void nde_optim_reset(nde_optim *opt);

/* ======================================================================
 * Learning-rate schedules, per epoch. epoch counts from 0 and
 * nde_lr_at(s, e) is the rate used during epoch e, i.e. PyTorch's rate after
 * e calls of scheduler.step():
 *   constant:  base
 *   step:      base gamma^floor(e / step_size)            (StepLR)
 *   multistep: base gamma^#{milestones m_i <= e}          (MultiStepLR)
 *   cosine:    lr_min + (base - lr_min)(1 + cos(pi min(e, T) / T)) / 2
 *              (CosineAnnealingLR; held at lr_min after T)
 * A schedule is a plain struct (no allocation); fill it with the
 * constructors, which validate their arguments.
 * ====================================================================== */

typedef enum nde_schedule_kind {
  NDE_SCHED_CONSTANT = 1,
  NDE_SCHED_STEP = 2,
  NDE_SCHED_MULTISTEP = 3,
  NDE_SCHED_COSINE = 4
} nde_schedule_kind;

#define NDE_SCHED_MAX_MILESTONES 16

typedef struct nde_schedule {
  int kind;       /* nde_schedule_kind */
  double base_lr; /* > 0, finite */
  double gamma;   /* step, multistep: decay factor in (0, 1] */
  int step_size;  /* step: epochs between decays, >= 1 */
  int n_milestones;
  int milestones[NDE_SCHED_MAX_MILESTONES]; /* multistep: strictly increasing, >= 0 */
  int t_max;                                /* cosine: period T in epochs, >= 1 */
  double lr_min;                            /* cosine: final rate in [0, base_lr] */
} nde_schedule;

NDE_API int nde_schedule_constant(nde_schedule *s, double base_lr);
NDE_API int nde_schedule_step(nde_schedule *s, double base_lr, int step_size, double gamma);
NDE_API int nde_schedule_multistep(nde_schedule *s, double base_lr, const int *milestones, int n,
                                   double gamma);
NDE_API int nde_schedule_cosine(nde_schedule *s, double base_lr, int t_max, double lr_min);
/* Validate a schedule filled by hand (the constructors call it). */
NDE_API int nde_schedule_check(const nde_schedule *s);

/* Rate for epoch (negative epochs count as 0). NaN for NULL or an invalid
 * schedule, which nde_optim_step then rejects. */
NDE_API double nde_lr_at(const nde_schedule *s, int epoch);

/* ======================================================================
 * Checkpoints: a binary file of named, typed sections.
 *
 * Layout (all integers little-endian, floats IEEE-754 little-endian):
 *   header, 32 bytes: magic "NDECKPT\0", u32 version (1), u32 number of
 *   sections, u64 payload bytes, u32 reserved (0), u32 CRC-32 (zlib) of
 *   header bytes 0..27 followed by the payload;
 *   payload: per section u32 name length, name, u32 type, u64 count, data.
 * A float build can read a double build's checkpoint and the reverse:
 * F32 and F64 sections convert into whichever floating type is asked for.
 * Writing is atomic: the file is written to "<path>.tmp.<pid>", flushed,
 * fsynced and renamed over <path>, then the directory is fsynced; a failed
 * write leaves any previous <path> untouched and removes the temporary.
 * (The temporary's name holds the process id, so two threads of one process
 * must not commit to the same path at the same time.)
 * ====================================================================== */

typedef enum nde_ckpt_type {
  NDE_CKPT_F32 = 1,
  NDE_CKPT_F64 = 2,
  NDE_CKPT_I64 = 3,
  NDE_CKPT_U64 = 4,
  NDE_CKPT_TEXT = 5 /* bytes, count = length, no terminating NUL stored */
} nde_ckpt_type;

#define NDE_CKPT_VERSION 1
#define NDE_CKPT_NAME_MAX 64 /* section names: 1..64 printable ASCII characters */

/* Name of a section type ("f32", ...) or "unknown". */
NDE_API const char *nde_ckpt_type_name(int type);

typedef struct nde_ckpt_writer nde_ckpt_writer;

/* A writer collects sections in memory (copying the data) until commit. */
NDE_API int nde_ckpt_writer_create(nde_ckpt_writer **out);
NDE_API void nde_ckpt_writer_free(nde_ckpt_writer *w); /* discards uncommitted data */

/* Add a section; names are unique within a file and "meta" is reserved for
 * the key/value pairs below. add_real stores nde_real as F32 or F64. */
NDE_API int nde_ckpt_add_real(nde_ckpt_writer *w, const char *name, const nde_real *x, size_t n);
NDE_API int nde_ckpt_add_f32(nde_ckpt_writer *w, const char *name, const float *x, size_t n);
NDE_API int nde_ckpt_add_f64(nde_ckpt_writer *w, const char *name, const double *x, size_t n);
NDE_API int nde_ckpt_add_i64(nde_ckpt_writer *w, const char *name, const int64_t *x, size_t n);
NDE_API int nde_ckpt_add_u64(nde_ckpt_writer *w, const char *name, const uint64_t *x, size_t n);
NDE_API int nde_ckpt_add_text(nde_ckpt_writer *w, const char *name, const char *text);
/* The generator state as a U64 section of 4 values. */
NDE_API int nde_ckpt_add_rng(nde_ckpt_writer *w, const char *name, const nde_rng *rng);
/* An optimizer: section <name> (its state vector, see nde_optim_state) and
 * <name>.info (I64: kind, n, steps). Options are configuration, not state:
 * store them as meta if needed. */
NDE_API int nde_ckpt_add_optim(nde_ckpt_writer *w, const char *name, const nde_optim *opt);

/* Key/value text (model configuration, epoch, ...), stored as the TEXT
 * section "meta" with one "key=value" line per pair. Keys: 1..64 printable
 * characters without '='; values: any text without newlines. Keys are
 * unique. set_meta_double writes 17 significant digits (exact round trip). */
NDE_API int nde_ckpt_set_meta(nde_ckpt_writer *w, const char *key, const char *value);
NDE_API int nde_ckpt_set_meta_int(nde_ckpt_writer *w, const char *key, int64_t value);
NDE_API int nde_ckpt_set_meta_double(nde_ckpt_writer *w, const char *key, double value);

/* Write the file atomically (see above). The first commit seals the writer:
 * later add/set calls fail with NDE_ERR_STATE, but commit may be repeated
 * (a retry, or the same checkpoint under a second path). */
NDE_API int nde_ckpt_writer_commit(nde_ckpt_writer *w, const char *path);

/* Remove the temporaries "<path>.tmp.<digits>" that commits killed before
 * their rename left in path's directory. Call it only while no other
 * process commits to path. Returns the number removed (>= 0) or an error
 * code (NDE_ERR_IO when the directory cannot be read or a file cannot be
 * removed). */
NDE_API int nde_ckpt_remove_temporaries(const char *path);

typedef struct nde_ckpt nde_ckpt;

/* Read and verify a checkpoint: NDE_ERR_IO if it cannot be read,
 * NDE_ERR_FORMAT for a truncated file, bad magic, unsupported version or a
 * malformed section table, NDE_ERR_CHECKSUM when the CRC does not match.
 * The message names the file and the problem. */
NDE_API int nde_ckpt_open(const char *path, nde_ckpt **out);
NDE_API void nde_ckpt_free(nde_ckpt *c);

NDE_API const char *nde_ckpt_path(const nde_ckpt *c);
NDE_API int nde_ckpt_num_sections(const nde_ckpt *c);
/* Section i's name (owned by c), type and element count. */
NDE_API int nde_ckpt_section_at(const nde_ckpt *c, int i, const char **name, nde_ckpt_type *type,
                                size_t *count);
/* 1 if the section exists, else 0. */
NDE_API int nde_ckpt_has(const nde_ckpt *c, const char *name);
/* Type and count of a named section (either may be NULL); NDE_ERR_FORMAT
 * if it is missing. */
NDE_API int nde_ckpt_find(const nde_ckpt *c, const char *name, nde_ckpt_type *type, size_t *count);

/* Copy a section into a caller buffer of exactly n values: NDE_ERR_FORMAT
 * if the section is missing or of an incompatible type, NDE_ERR_SHAPE if it
 * holds a different number of values. Floating sections (F32 or F64)
 * convert to the requested type; a finite double too large for a float
 * gives NDE_ERR_NONFINITE. */
NDE_API int nde_ckpt_read_real(const nde_ckpt *c, const char *name, nde_real *x, size_t n);
NDE_API int nde_ckpt_read_f32(const nde_ckpt *c, const char *name, float *x, size_t n);
NDE_API int nde_ckpt_read_f64(const nde_ckpt *c, const char *name, double *x, size_t n);
NDE_API int nde_ckpt_read_i64(const nde_ckpt *c, const char *name, int64_t *x, size_t n);
NDE_API int nde_ckpt_read_u64(const nde_ckpt *c, const char *name, uint64_t *x, size_t n);
/* A TEXT section as a NUL-terminated string owned by c. */
NDE_API int nde_ckpt_read_text(const nde_ckpt *c, const char *name, const char **text);
NDE_API int nde_ckpt_read_rng(const nde_ckpt *c, const char *name, nde_rng *rng);
/* Restore an optimizer written by nde_ckpt_add_optim: its kind and size must
 * match opt (NDE_ERR_SHAPE / NDE_ERR_KIND otherwise); state and step count
 * are overwritten. */
NDE_API int nde_ckpt_read_optim(const nde_ckpt *c, const char *name, nde_optim *opt);

/* Meta values: NDE_ERR_FORMAT if the key is missing or (int/double) does
 * not parse completely. The string is owned by c. */
NDE_API int nde_ckpt_meta(const nde_ckpt *c, const char *key, const char **value);
NDE_API int nde_ckpt_meta_int(const nde_ckpt *c, const char *key, int64_t *value);
NDE_API int nde_ckpt_meta_double(const nde_ckpt *c, const char *key, double *value);
/* An integer meta value that must lie in [lo, hi] (a file is untrusted: a
 * count or size must be checked before it becomes an int or sizes memory);
 * NDE_ERR_FORMAT naming the file, the key, the value and the range. */
NDE_API int nde_ckpt_meta_int_in(const nde_ckpt *c, const char *key, int64_t lo, int64_t hi,
                                 int64_t *value);

/* ======================================================================
 * Per-epoch CSV log. Every row is written and flushed as one piece, so a
 * killed process leaves whole rows and at most one torn row. Fields are separated by
 * commas; a string field containing ',' or '"' is quoted ("" for a quote);
 * newlines are rejected in fields and column names. Doubles are written
 * with %.10g.
 * ====================================================================== */

typedef struct nde_csv nde_csv;

/* Create (truncate) path and write the header row of ncol >= 1 columns. */
NDE_API int nde_csv_create(const char *path, const char *const *columns, int ncol, nde_csv **out);

/* Open path to resume a run: if it is missing or empty the header is
 * written as by nde_csv_create; otherwise its first line must equal the
 * header (NDE_ERR_FORMAT naming both otherwise). A trailing incomplete row
 * (a write torn by a kill) is removed, and with keep_rows >= 0 only the
 * first keep_rows data rows are kept (drop the rows logged after the
 * checkpoint the run resumes from); keep_rows < 0 keeps all. */
NDE_API int nde_csv_append(const char *path, const char *const *columns, int ncol, long keep_rows,
                           nde_csv **out);
/* Open a log whose first column is an epoch number to resume a run from a
 * checkpoint taken after last_epoch epochs: as nde_csv_append, but the
 * leading data rows whose first field is an integer <= last_epoch are kept
 * and everything from the first other row on is removed (the rows of an
 * epoch that did not complete, and a torn row). */
NDE_API int nde_csv_resume(const char *path, const char *const *columns, int ncol, long last_epoch,
                           nde_csv **out);
NDE_API void nde_csv_free(nde_csv *csv); /* closes the file; a pending partial row is dropped */

NDE_API int nde_csv_num_cols(const nde_csv *csv);
/* Data rows in the file: kept ones plus the ones written since opening. */
NDE_API long nde_csv_num_rows(const nde_csv *csv);

/* Build a row field by field, then end it (which writes and flushes it).
 * More fields than columns fail at the put; ending a row with fewer fails
 * and discards the partial row. */
NDE_API int nde_csv_put_double(nde_csv *csv, double v);
NDE_API int nde_csv_put_int(nde_csv *csv, long long v);
NDE_API int nde_csv_put_str(nde_csv *csv, const char *s);
NDE_API int nde_csv_end_row(nde_csv *csv);
/* A whole row of n == ncol doubles. */
NDE_API int nde_csv_row(nde_csv *csv, const double *values, int n);
/* Make the rows written so far durable (fsync), e.g. before a checkpoint
 * that refers to them is committed. */
NDE_API int nde_csv_sync(nde_csv *csv);

/* ======================================================================
 * Progress line for interactive runs. When f is a terminal, writes "\r",
 * the formatted text and an erase-to-end-of-line code, flushes, and returns
 * 1; otherwise writes nothing and returns 0 (logs redirected to files stay
 * clean). nde_progress_done ends the line with "\n" on a terminal. The
 * caller chooses f; the library never prints by itself.
 * ====================================================================== */

#if defined(__GNUC__) || defined(__clang__)
#define NDE_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define NDE_PRINTF_LIKE(f, a)
#endif
NDE_API int nde_progress(FILE *f, const char *fmt, ...) NDE_PRINTF_LIKE(2, 3);
NDE_API int nde_progress_done(FILE *f);

/* ======================================================================
 * The training loop (train/loop.c): epochs of shuffled mini-batches with
 * augmentation, an optimizer step per batch, test evaluation per epoch,
 * per-epoch and per-batch CSV logs, an atomic checkpoint after every epoch
 * and resumption from it. A resumed run ends with the same parameters as an
 * uninterrupted one (the optimizer state, the epoch and the data order's
 * generator state are all in the checkpoint).
 *
 * Files written under out_dir (which must exist):
 *   epochs.csv   epoch, lr, alpha, train_loss, train_err, test_err, nfe_f,
 *                nfe_b, nfe_b_recompute, steps_f, rejected_f, steps_b,
 *                test_nfe_f, mean_energy, effective_attractors, seconds,
 *                train_xent, test_loss
 *                (NFE columns: mean per training batch over the epoch;
 *                nfe_b = backward RHS + quadrature evaluations;
 *                nfe_b_recompute = forward RHS redone between checkpoints;
 *                train_loss = train_xent + the RMAN term, both means over
 *                the epoch's batches as trained; test_loss = mean
 *                cross-entropy on the test set after the epoch, evaluation
 *                mode. A log written before the last two columns existed
 *                gets them, "nan" in its old rows, when its run resumes.)
 *   batches.csv  epoch, batch, loss, err, nfe_f, nfe_b, nfe_b_recompute,
 *                steps_f, rejected_f, steps_b, seconds
 *   checkpoint.ndeckpt  parameters, model state, optimizer, epoch, data RNG
 *
 * The checkpoint commits an epoch: the epoch's rows reach both logs and
 * are fsynced before the checkpoint is atomically replaced, so after a kill
 * at any instant the logs hold every row of the checkpoint's epochs,
 * possibly followed by rows (whole or torn) of the next, unfinished epoch,
 * and the directory may hold a stale "checkpoint.ndeckpt.tmp.<pid>".
 * resume = 1 removes both and carries on, so the resumed run ends with the
 * uninterrupted run's checkpoint and log rows (bit for bit, wall times
 * aside). A run with resume = 0 replaces what out_dir held: it removes the
 * old checkpoint before it truncates the logs. One run directory belongs to
 * one process at a time.
 * ====================================================================== */

struct nde_model;
struct nde_dataset;

typedef struct nde_train_options {
  int epochs;            /* total epochs (5) */
  int batch;             /* mini-batch size (128), <= the model's max_batch */
  int optim;             /* nde_optim_kind (SGD) */
  nde_optim_options optim_opts; /* momentum 0.9 for SGD by default */
  nde_schedule schedule; /* lr per epoch (constant 0.1 * batch / 128) */
  int crop_pad;          /* random crop padding (4), 0 = none */
  int hflip;             /* horizontal flips (0: not for Fashion-MNIST) */
  int subset_train;      /* 0 = all */
  int subset_test;       /* 0 = all */
  uint64_t seed;         /* data order and augmentation (1) */
  const char *out_dir;   /* required */
  int resume;            /* 1: continue from out_dir/checkpoint.ndeckpt */
  int stop_after;        /* stop after this many epochs in THIS call (0 = no limit);
                            for tests of resumption */
  double max_loss;       /* a batch loss above this is divergence (0: 1000 ln K for K
                            classes; INFINITY: only non-finite values count) */
  FILE *progress;        /* progress line target (NULL: none); only a terminal shows it */
  const char *label;     /* prefix of the progress line */
  /* Test-only fault injection (NULL: none): called with the name of each
   * point of the run's write protocol that the run reaches, so a
   * crash-consistency test can kill the process there and check what a
   * resumed run makes of the directory. Points, in the order an epoch
   * reaches them: "csv.torn" (a log row half written and flushed),
   * "batch.row" (a batches.csv row written), "epoch.row" (the epochs.csv
   * row written), "logs.synced" (both logs fsynced), "ckpt.partial" (the
   * checkpoint's temporary file half written), "ckpt.written" (the
   * temporary complete, before its rename), "ckpt.renamed" (after the
   * rename: the epoch is committed), "epoch.done" (the epoch over); and
   * on resuming, "log.repaired" (a log cut back to the checkpoint's
   * epoch). */
  void (*fault_hook)(const char *point, void *ctx);
  void *fault_ctx;
} nde_train_options;

NDE_API nde_train_options nde_train_options_default(void);

typedef struct nde_train_summary {
  int epochs_done;
  double train_loss, train_err, test_err; /* last epoch, errors as fractions */
  double train_xent; /* last epoch: mean training cross-entropy (train_loss without the RMAN term) */
  double test_loss;  /* last epoch: mean test cross-entropy (NaN without a test set) */
  double nfe_f, nfe_b;                    /* mean per batch over the last epoch */
  double test_nfe_f;                      /* mean per test batch, last epoch */
  double sec_per_epoch;                   /* mean over all epochs of the run (resumptions included) */
  int effective_attractors;               /* after the last epoch (0 without RMAN) */
} nde_train_summary;

/* Train (see the section's head). Divergence stops the run with
 * NDE_ERR_DIVERGED before the epoch's checkpoint, so out_dir keeps the state
 * after the last good epoch (the epoch's rows logged so far stay in
 * batches.csv until a resume cuts them). The run has diverged when, in a
 * training batch,
 *   - the loss (cross-entropy + RMAN term) is NaN, infinite, or above
 *     max_loss (default 1000 ln K for K classes: a mean cross-entropy that
 *     high gives the right class a probability below K^-1000 on average),
 *   - the gradient or the updated parameters hold a NaN or an infinity,
 *   - or an ODE solve of the forward or backward pass, or of the test
 *     evaluation after the epoch, fails with NDE_ERR_MAXSTEPS (the solver at
 *     its step limit), NDE_ERR_STEPSIZE (its step size underflowing) or
 *     NDE_ERR_NONFINITE.
 * The message names the epoch, the batch, the cause, what the checkpoint
 * holds, and a remedy ("lower the learning rate"; for a solver at its
 * limits also "or loosen the solver"), then the solver's own message. */
/* Train and test sets must have the model's input shape (c, h, w) and at
 * most its nclasses classes: NDE_ERR_SHAPE naming both shapes otherwise
 * ("training data is 1x28x28 but the model expects 2x28x28"), before
 * anything is written to out_dir. Any number of channels. */
NDE_API int nde_train_run(struct nde_model *m, const struct nde_dataset *train,
                          const struct nde_dataset *test, const nde_train_options *opt,
                          nde_train_summary *summary);

/* Test error (fraction) and mean NFE-F per batch of a model on a dataset,
 * evaluation mode, batches of the model's max_batch. mean/std normalize
 * (may be NULL; else ds->c values each). Data of another shape than the
 * model's input, or with more classes, gives NDE_ERR_SHAPE naming both
 * ("data is 1x28x28 but the model expects 2x28x28"). */
NDE_API int nde_train_evaluate(struct nde_model *m, const struct nde_dataset *ds,
                               const double *mean, const double *std, int subset, double *err,
                               double *nfe_f);
/* The same, and the mean cross-entropy per sample in *loss (the loss
 * without the RMAN term). Any output may be NULL. */
NDE_API int nde_train_evaluate_loss(struct nde_model *m, const struct nde_dataset *ds,
                                    const double *mean, const double *std, int subset, double *err,
                                    double *loss, double *nfe_f);

/* ======================================================================
 * Comparing configurations over seeds (train/compare.c): a metric measured
 * once per run, n1 runs of one configuration and n2 of another.
 *   mean = (1/n) sum x_i,  sd = sqrt(sum (x_i - mean)^2 / (n - 1))  (n >= 2)
 * Welch's unequal-variance t-test of mean1 = mean2:
 *   v_k = sd_k^2 / n_k,  se = sqrt(v_1 + v_2),  t = (mean1 - mean2) / se,
 *   df = (v_1 + v_2)^2 / (v_1^2 / (n_1 - 1) + v_2^2 / (n_2 - 1))
 *        (Welch-Satterthwaite),
 *   p = 2 Q(|t|; df), two-sided, Q the upper tail of Student's t with df
 *       degrees of freedom (GSL's gsl_cdf_tdist_Q, non-integer df).
 * A verdict on a directional claim ("configuration 1 is lower") at level
 * alpha: SUPPORTED when p < alpha and the difference has the claimed sign,
 * CONTRADICTED when p < alpha and it has the other, UNRESOLVED when
 * p >= alpha, NA when the test is undefined: fewer than 2 runs on a side,
 * or no spread at all (se = 0).
 * ====================================================================== */

typedef struct nde_welch {
  int n1, n2;
  double mean1, mean2; /* NaN for n = 0 */
  double sd1, sd2;     /* sample standard deviations; NaN for n < 2 */
  double diff;         /* mean1 - mean2 */
  double t, df, p;     /* NaN when the test is undefined (see above) */
} nde_welch;

typedef enum nde_verdict {
  NDE_VERDICT_NA = 0,
  NDE_VERDICT_SUPPORTED = 1,
  NDE_VERDICT_CONTRADICTED = 2,
  NDE_VERDICT_UNRESOLVED = 3
} nde_verdict;

/* Mean and sample standard deviation of x[0..n), n >= 0 (mean NaN for
 * n = 0, sd NaN for n < 2). NDE_ERR_NONFINITE for a NaN or infinite value. */
NDE_API int nde_mean_sd(const double *x, int n, double *mean, double *sd);

/* Welch's test of x1[0..n1) against x2[0..n2) (n >= 0; arrays may be NULL
 * when empty). Undefined cases give NaN t, df, p (NDE_OK). */
NDE_API int nde_welch_test(const double *x1, int n1, const double *x2, int n2, nde_welch *out);

/* Verdict on the claim sign(mean1 - mean2) = direction (-1: configuration 1
 * is lower, +1: higher) at level alpha in (0, 1). */
NDE_API int nde_welch_verdict(const nde_welch *w, int direction, double alpha,
                              nde_verdict *verdict);

/* Verdict on the claim "the metric is about `value`": SUPPORTED when value
 * lies within mean +- k sd of x[0..n), CONTRADICTED otherwise, NA for
 * n < 2 (k > 0). */
NDE_API int nde_interval_verdict(const double *x, int n, double value, double k,
                                 nde_verdict *verdict);

/* "supported", "contradicted", "not resolved at this sample size", "n/a". */
NDE_API const char *nde_verdict_name(int verdict);

#ifdef __cplusplus
}
#endif
#endif
