/* Normalization statistics and conversion, crop and flip against hand
 * values, seeded shuffling. */
#include <math.h>
#include <string.h>

#include "support/testutil.h"

START_TEST(channel_stats_and_get) {
  /* two samples, 2 channels of 1x2 pixels: channel 0 = {0, 255, 255, 255},
     channel 1 = {51, 51, 102, 102} */
  nde_dataset *ds;
  ck_assert_int_eq(nde_dataset_create(2, 2, 1, 2, 3, &ds), NDE_OK);
  const uint8_t px[8] = {0, 255, 51, 51, 255, 255, 102, 102};
  memcpy(ds->pixels, px, 8);
  double mean[2], std[2];
  ck_assert_int_eq(nde_data_channel_stats(ds, mean, std), NDE_OK);
  ck_assert_double_eq_tol(mean[0], 0.75, 1e-15);
  ck_assert_double_eq_tol(std[0], sqrt(0.75 * 0.25), 1e-15);
  ck_assert_double_eq_tol(mean[1], 0.3, 1e-15);
  ck_assert_double_eq_tol(std[1], 0.1, 1e-15);

  nde_real out[4];
  ck_assert_int_eq(nde_data_get(ds, 1, NULL, NULL, out), NDE_OK);
  ck_assert_double_eq_tol(out[0], 1, 1e-6);
  ck_assert_double_eq_tol(out[2], 0.4, 1e-6);
  ck_assert_int_eq(nde_data_get(ds, 0, mean, std, out), NDE_OK);
  ck_assert_double_eq_tol(out[0], -0.75 / std[0], 1e-5);
  ck_assert_double_eq_tol(out[1], 0.25 / std[0], 1e-5);
  ck_assert_double_eq_tol(out[2], -1, 1e-5);
  ck_assert_double_eq_tol(out[3], -1, 1e-5);

  /* normalized with its own statistics, a set has mean 0 and std 1 per channel */
  double s[2] = {0, 0}, s2[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(nde_data_get(ds, i, mean, std, out), NDE_OK);
    for (int k = 0; k < 2; k++)
      for (int q = 0; q < 2; q++) {
        s[k] += out[k * 2 + q];
        s2[k] += (double)out[k * 2 + q] * out[k * 2 + q];
      }
  }
  for (int k = 0; k < 2; k++) {
    ck_assert_double_eq_tol(s[k] / 4, 0, 1e-6);
    ck_assert_double_eq_tol(s2[k] / 4, 1, 1e-5);
  }

  /* errors */
  ck_assert_int_eq(nde_data_get(ds, 2, NULL, NULL, out), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "sample 2 outside [0, 2)"));
  ck_assert_int_eq(nde_data_get(ds, -1, NULL, NULL, out), NDE_ERR_ARG);
  ck_assert_int_eq(nde_data_get(ds, 0, mean, NULL, out), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "both mean and std"));
  double zero[2] = {0.2, 0};
  ck_assert_int_eq(nde_data_get(ds, 0, mean, zero, out), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "channel 1"));
  ck_assert_int_eq(nde_data_get(NULL, 0, NULL, NULL, out), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_get(ds, 0, NULL, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_channel_stats(NULL, mean, std), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_channel_stats(ds, NULL, std), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_channel_stats(ds, mean, NULL), NDE_ERR_NULL);
  nde_dataset_free(ds);
}
END_TEST

/* 1 channel 3x3 image 1..9, pad 1: every offset against the hand-padded image
 *   0 0 0 0 0
 *   0 1 2 3 0
 *   0 4 5 6 0
 *   0 7 8 9 0
 *   0 0 0 0 0                                                                */
