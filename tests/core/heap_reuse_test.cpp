#include "core/heap_reuse.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

namespace adascale::core {
namespace {

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Page faults of allocating, filling and freeing a 64 MiB buffer: the step
// a training loop repeats for every large activation.
long faults_of_one_round() {
  constexpr size_t kBytes = size_t(64) << 20;
  const long before = minor_faults();
  void* p = std::malloc(kBytes);
  std::memset(p, 1, kBytes);
  std::free(p);
  return minor_faults() - before;
}

#if defined(__GLIBC__)  // elsewhere reuse_freed_heap_memory() does nothing
TEST(HeapReuse, ARepeatedLargeAllocationFaultsItsPagesInOnlyOnce) {
  ASSERT_TRUE(reuse_freed_heap_memory());
  EXPECT_TRUE(reuse_freed_heap_memory());  // idempotent
  faults_of_one_round();                   // the first round maps the pages
  // 64 MiB is 16384 pages of 4 KiB: without reuse every round faults each
  // of them in again; with it the pages stay mapped.
  const long again = faults_of_one_round();
  EXPECT_LT(again, 1000) << "freed memory was given back to the kernel";
}
#endif

}  // namespace
}  // namespace adascale::core
