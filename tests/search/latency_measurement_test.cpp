#include "search/latency_measurement.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/model_spec.h"
#include "tests/fixtures/tiny_elastic_spec.h"
#include "tests/test_util.h"

namespace adascale::search {
namespace {

operators::ElasticNet tiny_net() {
  return operators::ElasticNet(testing::tiny_elastic_spec(4, {"dws", "dws"}));
}

TEST(LatencyMeasurement, EveryVariantGetsAPositiveMedianAndModesAreRestored) {
  auto net = tiny_net();
  net->train();
  auto variants = net->variants().all();
  auto m = measure_variant_latencies(net, variants, 2, 4, 1);
  ASSERT_EQ(m.median_ms.size(), variants.size());
  for (double v : m.median_ms) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GT(v, 0.0);
  }
  EXPECT_GE(m.retest_within_10pct, 0.0);
  EXPECT_LE(m.retest_within_10pct, 1.0);
  EXPECT_GE(m.background_load, 0.0);
  EXPECT_LE(m.background_load, 1.0);
  EXPECT_GT(m.seconds, 0.0);
  EXPECT_TRUE(net->is_training()) << "the caller's mode comes back";

  auto single = measure_variant_latencies(net, variants, 2, 1);
  EXPECT_TRUE(std::isnan(single.retest_within_10pct));
}

TEST(LatencyMeasurement, BadArgumentsAreRefused) {
  auto net = tiny_net();
  auto variants = net->variants().all();
  EXPECT_THROW_WITH(measure_variant_latencies(net, variants, 0, 3), UsageError,
                    "batch 0");
  EXPECT_THROW_WITH(measure_variant_latencies(net, variants, 1, 0), UsageError,
                    "passes 0");
}

}  // namespace
}  // namespace adascale::search
