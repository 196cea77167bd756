/* nde/common.h: version, the network scalar type, status codes, errors and
 * the seeded random number generator shared by every module.
 *
 * OWNERSHIP RULES (followed by every nde module)
 *  1. Objects are made by nde_<module>_create(..., &out) and released by the
 *     matching nde_<module>_free(x); every free function accepts NULL.
 *     On failure create leaves *out == NULL and leaks nothing.
 *  2. Pointer inputs are borrowed for the duration of the call only, unless a
 *     function's comment says it keeps them.
 *  3. Outputs go into caller-owned buffers whose size is documented next to
 *     the function (usually batch * per-sample size).
 *  4. All workspace is sized at create time (for a maximum batch); forward,
 *     vector-Jacobian products and right-hand sides never allocate.
 *  5. Library code never aborts, exits or prints: every fallible function
 *     returns int, NDE_OK (0) on success or a negative NDE_ERR_* code, and
 *     nde_last_error() then describes the failure with its context.
 * docs/conventions.md explains these rules, the callbacks' return codes,
 * the parameter layout, precision and determinism.
 *
 * THREAD SAFETY (the rules of every module; docs/thread-safety.md has them
 * all in one place)
 *  1. An object is used by one thread at a time; different objects may be
 *     used by different threads at once, and an object may pass to another
 *     thread between calls. An object that another borrows (a solver's
 *     field, a field's networks) is in use whenever the borrower is.
 *  2. Functions taking a const object only read it, so several threads may
 *     call them on one object while no thread modifies it.
 *  3. Functions without an object may run concurrently on different
 *     buffers. nde_last_error() is per thread. An nde_rng is plain data:
 *     one per thread.
 *  4. Process-wide state: the BLAS thread count (below) and nde's pool of
 *     worker threads, both shared safely. Call nde_blas_restart_with_core
 *     before starting threads.
 */
#ifndef NDE_COMMON_H
#define NDE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "nde/config.h"

/* NDE_API marks every function of the public API. The shared library is
 * built with hidden visibility, so these are the only symbols it exports;
 * a function declared in include/nde/ without it cannot be called from a
 * program linking libnde.so (the `symbols` test lists any such function). */
#if defined(__GNUC__) || defined(__clang__)
#define NDE_API __attribute__((visibility("default")))
#else
#define NDE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Scalar type of network arithmetic (the ODE state itself is double). */
#if NDE_REAL_IS_DOUBLE
typedef double nde_real;
#else
typedef float nde_real;
#endif

/* Library version as "MAJOR.MINOR.PATCH"; compare with NDE_VERSION_STRING. */
NDE_API const char *nde_version(void);

/* Status codes. 0 is success, negative values are errors. */
enum nde_status {
  NDE_OK = 0,
  NDE_ERR_NULL = -1,        /* a required pointer argument was NULL */
  NDE_ERR_ARG = -2,         /* an argument value is out of range */
  NDE_ERR_SHAPE = -3,       /* tensor shapes do not fit together */
  NDE_ERR_BATCH = -4,       /* batch size outside [1, max_batch] */
  NDE_ERR_NOMEM = -5,       /* an allocation failed */
  NDE_ERR_KIND = -6,        /* unknown layer / solver / model kind */
  NDE_ERR_IO = -7,          /* a file could not be opened, read or written */
  NDE_ERR_FORMAT = -8,      /* a file's content is malformed */
  NDE_ERR_STATE = -9,       /* call out of order (e.g. vjp before forward) */
  NDE_ERR_SOLVER = -10,     /* a SUNDIALS call failed (flag in message) */
  NDE_ERR_MAXSTEPS = -11,   /* solver reached its maximum number of steps */
  NDE_ERR_STEPSIZE = -12,   /* step size underflow / too much accuracy asked */
  NDE_ERR_NONFINITE = -13,  /* right-hand side or loss produced NaN / Inf */
  NDE_ERR_CALLBACK = -14,   /* a user callback returned an error */
  NDE_ERR_CHECKSUM = -15,   /* a checkpoint failed its checksum */
  NDE_ERR_NUMERIC = -16,    /* a numerical routine failed to converge */
  NDE_ERR_DIVERGED = -17    /* training diverged (see nde_train_run) */
};

/* Static description of a status code (never NULL). */
NDE_API const char *nde_strerror(int code);

