#include "runtime/adaptive_runtime.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/execution.h"
#include "runtime/intra_op_threads.h"
#include "search/performance_tables.h"
#include "tests/fixtures/tiny_elastic_spec.h"
#include "tests/log_capture.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

namespace fs = std::filesystem;
using adascale::testing::TempDir;

// A tiny bundle with two trained stages, whose tables make the policy trade
// accuracy for latency: accuracy and idle latency grow with the exit, and
// the latency model doubles latency at full load (κ = 1).
class AdaptiveRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    operators::ElasticNet net(testing::tiny_elastic_spec(4, {"dws", "fire"}));
    net->eval();
    BundleMetadata meta;
    meta.normalization = {{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}};
    meta.class_names = {"a", "b", "c", "d"};
    meta.trunk = {0, 0};
    meta.source = "runs/tiny";
    search::PerformanceTables tables;
    const core::VariantSpace& space = net->variants();
    for (const core::Variant& v : space.all()) {
      search::IndexEntry e;
      e.key = space.pack(v);
      e.variant = space.to_string(v);
      e.exit = v.exit + 1;
      e.layers = 3 * (v.exit + 1);
      e.validation_top1 = 0.5 + 0.1 * v.exit + 0.01 * v.choices.back();
      tables.index.push_back(e);
      search::PredictiveEntry p;
      p.key = e.key;
      p.device = "here";
      p.predicted_latency_ms = 2.0 * (v.exit + 1) + 0.1 * v.choices.back();
      p.predicted_energy_mj = 1;
      tables.predictive.push_back(p);
    }
    search::LatencyModelEntry model;
    model.device = "here";
    model.model.fitted_on = 12;
    model.model.load_slope = 1.0;
    tables.models = {model};
    fs::create_directories(dir_.file("run"));
    const std::string tables_path = dir_.file("run/tables.h5");
    search::write_tables(tables, tables_path, dir_.file("run/tables.csv"));
    bundle_ = dir_.file("tiny.adascale");
    write_bundle(bundle_, net, meta, tables_path);
  }

  // Eager blocks (nothing timed), one thread, no governor, CPU load only,
  // and no feedback or overrun reflex: measured latencies change nothing,
  // so the decisions follow the fed load alone.
  static RuntimeOptions options() {
    RuntimeOptions o;
    o.engine = {BlockMode::kEager, 1, 0};
    o.policy.budget_ms = 6.5;
    o.policy.hysteresis = 2;
    o.policy.margin = 0;
    o.policy.feedback_smoothing = 0;
    o.policy.overrun_streak = 0;
    o.forecast.order = 1;
    o.forecast.window = 8;
    o.monitor.load_index.memory = 0;
    o.governor.enabled = false;
    o.intra_op_threads = 1;
    o.autostart = false;
    o.form_cache = false;
    return o;
  }

  static ResourceSample sample(double load) {
    ResourceSample s;
    s.background_load = load;
    s.cpu_utilization = load;
    return s;
  }

  TempDir dir_;
  std::string bundle_;
};

