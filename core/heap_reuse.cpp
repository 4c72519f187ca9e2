#include "core/heap_reuse.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace adascale::core {

bool reuse_freed_heap_memory() {
#if defined(__GLIBC__)
  static const bool applied = [] {
    // mallopt refuses an mmap threshold above 32 MiB (half glibc's heap
    // size), below one activation of a batch-128 CIFAR ResNet; turning
    // mmap off for malloc does what a higher threshold would.
    const bool no_mmap = mallopt(M_MMAP_MAX, 0) == 1;
    const bool no_trim = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
    return no_mmap && no_trim;
  }();
  return applied;
#else
  return false;
#endif
}

bool release_free_heap_memory() {
#if defined(__GLIBC__)
  return malloc_trim(0) == 1;
#else
  return false;
#endif
}

}  // namespace adascale::core