/* Thread-local message describing the most recent error raised in this
 * thread, with its context (argument, shape, file, time reached, SUNDIALS
 * flag name). Empty string when no error was recorded. */
NDE_API const char *nde_last_error(void);

/* Forget the recorded error of this thread. */
NDE_API void nde_clear_error(void);

/* Memory this process may still allocate, in bytes: the smallest of the
 * physical memory, the cgroup's memory limit and, under an address-space
 * limit (ulimit -v, RLIMIT_AS), that limit less what is mapped now. SIZE_MAX
 * when nothing is known. Models and solvers compare their estimates
 * (nde_model_memory_estimate, nde_ode_memory_estimate) with it at create
 * and refuse what cannot fit (NDE_ERR_NOMEM, both figures in the message). */
NDE_API size_t nde_memory_available(void);

/* BLAS kernels. Debian's OpenBLAS picks its kernel set from the CPU model
 * when it loads; on a CPU newer than its table it falls back to SSE3
 * ("Prescott") kernels, 3-4x slower on AVX-512 hardware. Only the
 * environment variable OPENBLAS_CORETYPE, read at load time, changes the
 * choice.
 *   nde_blas_core()            the core OpenBLAS runs ("SkylakeX", ...)
 *   nde_blas_suggested_core()  NULL when that choice fits this CPU; else the
 *                              OPENBLAS_CORETYPE value to use (OpenBLAS
 *                              fell back to SSE kernels on an AVX2 or
 *                              AVX-512 CPU)
 *   nde_blas_restart_with_core(argv)  for a program's main(): when there is
 *                              a suggestion and OPENBLAS_CORETYPE is unset,
 *                              set it and execv the running program again
 *                              with the same argv (Linux /proc/self/exe);
 *                              does not return then. Returns 0 when there
 *                              is nothing to do, -1 when the exec failed
 *                              (the program goes on with the old kernels).
 *                              Call it first thing, before threads or open
 *                              files matter. */
NDE_API const char *nde_blas_core(void);
NDE_API const char *nde_blas_suggested_core(void);
NDE_API int nde_blas_restart_with_core(char **argv);

/* BLAS threads. nde evaluates networks and long vector operations either
 * on a multi-threaded BLAS or in slices on its own threads, each slice with
 * a single-threaded BLAS; the program's BLAS thread count (OpenBLAS's,
 * from OPENBLAS_NUM_THREADS or set here) decides how many slices. While
 * any thread runs slices, nde sets OpenBLAS, whose count is process-wide,
 * to one thread and gives the count back when the last slices end.
 *   nde_blas_get_threads()   the program's count (>= 1), never the 1 of
 *                            those moments: what nde computes on one
 *                            thread does not depend on other threads
 *   nde_blas_set_threads(n)  set it (n >= 1; NDE_ERR_ARG otherwise). Safe
 *                            while other threads run nde: during slices
 *                            OpenBLAS gets n when they end. Call it
 *                            rather than openblas_set_num_threads, which
 *                            is only safe while no nde call is running in
 *                            any thread.
 * Results for a given count do not depend on which threads run what (see
 * docs/thread-safety.md). */
NDE_API int nde_blas_get_threads(void);
NDE_API int nde_blas_set_threads(int n);

/* Seeded pseudo-random numbers: xoshiro256** (Blackman & Vigna 2018), whose
 * 256-bit state is filled from the 64-bit seed by splitmix64. The same seed
 * gives the same stream on every platform. The state is a plain struct so
 * it can be copied and saved in checkpoints. */
typedef struct nde_rng {
  uint64_t s[4];
} nde_rng;

NDE_API void nde_rng_seed(nde_rng *rng, uint64_t seed);
NDE_API uint64_t nde_rng_next(nde_rng *rng);            /* 64 random bits */
NDE_API double nde_rng_uniform(nde_rng *rng);           /* in [0, 1), 53 bits */
NDE_API double nde_rng_uniform_range(nde_rng *rng, double lo, double hi);
NDE_API double nde_rng_normal(nde_rng *rng);            /* N(0, 1), Box-Muller */
NDE_API uint64_t nde_rng_below(nde_rng *rng, uint64_t n); /* uniform in [0, n), unbiased */

#ifdef __cplusplus
}
#endif
#endif
