#include "runtime/adaptation_controller.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "runtime/variant_rows.h"
#include "tests/fixtures/tiny_elastic_spec.h"

namespace adascale::runtime {
namespace {

// Rows for the tiny net: accuracy and idle latency grow with the exit, so
// the policy trades one for the other. The latency model doubles latency at
// full load (κ = 1).
struct Fixture {
  Fixture() : engine(make_net(), {BlockMode::kEager, 1, 0}) {
    for (size_t i = 0; i < engine.variants().size(); ++i) {
      const core::Variant& v = engine.variants()[i];
      search::SearchRow row;
      row.key = engine.space().pack(v);
      row.accuracy = 0.5 + 0.1 * v.exit + 0.01 * double(v.choices.back());
      row.latency_ms = 2.0 * (v.exit + 1) + 0.1 * double(v.choices.back());
      rows.push_back(row);
      layers.push_back(3.0 * (v.exit + 1));
      engine_index.push_back(i);
    }
    model.class_scale.fill(1.0);
    model.load_slope = 1.0;
  }
  static operators::ElasticNet make_net() {
    torch::manual_seed(0);
    operators::ElasticNet net(testing::tiny_elastic_spec());
    net->eval();
    return net;
  }
  AdaptationController controller(
      double budget_ms, int hysteresis = 2,
      std::optional<ThreadGovernor> governor = std::nullopt,
      double quantile = 0.5, int overrun_streak = 0,
      bool overrun_downgrade = true) {
    PolicyConfig config;
    config.budget_ms = budget_ms;
    config.hysteresis = hysteresis;
    config.margin = 0;
    config.feedback_smoothing = 0.5;
    config.overrun_streak = overrun_streak;
    config.overrun_downgrade = overrun_downgrade;
    AdaptationPolicy policy(rows, layers, model, config);
    ForecastConfig forecast;
    forecast.order = 1;
    forecast.window = 8;
    LoadIndexWeights weights;
    weights.memory = 0;  // CPU only, so the scripted loads are the index
    return AdaptationController(engine, std::move(policy), engine_index,
                                forecast, weights, std::move(governor),
                                quantile);
  }
  static ResourceSample sample(double background) {
    ResourceSample s;
    s.background_load = background;
    s.cpu_utilization = background;
    return s;
  }

