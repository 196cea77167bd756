/* Private to nde: refusing work whose memory cannot fit (common/memory.c). */
#ifndef NDE_MEMORY_IMPL_H
#define NDE_MEMORY_IMPL_H

#include <stddef.h>

#include "common/error_impl.h"

/* NDE_OK when need bytes fit in nde_memory_available(); else NDE_ERR_NOMEM
 * with "<what> needs about X GiB, Y GiB available (...)". */
int nde_memory_check(size_t need, const char *what);

#endif
