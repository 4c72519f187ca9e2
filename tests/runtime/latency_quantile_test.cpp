#include "runtime/latency_quantile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

// Feeds `n` latencies of a variant predicted at `predicted_ms`, measured as
// predicted × lognormal(mu, sigma) noise, each scored against the bound
// predicted before it; returns the share of them under their bound.
double feed(LatencyQuantile& q, std::mt19937& rng, int n, double predicted_ms,
            double mu, double sigma) {
  std::lognormal_distribution<double> noise(mu, sigma);
  int64_t scored = 0, covered = 0;
  for (int i = 0; i < n; ++i) {
    const double bound = q.predict(predicted_ms);
    const double measured = predicted_ms * noise(rng);
    if (std::isfinite(bound)) {
      ++scored;
      covered += measured <= bound;
    }
    q.observe(predicted_ms, bound, measured);
  }
  return scored == 0 ? NAN : double(covered) / double(scored);
}

TEST(LatencyQuantile, SaysNothingUntilWarmedUp) {
  LatencyQuantileConfig c;
  c.warmup = 4;
  c.window = 8;
  LatencyQuantile q(c);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(std::isnan(q.predict(2.0)));
    q.observe(2.0, q.predict(2.0), 2.0 * (i + 1));
  }
  EXPECT_EQ(q.score().scored, 0);  // nothing was predicted, nothing scored
  EXPECT_TRUE(std::isnan(q.score().coverage()));
  q.observe(2.0, NAN, 8.0);
  // Ratios 1, 2, 3, 4: the 0.9 quantile (rank 4.5 of 4, clamped) is 4.
  EXPECT_DOUBLE_EQ(q.predict(2.0), 8.0);
  EXPECT_DOUBLE_EQ(q.predict(0.5), 2.0);  // scales with the point prediction
  EXPECT_TRUE(std::isnan(q.predict(0.0)));
}

TEST(LatencyQuantile, KeepsOnlyTheLastWindowOfRatios) {
  LatencyQuantileConfig c;
  c.warmup = 2;
  c.window = 4;
  c.step = 0;
  LatencyQuantile q(c);
  for (double r : {10.0, 10.0, 10.0, 10.0, 1.0, 1.0, 1.0, 1.0}) {
    q.observe(1.0, NAN, r);
  }
  EXPECT_DOUBLE_EQ(q.predict(1.0), 1.0);  // the tens have left the window
}

// A smaller window and a faster step than the defaults keep these tests
// quick; the guarantee is the same (Gibbs & Candès: the share of misses
// over T steps is within (1 + γ)/(γ·T) of 1 − q, here 0.0126).
LatencyQuantileConfig quick() {
  LatencyQuantileConfig c;
  c.window = 256;
  c.step = 0.01;
  return c;
}

TEST(LatencyQuantile, HoldsItsQuantileOnStationaryNoise) {
  std::mt19937 rng(7);
  LatencyQuantile q(quick());
  feed(q, rng, 2000, 1.0, 0.0, 0.3);  // warm-up and settling
  const double coverage = feed(q, rng, 8000, 1.0, 0.0, 0.3);
  EXPECT_NEAR(coverage, 0.9, 0.02);
}

// Latencies jump to three times their prediction (a load the model does
// not know): the window's old ratios say too little, and the level climbs
// until the share under the bound is back at q.
TEST(LatencyQuantile, RecoversItsQuantileAfterTheRegimeShifts) {
  std::mt19937 rng(11);
  LatencyQuantile q(quick());
  feed(q, rng, 2000, 1.0, 0.0, 0.1);
  const double at_shift = feed(q, rng, 10, 1.0, std::log(3.0), 0.4);
  EXPECT_LT(at_shift, 0.5);  // the old spread cannot cover the new one
  const double after = feed(q, rng, 8000, 1.0, std::log(3.0), 0.4);
  EXPECT_NEAR(after, 0.9, 0.02);
  const QuantileScore& s = q.score();
  EXPECT_EQ(s.scored, 2000 - 64 + 10 + 8000);
}

// Without the conformal step the level stays at q; with it a run of misses
// raises it (a bound further out), a run of hits lowers it towards q.
TEST(LatencyQuantile, MissesRaiseTheLevelAndHitsLowerIt) {
  LatencyQuantileConfig c;
  c.warmup = 1;
  c.window = 16;
  c.step = 0.01;
  LatencyQuantile q(c);
  q.observe(1.0, NAN, 1.0);
  EXPECT_DOUBLE_EQ(q.level(), 0.9);
  q.observe(1.0, 1.0, 2.0);  // a miss: α ← 0.1 + 0.01·(0.1 − 1)
  EXPECT_NEAR(q.level(), 1 - (0.1 + 0.01 * (0.1 - 1)), 1e-12);
  q.observe(1.0, 5.0, 2.0);  // a hit: α ← α + 0.01·0.1
  EXPECT_NEAR(q.level(), 1 - (0.1 + 0.01 * (0.1 - 1) + 0.01 * 0.1), 1e-12);
  EXPECT_EQ(q.score().scored, 2);
  EXPECT_EQ(q.score().covered, 1);
  EXPECT_DOUBLE_EQ(q.score().tightness(), (1.0 + 5.0) / (2.0 + 2.0));
}

TEST(LatencyQuantile, BadSettingsAreRefusedByName) {
  LatencyQuantileConfig c;
  c.quantile = 0.3;
  EXPECT_THROW_WITH(LatencyQuantile{c}, UsageError,
                    "predicted_quantile: must be in [0.5, 0.999], got 0.3");
  c = {};
  c.warmup = 100;
  c.window = 10;
  EXPECT_THROW_WITH(LatencyQuantile{c}, UsageError, "window >= warmup");
  c = {};
  c.step = -1;
  EXPECT_THROW_WITH(LatencyQuantile{c}, UsageError, "step");
}

}  // namespace
}  // namespace adascale::runtime
