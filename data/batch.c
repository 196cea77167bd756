/* Batch iterator: a fixed sample pool (the whole set or a seeded subset),
 * reshuffled per epoch, cut into batches that are converted to nde_real,
 * normalized and augmented into buffers sized once at create. */
#include <stdlib.h>
#include <string.h>

#include "common/error_impl.h"
#include "data/data_impl.h"

struct nde_batch_iter {
  const nde_dataset *ds;
  nde_batch_options opts; /* mean/std point at the copies below */
  double *mean, *std;     /* [c] or NULL */
  nde_real *fill;         /* [c] normalized value of a black (0) pixel */
  int ns;                 /* samples per epoch */
  int *pool;              /* [ns] the fixed sample pool, in its create-time order */
  int *order;             /* [ns] this epoch's sample order: a shuffle of pool */
  int pos;                /* next position in order */
  int cap;                /* batch capacity = min(batch_size, ns) */
  nde_real *x;            /* [cap * numel] */
  nde_real *tmp;          /* [numel] source image of a crop */
  int *labels, *index;    /* [cap] */
  nde_rng rng;
};

nde_batch_options nde_batch_options_default(void) {
  nde_batch_options o;
  memset(&o, 0, sizeof o);
  o.batch_size = 128;
  o.shuffle = 1;
  o.seed = 1;
  return o;
}

void nde_batch_iter_free(nde_batch_iter *it) {
  if (!it) return;
  free(it->mean);
  free(it->std);
  free(it->fill);
  free(it->order);
  free(it->pool);
  free(it->x);
  free(it->tmp);
  free(it->labels);
  free(it->index);
  free(it);
}

int nde_batch_iter_create(const nde_dataset *ds, const nde_batch_options *opts,
                          nde_batch_iter **out) {
  static const char *where = "nde_batch_iter_create";
  NDE_CHECK_NULL(out, where);
  *out = NULL;
  NDE_CHECK_NULL(ds, where);
  nde_batch_options o = opts ? *opts : nde_batch_options_default();
  if (o.batch_size < 1)
    return nde_error(NDE_ERR_ARG, "%s: batch_size = %d must be >= 1", where, o.batch_size);
  if (o.subset < 0) return nde_error(NDE_ERR_ARG, "%s: subset = %d must be >= 0", where, o.subset);
  if (o.crop_pad < 0 || o.crop_pad > 4096)
    return nde_error(NDE_ERR_ARG, "%s: crop_pad = %d outside [0, 4096]", where, o.crop_pad);
  if (ds->n < 1 || !ds->pixels || !ds->labels)
    return nde_error(NDE_ERR_ARG, "%s: the dataset is empty", where);
  int rc = data_check_norm(ds->c, o.mean, o.std, where);
  if (rc) return rc;

  nde_batch_iter *it = calloc(1, sizeof *it);
  if (!it) return nde_error(NDE_ERR_NOMEM, "%s: no memory", where);
  it->ds = ds;
  nde_rng_seed(&it->rng, o.seed);
  const size_t c = (size_t)ds->c, numel = nde_dataset_sample_numel(ds);
  it->ns = (o.subset > 0 && o.subset < ds->n) ? o.subset : ds->n;
  it->cap = o.batch_size < it->ns ? o.batch_size : it->ns;
  it->order = malloc((size_t)ds->n * sizeof *it->order);
  it->pool = malloc((size_t)it->ns * sizeof *it->pool);
  it->fill = malloc(c * sizeof *it->fill);
  it->x = malloc((size_t)it->cap * numel * sizeof *it->x);
  it->tmp = malloc(numel * sizeof *it->tmp);
  it->labels = malloc((size_t)it->cap * sizeof *it->labels);
  it->index = malloc((size_t)it->cap * sizeof *it->index);
  if (o.mean) {
    it->mean = malloc(c * sizeof *it->mean);
    it->std = malloc(c * sizeof *it->std);
  }
  if (!it->order || !it->pool || !it->fill || !it->x || !it->tmp || !it->labels || !it->index ||
      (o.mean && (!it->mean || !it->std))) {
    const int cap = it->cap;
    nde_batch_iter_free(it);
    return nde_error(NDE_ERR_NOMEM, "%s: no memory for batches of %d x %zu values", where, cap,
                     numel);
  }
  for (size_t k = 0; k < c; k++) {
    if (o.mean) {
      it->mean[k] = o.mean[k];
      it->std[k] = o.std[k];
    }
    /* Padding is black in pixel space, as torchvision pads before ToTensor. */
    it->fill[k] = (nde_real)(o.mean ? (0.0 - o.mean[k]) / o.std[k] : 0.0);
  }
  o.mean = it->mean;
  o.std = it->std;
  it->opts = o;
  /* The pool of samples: the first ns of a seeded permutation (shuffle on)
     or of the file order; order[0..ns) holds it from now on. */
  if (o.shuffle && it->ns < ds->n)
    nde_data_permutation(it->order, ds->n, &it->rng);
  else
    for (int i = 0; i < ds->n; i++) it->order[i] = i;
  memcpy(it->pool, it->order, (size_t)it->ns * sizeof *it->pool);
  nde_batch_iter_start(it);
  *out = it;
  return NDE_OK;
}

