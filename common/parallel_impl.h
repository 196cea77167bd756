/* Private to nde: run a few slices of work on their own threads.
 *
 * nde's arithmetic outside BLAS (im2col, norms, activations, type
 * conversions) is single-threaded, so a network evaluated on one thread
 * with a 2-thread BLAS leaves the second core idle whenever it is not in a
 * gemm (about half of an ODE-function evaluation at batch 128). Cutting the
 * batch into slices evaluated on their own threads, each with a
 * single-threaded BLAS, keeps every core busy for the whole evaluation. */
#ifndef NDE_PARALLEL_IMPL_H
#define NDE_PARALLEL_IMPL_H

/* Most slices nde runs at once. */
#define NDE_MAX_SLICES 8

/* One slice of work: returns 0 or an nde error code (with its message set
 * in the calling thread, as usual). */
typedef int (*nde_slice_fn)(void *arg, int slice);

/* Run fn(arg, s) for s = 0 .. count - 1, slice 0 on the calling thread and
 * each other slice on a thread of its own, with BLAS single-threaded until
 * all have returned (then restored; OpenBLAS's count is process-wide, so
 * it stays 1 until the runs of every thread have ended). Returns the code of the lowest failing
 * slice, with that slice's message as the calling thread's nde_last_error();
 * 0 when all succeed. count <= 1 runs fn(arg, 0) directly; if a thread
 * cannot be started its slice runs on the calling thread afterwards. */
int nde_run_slices(int count, nde_slice_fn fn, void *arg);

/* First index of slice k when [0, n) is cut into `count` contiguous slices
 * of nearly equal length (the slices' lengths differ by at most one). */
static inline long nde_slice_start(long n, int count, int k) { return n * k / count; }

/* How many threads the calling code may cut its work into, >= 1: 1 inside
 * a slice (no nested runs), else the program's BLAS thread count
 * (nde_blas_get_threads, nde/common.h) -- not the 1 OpenBLAS is set to
 * while some thread's slices run, so that what a thread computes does not
 * depend on what other threads do. */
int nde_blas_threads(void);

#endif
