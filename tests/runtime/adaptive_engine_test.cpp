#include "runtime/adaptive_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "runtime/int8_quantizer.h"
#include "runtime/intra_op_threads.h"
#include "tests/fixtures/int8_support.h"
#include "tests/fixtures/tiny_elastic_spec.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

using adascale::testing::TempDir;

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
      EXPECT_EQ(b.optimized, b.form != Form::kEager) << b.name;
      if (mode != BlockMode::kFastest) {
        EXPECT_EQ(b.rule, FormRule::kMode) << b.name;
        EXPECT_EQ(b.optimized, mode == BlockMode::kOptimized) << b.name;
        continue;
      }
      // The optimised form unless eager won on evidence (or nothing else
      // could be built).
      if (b.form == Form::kEager) {
        EXPECT_TRUE(b.rule == FormRule::kSignificant ||
                    b.rule == FormRule::kFallback)
            << b.name;
      } else {
        EXPECT_TRUE(b.rule == FormRule::kSignificant ||
                    b.rule == FormRule::kDefault)
            << b.name;
      }
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

TEST(AdaptiveEngine, Int8FastestModeLeavesTheDefaultOnlyOnEvidence) {
  ADASCALE_REQUIRE_INT8();
  EngineOptions options = int8_options(BlockMode::kFastest);
  options.timing_repeats = 9;
  AdaptiveEngine engine(trained_like_net(), options);
  for (const BlockReport& b : engine.blocks()) {
    EXPECT_EQ(b.int8, b.form == Form::kInt8) << b.name;
    EXPECT_EQ(b.optimized, b.form != Form::kEager) << b.name;
    if (b.form != Form::kOptimized && b.rule != FormRule::kFallback) {
      // Displacing the default takes a significant, large enough gain.
      EXPECT_EQ(b.rule, FormRule::kSignificant) << b.name;
      EXPECT_LT(b.p_value, options.choice.alpha) << b.name;
      EXPECT_GE(b.gain, options.choice.min_gain) << b.name;
    }
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

// ---- thread counts ---------------------------------------------------------

// Two intra-op threads for the test's duration, whatever the machine has.
struct TwoThreads {
  int before = at::get_num_threads();
  TwoThreads() { at::set_num_threads(2); }
  ~TwoThreads() { at::set_num_threads(before); }
};

TEST(AdaptiveEngine, EveryVariantRunsAtTheThreadCountChosenForIt) {
  TwoThreads two;
  auto reference = trained_like_net();
  EngineOptions options;
  options.timing_repeats = 9;
  AdaptiveEngine engine(trained_like_net(), options);
  ASSERT_EQ(engine.thread_counts(), (std::vector<int>{2, 1}));
  for (const BlockReport& b : engine.blocks()) {
    EXPECT_EQ(b.threads_ms.size(), 2u) << b.name;
  }
  torch::Tensor x = torch::randn({2, 3, 16, 16});
  for (size_t i = 0; i < engine.variants().size(); ++i) {
    const ThreadChoice& c = engine.thread_choice(i);
    ASSERT_TRUE(c.threads == 1 || c.threads == 2);
    EXPECT_EQ(c.rule == FormRule::kSignificant, c.threads == 1);
    auto want = eager_logits(reference, x, engine.variants()[i]);
    InferenceResult r = engine.infer(x, i);
    EXPECT_TRUE(torch::allclose(r.logits, want, 1e-4, 1e-5));
    // The call runs at the variant's count, and the calling thread gets
    // its own settings back.
    EXPECT_EQ(r.threads, c.threads);
    EXPECT_EQ(at::get_num_threads(), 2);
    EXPECT_TRUE(pthreadpool_enabled());
  }
  // … never above the cap the governor sets.
  engine.set_threads(1);
  for (size_t i = 0; i < engine.variants().size(); ++i) {
    EXPECT_EQ(engine.infer(x, i).threads, 1);
    EXPECT_EQ(at::get_num_threads(), 2);
  }
  EXPECT_THROW(engine.thread_choice(engine.variants().size()), UsageError);
}

TEST(AdaptiveEngine, ThreadChoiceOffOrOneThreadKeepsTheCount) {
  TwoThreads two;
  EngineOptions options;
  options.timing_repeats = 3;
  options.choose_threads = false;
  AdaptiveEngine off(trained_like_net(), options);
  EXPECT_EQ(off.thread_counts(), (std::vector<int>{2}));
  for (size_t i = 0; i < off.variants().size(); ++i) {
    EXPECT_EQ(off.threads_of(i), 2);
  }
  at::set_num_threads(1);
  options.choose_threads = true;
  AdaptiveEngine one(trained_like_net(), options);
  EXPECT_EQ(one.thread_counts(), (std::vector<int>{1}));
  // The eager and optimized modes time nothing.
  at::set_num_threads(2);
  options.mode = BlockMode::kOptimized;
  AdaptiveEngine fixed(trained_like_net(), options);
  EXPECT_EQ(fixed.thread_counts(), (std::vector<int>{2}));
  for (const BlockReport& b : fixed.blocks()) EXPECT_TRUE(b.threads_ms.empty());
}

// ---- form cache -----------------------------------------------------------

EngineOptions cached_options(const std::string& dir) {
  EngineOptions options;
  options.timing_repeats = 5;
  options.form_cache_dir = dir;
  return options;
}

std::vector<std::string> block_names(const AdaptiveEngine& engine) {
  std::vector<std::string> names;
  for (const BlockReport& b : engine.blocks()) names.push_back(b.name);
  return names;
}

TEST(AdaptiveEngine, TheFirstStartStoresItsFormsAndTheNextReusesThem) {
  TempDir dir;
  auto reference = trained_like_net();
  AdaptiveEngine first(trained_like_net(), cached_options(dir.path()));
  EXPECT_EQ(first.startup().cache, FormCacheStatus::kMissing);
  EXPECT_TRUE(first.startup().cache_written);
  ASSERT_TRUE(std::filesystem::exists(first.startup().cache_path));
  EXPECT_EQ(std::filesystem::path(first.startup().cache_path).parent_path(),
            dir.path());

  AdaptiveEngine second(trained_like_net(), cached_options(dir.path()));
  EXPECT_EQ(second.startup().cache, FormCacheStatus::kHit);
  EXPECT_FALSE(second.startup().cache_written);
  ASSERT_EQ(second.blocks().size(), first.blocks().size());
  for (size_t i = 0; i < first.blocks().size(); ++i) {
    const BlockReport& a = first.blocks()[i];
    const BlockReport& b = second.blocks()[i];
    EXPECT_EQ(b.form, a.form) << b.name;
    EXPECT_EQ(b.rule, FormRule::kCache) << b.name;
    EXPECT_EQ(b.decided_by, a.rule) << b.name;
  }
  torch::Tensor x = torch::randn({2, 3, 16, 16});
  for (size_t i = 0; i < second.variants().size(); ++i) {
    EXPECT_TRUE(torch::allclose(
        second.infer(x, i).logits,
        eager_logits(reference, x, second.variants()[i]), 1e-4, 1e-5));
  }
}

// The thread counts come back from the cache exactly: the stored samples
// are the first start's, so the choice made from them is the same.
TEST(AdaptiveEngine, ACachedStartChoosesTheSameThreadCounts) {
  TwoThreads two;
  TempDir dir;
  AdaptiveEngine first(trained_like_net(), cached_options(dir.path()));
  AdaptiveEngine second(trained_like_net(), cached_options(dir.path()));
  ASSERT_EQ(second.startup().cache, FormCacheStatus::kHit);
  EXPECT_EQ(second.thread_counts(), first.thread_counts());
  for (size_t i = 0; i < first.blocks().size(); ++i) {
    EXPECT_EQ(second.blocks()[i].threads_ms, first.blocks()[i].threads_ms);
  }
  for (size_t i = 0; i < first.variants().size(); ++i) {
    EXPECT_EQ(second.thread_choice(i).threads, first.thread_choice(i).threads);
    EXPECT_EQ(second.thread_choice(i).p_value, first.thread_choice(i).p_value);
  }
}

// A decision stored once is what the engine runs, whatever the timing at
// this start would say: here every block stored as eager but the stem.
TEST(AdaptiveEngine, StoredDecisionsAreObeyedNotRetimed) {
  TempDir dir;
  AdaptiveEngine first(trained_like_net(), cached_options(dir.path()));
  const std::string path = first.startup().cache_path;
  // The key the engine used, read back from the file it wrote.
  std::string text = core::read_file(path);
  auto field = [&](const std::string& name) {
    size_t at = text.find("\n" + name + " ") + name.size() + 2;
    return text.substr(at, text.find('\n', at) - at);
  };
  FormCacheKey key{field("machine"), field("settings"), field("weights")};
  FormCacheRead read = read_form_cache(path, key, block_names(first));
  ASSERT_EQ(read.status, FormCacheStatus::kHit) << read.reason;
  for (size_t i = 1; i < read.forms.size(); ++i) {
    read.forms[i].form = Form::kEager;
    read.forms[i].rule = FormRule::kSignificant;
  }
  read.forms[0].form = Form::kOptimized;
  write_form_cache(path, key, read.forms);

  AdaptiveEngine second(trained_like_net(), cached_options(dir.path()));
  ASSERT_EQ(second.startup().cache, FormCacheStatus::kHit);
  EXPECT_EQ(second.blocks()[0].form, Form::kOptimized);
  for (size_t i = 1; i < second.blocks().size(); ++i) {
    EXPECT_EQ(second.blocks()[i].form, Form::kEager) << second.blocks()[i].name;
    EXPECT_FALSE(second.blocks()[i].optimized);
    EXPECT_EQ(second.blocks()[i].rule, FormRule::kCache);
  }
  // With eager blocks in every chain nothing can be fused.
  EXPECT_TRUE(second.fused_variants().empty());
}

TEST(AdaptiveEngine, ACorruptOrStaleCacheIsRebuiltNeverTrusted) {
  TempDir dir;
  std::string path;
  {
    AdaptiveEngine first(trained_like_net(), cached_options(dir.path()));
    path = first.startup().cache_path;
  }
  // Flip the first stored form by hand: the checksum catches it.
  std::string text = core::read_file(path);
  const size_t at = text.find("block stem ") + 11;
  const bool was_eager = text.compare(at, 5, "eager") == 0;
  text.replace(at, was_eager ? 5 : 9, was_eager ? "optimized" : "eager");
  core::write_file_atomic(path, text);
  AdaptiveEngine second(trained_like_net(), cached_options(dir.path()));
  EXPECT_EQ(second.startup().cache, FormCacheStatus::kCorrupt);
  EXPECT_NE(second.startup().cache_reason.find("sha256"), std::string::npos)
      << second.startup().cache_reason;
  EXPECT_TRUE(second.startup().cache_written);
  for (const BlockReport& b : second.blocks()) {
    EXPECT_NE(b.rule, FormRule::kCache) << b.name;
  }
  AdaptiveEngine third(trained_like_net(), cached_options(dir.path()));
  EXPECT_EQ(third.startup().cache, FormCacheStatus::kHit);

  // Other weights (a retrained bundle): same file name, stale contents.
  AdaptiveEngine retrained(trained_like_net(/*seed=*/1),
                           cached_options(dir.path()));
  EXPECT_EQ(retrained.startup().cache_path, path);
  EXPECT_EQ(retrained.startup().cache, FormCacheStatus::kStale);
  EXPECT_TRUE(retrained.startup().cache_written);
  AdaptiveEngine again(trained_like_net(/*seed=*/1),
                       cached_options(dir.path()));
  EXPECT_EQ(again.startup().cache, FormCacheStatus::kHit);
}

TEST(AdaptiveEngine, AnUnwritableCacheDirectoryOnlyCostsTheTiming) {
  TempDir dir;
  // A file where the directory should be: the cache cannot be written.
  const std::string blocked = dir.write("engine_cache", "not a directory");
  AdaptiveEngine engine(trained_like_net(), cached_options(blocked));
  EXPECT_FALSE(engine.startup().cache_written);
  EXPECT_EQ(engine.blocks().size(), 10u);
  EXPECT_EQ(form_cache_dir("bundles/x.adascale"),
            "bundles/x.adascale/engine_cache");
}

// ---- fused variants ----------------------------------------------------

TEST(AdaptiveEngine, TrunkVariantsAreFusedAheadAndEqualTheirChains) {
  auto reference = trained_like_net();
  EngineOptions options;
  options.mode = BlockMode::kOptimized;
  options.fuse_after = 0;  // only the trunk's, ahead
  AdaptiveEngine engine(trained_like_net(), options);
  std::vector<FusedReport> fused = engine.fused_variants();
  ASSERT_EQ(fused.size(), 3u);  // one per exit
  torch::Tensor x = torch::randn({3, 3, 16, 16});
  for (int k = 0; k < 3; ++k) {
    const size_t index = engine.index_of(engine.space().trunk(k));
    EXPECT_TRUE(engine.fused(index));
    EXPECT_EQ(fused[size_t(k)].variant, index);
    EXPECT_TRUE(fused[size_t(k)].ahead);
    // The stitched graph shares its blocks' weights.
    EXPECT_EQ(fused[size_t(k)].extra_bytes, 0);
    EXPECT_LE(fused[size_t(k)].max_abs_diff, 1e-5);
    InferenceResult r = engine.infer(x, index);
    torch::Tensor chained = engine.infer_chained(x, index);
    EXPECT_LE((r.logits - chained).abs().max().item<double>(), 1e-5);
    EXPECT_TRUE(torch::allclose(
        r.logits, eager_logits(reference, x, engine.variants()[index]), 1e-4,
        1e-5));
    EXPECT_EQ(r.exit, k);
    EXPECT_EQ(r.exits, std::vector<int>(3, k));
  }
}

TEST(AdaptiveEngine, FusionStopsAtTheMemoryBound) {
  EngineOptions options;
  options.mode = BlockMode::kOptimized;
  options.max_fused_variants = 2;
  options.fuse_after = 0;
  AdaptiveEngine engine(trained_like_net(), options);
  EXPECT_EQ(engine.fused_variants().size(), 2u);
  size_t unfused = 0;
  while (engine.fused(unfused)) ++unfused;
  EXPECT_FALSE(engine.fuse(unfused));
  EXPECT_FALSE(engine.fused(unfused));
  EXPECT_EQ(engine.fused_variants().size(), 2u);
  // A fused variant asked again is simply fused.
  EXPECT_TRUE(engine.fuse(engine.fused_variants()[0].variant));
  EXPECT_THROW(engine.fuse(engine.variants().size()), UsageError);

  options.max_fused_variants = 0;  // fusion off
  AdaptiveEngine none(trained_like_net(), options);
  EXPECT_TRUE(none.fused_variants().empty());
  EXPECT_FALSE(none.fuse(0));
}

TEST(AdaptiveEngine, AVariantThatKeepsRunningIsFusedOnDemand) {
  auto reference = trained_like_net();
  EngineOptions options;
  options.mode = BlockMode::kOptimized;
  options.fuse_trunk = false;
  options.fuse_after = 3;
  AdaptiveEngine engine(trained_like_net(), options);
  EXPECT_TRUE(engine.fused_variants().empty());
  const size_t v = engine.variants().size() - 2;
  torch::Tensor x = torch::randn({1, 3, 16, 16});
  torch::Tensor want = eager_logits(reference, x, engine.variants()[v]);
  for (int i = 0; i < 2; ++i) engine.infer(x, v);
  engine.wait_for_fusions();
  EXPECT_FALSE(engine.fused(v));  // two runs: under the threshold
  engine.infer(x, v);
  engine.wait_for_fusions();
  ASSERT_TRUE(engine.fused(v));
  ASSERT_EQ(engine.fused_variants().size(), 1u);
  EXPECT_FALSE(engine.fused_variants()[0].ahead);
  EXPECT_TRUE(torch::allclose(engine.infer(x, v).logits, want, 1e-4, 1e-5));
  // Early exit needs the intermediate exits: it runs the chain.
  engine.set_early_exit_threshold(0.2000001);
  EXPECT_EQ(engine.infer(x, v).exit, 0);
}

TEST(AdaptiveEngine, EagerModeFusesNothing) {
  AdaptiveEngine engine(trained_like_net(), {BlockMode::kEager, 1, 0});
  EXPECT_TRUE(engine.fused_variants().empty());
  EXPECT_FALSE(engine.fuse(0));
}

// ---- backends ---------------------------------------------------------

TEST(AdaptiveEngine, BackendsParseByName) {
  EXPECT_EQ(parse_backend("auto"), Backend::kAuto);
  EXPECT_EQ(parse_backend("onednn"), Backend::kOneDnn);
  EXPECT_EQ(parse_backend("xnnpack"), Backend::kXnnpack);
  EXPECT_EQ(to_string(Backend::kXnnpack), "xnnpack");
  EXPECT_THROW_WITH(parse_backend("mkl"), UsageError,
                    "'mkl' is not one of auto, onednn, xnnpack");
}

TEST(AdaptiveEngine, XnnpackBlocksRunEveryVariantLikeTheEagerNet) {
  TwoThreads two;
  auto reference = trained_like_net();
  torch::Tensor x = torch::randn({3, 3, 16, 16});
  for (BlockMode mode : {BlockMode::kOptimized, BlockMode::kFastest}) {
    EngineOptions options;
    options.mode = mode;
    options.backend = Backend::kXnnpack;
    options.timing_repeats = 3;
    options.fuse_after = 1;
    AdaptiveEngine engine(trained_like_net(), options);
    EXPECT_EQ(engine.startup().backend, Form::kXnnpack);
    EXPECT_EQ(engine.startup().backend_rule, FormRule::kMode);
    EXPECT_EQ(engine.startup().trunk_xnnpack_ms, 0);  // not timed
    for (const BlockReport& b : engine.blocks()) {
      EXPECT_EQ(b.form, Form::kXnnpack) << b.name;
      EXPECT_TRUE(b.optimized) << b.name;
      EXPECT_FALSE(b.mkldnn_in) << b.name;
      EXPECT_EQ(b.optimized_ms, 0) << b.name;  // oneDNN's form not built
      EXPECT_EQ(b.xnnpack_ms > 0, mode == BlockMode::kFastest) << b.name;
    }
    for (size_t i = 0; i < engine.variants().size(); ++i) {
      auto want = eager_logits(reference, x, engine.variants()[i]);
      EXPECT_TRUE(torch::allclose(engine.infer(x, i).logits, want, 1e-4, 1e-5))
          << to_string(mode) << " "
          << engine.space().to_string(engine.variants()[i]);
      // Once more, now fused (fuse_after 1): the stitched XNNPACK graphs.
      engine.infer(x, i);
      engine.wait_for_fusions();
      EXPECT_TRUE(torch::allclose(engine.infer(x, i).logits, want, 1e-4, 1e-5))
          << to_string(mode) << " fused "
          << engine.space().to_string(engine.variants()[i]);
    }
    ASSERT_GE(engine.fused_variants().size(), 3u);
    for (const FusedReport& f : engine.fused_variants()) {
      EXPECT_EQ(f.extra_bytes, 0) << f.id;
      EXPECT_LE(f.max_abs_diff, 1e-5) << f.id;
    }
    // The caller's threads come back as they were.
    EXPECT_EQ(at::get_num_threads(), 2);
    EXPECT_TRUE(pthreadpool_enabled());
  }
}

TEST(AdaptiveEngine, OneDnnBackendBuildsNoXnnpackForms) {
  EngineOptions options;
  options.timing_repeats = 3;
  options.backend = Backend::kOneDnn;
  AdaptiveEngine engine(trained_like_net(), options);
  EXPECT_EQ(engine.startup().backend, Form::kOptimized);
  EXPECT_EQ(engine.startup().backend_rule, FormRule::kMode);
  for (const BlockReport& b : engine.blocks()) {
    EXPECT_NE(b.form, Form::kXnnpack) << b.name;
    EXPECT_EQ(b.xnnpack_ms, 0) << b.name;
  }
}

TEST(AdaptiveEngine, AutoBackendIsTimedOnTheTrunkAndStoredWithTheForms) {
  TwoThreads two;
  TempDir dir;
  const EngineOptions options = cached_options(dir.path());
  AdaptiveEngine first(trained_like_net(), options);
  const StartupReport& s = first.startup();
  EXPECT_TRUE(s.backend_rule == FormRule::kSignificant ||
              s.backend_rule == FormRule::kDefault)
      << to_string(s.backend_rule);
  EXPECT_GT(s.trunk_onednn_ms, 0);
  EXPECT_GT(s.trunk_xnnpack_ms, 0);
  for (const BlockReport& b : first.blocks()) {
    // One backend for every optimised block.
    if (b.form != Form::kEager) {
      EXPECT_EQ(b.form == Form::kXnnpack, s.backend == Form::kXnnpack)
          << b.name;
    }
  }
  // A cached start takes the backend from the stored forms and times
  // nothing.
  AdaptiveEngine second(trained_like_net(), options);
  EXPECT_EQ(second.startup().cache, FormCacheStatus::kHit);
  EXPECT_EQ(second.startup().backend, s.backend);
  EXPECT_EQ(second.startup().backend_rule, FormRule::kCache);
  EXPECT_EQ(second.startup().trunk_onednn_ms, 0);
  ASSERT_EQ(second.blocks().size(), first.blocks().size());
  for (size_t i = 0; i < first.blocks().size(); ++i) {
    EXPECT_EQ(second.blocks()[i].form, first.blocks()[i].form)
        << first.blocks()[i].name;
  }
  // Another backend setting is another cache file: decided afresh.
  EngineOptions onednn = options;
  onednn.backend = Backend::kOneDnn;
  AdaptiveEngine third(trained_like_net(), onednn);
  EXPECT_NE(third.startup().cache, FormCacheStatus::kHit);
  EXPECT_EQ(third.startup().backend, Form::kOptimized);
}

}  // namespace
}  // namespace adascale::runtime
