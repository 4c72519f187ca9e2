#include "runtime/adaptation_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

using Reason = Decision::Reason;

// A ladder of five variants: accuracy rises with idle latency (2 … 10 ms).
std::vector<search::SearchRow> ladder() {
  std::vector<search::SearchRow> rows;
  const double acc[] = {0.6, 0.7, 0.8, 0.85, 0.9};
  for (int i = 0; i < 5; ++i) {
    rows.push_back({uint64_t(i + 1), acc[i], 2.0 * (i + 1), 1.0});
  }
  return rows;
}
std::vector<double> ladder_layers() {
  return {10, 20, 30, 40, 50};
}

// Latency × (1 + load): a variant of idle latency t takes t·(1 + L).
search::LatencyModel linear_model() {
  search::LatencyModel m;
  m.load_slope = 1.0;
  return m;
}

// T = 15 ms, margin 0.1: selection needs ≤ 13.5 ms, a downgrade > 15 ms.
PolicyConfig config(int hysteresis = 3) {
  PolicyConfig c;
  c.budget_ms = 15;
  c.margin = 0.1;
  c.hysteresis = hysteresis;
  c.feedback_smoothing = 0.5;
  return c;
}

AdaptationPolicy ladder_policy(PolicyConfig c = config()) {
  return AdaptationPolicy(ladder(), ladder_layers(), linear_model(), c);
}

TEST(AdaptationPolicy, FirstDecisionIsTheMostAccurateFeasibleVariant) {
  auto policy = ladder_policy();
  EXPECT_FALSE(policy.current());
  Decision d = policy.decide(0.0);
  EXPECT_EQ(d.row, 4u);  // 10 ms ≤ 13.5
  EXPECT_TRUE(d.switched);
  EXPECT_EQ(d.reason, Reason::kInitial);
  EXPECT_DOUBLE_EQ(d.predicted_ms, 10.0);
  EXPECT_EQ(policy.current(), 4u);

  auto loaded = ladder_policy();
  d = loaded.decide(0.5);  // 1.5 × idle ≤ 13.5: idle ≤ 9
  EXPECT_EQ(d.row, 3u);
  EXPECT_DOUBLE_EQ(d.predicted_ms, 12.0);
  EXPECT_STREQ(reason_name(d.reason), "initial");
}

TEST(AdaptationPolicy, DowngradesInTheSameDecisionWhenLoadJumps) {
  auto policy = ladder_policy();
  ASSERT_EQ(policy.decide(0.0).row, 4u);
  for (int i = 0; i < 5; ++i) {
    Decision d = policy.decide(0.05);
    EXPECT_EQ(d.reason, Reason::kKeep);
    EXPECT_FALSE(d.switched);
  }
  // Overload: row 4 would take 19 ms > 15: the very same decision leaves it
  // for the best variant within 13.5 ms at L = 0.9 (6 ms × 1.9 = 11.4).
  Decision d = policy.decide(0.9);
  EXPECT_EQ(d.reason, Reason::kDowngrade);
  EXPECT_TRUE(d.switched);
  EXPECT_EQ(d.row, 2u);
  EXPECT_NEAR(d.predicted_ms, 11.4, 1e-12);
  EXPECT_STREQ(reason_name(d.reason), "downgrade");
}

TEST(AdaptationPolicy, TheMarginIsADeadBandForTheRunningVariant) {
  auto policy = ladder_policy();
  ASSERT_EQ(policy.decide(0.0).row, 4u);
  // 14.5 … 15 ms: above T·(1 − margin) but within T: row 4 stays.
  for (double load : {0.45, 0.5, 0.47, 0.49, 0.5}) {
    Decision d = policy.decide(load);
    EXPECT_EQ(d.row, 4u) << load;
    EXPECT_EQ(d.reason, Reason::kKeep) << load;
  }
  EXPECT_EQ(policy.decide(0.51).reason, Reason::kDowngrade);
}

TEST(AdaptationPolicy, UpgradesOnlyAfterHysteresisLowLoadDecisions) {
  auto policy = ladder_policy(config(/*hysteresis=*/3));
  ASSERT_EQ(policy.decide(0.9).row, 2u);
  // Two low-load decisions keep row 2; the third upgrades.
  for (int i = 1; i <= 2; ++i) {
    Decision d = policy.decide(0.0);
    EXPECT_EQ(d.row, 2u) << i;
    EXPECT_EQ(d.reason, Reason::kKeep) << i;
    EXPECT_EQ(policy.upgrade_streak(), i);
  }
  Decision d = policy.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kUpgrade);
  EXPECT_TRUE(d.switched);
  EXPECT_EQ(d.row, 4u);
  EXPECT_EQ(policy.upgrade_streak(), 0);
}