TEST_F(AdaptiveRuntimeTest, AdaptsTheEngineToTheLoadItIsFed) {
  AdaptiveRuntime rt = AdaptiveRuntime::open(bundle_, options());
  // Every variant of the two trained exits is usable.
  EXPECT_EQ(rt.rows().rows.size(), rt.bundle().manifest.variants.size());
  EXPECT_EQ(rt.engine_index().size(), rt.rows().rows.size());
  EXPECT_EQ(rt.rows().device, "here");
  EXPECT_THROW_WITH(rt.feed(sample(0)), UsageError, "no loop yet");

  rt.reset();
  // Budget 6.5 ms: at no load the exit-2 variants (4.0–4.1 ms) fit and are
  // the most accurate; at full load (×2) only exit 1's do.
  EXPECT_EQ(rt.engine().variants()[rt.engine().active()].exit, 1);
  for (int i = 0; i < 3; ++i) rt.feed(sample(1.0));
  const torch::Tensor image = torch::randn({3, 16, 16});
  InferenceResult r = rt.infer(image);
  EXPECT_EQ(rt.engine().variants()[r.variant].exit, 0);
  EXPECT_EQ(r.logits.sizes(), (std::vector<int64_t>{1, 4}));

  RuntimeStats s = rt.stats();
  EXPECT_EQ(s.inferences, 1);
  EXPECT_EQ(s.loop.decisions, 3u);
  EXPECT_GE(s.loop.switches, 1u);
  EXPECT_DOUBLE_EQ(s.loop.load, 1.0);
  EXPECT_EQ(s.loop.variant, r.variant);
  EXPECT_EQ(s.variant,
            rt.engine().space().to_string(rt.engine().variants()[r.variant]));
  EXPECT_TRUE(s.adapting);
  EXPECT_FALSE(s.running);
  // "best" answers with the last value until AR has a record.
  EXPECT_EQ(s.loop.forecast_score.naive_used, 3u);
  EXPECT_EQ(s.loop.forecast_model, ForecastModel::kNaive);

  // The load gone: after M = 2 decisions, back to the most accurate exit.
  for (int i = 0; i < 4; ++i) rt.feed(sample(0.0));
  EXPECT_EQ(rt.engine().variants()[rt.infer(image).variant].exit, 1);

  // A static baseline runs the variant it names and feeds nothing back.
  r = rt.infer(image.unsqueeze(0), 0);
  EXPECT_EQ(r.variant, 0u);
  EXPECT_EQ(rt.stats().inferences, 3);

  // A fresh loop forgets the old one's decisions.
  rt.reset(/*adapt=*/false);
  EXPECT_EQ(rt.stats().loop.decisions, 0u);
  EXPECT_FALSE(rt.stats().adapting);
}

