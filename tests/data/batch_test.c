/* Batch iterator: coverage of every sample once per epoch, the partial last
 * batch, drop_last, subsets, seeded order and augmentation, normalization,
 * buffers that do not move, errors. */
#include <math.h>
#include <string.h>

#include "support/testutil.h"

/* n samples of 1 x 2 x 3; sample i has every pixel = i and label i % 10. */
static nde_dataset *make_set(int n) {
  nde_dataset *ds;
  ck_assert_int_eq(nde_dataset_create(n, 1, 2, 3, 10, &ds), NDE_OK);
  for (int i = 0; i < n; i++) {
    memset(ds->pixels + (size_t)i * 6, i, 6);
    ds->labels[i] = i % 10;
  }
  return ds;
}

/* Run one epoch; count how often each sample appears and check each batch's
 * content against its indices. Returns the number of batches. */
static int epoch(nde_batch_iter *it, const nde_dataset *ds, int *count, int *sizes,
                 int *first_order) {
  nde_batch b;
  int nb = 0, pos = 0;
  const nde_real *x0 = NULL;
  while (1) {
    ck_assert_int_eq(nde_batch_iter_next(it, &b), NDE_OK);
    if (b.n == 0) break;
    if (!x0) x0 = b.x;
    ck_assert_ptr_eq(b.x, x0); /* the iterator's own buffer, reused */
    sizes[nb++] = b.n;
    for (int j = 0; j < b.n; j++) {
      int i = b.index[j];
      count[i]++;
      if (first_order) first_order[pos++] = i;
      ck_assert_int_eq(b.labels[j], ds->labels[i]);
      for (int q = 0; q < 6; q++) ck_assert_double_eq_tol(b.x[j * 6 + q], i / 255.0, 1e-7);
    }
  }
  /* further calls keep reporting the end */
  ck_assert_int_eq(nde_batch_iter_next(it, &b), NDE_OK);
  ck_assert_int_eq(b.n, 0);
  return nb;
}

START_TEST(every_sample_once_with_partial_batch) {
  nde_dataset *ds = make_set(23);
  nde_batch_options o = nde_batch_options_default();
  o.batch_size = 5;
  o.seed = 11;
  nde_batch_iter *it;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_samples(it), 23);
  ck_assert_int_eq(nde_batch_iter_batches(it), 5);
  int order1[23], order2[23];
  for (int e = 0; e < 2; e++) {
    int count[23] = {0}, sizes[8];
    if (e) ck_assert_int_eq(nde_batch_iter_start(it), NDE_OK);
    int nb = epoch(it, ds, count, sizes, e ? order2 : order1);
    ck_assert_int_eq(nb, 5);
    for (int k = 0; k < 4; k++) ck_assert_int_eq(sizes[k], 5);
    ck_assert_int_eq(sizes[4], 3);
    for (int i = 0; i < 23; i++) ck_assert_int_eq(count[i], 1);
  }
  /* shuffled: neither epoch is in file order, and they differ */
  int inorder = 1, same = 1;
  for (int i = 0; i < 23; i++) {
    inorder &= order1[i] == i;
    same &= order1[i] == order2[i];
  }
  ck_assert(!inorder && !same);
  nde_batch_iter_free(it);

  /* the same seed reproduces the same order */
  nde_batch_iter *it2;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it2), NDE_OK);
  int count[23] = {0}, sizes[8], order3[23];
  epoch(it2, ds, count, sizes, order3);
  for (int i = 0; i < 23; i++) ck_assert_int_eq(order3[i], order1[i]);
  nde_batch_iter_free(it2);
  nde_batch_iter_free(NULL);
  nde_dataset_free(ds);
}
END_TEST

