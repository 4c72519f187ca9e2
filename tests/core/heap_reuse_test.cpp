#include "core/heap_reuse.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/memory_usage.h"

namespace adascale::core {
namespace {

// glibc's allocator only: elsewhere reuse_freed_heap_memory() does nothing,
// and AddressSanitizer replaces malloc (mallopt and malloc_trim then
// change nothing).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ADASCALE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ADASCALE_ASAN 1
#endif
#if defined(__GLIBC__) && !defined(ADASCALE_ASAN)

// Keeps the compiler from dropping a malloc/memset/free whose memory is
// never read.
void keep(void* p) {
  asm volatile("" : : "r"(p) : "memory");
}

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
  keep(p);
  std::free(p);
  return minor_faults() - before;
}

TEST(HeapReuse, ARepeatedLargeAllocationFaultsItsPagesInOnlyOnce) {
  ASSERT_TRUE(reuse_freed_heap_memory());
  EXPECT_TRUE(reuse_freed_heap_memory());  // idempotent
  faults_of_one_round();                   // the first round maps the pages
  // 64 MiB is 16384 pages of 4 KiB: without reuse every round faults each
  // of them in again; with it the pages stay mapped.
  const long again = faults_of_one_round();
  EXPECT_LT(again, 1000) << "freed memory was given back to the kernel";
}

TEST(HeapReuse, ReleaseGivesFreedPagesBackOnce) {
  ASSERT_TRUE(reuse_freed_heap_memory());
  constexpr size_t kBytes = size_t(64) << 20;
  // A small block after the large one keeps it off the heap's top, where
  // only an explicit release can return its pages.
  void* large = std::malloc(kBytes);
  void* after = std::malloc(4096);
  std::memset(large, 1, kBytes);
  keep(large);
  keep(after);
  std::free(large);
  const int64_t kept = resident_bytes();
  EXPECT_TRUE(release_free_heap_memory());
  const int64_t released = kept - resident_bytes();
  std::free(after);
  EXPECT_GT(released, int64_t(kBytes) / 2)
      << "resident " << kept << " bytes before the release";
}
#endif

}  // namespace
}  // namespace adascale::core
