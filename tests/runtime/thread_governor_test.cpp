#include "runtime/thread_governor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace adascale::runtime {
namespace {

TEST(ThreadGovernor, StartsWithEveryThreadAndGivesUpCoresOthersUse) {
  ThreadGovernor g({true, 0, 0.25, 1}, 4);
  EXPECT_EQ(g.threads(), 4);
  EXPECT_EQ(g.update(0.0), 4);
  EXPECT_EQ(g.update(0.5), 2);   // 2 idle cores
  EXPECT_EQ(g.update(0.85), 1);  // 0.6 idle + 0.25 headroom: floor → 0 → 1
  EXPECT_EQ(g.update(1.0), 1);   // never below one
  EXPECT_EQ(g.update(0.3), 3);   // 2.8 + 0.25
}

TEST(ThreadGovernor, GivesThreadsUpAtOnceAndTakesThemBackAfterSettle) {
  ThreadGovernor g({true, 0, 0.25, 3}, 2);
  EXPECT_EQ(g.update(0.6), 1);  // at once
  // A noisy load that drops for single samples changes nothing.
  for (double load : {0.1, 0.6, 0.1, 0.6, 0.0, 0.7}) {
    EXPECT_EQ(g.update(load), 1);
  }
  EXPECT_EQ(g.update(0.0), 1);
  EXPECT_EQ(g.update(0.0), 1);
  EXPECT_EQ(g.update(0.0), 2);  // third in a row
}

TEST(ThreadGovernor, ShedGivesOneThreadUpUntilTheLoadSaysOtherwise) {
  ThreadGovernor g({true, 0, 0.25, 2}, 4);
  EXPECT_EQ(g.shed(), 3);
  EXPECT_EQ(g.shed(), 2);
  EXPECT_EQ(g.update(0.0), 2);  // idle: want 4, but only after settle = 2
  EXPECT_EQ(g.update(0.0), 4);
  ThreadGovernor one({true, 1, 0.25, 1}, 4);
  EXPECT_EQ(one.shed(), 1);  // never below one
  ThreadGovernor off({false, 0, 0.25, 1}, 4);
  EXPECT_EQ(off.shed(), 4);
}

TEST(ThreadGovernor, AbsentReadingsAndDisabledChangeNothing) {
  ThreadGovernor g({true, 0, 0.25, 1}, 2);
  EXPECT_EQ(g.update(std::nullopt), 2);
  EXPECT_EQ(g.update(std::nan("")), 2);
  ThreadGovernor off({false, 0, 0.25, 1}, 2);
  EXPECT_EQ(off.update(1.0), 2);
}

TEST(ThreadGovernor, MaxThreadsCapsTheAnswer) {
  ThreadGovernor g({true, 3, 0.25, 1}, 8);
  EXPECT_EQ(g.threads(), 3);
  EXPECT_EQ(g.update(0.0), 3);
  EXPECT_EQ(g.update(0.9), 1);
}

TEST(ThreadGovernor, ContentionIsTheBusyShareLeftOnInferenceThreads) {
  ThreadGovernor g({true, 0, 0.25, 1}, 2);
  EXPECT_DOUBLE_EQ(g.contention(0.4), 0.4);  // all cores shared
  g.update(0.6);                             // → 1 thread
  ASSERT_EQ(g.threads(), 1);
  EXPECT_DOUBLE_EQ(g.contention(0.5), 0.0);  // the busy core is the other one
  EXPECT_DOUBLE_EQ(g.contention(0.8), 0.6);  // 1.6 busy cores: 0.6 on ours
  EXPECT_DOUBLE_EQ(g.contention(1.0), 1.0);
  EXPECT_TRUE(std::isnan(g.contention(std::nan(""))));
}

TEST(ThreadGovernor, BadConfigIsRefused) {
  EXPECT_THROW(ThreadGovernor({true, 0, 0.25, 1}, 0), UsageError);
  EXPECT_THROW(ThreadGovernor({true, -1, 0.25, 1}, 2), UsageError);
  EXPECT_THROW(ThreadGovernor({true, 0, 1.5, 1}, 2), UsageError);
  EXPECT_THROW(ThreadGovernor({true, 0, 0.25, 0}, 2), UsageError);
}

}  // namespace
}  // namespace adascale::runtime
