#include "core/timing.h"

#include <gtest/gtest.h>

namespace adascale::core {
namespace {

TEST(Timing, SummarizeGivesOrderStatistics) {
  auto s = summarize({5, 1, 3, 2, 4});
  EXPECT_EQ(s.repeats, 5);
  EXPECT_DOUBLE_EQ(s.median_ms, 3);
  EXPECT_DOUBLE_EQ(s.min_ms, 1);
  EXPECT_DOUBLE_EQ(s.mean_ms, 3);
  EXPECT_DOUBLE_EQ(s.p90_ms, 5);
  EXPECT_DOUBLE_EQ(summarize({1, 2, 3, 4}).median_ms, 2.5);
  EXPECT_EQ(summarize({}).repeats, 0);
}

TEST(Timing, MeasureRunsWarmupThenRepeats) {
  int calls = 0;
  auto s = measure_latency([&] { ++calls; }, 2, 7);
  EXPECT_EQ(calls, 9);
  EXPECT_EQ(s.repeats, 7);
  EXPECT_GE(s.median_ms, 0.0);
}

TEST(Timing, MeasureStopsAtTheTimeBudgetAfterThreeRuns) {
  int calls = 0;
  auto s = measure_latency([&] { ++calls; }, 0, 1000, 0.0);
  EXPECT_EQ(s.repeats, 3);
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace adascale::core