TEST_F(AdaptiveRuntimeTest, OpenStartsTheMonitorOnItsSampler) {
  std::atomic<int> calls{0};
  RuntimeOptions o = options();
  o.autostart = true;
  o.monitor.period_ms = 1;
  o.sampler = [&calls] {
    ++calls;
    return sample(0.0);
  };
  AdaptiveRuntime opened = AdaptiveRuntime::open(bundle_, o);
  AdaptiveRuntime rt = std::move(opened);  // movable: the loop follows
  // Wait for three samples; no assertion on how long they took.
  for (int i = 0; i < 20000 && rt.stats().loop.decisions < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  RuntimeStats s = rt.stats();
  EXPECT_TRUE(s.running);
  EXPECT_GE(s.loop.decisions, 3u);
  EXPECT_GE(s.samples, 3u);
  EXPECT_EQ(rt.infer(torch::randn({3, 16, 16})).logits.size(0), 1);
  rt.stop();
  EXPECT_FALSE(rt.stats().running);
  const int after_stop = calls.load();
  rt.feed(sample(0.0));  // feeding still works with the thread stopped
  EXPECT_EQ(calls.load(), after_stop);
}

TEST_F(AdaptiveRuntimeTest, KeepsFormDecisionsInTheBundleByDefault) {
  RuntimeOptions o = options();
  o.engine.mode = BlockMode::kFastest;  // the mode that decides by timing
  o.engine.timing_repeats = 3;
  o.form_cache = true;
  AdaptiveRuntime cached = AdaptiveRuntime::open(bundle_, o);
  EXPECT_EQ(cached.engine().startup().cache_path.rfind(
                form_cache_dir(bundle_) + "/", 0),
            0u)
      << cached.engine().startup().cache_path;
  o.form_cache = false;
  EXPECT_EQ(AdaptiveRuntime::open(bundle_, o).engine().startup().cache_path,
            "");
}

TEST_F(AdaptiveRuntimeTest, BadOptionsAndFilesNameTheCause) {
  RuntimeOptions o = options();
  o.min_accuracy = 0.99;
  EXPECT_THROW_WITH(AdaptiveRuntime::open(bundle_, o), UsageError,
                    "min_accuracy: no variant of");
  o = options();
  o.forecast.model = "mean";
  EXPECT_THROW_WITH(AdaptiveRuntime::open(bundle_, o), UsageError,
                    "forecast.model");
  o = options();
  o.feedback_quantile = 0.1;
  EXPECT_THROW_WITH(AdaptiveRuntime::open(bundle_, o), UsageError,
                    "feedback_quantile");
  o = options();
  o.tables_device = "mars";
  EXPECT_THROW_WITH(AdaptiveRuntime::open(bundle_, o), DataError, "mars");
  EXPECT_THROW_WITH(
      AdaptiveRuntime::open(dir_.file("none.adascale"), options()), Error,
      "none.adascale");
}

// intra_op_threads up to the schema's 4096 is clamped as a run's `threads`
// is (core::clamp_threads), with a notice: a library user's count never
// reaches OpenMP unclamped.
TEST_F(AdaptiveRuntimeTest, IntraOpThreadsAreClampedToAFewPerCore) {
  const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
  const int limit = core::kMaxThreadsPerCore * hardware;
  RuntimeOptions o = options();
  o.intra_op_threads = 4096;
  testing::LogCapture capture;
  AdaptiveRuntime rt = AdaptiveRuntime::open(bundle_, o);
  rt.reset(/*adapt=*/false);
  // Checked before an inference would start that many threads.
  ASSERT_LE(rt.engine().threads(), limit);
  EXPECT_EQ(rt.engine().threads(), std::min(4096, limit));
  if (4096 > limit) {
    EXPECT_NE(capture.text().find("intra_op_threads: 4096 is more than " +
                                  std::to_string(core::kMaxThreadsPerCore) +
                                  "x the " + std::to_string(hardware) +
                                  " hardware threads; using " +
                                  std::to_string(limit)),
              std::string::npos)
        << capture.text();
  }
  // Inference runs at that count: the calling thread's OpenMP team.
  const int before = intra_op_threads();
  rt.infer(torch::randn({3, 16, 16}));
  EXPECT_LE(intra_op_threads(), limit);
  set_intra_op_threads(before);
}

// The net goes to the configured device before the engine is built; the
// logits come back where the images came from. Only the CPU runs here; a
// GPU that is not there is refused by name.
TEST_F(AdaptiveRuntimeTest, RunsOnTheConfiguredDevice) {
  RuntimeOptions o = options();
  o.device = "cpu";
  AdaptiveRuntime rt = AdaptiveRuntime::open(bundle_, o);
  EXPECT_TRUE(rt.engine().device().is_cpu());
  EXPECT_TRUE(rt.infer(torch::rand({2, 3, 16, 16})).logits.device().is_cpu());
  // device: cuda runs there where there is a GPU, else is refused by name.
  o.device = "cuda";
  if (torch::cuda::is_available()) {
    AdaptiveRuntime gpu = AdaptiveRuntime::open(bundle_, o);
    EXPECT_TRUE(gpu.engine().device().is_cuda());
    EXPECT_TRUE(
        gpu.infer(torch::rand({2, 3, 16, 16})).logits.device().is_cpu());
  } else {
    EXPECT_THROW_WITH(AdaptiveRuntime::open(bundle_, o), ConfigError,
                      "device: 'cuda' requested");
  }
}

TEST_F(AdaptiveRuntimeTest, OptionsReadFromYaml) {
  const std::string path = dir_.write("runtime.yaml", R"(
policy: {budget_ms: 12, hysteresis: 4}
forecast: {model: naive, order: 3, window: 32}
monitor: {period_ms: 50}
threads: {enabled: false}
intra_op_threads: 2
min_accuracy: 0.4
device: auto
)");
  RuntimeOptions o = read_runtime_options(path);
  EXPECT_DOUBLE_EQ(o.policy.budget_ms, 12);
  EXPECT_EQ(o.policy.hysteresis, 4);
  EXPECT_EQ(o.forecast.model, "naive");
  EXPECT_EQ(o.forecast.order, 3);
  EXPECT_EQ(o.monitor.period_ms, 50);
  EXPECT_FALSE(o.governor.enabled);
  EXPECT_EQ(o.intra_op_threads, 2);
  EXPECT_DOUBLE_EQ(o.min_accuracy, 0.4);
  EXPECT_EQ(o.device, "auto");

  EXPECT_THROW_WITH(
      read_runtime_options(dir_.write("bad.yaml", "forecast: {model: mean}\n")),
      ConfigError, "forecast.model");
  EXPECT_THROW_WITH(
      read_runtime_options(dir_.write("typo.yaml", "polcy: {budget_ms: 1}\n")),
      ConfigError, "polcy");
  EXPECT_THROW_WITH(
      read_runtime_options(dir_.write("gpu.yaml", "device: gpu\n")),
      ConfigError, "device");
}

}  // namespace
}  // namespace adascale::runtime