TEST(AdaptationPolicy, ADecisionWithoutABetterVariantResetsTheStreak) {
  auto policy = ladder_policy(config(3));
  ASSERT_EQ(policy.decide(0.9).row, 2u);
  EXPECT_EQ(policy.decide(0.0).reason, Reason::kKeep);
  EXPECT_EQ(policy.decide(0.0).reason, Reason::kKeep);
  // 0.9 again: row 2 (11.4 ms) is still the best; the streak starts over.
  EXPECT_EQ(policy.decide(0.9).reason, Reason::kKeep);
  EXPECT_EQ(policy.upgrade_streak(), 0);
  EXPECT_EQ(policy.decide(0.0).reason, Reason::kKeep);
  EXPECT_EQ(policy.decide(0.0).reason, Reason::kKeep);
  EXPECT_EQ(policy.decide(0.0).reason, Reason::kUpgrade);
}

TEST(AdaptationPolicy, UpgradesToAVariantFeasibleThroughTheWholeStreak) {
  auto policy = ladder_policy(config(3));
  ASSERT_EQ(policy.decide(0.9).row, 2u);
  // Bests per decision: row 3 (L = 0.4: 8 × 1.4 = 11.2; 10 × 1.4 = 14 is
  // over 13.5), then row 4 twice. Only row 3 was feasible all along.
  EXPECT_EQ(policy.decide(0.4).reason, Reason::kKeep);
  EXPECT_EQ(policy.decide(0.0).reason, Reason::kKeep);
  Decision d = policy.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kUpgrade);
  EXPECT_EQ(d.row, 3u);
}

TEST(AdaptationPolicy, HysteresisOneUpgradesAtOnce) {
  auto policy = ladder_policy(config(1));
  ASSERT_EQ(policy.decide(0.9).row, 2u);
  Decision d = policy.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kUpgrade);
  EXPECT_EQ(d.row, 4u);
}

TEST(AdaptationPolicy, NoSwitchStormUnderLoadOscillatingAroundAThreshold) {
  // Row 4 is selectable up to L = 0.35 and breaks the budget above 0.5;
  // the load wobbles over [0.30, 0.54], across both thresholds.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> noise(-0.12, 0.12);
  std::vector<double> loads;
  for (int i = 0; i < 2000; ++i) loads.push_back(0.42 + noise(rng));

  auto policy = ladder_policy(config(3));
  int switches = 0, downgrades = 0;
  for (double load : loads) {
    Decision d = policy.decide(load);
    if (d.switched && d.reason != Reason::kInitial) ++switches;
    if (d.reason == Reason::kDowngrade) ++downgrades;
    // Whatever runs never breaks the budget after its decision.
    EXPECT_LE(d.predicted_ms, 15.0);
  }
  // The memoryless alternative: always the best feasible variant.
  auto naive = ladder_policy(config(1));
  int naive_switches = 0;
  size_t last = naive.decide(loads[0]).row;
  for (double load : loads) {
    naive.reset();
    size_t best = naive.decide(load).row;
    if (best != last) ++naive_switches;
    last = best;
  }
  EXPECT_GT(naive_switches, 300);
  EXPECT_LE(switches, 40);
  EXPECT_LE(switches, naive_switches / 10);
  EXPECT_GE(downgrades, 1);
}

TEST(AdaptationPolicy, FeedbackRatioScalesEveryPrediction) {
  auto policy = ladder_policy();  // feedback_smoothing 0.5
  ASSERT_EQ(policy.decide(0.0).row, 4u);
  EXPECT_DOUBLE_EQ(policy.feedback_ratio(), 1.0);
  policy.observe(20.0);  // measured twice the 10 ms predicted
  EXPECT_DOUBLE_EQ(policy.feedback_ratio(), 1.5);
  EXPECT_DOUBLE_EQ(policy.predict_ms(4, 0.0), 15.0);
  EXPECT_DOUBLE_EQ(policy.predict_ms(0, 0.5), 1.5 * 3.0);
  policy.observe(20.0);
  EXPECT_DOUBLE_EQ(policy.feedback_ratio(), 1.75);
  // 10 ms × 1.75 = 17.5 > 15 even at no load: the forecast saw nothing, the
  // measurements did.
  Decision d = policy.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kDowngrade);
  EXPECT_EQ(d.row, 2u);  // 6 × 1.75 = 10.5 ≤ 13.5; 8 × 1.75 = 14 is not
  EXPECT_DOUBLE_EQ(d.predicted_ms, 10.5);
  // Measurements in line with the raw model pull the ratio back to 1.
  for (int i = 0; i < 60; ++i) policy.observe(6.0);
  EXPECT_NEAR(policy.feedback_ratio(), 1.0, 1e-9);
}