START_TEST(crop_by_hand) {
  const nde_real in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  nde_real padded[25] = {0}, out[9];
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++) padded[(y + 1) * 5 + x + 1] = in[y * 3 + x];
  for (int oy = 0; oy <= 2; oy++)
    for (int ox = 0; ox <= 2; ox++) {
      ck_assert_int_eq(nde_data_crop(1, 3, 3, 1, oy, ox, in, NULL, out), NDE_OK);
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) ck_assert(out[y * 3 + x] == padded[(y + oy) * 5 + x + ox]);
    }
  /* centre offset is the identity; (0,0) written out in full */
  ck_assert_int_eq(nde_data_crop(1, 3, 3, 1, 0, 0, in, NULL, out), NDE_OK);
  const nde_real tl[9] = {0, 0, 0, 0, 1, 2, 0, 4, 5};
  for (int q = 0; q < 9; q++) ck_assert(out[q] == tl[q]);
  /* per-channel fill, 2 channels, pad 2, offset (4, 0): bottom-left */
  const nde_real in2[8] = {1, 2, 3, 4, 10, 20, 30, 40}; /* two 2x2 planes */
  const nde_real fill[2] = {-1, -2};
  nde_real out2[8];
  ck_assert_int_eq(nde_data_crop(2, 2, 2, 2, 4, 0, in2, fill, out2), NDE_OK);
  for (int q = 0; q < 4; q++) ck_assert(out2[q] == -1);
  for (int q = 4; q < 8; q++) ck_assert(out2[q] == -2);
  ck_assert_int_eq(nde_data_crop(2, 2, 2, 2, 3, 1, in2, fill, out2), NDE_OK);
  const nde_real want[8] = {-1, 3, -1, -1, -2, 30, -2, -2};
  for (int q = 0; q < 8; q++) ck_assert(out2[q] == want[q]);
  /* errors */
  ck_assert_int_eq(nde_data_crop(1, 3, 3, 1, 3, 0, in, NULL, out), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "offset (3, 0)"));
  ck_assert_int_eq(nde_data_crop(1, 3, 3, 1, 0, -1, in, NULL, out), NDE_ERR_ARG);
  ck_assert_int_eq(nde_data_crop(1, 3, 3, -1, 0, 0, in, NULL, out), NDE_ERR_ARG);
  ck_assert_int_eq(nde_data_crop(0, 3, 3, 1, 0, 0, in, NULL, out), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_data_crop(1, 3, 3, 1, 0, 0, NULL, NULL, out), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_crop(1, 3, 3, 1, 0, 0, in, NULL, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_crop(1, 3, 3, 1, 0, 0, out, NULL, out), NDE_ERR_ARG);
  ck_assert(strstr(nde_last_error(), "overlap"));
}
END_TEST

