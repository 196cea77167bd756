/* nde/data.h: image classification datasets (IDX files of MNIST and
 * Fashion-MNIST, CIFAR-10/100 binary files), per-channel normalization,
 * augmentation (random crop with zero padding, horizontal flip), seeded
 * shuffling and a batch iterator.
 *
 * MEMORY. A dataset keeps its pixels as bytes (n * c * h * w uint8, CHW per
 * sample, as stored in the files): Fashion-MNIST's 60000 training images take
 * 47 MB instead of 188 MB as float. Conversion to nde_real (pixel / 255, then
 * optional per-channel (v - mean_c) / std_c) happens sample by sample when a
 * batch is produced, into buffers the iterator owns.
 *
 * Typical use:
 *   nde_dataset *train;
 *   if (nde_data_load_fashion_mnist(NULL, 1, &train)) fail(nde_last_error());
 *   double mean[1], std[1];
 *   nde_data_channel_stats(train, mean, std);
 *   nde_batch_options bo = nde_batch_options_default();
 *   bo.batch_size = 128; bo.crop_pad = 4; bo.mean = mean; bo.std = std;
 *   nde_batch_iter *it;
 *   nde_batch_iter_create(train, &bo, &it);
 *   for (int epoch = 0; epoch < E; epoch++) {
 *     nde_batch_iter_start(it);                   // new shuffle
 *     nde_batch b;
 *     while (nde_batch_iter_next(it, &b) == NDE_OK && b.n > 0)
 *       step(b.n, b.x, b.labels);                 // x: b.n * c*h*w, NCHW
 *   }
 *   nde_batch_iter_free(it);
 *   nde_dataset_free(train);
 *
 * THREAD SAFETY. A loaded dataset is only read: any number of threads may
 * read it at once (iterators, nde_data_get, nde_data_channel_stats) while
 * nobody modifies or frees it. An iterator (its buffers and generator) is
 * used by one thread at a time. Loaders and the image functions may run
 * concurrently; each thread shuffles with its own nde_rng.
 */
#ifndef NDE_DATA_H
#define NDE_DATA_H

#include "nde/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the Debian package dataset-fashion-mnist installs the files. */
#define NDE_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* A labelled image set. Fields are read-only once loaded (except through
 * nde_dataset_create, whose caller fills pixels and labels). */
typedef struct nde_dataset {
  int n;           /* samples */
  int c, h, w;     /* per-sample shape (channels, height, width) */
  int num_classes; /* labels lie in [0, num_classes) */
  uint8_t *pixels; /* [n * c * h * w] bytes, sample-major, CHW within a sample */
  int *labels;     /* [n] (the fine label for CIFAR-100) */
  int *coarse;     /* [n] CIFAR-100 coarse label in [0, 20), NULL otherwise */
} nde_dataset;

/* An empty (zeroed) dataset of n samples of shape (c, h, w) with labels in
 * [0, num_classes), for data made in memory. */
NDE_API int nde_dataset_create(int n, int c, int h, int w, int num_classes, nde_dataset **out);
NDE_API void nde_dataset_free(nde_dataset *ds);
static inline size_t nde_dataset_sample_numel(const nde_dataset *ds) {
  return (size_t)ds->c * ds->h * ds->w;
}

/* IDX files (LeCun's MNIST format): images are magic 0x00000803, then the
 * big-endian 32-bit dimensions n, rows, cols and n*rows*cols bytes; labels
 * are magic 0x00000801, n, then n bytes. Either file may be gzip-compressed
 * or plain (zlib reads both). Labels must lie in [0, num_classes). Any
 * malformed file (missing, bad magic, zero or huge dimensions, truncated,
 * trailing bytes, image and label counts disagreeing, label out of range)
 * gives NDE_ERR_IO or NDE_ERR_FORMAT and a message naming the file and the
 * problem. The result has c = 1. */
NDE_API int nde_data_load_idx(const char *images_path, const char *labels_path, int num_classes,
                              nde_dataset **out);

/* Fashion-MNIST (or MNIST) from dir (NULL: NDE_FASHION_MNIST_DIR): the files
 * train-images-idx3-ubyte.gz / train-labels-idx1-ubyte.gz (train = 1) or
 * t10k-images-idx3-ubyte.gz / t10k-labels-idx1-ubyte.gz (train = 0); the
 * names without .gz are used when only those exist. 10 classes. */
NDE_API int nde_data_load_fashion_mnist(const char *dir, int train, nde_dataset **out);

/* CIFAR binary files: records of 1 label byte (CIFAR-10, labels 0..9) or 2
 * (CIFAR-100: coarse 0..19, then fine 0..99) followed by 3072 pixel bytes
 * (1024 red, 1024 green, 1024 blue, each 32x32 row-major), concatenated in
 * the order of paths (npaths >= 1 files, e.g. data_batch_1..5.bin). A file
 * whose size is not a positive multiple of the record size, or a label out
 * of range, is rejected with its name (and record) in the message. */
NDE_API int nde_data_load_cifar(const char *const *paths, int npaths, int cifar100,
                                nde_dataset **out);