TEST(AdaptationPolicy, FeedbackRatioIsClampedAndCanBeOff) {
  auto policy = ladder_policy();
  policy.decide(0.0);
  for (int i = 0; i < 50; ++i) policy.observe(1e6);
  EXPECT_DOUBLE_EQ(policy.feedback_ratio(), policy.config().feedback_max);
  for (int i = 0; i < 200; ++i) policy.observe(1e-6);
  EXPECT_DOUBLE_EQ(policy.feedback_ratio(), policy.config().feedback_min);
  policy.reset();
  EXPECT_DOUBLE_EQ(policy.feedback_ratio(), 1.0);
  EXPECT_FALSE(policy.current());

  PolicyConfig off = config();
  off.feedback_smoothing = 0;
  auto fixed = ladder_policy(off);
  fixed.decide(0.0);
  fixed.observe(100.0);
  EXPECT_DOUBLE_EQ(fixed.feedback_ratio(), 1.0);
}

TEST(AdaptationPolicy, ObserveRejectsBadCalls) {
  auto policy = ladder_policy();
  EXPECT_THROW_WITH(policy.observe(5.0), UsageError, "before the first");
  policy.decide(0.0);
  EXPECT_THROW_WITH(policy.observe(-1.0), UsageError, "got -1");
  EXPECT_THROW_WITH(policy.observe(std::nan("")), UsageError, "> 0 ms");
  EXPECT_THROW_WITH(policy.predict_ms(5, 0.0), UsageError, "no variant 5");
}

TEST(AdaptationPolicy, NothingFeasibleRunsTheFastestVariant) {
  PolicyConfig c = config();
  c.budget_ms = 1.0;
  auto policy = ladder_policy(c);
  Decision d = policy.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kInfeasible);
  EXPECT_EQ(d.row, 0u);
  EXPECT_TRUE(d.switched);
  EXPECT_DOUBLE_EQ(d.predicted_ms, 2.0);
  d = policy.decide(0.3);
  EXPECT_EQ(d.reason, Reason::kInfeasible);
  EXPECT_FALSE(d.switched);
}

TEST(AdaptationPolicy, LeavesTheFastestVariantOnceSomethingIsFeasible) {
  auto policy = ladder_policy(config(2));
  // Even row 0 takes 2 × 9 = 18 ms under a clock ratio of 9.
  Decision d = policy.decide(0.0, 9.0);
  ASSERT_EQ(d.reason, Reason::kInfeasible);
  ASSERT_EQ(d.row, 0u);
  d = policy.decide(0.0);  // back to full clock: row 0 (2 ms) is fine
  EXPECT_EQ(d.reason, Reason::kKeep);
  d = policy.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kUpgrade);
  EXPECT_EQ(d.row, 4u);
}

TEST(AdaptationPolicy, ChecksThePerLayerLoadTermExactly) {
  // A is faster idle but has many layers: under load its per-layer cost
  // (0.1 ms per layer at L = 1) puts it over the limit although its idle
  // latency passes the index's pre-filter.
  std::vector<search::SearchRow> rows = {{1, 0.9, 5.0, 0}, {2, 0.8, 8.0, 0}};
  search::LatencyModel m;
  m.load_per_layer_s = 1e-4;
  AdaptationPolicy policy(rows, {100, 10}, m, config());
  EXPECT_DOUBLE_EQ(policy.predict_ms(0, 1.0), 15.0);
  EXPECT_DOUBLE_EQ(policy.predict_ms(1, 1.0), 9.0);
  EXPECT_EQ(policy.decide(1.0).row, 1u);
  policy.reset();
  EXPECT_EQ(policy.decide(0.0).row, 0u);
}

