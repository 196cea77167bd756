/* Helpers shared by the train/ test files: scratch directories and whole-file
 * reads and writes. */
#ifndef NDE_TRAIN_TEST_H
#define NDE_TRAIN_TEST_H

#include <stddef.h>

#include "support/testutil.h"

/* Tolerance for values that went through nde_real storage. */
#if NDE_REAL_IS_DOUBLE
#define TT_TOL 1e-12
#else
#define TT_TOL 2e-6
#endif

/* Check that the last error message contains s. */
#define TT_MSG_HAS(s)                                                                              \
  ck_assert_msg(strstr(nde_last_error(), (s)) != NULL, "message '%s' lacks '%s'",                  \
                nde_last_error(), (s))

/* A fresh empty directory under $TMPDIR (or /tmp); malloc'd path. */
char *tt_tmpdir(void);
/* Remove a directory tree made by the tests. */
void tt_rmtree(const char *dir);
/* dir + "/" + name into out (size n). */
void tt_join(char *out, size_t n, const char *dir, const char *name);
/* Number of entries of dir whose name contains ".tmp.". */
int tt_count_tmp(const char *dir);
/* Whole file into a malloc'd, NUL-terminated buffer; *len its size (NULL on failure). */
char *tt_slurp(const char *path, size_t *len);
/* Replace a file's content. Returns 0 on success. */
int tt_spit(const char *path, const void *data, size_t len);

/* Training-loop fixtures: n images of 1x12x12 in 3 classes (class k: a
 * bright bar at rows 2 + 4k, 3 + 4k, plus noise), and a tiny ODE-Net for
 * them (width 4, h RMAN attractors, max_batch 16, initialized from seed
 * 42; method: an nde_ode_method, 0 for the default, Euler and RK4 with the
 * direct adjoint and 4 steps). tt_tiny_model returns an nde status and never asserts,
 * so a forked child may call it. */
nde_dataset *tt_synthetic(int n, unsigned long seed);
int tt_tiny_model(int h, int method, nde_model **out);

#endif
