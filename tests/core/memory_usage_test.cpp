#include "core/memory_usage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

namespace adascale::core {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

// Commits every page of `bytes` fresh bytes; volatile writes cannot be
// optimised away.
std::unique_ptr<char[]> touch(int64_t bytes) {
  std::unique_ptr<char[]> block(new char[static_cast<size_t>(bytes)]);
  volatile char* p = block.get();
  for (int64_t i = 0; i < bytes; i += 4096) p[i] = static_cast<char>(i);
  p[bytes - 1] = 1;
  return block;
}

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
  auto block = touch(gap + 64 * kMiB);
  EXPECT_GE(resident_bytes() - rss_before, 60 * kMiB);
  EXPECT_GE(peak_resident_bytes() - peak_before, 60 * kMiB);
}

// A training stage's peak must not include an earlier stage's: after a
// reset the peak starts again from what is resident now.
TEST(MemoryUsage, ResetStartsThePeakOver) {
  {
    auto block = touch(peak_resident_bytes() - resident_bytes() + 96 * kMiB);
  }  // freed: resident drops, the peak stays
  const int64_t high = peak_resident_bytes();
  ASSERT_GE(high - resident_bytes(), 64 * kMiB);
  ASSERT_TRUE(reset_peak_resident()) << "/proc/self/clear_refs not writable";
  EXPECT_LT(peak_resident_bytes(), high - 64 * kMiB);
  EXPECT_GE(peak_resident_bytes(), resident_bytes() - kMiB);
}

}  // namespace
}  // namespace adascale::core