// The brute-force answer: the first row in rank order within the limit.
std::optional<size_t> brute_best(const AdaptationPolicy& p, double load) {
  const auto& r = p.rows();
  std::vector<size_t> order(r.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (r[a].accuracy != r[b].accuracy) return r[a].accuracy > r[b].accuracy;
    if (r[a].latency_ms != r[b].latency_ms)
      return r[a].latency_ms < r[b].latency_ms;
    if (p.layers()[a] != p.layers()[b]) return p.layers()[a] < p.layers()[b];
    return a < b;
  });
  for (size_t i : order) {
    if (p.feasible(i, load)) return i;
  }
  return std::nullopt;
}

struct RandomSet {
  std::vector<search::SearchRow> rows;
  std::vector<double> layers;
};

RandomSet random_rows(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  RandomSet s;
  for (size_t i = 0; i < n; ++i) {
    double layers = std::floor(10 + 90 * u(rng));
    double idle = 1 + 0.2 * layers * (0.5 + u(rng));
    // Round accuracies to 0.01 so that ties occur.
    double acc =
        std::round(100 * std::min(1.0, 0.4 + idle / 60 + 0.1 * u(rng))) / 100;
    s.rows.push_back({uint64_t(i), acc, idle, 0});
    s.layers.push_back(layers);
  }
  return s;
}

TEST(AdaptationPolicy, InitialDecisionsMatchABruteForceScan) {
  auto set = random_rows(500, 3);
  search::LatencyModel m;
  m.load_slope = 0.8;
  m.load_per_layer_s = 5e-5;
  PolicyConfig c = config();
  c.budget_ms = 25;
  AdaptationPolicy policy(set.rows, set.layers, m, c);
  EXPECT_LT(policy.front_size(), 500u);
  for (int k = 0; k <= 100; ++k) {
    double load = k / 100.0;
    policy.reset();
    Decision d = policy.decide(load);
    auto expected = brute_best(policy, load);
    if (expected) {
      EXPECT_EQ(d.row, *expected) << load;
      EXPECT_EQ(d.reason, Reason::kInitial) << load;
    } else {
      EXPECT_EQ(d.reason, Reason::kInfeasible) << load;
      for (size_t i = 0; i < set.rows.size(); ++i)
        EXPECT_LE(d.predicted_ms, policy.predict_ms(i, load)) << i;
    }
  }
}

// Decision time itself is measured by bench_runtime (README), not here; what
// keeps it small is that a decision only walks the Pareto front.
TEST(AdaptationPolicy, FiveHundredVariantsReduceToASmallFront) {
  auto set = random_rows(500, 5);
  search::LatencyModel m;
  m.load_slope = 0.8;
  m.load_per_layer_s = 5e-5;
  PolicyConfig c = config();
  c.budget_ms = 25;
  AdaptationPolicy policy(set.rows, set.layers, m, c);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> loads(4000);
  for (auto& l : loads) l = u(rng);
  EXPECT_LT(policy.front_size(), set.rows.size() / 5);
  for (double l : loads) {
    Decision d = policy.decide(l);
    ASSERT_LT(d.row, set.rows.size());
    if (d.reason != Reason::kInfeasible && d.reason != Reason::kKeep) {
      EXPECT_TRUE(policy.feasible(d.row, l)) << "load " << l;
    }
  }
}

TEST(AdaptationPolicy, AnOverrunCountsInFullAndDowngradesAtOnce) {
  auto policy = ladder_policy();          // feedback_smoothing 0.5
  ASSERT_EQ(policy.decide(0.0).row, 4u);  // 10 ms predicted
  // One EMA step would give 1.5 and keep the variant (15 ≤ T); an overrun
  // takes the whole measured / predicted = 2.
  Decision d = policy.overrun(20.0, 0.0);
  EXPECT_DOUBLE_EQ(policy.feedback_ratio(), 2.0);
  EXPECT_EQ(d.reason, Reason::kDowngrade);
  EXPECT_TRUE(d.switched);
  EXPECT_EQ(d.row, 2u);  // 6 × 2 = 12 ≤ 13.5; 8 × 2 = 16 is not
  // The ratio becomes the larger of one EMA step (≈ 2.08) and the overrun's
  // own measured / predicted (13 / 6 ≈ 2.17).
  policy.overrun(13.0, 0.0);
  EXPECT_NEAR(policy.feedback_ratio(), 13.0 / 6.0, 1e-12);
  EXPECT_THROW_WITH(policy.overrun(-1.0, 0.0), UsageError, "got -1");
  auto fresh = ladder_policy();
  EXPECT_THROW_WITH(fresh.overrun(20.0, 0.0), UsageError, "before the first");
}

