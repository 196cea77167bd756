/* Which kernels OpenBLAS runs, and restarting a program with better ones.
 *
 * Debian builds OpenBLAS with DYNAMIC_ARCH: at load time it reads the CPU's
 * family and model and picks a kernel set. A CPU newer than the OpenBLAS
 * release is not in its table, and OpenBLAS 0.3.21 (Debian 12) then falls
 * back to "Prescott", its SSE3 kernels. Seen on an Intel Xeon of family 6
 * model 207: sgemm of the ODE function's shape ran at 63 GFLOP/s on two
 * cores with Prescott and at 240 with SkylakeX, and an ODE-Net training
 * step took 1.02 s instead of 0.44 s (bench/odenet_step, 2026-12-03).
 *
 * The kernel set can only be chosen before OpenBLAS loads, through the
 * environment variable OPENBLAS_CORETYPE, so a running program cannot fix
 * it for itself; it can only start itself again with the variable set.
 *
 * Ranking: a core name is mapped to the widest vector instructions its
 * kernels use (0 SSE, 1 AVX, 2 AVX2/FMA, 3 AVX-512). A suggestion is made
 * only when OpenBLAS runs SSE-era kernels (rank 0) on a CPU with AVX2 or
 * more: that is the fallback case. A CPU OpenBLAS did recognise (Zen with
 * Haswell-class kernels on an AVX-512 Zen 4, say) keeps its choice; which
 * of two vector kernel sets is faster there is for a benchmark to say. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nde/common.h"

extern char *openblas_get_corename(void);

const char *nde_blas_core(void) {
  const char *c = openblas_get_corename();
  return c ? c : "unknown";
}

/* Widest vector class of an OpenBLAS core's kernels; -1 when the name is
 * not one this table knows (no suggestion is made then). */
static int core_rank(const char *core) {
  static const char *const sse[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                    "Atom", "Opteron", "Opteron(SSE3)", "Barcelona",
                                    "Nano", "Katmai", "Coppermine", "Northwood", "Banias",
                                    "Athlon", "Bobcat", NULL};
  static const char *const avx[] = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller",
                                    "Excavator", NULL};
  static const char *const avx2[] = {"Haswell", "Zen", NULL};
  static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
  const char *const *ranks[] = {sse, avx, avx2, avx512};
  for (int r = 0; r < 4; r++)
    for (const char *const *n = ranks[r]; *n; n++)
      if (!strcasecmp(core, *n)) return r;
  return -1;
}

/* Widest vector class this CPU runs, with the OpenBLAS core that uses it. */
static const char *cpu_best_core(int *rank) {
  *rank = 0;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512cd")) {
    *rank = 3;
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    *rank = 2;
    return "Haswell";
  }
#endif
  return NULL;
}

const char *nde_blas_suggested_core(void) {
  int have = core_rank(nde_blas_core()), can;
  const char *best = cpu_best_core(&can);
  if (have != 0 || can < 2) return NULL;
  return best;
}

int nde_blas_restart_with_core(char **argv) {
  const char *set = getenv("OPENBLAS_CORETYPE");
  const char *core = nde_blas_suggested_core();
  if (!core || (set && *set) || !argv || !argv[0]) return 0;
  if (setenv("OPENBLAS_CORETYPE", core, 1)) return 0;
  execv("/proc/self/exe", argv); /* returns only on failure */
  unsetenv("OPENBLAS_CORETYPE");
  return -1;
}