START_TEST(random_crop_is_seeded_and_uniform) {
  const nde_real in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  nde_real out[9], ref[9];
  nde_rng a, b;
  nde_rng_seed(&a, 5);
  nde_rng_seed(&b, 5);
  int hits[9] = {0};
  for (int t = 0; t < 900; t++) {
    ck_assert_int_eq(nde_data_random_crop(1, 3, 3, 1, in, NULL, out, &a), NDE_OK);
    int oy = (int)nde_rng_below(&b, 3), ox = (int)nde_rng_below(&b, 3);
    ck_assert_int_eq(nde_data_crop(1, 3, 3, 1, oy, ox, in, NULL, ref), NDE_OK);
    for (int q = 0; q < 9; q++) ck_assert(out[q] == ref[q]);
    hits[oy * 3 + ox]++;
  }
  for (int k = 0; k < 9; k++)
    ck_assert_msg(hits[k] > 60 && hits[k] < 140, "offset %d: %d", k, hits[k]);
  ck_assert_int_eq(nde_data_random_crop(1, 3, 3, 1, in, NULL, out, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_random_crop(1, 3, 3, 5000, in, NULL, out, &a), NDE_ERR_ARG);
}
END_TEST

START_TEST(hflip_by_hand) {
  /* 2 channels of 2x3 */
  const nde_real in[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const nde_real want[12] = {3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10};
  nde_real out[12];
  ck_assert_int_eq(nde_data_hflip(2, 2, 3, in, out), NDE_OK);
  for (int q = 0; q < 12; q++) ck_assert(out[q] == want[q]);
  ck_assert_int_eq(nde_data_hflip(2, 2, 3, out, out), NDE_OK); /* in place, twice = identity */
  for (int q = 0; q < 12; q++) ck_assert(out[q] == in[q]);
  nde_real even[4] = {1, 2, 3, 4};
  ck_assert_int_eq(nde_data_hflip(1, 1, 4, even, even), NDE_OK);
  ck_assert(even[0] == 4 && even[1] == 3 && even[2] == 2 && even[3] == 1);
  ck_assert_int_eq(nde_data_hflip(1, 0, 4, even, even), NDE_ERR_SHAPE);
  ck_assert_int_eq(nde_data_hflip(1, 1, 4, NULL, even), NDE_ERR_NULL);
}
END_TEST

START_TEST(shuffle_is_a_seeded_permutation) {
  enum { N = 1000 };
  static int p1[N], p2[N], p3[N];
  nde_rng a, b, c;
  nde_rng_seed(&a, 77);
  nde_rng_seed(&b, 77);
  nde_rng_seed(&c, 78);
  ck_assert_int_eq(nde_data_permutation(p1, N, &a), NDE_OK);
  ck_assert_int_eq(nde_data_permutation(p2, N, &b), NDE_OK);
  ck_assert_int_eq(nde_data_permutation(p3, N, &c), NDE_OK);
  static int seen[N];
  int fixed = 0, differ = 0;
  for (int i = 0; i < N; i++) {
    ck_assert(p1[i] >= 0 && p1[i] < N);
    seen[p1[i]]++;
    ck_assert_int_eq(p1[i], p2[i]);
    fixed += p1[i] == i;
    differ += p1[i] != p3[i];
  }
  for (int i = 0; i < N; i++) ck_assert_int_eq(seen[i], 1);
  ck_assert_int_lt(fixed, 10); /* a uniform permutation fixes 1 point on average */
  ck_assert_int_gt(differ, N / 2);
  /* Fisher-Yates with nde_rng_below: the first swap partner of a 3-shuffle */
  int small[3] = {0, 1, 2};
  nde_rng r1, r2;
  nde_rng_seed(&r1, 9);
  nde_rng_seed(&r2, 9);
  ck_assert_int_eq(nde_data_shuffle(small, 3, &r1), NDE_OK);
  int j2 = (int)nde_rng_below(&r2, 3), ref[3] = {0, 1, 2}, t = ref[2];
  ref[2] = ref[j2];
  ref[j2] = t;
  int j1 = (int)nde_rng_below(&r2, 2);
  t = ref[1];
  ref[1] = ref[j1];
  ref[j1] = t;
  for (int i = 0; i < 3; i++) ck_assert_int_eq(small[i], ref[i]);
  ck_assert_int_eq(nde_data_shuffle(small, 0, &r1), NDE_OK);
  ck_assert_int_eq(nde_data_shuffle(small, -1, &r1), NDE_ERR_ARG);
  ck_assert_int_eq(nde_data_shuffle(NULL, 3, &r1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_shuffle(small, 3, NULL), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_permutation(NULL, 3, &r1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_data_permutation(small, -2, &r1), NDE_ERR_ARG);
}
END_TEST

Suite *data_augment_suite(void) {
  Suite *s = suite_create("data_augment");
  TCase *tc = tcase_create("augment");
  tcase_add_test(tc, channel_stats_and_get);
  tcase_add_test(tc, crop_by_hand);
  tcase_add_test(tc, random_crop_is_seeded_and_uniform);
  tcase_add_test(tc, hflip_by_hand);
  tcase_add_test(tc, shuffle_is_a_seeded_permutation);
  suite_add_tcase(s, tc);
  return s;
}
