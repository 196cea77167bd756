/* Private to train/: the test-only fault-injection hook of
 * nde_train_options (see nde/train.h), carried by the checkpoint writer and
 * the CSV logs of one run so each object calls its own run's hook (no
 * process-wide switch). */
#ifndef NDE_TRAIN_FAULT_IMPL_H
#define NDE_TRAIN_FAULT_IMPL_H

#include "nde/train.h"

typedef struct train_fault {
  void (*fn)(const char *point, void *ctx); /* NULL: no hook */
  void *ctx;
} train_fault;

/* Tell the hook that the run reached the named point. */
static inline void train_fault_at(const train_fault *f, const char *point) {
  if (f && f->fn) f->fn(point, f->ctx);
}

/* nde_ckpt_writer_commit with the hook called inside the commit
 * ("ckpt.partial", "ckpt.written", "ckpt.renamed"); fault may be NULL. */
int ckpt_writer_commit_hooked(nde_ckpt_writer *w, const char *path, const train_fault *fault);

/* Give a log the run's hook (copied): "csv.torn" fires with half of every
 * row written and flushed. */
void csv_set_fault(nde_csv *csv, const train_fault *fault);

#endif
