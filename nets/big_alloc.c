/* Allocation of the large streamed buffers of nets/ (im2col columns, the
 * network's scratch arena, stored activations).
 *
 * The im2col matrices are megabytes that im2col, the gemm's packing and
 * col2im stream through on every call; with 4 KiB pages each stream misses
 * the TLB every 4 KiB. Buffers of 4 MiB or more are therefore placed on
 * 2 MiB boundaries and, on Linux, advised as transparent huge pages (a hint:
 * ignored where THP is off). Measured a few percent on im2col + gemm at the
 * ODE-function shape. Smaller ones come from malloc; all are released with
 * free(). */
#define _DEFAULT_SOURCE /* madvise */
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "nets/layer_impl.h"

enum { HUGE_PAGE = 2 << 20 };

nde_real *nde_alloc_big(size_t n) {
  const size_t bytes = (n ? n : 1) * sizeof(nde_real);
  if (bytes < 2 * (size_t)HUGE_PAGE) return malloc(bytes);
  const size_t sz = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  void *p = aligned_alloc(HUGE_PAGE, sz);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p) (void)madvise(p, sz, MADV_HUGEPAGE);
#endif
  return p;
}