TEST(AdaptationPolicy, RejectsInvalidConfigNamingTheKey) {
  auto make = [](PolicyConfig c) { ladder_policy(c); };
  PolicyConfig c = config();
  c.budget_ms = -1;
  EXPECT_THROW_WITH(make(c), UsageError, "policy.budget_ms");
  c = config();
  c.hysteresis = 0;
  EXPECT_THROW_WITH(make(c), UsageError, "policy.hysteresis");
  c = config();
  c.margin = 1.0;
  EXPECT_THROW_WITH(make(c), UsageError, "policy.margin");
  c = config();
  c.feedback_smoothing = 1.5;
  EXPECT_THROW_WITH(make(c), UsageError, "policy.feedback_smoothing");
  c = config();
  c.feedback_max = 0.5;
  EXPECT_THROW_WITH(make(c), UsageError, "policy.feedback_max");
  c = config();
  c.early_exit_threshold = 1.5;
  EXPECT_THROW_WITH(make(c), UsageError, "policy.early_exit_threshold");
  c = config();
  c.early_exit_threshold = std::nan("");
  EXPECT_THROW_WITH(make(c), UsageError, "policy.early_exit_threshold");
  c = config();
  c.overrun_streak = -1;
  EXPECT_THROW_WITH(make(c), UsageError, "policy.overrun_streak");
}

TEST(AdaptationPolicy, ReadsItsConfigFromYaml) {
  auto read = [](const std::string& text) {
    config::Node node = config::parse_yaml(text, "runtime.yaml");
    return config::Reader::read_struct<PolicyConfig>(node, "policy");
  };
  PolicyConfig c = read(
      "budget_ms: 30\nhysteresis: 5\nmargin: 0.2\nearly_exit_threshold: 0.9\n");
  EXPECT_DOUBLE_EQ(c.budget_ms, 30);
  EXPECT_EQ(c.hysteresis, 5);
  EXPECT_DOUBLE_EQ(c.margin, 0.2);
  EXPECT_DOUBLE_EQ(c.early_exit_threshold, 0.9);
  EXPECT_DOUBLE_EQ(c.feedback_smoothing, 0.2);
  EXPECT_THROW_WITH(read("budget_ms: 0\n"), ConfigError, "policy.budget_ms");
  EXPECT_THROW_WITH(read("hysteresis: 0\n"), ConfigError, "policy.hysteresis");
  EXPECT_THROW_WITH(read("early_exit_threshold: 2\n"), ConfigError,
                    "policy.early_exit_threshold");
  EXPECT_THROW_WITH(read("budget: 3\n"), ConfigError, "unknown key");
}

// ---- Objective "latency": the fastest admissible feasible variant. ----

PolicyConfig latency_config(double floor_drop, int hysteresis = 3) {
  PolicyConfig c = config(hysteresis);
  c.objective = "latency";
  c.accuracy_floor_drop = floor_drop;
  return c;
}

// Three admissible variants whose speed order turns with the load (a
// per-layer load cost of 0.1 ms per layer at L = 1, no κ), and a fast one
// below the floor. T = 12 ms, margin 0.1: selection needs ≤ 10.8 ms.
//   row 0  D: 0.91, 9 ms, 20 layers: 9 + 2L    (most accurate)
//   row 1  A: 0.90, 4 ms, 100 layers: 4 + 10L  (fastest at low load)
//   row 2  B: 0.89, 6 ms, 10 layers: 6 + L     (fastest above L = 2/9)
//   row 3  C: 0.50, 1 ms, 5 layers: 1 + 0.5L   (fastest, below the floor)
// Floor drop 0.03: admissible accuracy ≥ 0.88, so C never runs.
AdaptationPolicy turning_policy(PolicyConfig c) {
  std::vector<search::SearchRow> rows = {{1, 0.91, 9.0, 0},
                                         {2, 0.90, 4.0, 0},
                                         {3, 0.89, 6.0, 0},
                                         {4, 0.5, 1.0, 0}};
  search::LatencyModel m;
  m.load_per_layer_s = 1e-4;
  c.budget_ms = 12;
  return AdaptationPolicy(rows, {20, 100, 10, 5}, m, c);
}
constexpr size_t kD = 0, kA = 1, kB = 2, kC = 3;