START_TEST(drop_last_and_no_shuffle) {
  nde_dataset *ds = make_set(23);
  nde_batch_options o = nde_batch_options_default();
  o.batch_size = 5;
  o.drop_last = 1;
  o.shuffle = 0;
  nde_batch_iter *it;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_batches(it), 4);
  int count[23] = {0}, sizes[8], order[23];
  ck_assert_int_eq(epoch(it, ds, count, sizes, order), 4);
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(order[i], i); /* file order */
    ck_assert_int_eq(count[i], 1);
  }
  for (int i = 20; i < 23; i++) ck_assert_int_eq(count[i], 0);
  nde_batch_iter_free(it);

  /* a batch larger than the set: one partial batch, or none with drop_last */
  o.batch_size = 100;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_batches(it), 0);
  nde_batch b;
  ck_assert_int_eq(nde_batch_iter_next(it, &b), NDE_OK);
  ck_assert_int_eq(b.n, 0);
  nde_batch_iter_free(it);
  o.drop_last = 0;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_batches(it), 1);
  ck_assert_int_eq(nde_batch_iter_next(it, &b), NDE_OK);
  ck_assert_int_eq(b.n, 23);
  nde_batch_iter_free(it);
  nde_dataset_free(ds);
}
END_TEST

/* subset: a fixed seeded choice of samples, reshuffled within each epoch;
 * without shuffling, the first samples. */
START_TEST(subset_is_fixed_across_epochs) {
  nde_dataset *ds = make_set(50);
  nde_batch_options o = nde_batch_options_default();
  o.batch_size = 4;
  o.subset = 10;
  o.seed = 3;
  nde_batch_iter *it;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_samples(it), 10);
  ck_assert_int_eq(nde_batch_iter_batches(it), 3);
  int c1[50] = {0}, c2[50] = {0}, sizes[8], o1[10], o2[10];
  epoch(it, ds, c1, sizes, o1);
  ck_assert_int_eq(sizes[2], 2);
  nde_batch_iter_start(it);
  epoch(it, ds, c2, sizes, o2);
  int beyond = 0, same = 1;
  for (int i = 0; i < 50; i++) {
    ck_assert_int_eq(c1[i], c2[i]);
    ck_assert(c1[i] <= 1);
    beyond += i >= 10 && c1[i];
  }
  for (int i = 0; i < 10; i++) same &= o1[i] == o2[i];
  ck_assert_int_gt(beyond, 0); /* a random subset, not the first ten */
  ck_assert(!same);
  nde_batch_iter_free(it);

  o.shuffle = 0;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_OK);
  int c3[50] = {0};
  epoch(it, ds, c3, sizes, NULL);
  for (int i = 0; i < 50; i++) ck_assert_int_eq(c3[i], i < 10);
  nde_batch_iter_free(it);
  /* a subset larger than the set means all of it */
  o.subset = 500;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_samples(it), 50);
  nde_batch_iter_free(it);
  nde_dataset_free(ds);
}
END_TEST

/* Normalization and augmentation inside the iterator: crop padding is the
 * normalized black pixel, flips happen about half the time, and everything
 * is reproducible from the seed. */
