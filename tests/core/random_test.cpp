#include "core/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace adascale::core {
namespace {

TEST(Random, SplitMix64KnownSequence) {
  // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
  SplitMix64 g(0);
  EXPECT_EQ(g(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(g(), 0x6E789E6AA1B965F4ull);
}

TEST(Random, BelowAndUniformStayInRangeAndSpread) {
  SplitMix64 g(7);
  std::vector<int> counts(10, 0);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = g.below(10);
    ASSERT_LT(v, 10u);
    ++counts[v];
    double u = g.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

TEST(Random, NormalHasUnitMoments) {
  SplitMix64 g(3);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = g.normal();
    sum += x;
    sq += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
}

TEST(Random, MixSeedIsOrderSensitiveAndStable) {
  EXPECT_EQ(mix_seed({1, 2, 3}), mix_seed({1, 2, 3}));
  EXPECT_NE(mix_seed({1, 2, 3}), mix_seed({3, 2, 1}));
  EXPECT_NE(mix_seed({1, 2}), mix_seed({1, 2, 0}));
}

TEST(Random, ShuffleIsAPermutation) {
  std::vector<int> v(1000);
  std::iota(v.begin(), v.end(), 0);
  SplitMix64 g(1);
  shuffle(v.data(), static_cast<int64_t>(v.size()), g);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  int fixed = 0;
  for (int i = 0; i < 1000; ++i) fixed += v[i] == i;
  EXPECT_LT(fixed, 10);
}

}  // namespace
}  // namespace adascale::core
