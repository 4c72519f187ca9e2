#include "core/cpu_load.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

namespace adascale::core {
namespace {

TEST(CpuLoad, OwnWorkCountsAsUtilizationButNotAsBackgroundLoad) {
  CpuTimes before = read_cpu_times();
  ASSERT_TRUE(before.valid) << "/proc/stat is readable on Linux";
  // Spin ~300 ms on this thread.
  volatile double sink = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < end) sink = sink + 1.0;
  CpuTimes after = read_cpu_times();
  EXPECT_GT(after.self, before.self);
  double total = cpu_utilization(before, after);
  double background = background_load(before, after);
  ASSERT_FALSE(std::isnan(total));
  EXPECT_GE(total, 0.0);
  EXPECT_LE(total, 1.0);
  EXPECT_LE(background, total);
  EXPECT_GE(background, 0.0);
}

TEST(CpuLoad, InvalidOrEmptyIntervalsAreNaN) {
  CpuTimes none;
  EXPECT_TRUE(std::isnan(cpu_utilization(none, read_cpu_times())));
  CpuTimes t = read_cpu_times();
  EXPECT_TRUE(std::isnan(background_load(t, t)));
}

}  // namespace
}  // namespace adascale::core
