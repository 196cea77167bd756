/* Learning-rate schedules at the epochs around their milestones, compared
 * with PyTorch's StepLR / MultiStepLR / CosineAnnealingLR closed forms. */
#include <math.h>
#include <string.h>

#include "train_test.h"

#define LR_EQ(s, e, want)                                                                          \
  ck_assert_double_eq_tol(nde_lr_at((s), (e)), (want), 1e-15 + 1e-12 * (want))

/* torchdiffeq odenet_mnist style: 0.1 decayed x0.1 at epochs 60, 100, 140. */
START_TEST(multistep_around_milestones) {
  nde_schedule s;
  const int ms[] = {60, 100, 140};
  ck_assert_int_eq(nde_schedule_multistep(&s, 0.1, ms, 3, 0.1), NDE_OK);
  LR_EQ(&s, -5, 0.1);
  LR_EQ(&s, 0, 0.1);
  LR_EQ(&s, 59, 0.1);
  LR_EQ(&s, 60, 0.01);
  LR_EQ(&s, 61, 0.01);
  LR_EQ(&s, 99, 0.01);
  LR_EQ(&s, 100, 0.001);
  LR_EQ(&s, 139, 0.001);
  LR_EQ(&s, 140, 1e-4);
  LR_EQ(&s, 100000, 1e-4);
  /* No milestones: constant. */
  ck_assert_int_eq(nde_schedule_multistep(&s, 0.5, NULL, 0, 0.1), NDE_OK);
  LR_EQ(&s, 1000, 0.5);
  /* A milestone at 0 decays from the first epoch. */
  const int m0[] = {0, 2};
  ck_assert_int_eq(nde_schedule_multistep(&s, 1.0, m0, 2, 0.5), NDE_OK);
  LR_EQ(&s, 0, 0.5);
  LR_EQ(&s, 1, 0.5);
  LR_EQ(&s, 2, 0.25);
}
END_TEST

/* CH-NODE: Adam lr 0.04 with StepLR x0.8 every epoch. */
START_TEST(step_every_epoch_and_every_k) {
  nde_schedule s;
  ck_assert_int_eq(nde_schedule_step(&s, 0.04, 1, 0.8), NDE_OK);
  LR_EQ(&s, 0, 0.04);
  LR_EQ(&s, 1, 0.032);
  LR_EQ(&s, 2, 0.0256);
  LR_EQ(&s, 9, 0.04 * pow(0.8, 9));
  ck_assert_int_eq(nde_schedule_step(&s, 1.0, 3, 0.5), NDE_OK);
  LR_EQ(&s, 0, 1.0);
  LR_EQ(&s, 2, 1.0);
  LR_EQ(&s, 3, 0.5);
  LR_EQ(&s, 5, 0.5);
  LR_EQ(&s, 6, 0.25);
}
END_TEST

START_TEST(constant_and_cosine) {
  nde_schedule s;
  ck_assert_int_eq(nde_schedule_constant(&s, 0.3), NDE_OK);
  LR_EQ(&s, 0, 0.3);
  LR_EQ(&s, 777, 0.3);
  ck_assert_int_eq(nde_schedule_cosine(&s, 1.0, 10, 0.1), NDE_OK);
  LR_EQ(&s, 0, 1.0);
  LR_EQ(&s, 5, 0.55); /* halfway: lr_min + (base - lr_min) / 2 */
  LR_EQ(&s, 10, 0.1);
  LR_EQ(&s, 50, 0.1);
  /* (1 + cos(pi/10)) / 2 = 0.975528258147577 */
  LR_EQ(&s, 1, 0.1 + 0.9 * 0.975528258147577);
}
END_TEST