TEST(AdaptationPolicy, DefaultObjectiveIsAccuracy) {
  PolicyConfig c;
  EXPECT_EQ(c.objective, "accuracy");
  EXPECT_DOUBLE_EQ(c.accuracy_floor_drop, 0.03);
  auto policy = ladder_policy();
  for (size_t i = 0; i < 5; ++i) EXPECT_TRUE(policy.admissible(i)) << i;
}

TEST(AdaptationPolicy, LatencyObjectivePicksTheFastestAdmissibleFeasibleRow) {
  // Ladder at L = 0: every row is feasible (2 … 10 ms ≤ 13.5); the accuracy
  // objective runs row 4.
  ASSERT_EQ(ladder_policy().decide(0.0).row, 4u);

  auto drop10 = ladder_policy(latency_config(0.10));  // floor 0.8
  EXPECT_NEAR(drop10.accuracy_floor(), 0.8, 1e-12);
  EXPECT_FALSE(drop10.admissible(1));
  EXPECT_TRUE(drop10.admissible(2));
  Decision d = drop10.decide(0.0);
  EXPECT_EQ(d.row, 2u);
  EXPECT_EQ(d.reason, Reason::kInitial);
  EXPECT_DOUBLE_EQ(d.predicted_ms, 6.0);

  // Floor 0.9 − 0.05, which rounds above 0.85: row 3 sits on the floor and
  // is admissible all the same.
  auto drop05 = ladder_policy(latency_config(0.05));
  EXPECT_TRUE(drop05.admissible(3));
  EXPECT_FALSE(drop05.admissible(2));
  EXPECT_EQ(drop05.decide(0.0).row, 3u);

  EXPECT_EQ(ladder_policy(latency_config(0.03)).decide(0.0).row, 4u);
  EXPECT_EQ(ladder_policy(latency_config(1.0)).decide(0.0).row, 0u);

  // Which admissible row is fastest depends on the load.
  auto low = turning_policy(latency_config(0.03));
  d = low.decide(0.0);
  EXPECT_EQ(d.row, kA);
  EXPECT_DOUBLE_EQ(d.predicted_ms, 4.0);
  auto high = turning_policy(latency_config(0.03));
  d = high.decide(0.5);
  EXPECT_EQ(d.row, kB);  // 6.5 ms; A takes 9, D 10
  EXPECT_DOUBLE_EQ(d.predicted_ms, 6.5);
}

TEST(AdaptationPolicy, LatencyObjectiveNeverRunsARowBelowTheFloor) {
  // T = 10 ms (selection ≤ 9): rows 0 and 1 (accuracy 0.6, 0.7) are the
  // fastest, feasible, and below the floor 0.8 of every decision.
  PolicyConfig c = latency_config(0.10, /*hysteresis=*/1);
  c.budget_ms = 10;
  auto policy = ladder_policy(c);
  for (double clock : {1.0, 1.5, 3.0}) {
    for (int k = 0; k <= 100; ++k) {
      const double load = k / 100.0;
      if (clock == 1.0) {
        ASSERT_TRUE(policy.feasible(0, load, clock));
      }
      Decision d = policy.decide(load, clock);
      EXPECT_GE(d.row, 2u) << "load " << load << " clock " << clock;
    }
  }
  // L = 0.6: row 2 takes 9.6 ms > 9, row 1 6.4 ms: the accuracy objective
  // runs row 1; the latency objective stays on the floor.
  PolicyConfig acc = config();
  acc.budget_ms = 10;
  ASSERT_EQ(ladder_policy(acc).decide(0.6).row, 1u);
  policy.reset();
  Decision d = policy.decide(0.6);
  EXPECT_EQ(d.row, 2u);
  EXPECT_EQ(d.reason, Reason::kInfeasible);

  // C is the fastest row at every load and never runs either.
  auto turning = turning_policy(latency_config(0.03, 1));
  EXPECT_FALSE(turning.admissible(kC));
  for (int k = 0; k <= 100; ++k) {
    EXPECT_NE(turning.decide((k % 11) / 10.0).row, kC) << k;
  }
}

