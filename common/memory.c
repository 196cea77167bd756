/* How much memory this process may still allocate (nde/common.h): the
 * smallest of physical memory, the cgroup's limit and what the address-space
 * limit (ulimit -v) leaves beside what is already mapped. Used to refuse a
 * batch whose estimated memory cannot fit before anything is allocated: a
 * failing allocation inside SUNDIALS (N_VClone does not check its clone)
 * crashes, and OpenBLAS's allocator can spin for minutes near the limit. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/error_impl.h"

/* Address space mapped by this process now (Linux /proc/self/statm: the
 * first field is the total program size in pages); 0 when unknown. */
static size_t mapped_now(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long pages = 0;
  int ok = fscanf(f, "%lu", &pages) == 1;
  fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  return ok && page > 0 ? (size_t)pages * (size_t)page : 0;
}

/* The cgroup v2 (or v1) memory limit of this process's group, SIZE_MAX when
 * there is none or it cannot be read ("max" means none). */
static size_t cgroup_limit(void) {
  static const char *const files[] = {"/sys/fs/cgroup/memory.max",
                                      "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    FILE *f = fopen(files[i], "r");
    if (!f) continue;
    char buf[64] = "";
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok || !strncmp(buf, "max", 3)) continue;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end != buf && v > 0 && v < (unsigned long long)SIZE_MAX) return (size_t)v;
  }
  return SIZE_MAX;
}

size_t nde_memory_available(void) {
  size_t avail = SIZE_MAX;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) avail = (size_t)pages * (size_t)page;
  size_t cg = cgroup_limit();
  if (cg < avail) avail = cg;
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    size_t lim = (size_t)rl.rlim_cur, used = mapped_now();
    size_t left = lim > used ? lim - used : 0;
    if (left < avail) avail = left;
  }
  return avail;
}

int nde_memory_check(size_t need, const char *what) {
  size_t avail = nde_memory_available();
  if (need <= avail) return NDE_OK;
  const double gib = 1024.0 * 1024.0 * 1024.0;
  return nde_error(NDE_ERR_NOMEM,
                   "%s needs about %.1f GiB, %.1f GiB available (the smallest of physical "
                   "memory, the cgroup limit and what ulimit -v leaves)",
                   what, need / gib, avail / gib);
}
