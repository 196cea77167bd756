/* Batches whose memory cannot fit are refused at create, with the estimate
 * and the memory available in the message, instead of crashing inside
 * SUNDIALS (N_VClone does not check its clone: --batch 3000 under a 2 GB
 * address-space limit died with SIGSEGV) or spinning in OpenBLAS's
 * allocator. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/testutil.h"

/* Address space mapped by this process now (/proc/self/statm), in bytes. */
static size_t mapped_now(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  ck_assert_ptr_nonnull(f);
  unsigned long pages = 0;
  ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
  fclose(f);
  return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static int zero_rhs(double t, int n, const double *y, double *ydot, void *u) {
  (void)t, (void)y, (void)u;
  memset(ydot, 0, (size_t)n * 2304 * sizeof *ydot);
  return 0;
}

static nde_model_options odenet(int max_batch) {
  nde_model_options o = nde_model_options_default(NDE_MODEL_ODENET);
  o.max_batch = max_batch;
  o.threads = 1;
  return o;
}

/* The estimate is linear in the batch beyond the stem's chunk, about 3 MiB
 * per sample for the default ODE-Net (2.9 measured as address space), and
 * checks its options. */
START_TEST(estimate_scales_with_the_batch) {
  size_t e[4];
  for (int k = 0; k < 4; k++) {
    nde_model_options o = odenet(128 * (k + 1));
    ck_assert_int_eq(nde_model_memory_estimate(&o, &e[k]), NDE_OK);
  }
  const double per_sample = (double)(e[3] - e[2]) / 128;
  ck_assert_msg(per_sample > 2.5 * 1048576 && per_sample < 4.0 * 1048576, "%.2f MiB per sample",
                per_sample / 1048576);
  for (int k = 1; k < 3; k++)
    ck_assert_double_eq_tol((double)(e[k + 1] - e[k]) / (double)(e[k] - e[k - 1]), 1.0, 1e-6);
  /* per-sample mode: the solver's vectors are one sample's */
  nde_model_options o = odenet(512);
  o.ode.batch_mode = NDE_BATCH_PER_SAMPLE;
  size_t per;
  ck_assert_int_eq(nde_model_memory_estimate(&o, &per), NDE_OK);
  ck_assert_msg(
      per + (size_t)100 * 512 * 2304 * sizeof(double) < e[3],
      "per-sample %zu, joint %zu: the joint solver's 100+ batch-sized vectors are missing", per,
      e[3]);
  /* ResNet-6 holds no solver: a fraction of the ODE-Net's */
  o = nde_model_options_default(NDE_MODEL_RESNET6);
  o.max_batch = 512;
  o.threads = 1;
  size_t r;
  ck_assert_int_eq(nde_model_memory_estimate(&o, &r), NDE_OK);
  ck_assert(r > 0 && r < e[3] / 2);
  ck_assert_int_eq(nde_model_memory_estimate(NULL, &r), NDE_ERR_NULL);
  ck_assert_int_eq(nde_model_memory_estimate(&o, NULL), NDE_ERR_NULL);
  o.width = 0;
  ck_assert_int_eq(nde_model_memory_estimate(&o, &r), NDE_ERR_ARG);
  o = odenet(128);
  o.ode.rtol = o.ode.atol = 1.0 / 0.0;
  ck_assert_int_eq(nde_model_memory_estimate(&o, &r), NDE_ERR_ARG);
  ck_assert(nde_memory_available() > 0);
}
END_TEST

/* In a child under an address-space limit of what it maps now + 512 MiB:
 * the ODE-Net at batch 3000 (about 10 GiB) and a solver of that size are
 * refused with NDE_ERR_NOMEM and both figures; a small model still builds.
 * The exit status says what failed. */
START_TEST(huge_batch_refused_under_address_space_limit) {
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = mapped_now() + ((size_t)512 << 20);
    if (setrlimit(RLIMIT_AS, &rl)) _exit(10);
    size_t avail = nde_memory_available();
    if (avail > ((size_t)600 << 20)) _exit(11);
    /* the solver alone, for a user field of the ODE-Net's state size (its
     * SUNDIALS vectors are where the crash was) */
    nde_field_user u = {2304, 0, 3000, zero_rhs, NULL, NULL, NULL};
    nde_field *f;
    nde_ode *ode = (nde_ode *)1;
    nde_ode_options oo = nde_ode_options_default();
    oo.adjoint = NDE_ADJ_NONE;
    if (nde_field_create_user(&u, &f)) _exit(1);
    int rc = nde_ode_create(f, &oo, 3000, &ode);
    fprintf(stderr, "solver at batch 3000: rc %d: %s\n", rc, nde_last_error());
    if (rc != NDE_ERR_NOMEM || ode || !strstr(nde_last_error(), "GiB available")) _exit(2);
    nde_field_free(f);
    nde_model_options o = odenet(3000);
    nde_model *m = (nde_model *)1;
    rc = nde_model_create(&o, &m);
    fprintf(stderr, "batch 3000 under the limit: rc %d: %s\n", rc, nde_last_error());
    if (rc != NDE_ERR_NOMEM || m) _exit(3);
    const char *msg = nde_last_error();
    if (!strstr(msg, "max_batch 3000 needs about") || !strstr(msg, "GiB available")) _exit(4);
    /* what fits still builds */
    nde_model_options small = odenet(8);
    if (nde_model_create(&small, &m) || !m) _exit(5);
    nde_model_free(m);
    _exit(0);
  }
  int st = 0;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert_msg(WIFEXITED(st), "the child died with signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  ck_assert_msg(WEXITSTATUS(st) == 0, "child check %d failed (see its lines above)",
                WEXITSTATUS(st));
}
END_TEST

Suite *model_memory_suite(void) {
  Suite *s = suite_create("model_memory");
  TCase *tc = tcase_create("memory");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, estimate_scales_with_the_batch);
  tcase_add_test(tc, huge_batch_refused_under_address_space_limit);
  suite_add_tcase(s, tc);
  return s;
}