TEST(AdaptationPolicy, LatencyObjectiveDowngradesAtOnceOverTheBudget) {
  auto policy = turning_policy(latency_config(0.03));
  Decision d = policy.decide(0.0);
  ASSERT_EQ(d.row, kA);  // the accuracy objective would run D (9 ms)
  // L = 0.75: A takes 11.5 ms, over 10.8 but within T = 12: it stays
  // (B, 6.75 ms, is faster, but that only starts a streak).
  d = policy.decide(0.75);
  EXPECT_EQ(d.row, kA);
  EXPECT_EQ(d.reason, Reason::kKeep);
  // L = 0.85: A takes 12.5 ms > 12: left in the same decision for the
  // fastest admissible feasible row, B (6.85 ms), though D (10.7 ms) is
  // feasible and more accurate.
  ASSERT_TRUE(policy.feasible(kD, 0.85));
  d = policy.decide(0.85);
  EXPECT_EQ(d.reason, Reason::kDowngrade);
  EXPECT_TRUE(d.switched);
  EXPECT_EQ(d.row, kB);
  EXPECT_NEAR(d.predicted_ms, 6.85, 1e-12);
  EXPECT_EQ(policy.upgrade_streak(), 0);
}

TEST(AdaptationPolicy, LatencyObjectiveSwitchesToAFasterRowAfterHysteresis) {
  auto policy = turning_policy(latency_config(0.03, /*hysteresis=*/3));
  ASSERT_EQ(policy.decide(0.85).row, kB);  // accuracy objective: D
  // At L = 0 A (4 ms) beats B (6 ms): two decisions keep B ...
  for (int i = 1; i <= 2; ++i) {
    Decision d = policy.decide(0.0);
    EXPECT_EQ(d.row, kB) << i;
    EXPECT_EQ(d.reason, Reason::kKeep) << i;
    EXPECT_EQ(policy.upgrade_streak(), i);
  }
  // ... a decision where B is the fastest (L = 0.5: 6.5 against 9) resets
  // the streak ...
  EXPECT_EQ(policy.decide(0.5).reason, Reason::kKeep);
  EXPECT_EQ(policy.upgrade_streak(), 0);
  EXPECT_EQ(policy.decide(0.0).reason, Reason::kKeep);
  EXPECT_EQ(policy.decide(0.0).reason, Reason::kKeep);
  // ... and the third decision in a row switches.
  Decision d = policy.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kUpgrade);
  EXPECT_TRUE(d.switched);
  EXPECT_EQ(d.row, kA);
  EXPECT_DOUBLE_EQ(d.predicted_ms, 4.0);
  // A slower, more accurate feasible row (D) is no reason to move.
  for (int i = 0; i < 10; ++i) {
    d = policy.decide(0.0);
    EXPECT_EQ(d.row, kA) << i;
    EXPECT_EQ(d.reason, Reason::kKeep) << i;
  }
}

TEST(AdaptationPolicy,
     LatencyObjectiveWithNothingFeasibleRunsFastestAdmissible) {
  // Ladder, T = 1 ms: nothing is feasible. The accuracy objective runs the
  // fastest row (0); the latency objective the fastest admissible one.
  PolicyConfig c = latency_config(0.10);
  c.budget_ms = 1.0;
  auto policy = ladder_policy(c);
  Decision d = policy.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kInfeasible);
  EXPECT_EQ(d.row, 2u);
  EXPECT_DOUBLE_EQ(d.predicted_ms, 6.0);
  d = policy.decide(0.3);
  EXPECT_EQ(d.reason, Reason::kInfeasible);
  EXPECT_FALSE(d.switched);

  // Clock ratio 3 at L = 0: A 12, B 18, D 27 ms, all over 10.8; C (3 ms)
  // is feasible but below the floor.
  auto turning = turning_policy(latency_config(0.03));
  ASSERT_TRUE(turning.feasible(kC, 0.0, 3.0));
  d = turning.decide(0.0, 3.0);
  EXPECT_EQ(d.reason, Reason::kInfeasible);
  EXPECT_EQ(d.row, kA);
  EXPECT_DOUBLE_EQ(d.predicted_ms, 12.0);
  // Full clock again: A is feasible and the fastest: it stays.
  d = turning.decide(0.0);
  EXPECT_EQ(d.reason, Reason::kKeep);
  EXPECT_EQ(d.row, kA);
}