START_TEST(normalized_augmented_batches) {
  enum { N = 64 };
  nde_dataset *ds;
  ck_assert_int_eq(nde_dataset_create(N, 1, 3, 3, 2, &ds), NDE_OK);
  for (int i = 0; i < N; i++)
    for (int q = 0; q < 9; q++) ds->pixels[i * 9 + q] = (uint8_t)(10 * (q + 1)); /* 10..90 */
  const double mean[1] = {0.2}, std[1] = {0.1};
  nde_batch_options o = nde_batch_options_default();
  o.batch_size = N;
  o.crop_pad = 1;
  o.hflip = 1;
  o.mean = mean;
  o.std = std;
  o.seed = 99;
  nde_batch_iter *a, *b;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &a), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &b), NDE_OK);
  nde_batch ba, bb;
  ck_assert_int_eq(nde_batch_iter_next(a, &ba), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_next(b, &bb), NDE_OK);
  ck_assert_int_eq(ba.n, N);
  const double black = (0 - 0.2) / 0.1;
  int padded = 0, flipped = 0, identity = 0;
  for (int j = 0; j < N; j++) {
    const nde_real *x = ba.x + j * 9;
    for (int q = 0; q < 9; q++) {
      ck_assert(x[q] == bb.x[j * 9 + q]); /* same seed, same batch */
      double v = x[q];
      /* each value is either the padding or a normalized source pixel */
      int src = (int)lround((v * 0.1 + 0.2) * 255.0 / 10.0);
      ck_assert(fabs(v - black) < 1e-5 ||
                (src >= 1 && src <= 9 && fabs(v - (src * 10 / 255.0 - 0.2) / 0.1) < 1e-5));
    }
    padded += fabs(x[4] - black) > 1e-5 && (fabs(x[0] - black) < 1e-5 || fabs(x[8] - black) < 1e-5);
    /* the centre pixel survives every offset; untouched or flipped images
       have it at 5 (row 1 of a 3x3 source) */
    double centre_src = (x[4] * 0.1 + 0.2) * 255.0 / 10.0;
    if (fabs(x[0] - black) > 1e-5 && fabs(x[8] - black) > 1e-5) {
      ck_assert(fabs(centre_src - 5) < 1e-3);
      if (fabs(x[0] - (10 / 255.0 - 0.2) / 0.1) < 1e-5) identity++;
      if (fabs(x[0] - (30 / 255.0 - 0.2) / 0.1) < 1e-5) flipped++;
    }
  }
  ck_assert_int_gt(padded, N / 2); /* 8 of 9 offsets pad */
  ck_assert_int_gt(identity + flipped, 0);
  nde_batch_iter_free(a);
  nde_batch_iter_free(b);

  /* flips only: count them over many samples (p = 1/2) */
  o.crop_pad = 0;
  o.mean = o.std = NULL;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &a), NDE_OK);
  ck_assert_int_eq(nde_batch_iter_next(a, &ba), NDE_OK);
  int nflip = 0;
  for (int j = 0; j < N; j++) {
    double first = ba.x[j * 9] * 255.0;
    ck_assert(fabs(first - 10) < 1e-3 || fabs(first - 30) < 1e-3);
    nflip += fabs(first - 30) < 1e-3;
  }
  ck_assert_msg(nflip > 16 && nflip < 48, "%d flips of %d", nflip, N);
  nde_batch_iter_free(a);
  nde_dataset_free(ds);
}
END_TEST

START_TEST(iterator_errors) {
  nde_dataset *ds = make_set(4);
  nde_batch_options o = nde_batch_options_default();
  nde_batch_iter *it = (nde_batch_iter *)1;
  ck_assert_int_eq(nde_batch_iter_create(NULL, &o, &it), NDE_ERR_NULL);
  ck_assert_ptr_null(it);
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, NULL), NDE_ERR_NULL);
  o.batch_size = 0;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "batch_size = 0"));
  o = nde_batch_options_default();
  o.subset = -1;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_ERR_ARG);
  o = nde_batch_options_default();
  o.crop_pad = -4;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_ERR_ARG);
  o = nde_batch_options_default();
  double mean[1] = {0.5}, std[1] = {-1};
  o.mean = mean;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_ERR_ARG);
  o.std = std;
  ck_assert_int_eq(nde_batch_iter_create(ds, &o, &it), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "std must be > 0"));
  /* NULL options mean the defaults */
  ck_assert_int_eq(nde_batch_iter_create(ds, NULL, &it), NDE_OK);
  nde_batch b;
  ck_assert_int_eq(nde_batch_iter_next(it, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_batch_iter_next(NULL, &b), NDE_ERR_NULL);
  ck_assert_int_eq(nde_batch_iter_start(NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_batch_iter_samples(NULL), 0);
  ck_assert_int_eq(nde_batch_iter_batches(NULL), 0);
  nde_batch_iter_free(it);
  nde_dataset_free(ds);
}
END_TEST

Suite *data_batch_suite(void) {
  Suite *s = suite_create("data_batch");
  TCase *tc = tcase_create("batch");
  tcase_add_test(tc, every_sample_once_with_partial_batch);
  tcase_add_test(tc, drop_last_and_no_shuffle);
  tcase_add_test(tc, subset_is_fixed_across_epochs);
  tcase_add_test(tc, normalized_augmented_batches);
  tcase_add_test(tc, iterator_errors);
  suite_add_tcase(s, tc);
  return s;
}