int nde_batch_iter_start(nde_batch_iter *it) {
  NDE_CHECK_NULL(it, "nde_batch_iter_start");
  it->pos = 0;
  /* Each epoch's order depends only on the pool and the generator state, so
     a run resumed with nde_batch_iter_set_rng replays the same batches. */
  memcpy(it->order, it->pool, (size_t)it->ns * sizeof *it->order);
  if (it->opts.shuffle) return nde_data_shuffle(it->order, it->ns, &it->rng);
  return NDE_OK;
}

int nde_batch_iter_get_rng(const nde_batch_iter *it, nde_rng *rng) {
  NDE_CHECK_NULL(it, "nde_batch_iter_get_rng");
  NDE_CHECK_NULL(rng, "nde_batch_iter_get_rng");
  *rng = it->rng;
  return NDE_OK;
}

int nde_batch_iter_set_rng(nde_batch_iter *it, const nde_rng *rng) {
  NDE_CHECK_NULL(it, "nde_batch_iter_set_rng");
  NDE_CHECK_NULL(rng, "nde_batch_iter_set_rng");
  it->rng = *rng;
  return NDE_OK;
}

int nde_batch_iter_next(nde_batch_iter *it, nde_batch *b) {
  static const char *where = "nde_batch_iter_next";
  NDE_CHECK_NULL(it, where);
  NDE_CHECK_NULL(b, where);
  const nde_dataset *ds = it->ds;
  const size_t numel = nde_dataset_sample_numel(ds);
  int left = it->ns - it->pos, k = left < it->cap ? left : it->cap;
  b->x = it->x;
  b->labels = it->labels;
  b->index = it->index;
  if (k == 0 || (k < it->opts.batch_size && it->opts.drop_last)) {
    it->pos = it->ns;
    b->n = 0;
    return NDE_OK;
  }
  for (int j = 0; j < k; j++) {
    int i = it->order[it->pos + j];
    nde_real *dst = it->x + (size_t)j * numel;
    int rc;
    if (it->opts.crop_pad > 0) {
      rc = nde_data_get(ds, i, it->mean, it->std, it->tmp);
      if (!rc)
        rc = nde_data_random_crop(ds->c, ds->h, ds->w, it->opts.crop_pad, it->tmp, it->fill, dst,
                                  &it->rng);
    } else {
      rc = nde_data_get(ds, i, it->mean, it->std, dst);
    }
    if (!rc && it->opts.hflip && nde_rng_below(&it->rng, 2))
      rc = nde_data_hflip(ds->c, ds->h, ds->w, dst, dst);
    if (rc) return nde_error_wrap(rc, "%s: sample %d: ", where, i);
    it->labels[j] = ds->labels[i];
    it->index[j] = i;
  }
  it->pos += k;
  b->n = k;
  return NDE_OK;
}

int nde_batch_iter_samples(const nde_batch_iter *it) { return it ? it->ns : 0; }

int nde_batch_iter_batches(const nde_batch_iter *it) {
  if (!it) return 0;
  int bs = it->opts.batch_size;
  return it->opts.drop_last ? it->ns / bs : (it->ns + bs - 1) / bs;
}