// The brute-force answer of the latency objective over all rows: the
// admissible row with the lowest prediction (ties: accuracy, layers,
// index), and whether it is feasible.
size_t brute_fastest_admissible(const AdaptationPolicy& p, double load,
                                double clock) {
  const auto& r = p.rows();
  double top = 0;
  for (const auto& row : r) top = std::max(top, row.accuracy);
  std::optional<size_t> best;
  for (size_t i = 0; i < r.size(); ++i) {
    if (!(r[i].accuracy >= top - p.config().accuracy_floor_drop - 1e-12))
      continue;
    if (!best) {
      best = i;
      continue;
    }
    const double a = p.predict_ms(i, load, clock);
    const double b = p.predict_ms(*best, load, clock);
    const size_t j = *best;
    if (a != b                           ? a < b
        : r[i].accuracy != r[j].accuracy ? r[i].accuracy > r[j].accuracy
        : p.layers()[i] != p.layers()[j] ? p.layers()[i] < p.layers()[j]
                                         : i < j) {
      best = i;
    }
  }
  return *best;
}

TEST(AdaptationPolicy, LatencyDecisionsMatchABruteForceScan) {
  auto set = random_rows(500, 3);
  search::LatencyModel m;
  m.load_slope = 0.8;
  m.load_per_layer_s = 5e-5;
  PolicyConfig c = latency_config(0.2);
  c.budget_ms = 25;
  AdaptationPolicy policy(set.rows, set.layers, m, c);
  ASSERT_LT(policy.front_size(), 500u);
  int initial = 0, infeasible = 0;
  for (int k = 0; k <= 100; ++k) {
    const double load = k / 100.0;
    for (double clock : {1.0, 2.5}) {
      policy.reset();
      Decision d = policy.decide(load, clock);
      const size_t expected = brute_fastest_admissible(policy, load, clock);
      EXPECT_EQ(d.row, expected) << load << " " << clock;
      EXPECT_TRUE(policy.admissible(d.row));
      const bool ok = policy.feasible(expected, load, clock);
      EXPECT_EQ(d.reason, ok ? Reason::kInitial : Reason::kInfeasible)
          << load << " " << clock;
      ++(ok ? initial : infeasible);
    }
  }
  // Both branches were compared.
  EXPECT_GT(initial, 0);
  EXPECT_GT(infeasible, 0);
}

TEST(AdaptationPolicy, RejectsABadObjectiveOrFloorNamingTheKey) {
  auto make = [](PolicyConfig c) { ladder_policy(c); };
  PolicyConfig c = config();
  c.objective = "fastest";
  EXPECT_THROW_WITH(make(c), UsageError, "policy.objective");
  EXPECT_THROW_WITH(validate_policy_config(c), UsageError, "'fastest'");
  c.objective = "";
  EXPECT_THROW_WITH(make(c), UsageError, "policy.objective");
  for (double bad : {-0.01, 1.5, std::nan("")}) {
    c = latency_config(bad);
    EXPECT_THROW_WITH(make(c), UsageError, "policy.accuracy_floor_drop");
  }
  c = latency_config(0.0);
  EXPECT_NO_THROW(make(c));
  c = latency_config(1.0);
  EXPECT_NO_THROW(make(c));

  auto read = [](const std::string& text) {
    config::Node node = config::parse_yaml(text, "runtime.yaml");
    return config::Reader::read_struct<PolicyConfig>(node, "policy");
  };
  PolicyConfig y = read("objective: latency\naccuracy_floor_drop: 0.05\n");
  EXPECT_EQ(y.objective, "latency");
  EXPECT_DOUBLE_EQ(y.accuracy_floor_drop, 0.05);
  EXPECT_THROW_WITH(read("objective: fast\n"), ConfigError, "policy.objective");
  EXPECT_THROW_WITH(read("accuracy_floor_drop: 2\n"), ConfigError,
                    "policy.accuracy_floor_drop");
}

TEST(AdaptationPolicy, RejectsMismatchedInputs) {
  EXPECT_THROW_WITH(
      AdaptationPolicy(ladder(), {1, 2}, linear_model(), config()), UsageError,
      "2 layer counts for 5 variants");
  EXPECT_THROW_WITH(AdaptationPolicy({}, {}, linear_model(), config()),
                    UsageError, "no variants");
  EXPECT_THROW_WITH(
      AdaptationPolicy(ladder(), {1, 2, 3, -4, 5}, linear_model(), config()),
      UsageError, "variant 3");
}

}  // namespace
}  // namespace adascale::runtime
