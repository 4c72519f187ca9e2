#include "core/order_statistics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

TEST(OrderStatistics, MedianOfAnOddCountIsTheMiddleValue) {
  EXPECT_DOUBLE_EQ(median({7}), 7);
  EXPECT_DOUBLE_EQ(median({1, 2, 3, 4, 5}), 3);
  EXPECT_DOUBLE_EQ(median({1, 2, 100}), 2);
}

TEST(OrderStatistics, MedianOfAnEvenCountIsTheMeanOfTheMiddleTwo) {
  EXPECT_DOUBLE_EQ(median({1, 2, 3, 4}), 2.5);
  EXPECT_DOUBLE_EQ(median({3, 5}), 4);
  EXPECT_DOUBLE_EQ(median({1, 1, 2, 2}), 1.5);
  // numpy.median([0.1, 0.2, 0.3, 0.7]) and statistics.median agree.
  EXPECT_DOUBLE_EQ(median({0.1, 0.2, 0.3, 0.7}), 0.25);
}

TEST(OrderStatistics, InputOrderDoesNotMatter) {
  EXPECT_DOUBLE_EQ(median({5, 1, 3, 2, 4}), 3);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(quantile({9, 1, 5, 3, 7}, 0.25), 2);
  EXPECT_DOUBLE_EQ(quantile({1, 3, 5, 7, 9}, 0.25), 2);
}

TEST(OrderStatistics, QuantilesInterpolateBetweenClosestRanks) {
  // Weibull positions: rank h = (n + 1)·q, 1-based.
  const std::vector<double> x = {10, 20, 30, 40};  // n = 4
  EXPECT_DOUBLE_EQ(quantile(x, 0.2), 10);          // h = 1
  EXPECT_DOUBLE_EQ(quantile(x, 0.3), 15);          // h = 1.5
  EXPECT_DOUBLE_EQ(quantile(x, 0.6), 30);          // h = 3
  EXPECT_DOUBLE_EQ(quantile(x, 0.7), 35);          // h = 3.5
  // numpy.quantile(x, q, method="weibull") for 1…9: the 0.25 quantile at
  // rank 2.5, the 0.75 quantile at rank 7.5.
  const std::vector<double> nine = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_DOUBLE_EQ(quantile(nine, 0.25), 2.5);
  EXPECT_DOUBLE_EQ(quantile(nine, 0.75), 7.5);
}

TEST(OrderStatistics, TailQuantilesOfFewSamplesAreTheExtremes) {
  // Rank (5 + 1)·0.9 = 5.4 lies past the largest sample: the largest.
  EXPECT_DOUBLE_EQ(quantile({5, 1, 3, 2, 4}, 0.9), 5);
  EXPECT_DOUBLE_EQ(quantile({5, 1, 3, 2, 4}, 0.1), 1);
  EXPECT_DOUBLE_EQ(quantile({2, 8}, 0.99), 8);
}

TEST(OrderStatistics, QuantileZeroIsTheMinimumAndOneTheMaximum) {
  const std::vector<double> x = {4, -2, 9, 0.5, 3};
  EXPECT_DOUBLE_EQ(quantile(x, 0), -2);
  EXPECT_DOUBLE_EQ(quantile(x, 1), 9);
  EXPECT_DOUBLE_EQ(quantile({6}, 0), 6);
  EXPECT_DOUBLE_EQ(quantile({6}, 1), 6);
}

TEST(OrderStatistics, SeveralQuantilesAtOnceMatchOneAtATime) {
  const std::vector<double> x = {0.3, 1.7, 0.2, 5.0, 2.2, 0.9, 1.1};
  const std::vector<double> qs = {0, 0.5, 0.9, 0.99, 1};
  const std::vector<double> all = quantiles(x, qs);
  ASSERT_EQ(all.size(), qs.size());
  for (size_t i = 0; i < qs.size(); ++i)
    EXPECT_DOUBLE_EQ(all[i], quantile(x, qs[i])) << "q = " << qs[i];
  std::vector<double> sorted = x;
  std::sort(sorted.begin(), sorted.end());
  for (double q : qs)
    EXPECT_DOUBLE_EQ(sorted_quantile(sorted, q), quantile(x, q));
}

TEST(OrderStatistics, InfinitiesAndNaN) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_DOUBLE_EQ(median({1, inf, inf}), inf);
  EXPECT_DOUBLE_EQ(median({-inf, 2, 3}), 2);
  EXPECT_TRUE(std::isnan(median({1, std::nan(""), 3})));
  for (double v : quantiles({1, std::nan("")}, {0, 1}))
    EXPECT_TRUE(std::isnan(v));
}

TEST(OrderStatistics, EmptyInputAndBadQAreErrors) {
  EXPECT_THROW_WITH(median({}), InternalError, "empty");
  EXPECT_THROW_WITH(quantile({}, 0.5), InternalError, "empty");
  EXPECT_THROW_WITH(quantiles({}, {0.5}), InternalError, "empty");
  EXPECT_THROW_WITH(sorted_quantile({}, 0.5), InternalError, "empty");
  EXPECT_THROW_WITH(quantile({1, 2}, 1.5), InternalError, "[0, 1]");
  EXPECT_THROW_WITH(quantile({1, 2}, -0.1), InternalError, "[0, 1]");
  EXPECT_THROW_WITH(quantile({1, 2}, std::nan("")), InternalError, "[0, 1]");
  EXPECT_TRUE(quantiles({1, 2}, {}).empty());
}

}  // namespace
}  // namespace adascale::core
