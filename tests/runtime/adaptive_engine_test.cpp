#include "runtime/adaptive_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/error.h"
#include "runtime/int8_quantizer.h"
#include "tests/fixtures/int8_support.h"
#include "tests/fixtures/tiny_elastic_spec.h"

namespace adascale::runtime {
namespace {

operators::ElasticNet trained_like_net(uint64_t seed = 0) {
  torch::manual_seed(seed);
  operators::ElasticNet net(testing::tiny_elastic_spec());
  // Non-trivial BN statistics, so folding has something to fold.
  net->train();
  torch::NoGradGuard no_grad;
  for (int i = 0; i < 3; ++i) {
    for (const auto& v : net->variants().all()) {
      net->forward(torch::randn({4, 3, 16, 16}) * 2 + 0.5, v);
    }
  }
  net->eval();
  return net;
}

// The reference: the same weights run eagerly by the net itself.
torch::Tensor eager_logits(operators::ElasticNet& net, const torch::Tensor& x,
                           const core::Variant& v) {
  torch::NoGradGuard no_grad;
  return net->forward(x, v);
}

TEST(AdaptiveEngine, EveryVariantMatchesTheEagerNetInEveryMode) {
  auto reference = trained_like_net();
  torch::Tensor x = torch::randn({3, 3, 16, 16});
  for (BlockMode mode :
       {BlockMode::kEager, BlockMode::kOptimized, BlockMode::kFastest}) {
    EngineOptions options;
    options.mode = mode;
    options.timing_repeats = 2;
    AdaptiveEngine engine(trained_like_net(), options);
    ASSERT_EQ(engine.variants(), reference->variants().all());
    for (size_t i = 0; i < engine.variants().size(); ++i) {
      auto want = eager_logits(reference, x, engine.variants()[i]);
      InferenceResult got = engine.infer(x, i);
      EXPECT_EQ(got.variant, i);
      EXPECT_EQ(got.exit, engine.variants()[i].exit);
      EXPECT_GT(got.latency_ms, 0);
      EXPECT_TRUE(torch::allclose(got.logits, want, 1e-4, 1e-5))
          << to_string(mode) << " variant "
          << engine.space().to_string(engine.variants()[i]);
    }
    for (const BlockReport& b : engine.blocks()) {
      EXPECT_EQ(b.optimized,
                mode == BlockMode::kOptimized || (mode == BlockMode::kFastest &&
                                                  b.optimized_ms < b.eager_ms))
          << b.name;
    }
  }
}

TEST(AdaptiveEngine, ReportsEveryBlockOnceAndHoldsOneCopyOfTheWeights) {
  auto net = trained_like_net();
  int64_t eager_bytes = 0;
  for (const auto& t : net->parameters()) eager_bytes += t.nbytes();
  for (const auto& t : net->buffers()) eager_bytes += t.nbytes();
  EngineOptions options;
  options.mode = BlockMode::kOptimized;
  AdaptiveEngine engine(net, options);
  // stem + 3 stages × 2 candidates + 3 exits
  ASSERT_EQ(engine.blocks().size(), 10u);
  EXPECT_EQ(engine.blocks()[0].name, "stem");
  EXPECT_EQ(engine.blocks()[1].name, "stage1/basic");
  // Where LibTorch has MKL-DNN, optimised blocks pass its layout along.
  if (at::hasMKLDNN()) {
    EXPECT_TRUE(engine.blocks()[1].mkldnn_in);
  }
  // Folding drops the BN tensors, so the engine holds at most one copy.
  EXPECT_GT(engine.weight_bytes(), 0);
  EXPECT_LE(engine.weight_bytes(), eager_bytes);
}

TEST(AdaptiveEngine, SwitchingChangesTheVariantInferRuns) {
  AdaptiveEngine engine(trained_like_net(), {BlockMode::kEager, 1, 0});
  torch::Tensor x = torch::randn({1, 3, 16, 16});
  EXPECT_EQ(engine.infer(x).variant, 0u);
  engine.switch_to(engine.variants().size() - 1);
  InferenceResult r = engine.infer(x);
  EXPECT_EQ(r.variant, engine.variants().size() - 1);
  EXPECT_EQ(r.exit, 2);
  EXPECT_THROW(engine.switch_to(engine.variants().size()), UsageError);
  EXPECT_EQ(engine.active(), engine.variants().size() - 1);
  const core::Variant& v = engine.variants()[3];
  EXPECT_EQ(engine.index_of(v), 3u);
  EXPECT_THROW(engine.index_of_key(~0ull), UsageError);
}

// One thread infers while another switches: every result must be exactly
// the eager logits of the variant it reports, never a mix of two.
TEST(AdaptiveEngine, StaysCorrectWhileAnotherThreadSwitches) {
  auto reference = trained_like_net();
  AdaptiveEngine engine(trained_like_net(), {BlockMode::kOptimized, 1, 0});
  torch::Tensor x = torch::randn({1, 3, 16, 16});
  std::vector<torch::Tensor> want;
  for (const auto& v : engine.variants()) {
    want.push_back(eager_logits(reference, x, v));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> switches{0};
  std::thread switcher([&] {
    size_t i = 0;
    while (!stop.load()) {
      engine.switch_to(i++ % engine.variants().size());
      switches.fetch_add(1);
      std::this_thread::yield();
    }
  });
  std::vector<int> seen(engine.variants().size(), 0);
  // Run until both sides have done enough work: under a loaded CI machine
  // the switcher may get little CPU, so a fixed inference count is not
  // enough to guarantee overlap. The cap keeps a starved switcher from
  // hanging the test.
  for (int i = 0; (i < 300 || switches.load() < 300) && i < 200000; ++i) {
    InferenceResult r = engine.infer(x);
    ASSERT_LT(r.variant, want.size());
    ASSERT_TRUE(torch::allclose(r.logits, want[r.variant], 1e-4, 1e-5));
    ++seen[r.variant];
  }
  stop = true;
  switcher.join();
  EXPECT_GE(switches.load(), 300);
  int distinct = 0;
  for (int s : seen) distinct += s > 0;
  EXPECT_GE(distinct, 3);
}

class AdaptiveEngineModes : public ::testing::TestWithParam<BlockMode> {};

TEST_P(AdaptiveEngineModes, EarlyExitStopsConfidentSamplesAtEarlierExits) {
  auto reference = trained_like_net();
  AdaptiveEngine engine(trained_like_net(), {GetParam(), 1, 0});
  const size_t deepest = engine.variants().size() - 1;
  const core::Variant& v = engine.variants()[deepest];
  torch::Tensor x = torch::randn({6, 3, 16, 16});

  // τ = 1 is never reached by a softmax: nobody exits early.
  engine.set_early_exit_threshold(1.0);
  InferenceResult none = engine.infer(x, deepest);
  EXPECT_TRUE(
      torch::allclose(none.logits, eager_logits(reference, x, v), 1e-4, 1e-5));
  for (int e : none.exits) EXPECT_EQ(e, 2);

  // τ just above 1/classes is reached by every sample at the first exit.
  engine.set_early_exit_threshold(0.2000001);
  InferenceResult all = engine.infer(x, deepest);
  core::Variant first{0, {v.choices[0]}};
  auto want_first = eager_logits(reference, x, first);
  for (int e : all.exits) EXPECT_EQ(e, 0);
  EXPECT_EQ(all.exit, 0);
  EXPECT_TRUE(torch::allclose(all.logits, want_first, 1e-4, 1e-5));

  // A threshold between: each sample's logits are those of the exit it took.
  auto at_exit = reference->forward_exits(x, v.choices);
  torch::Tensor conf0 = std::get<0>(torch::softmax(at_exit[0], 1).max(1));
  double tau = conf0.median().item<double>();
  engine.set_early_exit_threshold(tau);
  InferenceResult mixed = engine.infer(x, deepest);
  int early = 0;
  for (int64_t i = 0; i < x.size(0); ++i) {
    int e = mixed.exits[size_t(i)];
    early += e < 2;
    EXPECT_TRUE(
        torch::allclose(mixed.logits[i], at_exit[size_t(e)][i], 1e-4, 1e-5))
        << "sample " << i << " exit " << e;
    if (conf0[i].item<double>() >= tau) {
      EXPECT_EQ(e, 0) << "sample " << i;
    }
  }
  EXPECT_GE(early, 3);
  EXPECT_THROW(engine.set_early_exit_threshold(1.5), UsageError);
  EXPECT_THROW(engine.set_early_exit_threshold(-0.1), UsageError);
}

INSTANTIATE_TEST_SUITE_P(EagerAndOptimized, AdaptiveEngineModes,
                         ::testing::Values(BlockMode::kEager,
                                           BlockMode::kOptimized));

TEST(AdaptiveEngine, BadOptionsAreRefused) {
  EXPECT_THROW(parse_block_mode("turbo"), UsageError);
  EXPECT_EQ(parse_block_mode("optimized"), BlockMode::kOptimized);
  EngineOptions bad;
  bad.timing_repeats = 0;
  EXPECT_THROW(AdaptiveEngine(trained_like_net(), bad), UsageError);
  bad.timing_repeats = 1;
  bad.early_exit_threshold = 2;
  EXPECT_THROW(AdaptiveEngine(trained_like_net(), bad), UsageError);
}

EngineOptions int8_options(BlockMode mode = BlockMode::kOptimized) {
  EngineOptions options;
  options.mode = mode;
  options.timing_repeats = 2;
  options.precision = Precision::kInt8;
  torch::manual_seed(7);
  options.calibration = torch::randn({64, 3, 16, 16}) * 2 + 0.5;
  return options;
}

TEST(AdaptiveEngine, Int8BlocksStayCloseToTheFloatNet) {
  ADASCALE_REQUIRE_INT8();
  auto reference = trained_like_net();
  AdaptiveEngine engine(trained_like_net(), int8_options());
  int int8_blocks = 0;
  for (const BlockReport& b : engine.blocks()) {
    int8_blocks += b.int8;
    EXPECT_TRUE(b.optimized) << b.name;
    if (b.int8) {
      EXPECT_LE(b.int8_error, 0.05) << b.name;
    }
  }
  // The stem, the basic candidates and the exit heads quantize at least.
  EXPECT_GE(int8_blocks, 7);
  torch::Tensor x = torch::randn({16, 3, 16, 16}) * 2 + 0.5;
  for (size_t i = 0; i < engine.variants().size(); ++i) {
    auto want = eager_logits(reference, x, engine.variants()[i]);
    auto got = engine.infer(x, i).logits;
    EXPECT_LT(((got - want).norm() / want.norm()).item<double>(), 0.2)
        << engine.space().to_string(engine.variants()[i]);
  }
  // int8 weights: well under the float engine's bytes.
  EngineOptions float_options;
  float_options.mode = BlockMode::kOptimized;
  AdaptiveEngine float_engine(trained_like_net(), float_options);
  EXPECT_LT(engine.weight_bytes(), float_engine.weight_bytes() / 2);
}

TEST(AdaptiveEngine, Int8BlocksOverTheToleranceStayFloat) {
  ADASCALE_REQUIRE_INT8();
  auto reference = trained_like_net();
  EngineOptions options = int8_options();
  options.int8_tolerance = 1e-9;
  AdaptiveEngine engine(trained_like_net(), options);
  for (const BlockReport& b : engine.blocks()) {
    EXPECT_FALSE(b.int8) << b.name;
    EXPECT_GT(b.int8_error, 1e-9) << b.name;
  }
  torch::Tensor x = torch::randn({2, 3, 16, 16});
  auto v = engine.variants().back();
  EXPECT_TRUE(
      torch::allclose(engine.infer(x, engine.variants().size() - 1).logits,
                      eager_logits(reference, x, v), 1e-4, 1e-5));
}

TEST(AdaptiveEngine, Int8FastestModeKeepsTheFastestForm) {
  ADASCALE_REQUIRE_INT8();
  AdaptiveEngine engine(trained_like_net(), int8_options(BlockMode::kFastest));
  for (const BlockReport& b : engine.blocks()) {
    if (b.int8_ms == 0) continue;  // no int8 form was kept for timing
    EXPECT_EQ(b.int8, b.int8_ms < b.eager_ms &&
                          (b.optimized_ms == 0 || b.int8_ms < b.optimized_ms))
        << b.name;
    EXPECT_EQ(b.optimized,
              b.int8 || (b.optimized_ms > 0 && b.optimized_ms < b.eager_ms))
        << b.name;
  }
}

TEST(AdaptiveEngine, BadInt8OptionsAreRefused) {
  EXPECT_THROW(parse_precision("fp16"), UsageError);
  EXPECT_EQ(parse_precision("int8"), Precision::kInt8);
  EXPECT_EQ(to_string(Precision::kFloat32), "fp32");
  EngineOptions bad = int8_options(BlockMode::kEager);
  EXPECT_THROW(AdaptiveEngine(trained_like_net(), bad), UsageError);
  bad = int8_options();
  bad.calibration = torch::Tensor();
  EXPECT_THROW(AdaptiveEngine(trained_like_net(), bad), UsageError);
  bad = int8_options();
  bad.calibration = torch::randn({4, 1, 16, 16});
  EXPECT_THROW(AdaptiveEngine(trained_like_net(), bad), UsageError);
  bad = int8_options();
  bad.int8_tolerance = 0;
  EXPECT_THROW(AdaptiveEngine(trained_like_net(), bad), UsageError);
}

}  // namespace
}  // namespace adascale::runtime
