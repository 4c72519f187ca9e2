// StreamingQuantiles against the exact definition (core::quantile) on the
// same samples, its exact mean and extremes, and its fixed memory.

#include "core/streaming_quantiles.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "core/order_statistics.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

TEST(StreamingQuantiles, AgreeWithTheExactDefinitionWithinTheBinWidth) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(0.0, 0.6);  // about 1 ms
  for (int n : {1, 2, 5, 101, 10000}) {
    StreamingQuantiles stream;
    std::vector<double> samples;
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      const double v = latency(rng);
      stream.add(v);
      samples.push_back(v);
      sum += v;
    }
    ASSERT_EQ(stream.count(), n);
    EXPECT_NEAR(stream.mean(), sum / n, 1e-12 * sum / n);
    for (double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0}) {
      const double exact = quantile(samples, q);
      EXPECT_NEAR(stream.quantile(q), exact, 5e-4 * exact)
          << "n " << n << " q " << q;
    }
    EXPECT_EQ(stream.quantile(0.0), quantile(samples, 0.0)) << "exact minimum";
    EXPECT_EQ(stream.quantile(1.0), quantile(samples, 1.0)) << "exact maximum";
  }
}

TEST(StreamingQuantiles, MemoryStaysFixedHoweverManySamples) {
  StreamingQuantiles stream;
  const size_t before = stream.bytes();
  EXPECT_LT(before, size_t(512) << 10);
  for (int i = 0; i < 2000000; ++i) stream.add(0.5 + (i % 1000) * 1e-3);
  EXPECT_EQ(stream.bytes(), before);
  EXPECT_EQ(stream.count(), 2000000);
  EXPECT_NEAR(stream.quantile(0.5), 0.9995, 0.9995 * 5e-4);
}

TEST(StreamingQuantiles, ValuesOutsideTheRangeAndNan) {
  StreamingQuantiles stream;
  EXPECT_THROW_WITH(stream.quantile(0.5), InternalError, "empty");
  stream.add(0.0);
  stream.add(1e9);
  EXPECT_EQ(stream.quantile(0.0), 0.0);
  EXPECT_EQ(stream.quantile(1.0), 1e9);
  EXPECT_THROW_WITH(stream.quantile(1.5), InternalError, "q must be in [0, 1]");
  stream.add(std::nan(""));
  EXPECT_TRUE(std::isnan(stream.quantile(0.5)));
  EXPECT_TRUE(std::isnan(stream.mean()));
}

}  // namespace
}  // namespace adascale::core
