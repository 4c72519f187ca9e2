#include "runtime/load_index.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

TEST(LoadIndex, WeighsEverySourcePerEquation2) {
  ResourceSample s;
  s.background_load = 0.6;
  s.gpu_utilization = 0.3;
  s.memory_utilization = 0.4;
  // (1·0.6 + 1·0.3 + 0.5·0.4) / 2.5
  EXPECT_NEAR(*load_index(s), 1.1 / 2.5, 1e-12);
  LoadIndexWeights w;
  w.cpu = 2;
  w.gpu = 0;
  w.memory = 1;
  EXPECT_NEAR(*load_index(s, w), (2 * 0.6 + 0.4) / 3, 1e-12);
}

TEST(LoadIndex, RenormalisesOverThePresentSources) {
  ResourceSample s;
  s.background_load = 0.8;
  s.memory_utilization = 0.4;  // no GPU: absent, not idle
  EXPECT_NEAR(*load_index(s), (0.8 + 0.2) / 1.5, 1e-12);
  // A non-finite reading counts as absent too.
  s.gpu_utilization = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NEAR(*load_index(s), (0.8 + 0.2) / 1.5, 1e-12);
  // Only memory left.
  s.background_load.reset();
  EXPECT_NEAR(*load_index(s), 0.4, 1e-12);
}

TEST(LoadIndex, ExcludeSelfPicksTheBackgroundLoad) {
  ResourceSample s;
  s.cpu_utilization = 0.9;  // the runtime itself is busy
  s.background_load = 0.2;  // others are not
  LoadIndexWeights w;
  EXPECT_TRUE(w.exclude_self);
  EXPECT_NEAR(*load_index(s, w), 0.2, 1e-12);
  w.exclude_self = false;
  EXPECT_NEAR(*load_index(s, w), 0.9, 1e-12);
  // The chosen figure absent: the CPU drops out, no silent substitute.
  s.cpu_utilization.reset();
  EXPECT_FALSE(load_index(s, w).has_value());
}

TEST(LoadIndex, AbsentWhenNothingWeighedIsPresent) {
  ResourceSample s;
  EXPECT_FALSE(load_index(s).has_value());
  s.gpu_utilization = 0.7;
  LoadIndexWeights w;
  w.gpu = 0;
  EXPECT_FALSE(load_index(s, w).has_value());
  s.cpu_quota_cores = 2;  // not a utilisation: never in the index
  s.cpu_clock_mhz = 2000;
  EXPECT_FALSE(load_index(s, w).has_value());
}

TEST(LoadIndex, ClampsReadingsToTheUnitInterval) {
  ResourceSample s;
  s.background_load = 1.3;
  s.memory_utilization = -0.2;
  EXPECT_NEAR(*load_index(s), 1.0 / 1.5, 1e-12);
}

TEST(LoadIndex, RefusesBadWeights) {
  ResourceSample s;
  s.background_load = 0.5;
  LoadIndexWeights w;
  w.cpu = -1;
  EXPECT_THROW_WITH(load_index(s, w), UsageError, "load_index.cpu");
  w = {};
  w.gpu = std::numeric_limits<double>::infinity();
  EXPECT_THROW_WITH(validate_load_index_weights(w), UsageError,
                    "load_index.gpu");
  w = {};
  w.memory = std::nan("");
  EXPECT_THROW_WITH(validate_load_index_weights(w), UsageError,
                    "load_index.memory");
  w = {};
  w.cpu = w.gpu = w.memory = 0;
  EXPECT_THROW_WITH(validate_load_index_weights(w), UsageError, "at least one");
}

}  // namespace
}  // namespace adascale::runtime