/* Per-channel mean and population standard deviation of the pixels on the
 * [0, 1] scale (byte / 255), over the whole set; mean and std have c entries.
 * Exact (computed from per-channel byte histograms). */
NDE_API int nde_data_channel_stats(const nde_dataset *ds, double *mean, double *std);

/* Sample i as nde_real (c*h*w, CHW): byte / 255, then (v - mean[k]) / std[k]
 * per channel k when mean and std are given (both or neither; std > 0). */
NDE_API int nde_data_get(const nde_dataset *ds, int i, const double *mean, const double *std,
                         nde_real *out);

/* Augmentation on one CHW image of nde_real.
 * Crop: the image padded by pad pixels on every side with fill[k] for channel
 * k (fill NULL: 0), then the h x w window whose top-left corner is at (oy, ox)
 * of the padded image, 0 <= oy, ox <= 2 pad: out[k][y][x] = in[k][y+oy-pad]
 * [x+ox-pad] where that lies inside the image, fill[k] elsewhere. in and out
 * must not overlap. */
NDE_API int nde_data_crop(int c, int h, int w, int pad, int oy, int ox, const nde_real *in,
                          const nde_real *fill, nde_real *out);
/* The same with oy, ox drawn uniformly from [0, 2 pad] (oy first). */
NDE_API int nde_data_random_crop(int c, int h, int w, int pad, const nde_real *in,
                                 const nde_real *fill, nde_real *out, nde_rng *rng);
/* Mirror left-right: out[k][y][x] = in[k][y][w-1-x]; in == out is allowed. */
NDE_API int nde_data_hflip(int c, int h, int w, const nde_real *in, nde_real *out);

/* Fisher-Yates shuffle of idx[0..n) with nde_rng_below (seeded, so the same
 * rng state gives the same permutation everywhere). */
NDE_API int nde_data_shuffle(int *idx, int n, nde_rng *rng);
/* idx = a random permutation of 0..n-1. */
NDE_API int nde_data_permutation(int *idx, int n, nde_rng *rng);

/* Batch iterator options (nde_batch_options_default gives the values in
 * brackets). */
typedef struct nde_batch_options {
  int batch_size;     /* [128] samples per batch, >= 1 */
  int shuffle;        /* [1] reshuffle at every nde_batch_iter_start */
  int drop_last;      /* [0] 1: skip the last partial batch */
  int subset;         /* [0] use only this many samples (0: all): the first
                         `subset` of a seeded permutation drawn once at create
                         when shuffle is on (a fixed random subset for quick
                         runs), else the first `subset` samples */
  int crop_pad;       /* [0] > 0: random crop back to h x w after zero padding
                         by crop_pad (4 in the papers); the padding is black
                         (byte 0), i.e. (0 - mean) / std after normalization */
  int hflip;          /* [0] 1: flip each image left-right with probability 1/2 */
  const double *mean; /* [NULL] per-channel normalization (copied at create) */
  const double *std;  /* [NULL] both or neither */
  uint64_t seed;      /* [1] seeds shuffling and augmentation */
} nde_batch_options;

NDE_API nde_batch_options nde_batch_options_default(void);

/* One batch: valid until the next nde_batch_iter_next / _start / _free. */
typedef struct nde_batch {
  int n;             /* samples in this batch; 0 when the epoch is over */
  const nde_real *x; /* [n * c * h * w] NCHW */
  const int *labels; /* [n] */
  const int *index;  /* [n] positions of the samples in the dataset */
} nde_batch;

/* The iterator KEEPS a pointer to ds (which must outlive it) and owns one
 * batch of buffers: nde_batch_iter_next never allocates. After create the
 * first epoch is ready (as if nde_batch_iter_start had been called). */
typedef struct nde_batch_iter nde_batch_iter;
NDE_API int nde_batch_iter_create(const nde_dataset *ds, const nde_batch_options *opts,
                                  nde_batch_iter **out);
NDE_API void nde_batch_iter_free(nde_batch_iter *it);
/* Begin a new epoch: reshuffle (when shuffle is on) and rewind. */
NDE_API int nde_batch_iter_start(nde_batch_iter *it);
/* Produce the next batch; at the end of the epoch b->n = 0 (NDE_OK). */
NDE_API int nde_batch_iter_next(nde_batch_iter *it, nde_batch *b);
/* Samples per epoch (after subset) and batches per epoch (after drop_last). */
NDE_API int nde_batch_iter_samples(const nde_batch_iter *it);
/* The generator behind shuffling and augmentation. Every epoch's order is a
 * shuffle of the fixed pool driven only by this state, so saving it after an
 * epoch and restoring it (before nde_batch_iter_start) replays the same
 * batches in a resumed run. */
NDE_API int nde_batch_iter_get_rng(const nde_batch_iter *it, nde_rng *rng);
NDE_API int nde_batch_iter_set_rng(nde_batch_iter *it, const nde_rng *rng);
NDE_API int nde_batch_iter_batches(const nde_batch_iter *it);

#ifdef __cplusplus
}
#endif
#endif