  AdaptiveEngine engine;
  std::vector<search::SearchRow> rows;
  std::vector<double> layers;
  std::vector<size_t> engine_index;
  search::LatencyModel model;
};

TEST(AdaptationController, FollowsTheLoadThroughTheEngine) {
  Fixture f;
  // Budget 6.5 ms: at no load the exit-3 variants (6.0–6.1 ms) fit; at full
  // load (×2) only the exit-1 ones (4.0–4.2 ms) do.
  auto controller = f.controller(6.5);
  const size_t first = f.engine.active();
  EXPECT_EQ(f.engine.variants()[first].exit, 2);  // the most accurate
  EXPECT_EQ(controller.status().variant, first);

  for (int i = 0; i < 3; ++i) controller.on_sample(Fixture::sample(1.0));
  EXPECT_EQ(f.engine.variants()[f.engine.active()].exit, 0);
  ControllerStatus s = controller.status();
  EXPECT_GE(s.switches, 1u);
  EXPECT_DOUBLE_EQ(s.load, 1.0);
  EXPECT_EQ(s.variant, f.engine.active());
  EXPECT_GT(s.decision_us_max, 0);

  // Load gone: after the forecaster sees it and M = 2 decisions, back up.
  for (int i = 0; i < 8; ++i) controller.on_sample(Fixture::sample(0.0));
  EXPECT_EQ(f.engine.variants()[f.engine.active()].exit, 2);
  EXPECT_EQ(controller.status().decisions, 11u);
}

TEST(AdaptationController, FeedbackFromMeasuredLatencyDowngrades) {
  Fixture f;
  auto controller = f.controller(6.5);
  const size_t running = f.engine.active();
  InferenceResult r;
  r.variant = running;
  r.exit = f.engine.variants()[running].exit;
  r.latency_ms = 30;  // five times the prediction, at no load
  for (int i = 0; i < 4; ++i) controller.observe(r);
  r.latency_ms = 1e6;  // one outlier: the median ignores it
  controller.observe(r);
  EXPECT_DOUBLE_EQ(controller.status().feedback_ratio, 1.0);  // not yet
  controller.on_sample(Fixture::sample(0.0));
  // α = 0.5: ratio = 0.5 · 1 + 0.5 · 30 / 6.1 ≈ 2.96, one step per decision.
  EXPECT_NEAR(controller.status().feedback_ratio, 0.5 + 0.5 * 30 / 6.1, 0.01);
  EXPECT_LT(f.engine.variants()[f.engine.active()].exit, 2);

  // A result of another variant, or one that left early, is not feedback.
  const double ratio = controller.status().feedback_ratio;
  InferenceResult other = r;
  other.variant = running;  // no longer the running one
  controller.observe(other);
  InferenceResult early;
  early.variant = f.engine.active();
  early.exit = f.engine.variants()[early.variant].exit - 1;
  early.latency_ms = 1000;
  controller.observe(early);
  EXPECT_DOUBLE_EQ(controller.status().feedback_ratio, ratio);
}

TEST(AdaptationController, GivesInferenceTheCoresTheBackgroundLeaves) {
  Fixture f;
  auto controller = f.controller(100, 2, ThreadGovernor({true, 0, 0.25, 1}, 2));
  EXPECT_EQ(f.engine.threads(), 2);
  controller.on_sample(Fixture::sample(0.6));
  EXPECT_EQ(f.engine.threads(), 1);
  EXPECT_EQ(controller.status().threads, 1);
  EXPECT_EQ(controller.status().thread_changes, 1u);
  // The inferring thread applies the count at its next call.
  EXPECT_EQ(f.engine.infer(torch::zeros({1, 3, 16, 16})).threads, 1);
  controller.on_sample(Fixture::sample(0.0));
  EXPECT_EQ(f.engine.threads(), 2);
  EXPECT_EQ(f.engine.infer(torch::zeros({1, 3, 16, 16})).threads, 2);
}

TEST(AdaptationController, FeedsTheTailQuantileOfTheLatencies) {
  Fixture f;
  auto controller = f.controller(100, 2, std::nullopt, 0.9);
  const size_t running = f.engine.active();
  InferenceResult r;
  r.variant = running;
  r.exit = f.engine.variants()[running].exit;
  for (int ms = 10; ms >= 1; --ms) {  // 1 … 10 ms, in any order
    r.latency_ms = ms * 6.1;
    controller.observe(r);
  }
  controller.on_sample(Fixture::sample(0.0));
  // The 0.9 quantile of 1…10 (rank 8 of 0…9) is 9: ratio 0.5 + 0.5 · 9.
  EXPECT_NEAR(controller.status().feedback_ratio, 0.5 + 0.5 * 9, 1e-9);
  AdaptationPolicy policy(f.rows, f.layers, f.model, {});
  EXPECT_THROW(AdaptationController(f.engine, policy, f.engine_index, {}, {},
                                    std::nullopt, 0.3),
               UsageError);
}

InferenceResult result_of(const AdaptiveEngine& engine, double latency_ms) {
  InferenceResult r;
  r.variant = engine.active();
  r.exit = engine.variants()[r.variant].exit;
  r.latency_ms = latency_ms;
  return r;
}

// A burst the monitor has not seen yet: two overruns in a row give a thread
// up at once; the next sample, showing no load, takes it back.
TEST(AdaptationController, OverrunsShedAThreadBeforeTheNextSample) {
  Fixture f;
  auto controller =
      f.controller(6.5, 2, ThreadGovernor({true, 0, 0.25, 1}, 2), 0.5, 2);
  const size_t running = f.engine.active();
  controller.observe(result_of(f.engine, 9));
  controller.observe(result_of(f.engine, 5));  // in budget: streak broken
  controller.observe(result_of(f.engine, 9));
  EXPECT_EQ(f.engine.threads(), 2);
  controller.observe(result_of(f.engine, 9));
  EXPECT_EQ(f.engine.threads(), 1);
  ControllerStatus s = controller.status();
  EXPECT_EQ(s.reflexes, 1u);
  EXPECT_EQ(s.threads, 1);
  EXPECT_EQ(s.thread_changes, 1u);
  EXPECT_EQ(f.engine.active(), running);  // the cheaper remedy first
  // One reflex per monitor period.
  for (int i = 0; i < 4; ++i) controller.observe(result_of(f.engine, 9));
  EXPECT_EQ(controller.status().reflexes, 1u);
  EXPECT_EQ(f.engine.active(), running);
  controller.on_sample(Fixture::sample(0.0));
  EXPECT_EQ(f.engine.threads(), 2);
}

// At one thread the policy steps in: the overrun counts in full (ratio ≥
// measured / predicted) and the decision is a downgrade, not one EMA step.
TEST(AdaptationController, OverrunsAtOneThreadDowngradeAtOnce) {
  Fixture f;
  auto controller = f.controller(6.5, 2, std::nullopt, 0.5, 2);
  EXPECT_EQ(f.engine.variants()[f.engine.active()].exit, 2);
  controller.observe(result_of(f.engine, 13));
  EXPECT_EQ(f.engine.variants()[f.engine.active()].exit, 2);
  controller.observe(result_of(f.engine, 12.2));
  EXPECT_LT(f.engine.variants()[f.engine.active()].exit, 2);
  ControllerStatus s = controller.status();
  EXPECT_EQ(s.reflexes, 1u);
  EXPECT_EQ(s.switches, 1u);
  EXPECT_EQ(s.last.reason, Decision::Reason::kDowngrade);
  EXPECT_GE(s.feedback_ratio, 12.2 / 6.1 - 1e-9);
  EXPECT_EQ(s.variant, f.engine.active());

  // Off, or threads only: the same overruns only wait for the next
  // decision's feedback.
  for (auto [streak, downgrade] : {std::pair{0, true}, std::pair{2, false}}) {
    Fixture g;
    auto off = g.controller(6.5, 2, std::nullopt, 0.5, streak, downgrade);
    const size_t running = g.engine.active();
    for (int i = 0; i < 4; ++i) off.observe(result_of(g.engine, 13));
    EXPECT_EQ(g.engine.active(), running);
    EXPECT_EQ(off.status().reflexes, 0u);
  }
}

TEST(AdaptationController, SamplesWithoutALoadAreSkipped) {
  Fixture f;
  auto controller = f.controller(6.5);
  controller.on_sample(ResourceSample{});
  EXPECT_EQ(controller.status().decisions, 0u);
}

TEST(AdaptationController, MismatchedIndicesAreRefused) {
  Fixture f;
  AdaptationPolicy policy(f.rows, f.layers, f.model, {});
  std::vector<size_t> short_index(f.engine_index.begin(),
                                  f.engine_index.end() - 1);
  EXPECT_THROW(AdaptationController(f.engine, policy, short_index), UsageError);
  std::vector<size_t> bad = f.engine_index;
  bad[0] = 999;
  EXPECT_THROW(AdaptationController(f.engine, policy, bad), UsageError);
}

// The loop predicts the running variant's p90 at each decision from the
// latencies it has seen against their predictions, and scores every later
// latency against the bound made before it.
TEST(AdaptationController, PredictsALatencyBoundAndScoresIt) {
  Fixture f;
  auto controller = f.controller(100);
  EXPECT_TRUE(std::isnan(controller.status().latency_bound_ms));
  const double predicted = controller.status().last.predicted_ms;
  for (int i = 0; i < 100; ++i) {  // ratios 1.00 … 1.09, ten of each
    controller.observe(result_of(f.engine, predicted * (1 + 0.01 * (i % 10))));
  }
  EXPECT_EQ(controller.status().bound_score.scored, 0);  // no bound yet
  controller.on_sample(Fixture::sample(0.0));
  const ControllerStatus s = controller.status();
  // The 0.9 quantile of the ratios sits at rank 90.9 of 100, between the
  // last 1.08 (rank 90) and the first 1.09: 1.089.
  EXPECT_NEAR(s.latency_bound_ms, s.last.predicted_ms * 1.089, 1e-9);
  controller.observe(result_of(f.engine, s.latency_bound_ms * 0.5));
  controller.observe(result_of(f.engine, s.latency_bound_ms * 2));
  const QuantileScore score = controller.status().bound_score;
  EXPECT_EQ(score.scored, 2);
  EXPECT_EQ(score.covered, 1);
}

TEST(VariantRows, TakeTheRowsOfTheFittedDeviceInEngineOrder) {
  Fixture f;
  search::PerformanceTables tables;
  for (size_t i = 0; i < f.rows.size(); ++i) {
    search::IndexEntry e;
    e.key = f.rows[i].key;
    e.layers = int(f.layers[i]);
    e.validation_top1 = f.rows[i].accuracy;
    tables.index.push_back(e);
    for (const char* device : {"board", "here"}) {
      search::PredictiveEntry p;
      p.key = f.rows[i].key;
      p.device = device;
      p.predicted_latency_ms =
          f.rows[i].latency_ms * (device[0] == 'b' ? 3 : 1);
      p.predicted_energy_mj = 1;
      tables.predictive.push_back(p);
    }
  }
  search::LatencyModelEntry board, here;
  board.device = "board";
  here.device = "here";
  here.model.fitted_on = 12;
  here.model.load_slope = 0.7;
  tables.models = {board, here};

  VariantRows rows = variant_rows(tables, f.engine.space(), f.engine.variants(),
                                  "", 1, "t.h5");
  EXPECT_EQ(rows.device, "here");
  EXPECT_DOUBLE_EQ(rows.model.load_slope, 0.7);
  ASSERT_EQ(rows.rows.size(), f.rows.size());
  for (size_t i = 0; i < f.rows.size(); ++i) {
    EXPECT_EQ(rows.rows[i].key, f.rows[i].key);
    EXPECT_DOUBLE_EQ(rows.rows[i].latency_ms, f.rows[i].latency_ms);
    EXPECT_DOUBLE_EQ(rows.layers[i], f.layers[i]);
  }
  EXPECT_DOUBLE_EQ(variant_rows(tables, f.engine.space(), f.engine.variants(),
                                "board", 1, "t.h5")
                       .rows[0]
                       .latency_ms,
                   3 * f.rows[0].latency_ms);

  EXPECT_THROW(variant_rows(tables, f.engine.space(), f.engine.variants(),
                            "mars", 1, "t.h5"),
               DataError);
  EXPECT_THROW(variant_rows(tables, f.engine.space(), f.engine.variants(), "",
                            8, "t.h5"),
               DataError);
  tables.index[2].validation_top1 = std::nan("");
  EXPECT_THROW(variant_rows(tables, f.engine.space(), f.engine.variants(),
                            "here", 1, "t.h5"),
               DataError);
  tables.index.pop_back();
  try {
    variant_rows(tables, f.engine.space(), f.engine.variants(), "here", 1,
                 "t.h5");
    FAIL() << "a variant without an index row was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("t.h5"), std::string::npos);
  }
}

}  // namespace
}  // namespace adascale::runtime
