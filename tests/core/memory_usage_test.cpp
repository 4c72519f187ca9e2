#include "core/memory_usage.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace adascale::core {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

// `bytes` fresh bytes with every page committed, mapped straight from the
// kernel and unmapped when the block goes: freeing them lowers the resident
// set whatever malloc does with freed memory (core/heap_reuse.h turns its
// giving back off for the whole process).
class TouchedBlock {
 public:
  explicit TouchedBlock(int64_t bytes) : bytes_(static_cast<size_t>(bytes)) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    volatile char* v = data_;  // volatile writes cannot be optimised away
    for (size_t i = 0; i < bytes_; i += 4096) v[i] = static_cast<char>(i);
    v[bytes_ - 1] = 1;
  }
  ~TouchedBlock() { munmap(data_, bytes_); }
  TouchedBlock(const TouchedBlock&) = delete;
  TouchedBlock& operator=(const TouchedBlock&) = delete;

 private:
  size_t bytes_;
  char* data_ = nullptr;
};

TEST(MemoryUsage, ReportsPlausibleFigures) {
  int64_t rss = resident_bytes();
  int64_t peak = peak_resident_bytes();
  EXPECT_GT(rss, 1 * kMiB);
  EXPECT_GE(peak, rss);
}

TEST(MemoryUsage, PeakGrowsWithTouchedMemory) {
  int64_t rss_before = resident_bytes();
  int64_t peak_before = peak_resident_bytes();
  ASSERT_GT(rss_before, 0);
  // The peak only moves once resident memory passes it: allocate the gap
  // left by earlier tests' freed memory plus 64 MiB.
  int64_t gap = std::max<int64_t>(0, peak_before - rss_before);
  TouchedBlock block(gap + 64 * kMiB);
  EXPECT_GE(resident_bytes() - rss_before, 60 * kMiB);
  EXPECT_GE(peak_resident_bytes() - peak_before, 60 * kMiB);
}

// A training stage's peak must not include an earlier stage's: after a
// reset the peak starts again from what is resident now.
TEST(MemoryUsage, ResetStartsThePeakOver) {
  {
    TouchedBlock block(peak_resident_bytes() - resident_bytes() + 96 * kMiB);
  }  // freed: resident drops, the peak stays
  const int64_t high = peak_resident_bytes();
  ASSERT_GE(high - resident_bytes(), 64 * kMiB);
  ASSERT_TRUE(reset_peak_resident()) << "/proc/self/clear_refs not writable";
  EXPECT_LT(peak_resident_bytes(), high - 64 * kMiB);
  EXPECT_GE(peak_resident_bytes(), resident_bytes() - kMiB);
}

}  // namespace
}  // namespace adascale::core