START_TEST(bad_arguments) {
  nde_schedule s;
  const int ms[] = {5, 5};
  ck_assert_int_eq(nde_schedule_constant(NULL, 0.1), NDE_ERR_NULL);
  ck_assert_int_eq(nde_schedule_constant(&s, 0), NDE_ERR_ARG);
  TT_MSG_HAS("base lr");
  ck_assert_int_eq(nde_schedule_constant(&s, NAN), NDE_ERR_ARG);
  ck_assert_int_eq(nde_schedule_step(&s, 0.1, 0, 0.5), NDE_ERR_ARG);
  TT_MSG_HAS("step size");
  ck_assert_int_eq(nde_schedule_step(&s, 0.1, 1, 0), NDE_ERR_ARG);
  TT_MSG_HAS("gamma");
  ck_assert_int_eq(nde_schedule_step(&s, 0.1, 1, 1.5), NDE_ERR_ARG);
  ck_assert_int_eq(nde_schedule_multistep(&s, 0.1, ms, 2, 0.1), NDE_ERR_ARG);
  TT_MSG_HAS("milestone 1");
  const int neg[] = {-1};
  ck_assert_int_eq(nde_schedule_multistep(&s, 0.1, neg, 1, 0.1), NDE_ERR_ARG);
  ck_assert_int_eq(nde_schedule_multistep(&s, 0.1, NULL, 2, 0.1), NDE_ERR_NULL);
  int many[NDE_SCHED_MAX_MILESTONES + 1];
  for (int i = 0; i <= NDE_SCHED_MAX_MILESTONES; i++) many[i] = i + 1;
  ck_assert_int_eq(nde_schedule_multistep(&s, 0.1, many, NDE_SCHED_MAX_MILESTONES + 1, 0.1),
                   NDE_ERR_ARG);
  TT_MSG_HAS("at most");
  ck_assert_int_eq(nde_schedule_multistep(&s, 0.1, many, -1, 0.1), NDE_ERR_ARG);
  ck_assert_int_eq(nde_schedule_multistep(&s, 0.1, many, NDE_SCHED_MAX_MILESTONES, 0.1), NDE_OK);
  ck_assert_int_eq(nde_schedule_cosine(&s, 0.1, 0, 0), NDE_ERR_ARG);
  TT_MSG_HAS("period");
  ck_assert_int_eq(nde_schedule_cosine(&s, 0.1, 10, 0.2), NDE_ERR_ARG);
  TT_MSG_HAS("lr_min");
  ck_assert_int_eq(nde_schedule_step(NULL, 0.1, 1, 0.5), NDE_ERR_NULL);
  ck_assert_int_eq(nde_schedule_multistep(NULL, 0.1, ms, 1, 0.5), NDE_ERR_NULL);
  ck_assert_int_eq(nde_schedule_cosine(NULL, 0.1, 1, 0), NDE_ERR_NULL);
  ck_assert_int_eq(nde_schedule_check(NULL), NDE_ERR_NULL);
  /* Invalid schedules give NaN, which nde_optim_step refuses. */
  ck_assert(isnan(nde_lr_at(NULL, 0)));
  memset(&s, 0, sizeof s);
  s.kind = 99;
  s.base_lr = 0.1;
  ck_assert_int_eq(nde_schedule_check(&s), NDE_ERR_KIND);
  ck_assert(isnan(nde_lr_at(&s, 3)));
  nde_optim *opt;
  ck_assert_int_eq(nde_optim_create(NDE_OPTIM_SGD, 1, NULL, &opt), NDE_OK);
  nde_real p = 0, g = 1;
  ck_assert_int_eq(nde_optim_step(opt, &p, &g, nde_lr_at(&s, 3)), NDE_ERR_ARG);
  nde_optim_free(opt);
}
END_TEST

Suite *schedule_suite(void) {
  Suite *s = suite_create("schedule");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, multistep_around_milestones);
  tcase_add_test(tc, step_every_epoch_and_every_k);
  tcase_add_test(tc, constant_and_cosine);
  tcase_add_test(tc, bad_arguments);
  suite_add_tcase(s, tc);
  return s;
}
