// Batch-1 latency per exit of a bundle's trunk variants (issues 6, 21): the
// adaptive engine (per-block traced, BN-folded, MKL-DNN blocks, the trunk's
// variants fused into one graph each), in float and with int8 blocks,
// against eager LibTorch on the same weights, the same variant optimised as
// one graph in C++, and Python PyTorch on the same weights, eager and with
// torch.jit.optimize_for_inference, run from here in the same session
// (engine_latency.py, a child process whose rounds alternate with ours).
// Rounds interleave all measurements, Python's included, so the machine's
// slow drift hits every column alike. It also reports the engine's start-up
// cold (no form cache: every block timed) and cached (forms read from the
// bundle's engine_cache), which rule chose each block's form, what the
// fused forms cost in memory, and each form's largest logit difference
// against eager. With the bundle's dataset present it scores each exit's
// top-1 on the test split in every form. --try-passes times other
// whole-graph recipes LibTorch 1.13 offers beside the engine.
//
//   build/bin/bench_engine --bundle B [--threads 2] [--repeats 400]
//                          [--rounds 8] [--calibration 256] [--accuracy 2000]
//                          [--no-int8] [--backend auto|onednn|xnnpack]
//                          [--skip-python] [--blocks]
//                          [--form-cache DIR] [--max-fused 16]
//                          [--try-passes] [--json]

#include <fmt/format.h>

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "core/error.h"
#include "core/execution.h"
#include "core/order_statistics.h"
#include "core/timing.h"
#include "datasets/normalized_images.h"
#include "experiments/benchmarks/coprocess.h"
#include "runtime/adaptive_engine.h"
#include "runtime/bundle.h"
#include "runtime/graph_fusion.h"
#include "runtime/intra_op_threads.h"
#include "runtime/module_tracer.h"

namespace {

using namespace adascale;
namespace fs = std::filesystem;

struct ExitRow {
  int exit = 0;
  std::string variant;
  size_t index = 0;
  bool fused = false;
  std::vector<double> eager_ms, engine_ms, chained_ms, whole_ms, int8_ms;
  double eager_top1 = 0, engine_top1 = 0, int8_top1 = 0;
  double int8_agreement = 0;  // share of images where int8 and float agree
  double python_eager_ms = 0, python_optimized_ms = 0, python_mobile_ms = 0;
  double python_diff = 0;
  // Largest |logit − eager logit| over a batch of random inputs.
  double engine_diff = 0, chained_diff = 0, whole_diff = 0;
  // --try-passes: recipe → per-round medians.
  std::map<std::string, std::vector<double>> recipe_ms;
  std::map<std::string, double> recipe_diff;
};

// 0 for a measurement that was not taken.
double median(std::vector<double> v) {
  return v.empty() ? 0 : core::median(std::move(v));
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to_dense() - b.to_dense()).abs().max().item<double>();
}

// Predicted classes of `classify` over `images`, in batches of 100.
torch::Tensor predictions(
    const torch::Tensor& images,
    const std::function<torch::Tensor(const torch::Tensor&)>& classify) {
  std::vector<torch::Tensor> out;
  for (const auto& batch : images.split(100)) {
    out.push_back(classify(batch).argmax(1));
  }
  return torch::cat(out);
}

// Traced trunk variants and their architecture for engine_latency.py.
void write_python_inputs(operators::ElasticNet& net,
                         const std::vector<ExitRow>& rows,
                         const std::vector<core::Variant>& variants,
                         const fs::path& dir) {
  const core::ModelSpec& spec = net->spec();
  torch::Tensor example =
      torch::zeros({1, spec.in_channels, spec.resolution, spec.resolution});
  nlohmann::json arch;
  arch["in_channels"] = spec.in_channels;
  arch["resolution"] = spec.resolution;
  arch["stem"] = {{"stride", spec.stem.stride}, {"act", spec.stem.act}};
  const core::Variant& deepest = variants[rows.back().index];
  for (size_t s = 0; s < rows.size(); ++s) {
    const core::StageSpec& stage = spec.stages[s];
    const core::CandidateSpec& cand =
        stage.candidates[size_t(deepest.choices[s])];
    arch["stages"].push_back({{"name", cand.name},
                              {"type", cand.op.type},
                              {"stride", stage.stride},
                              {"depth", cand.depth},
                              {"act", cand.op.act}});
  }
  std::ofstream(dir / "arch.json") << arch.dump(2);
  for (const ExitRow& row : rows) {
    const core::Variant& v = variants[row.index];
    runtime::trace_module(
        *net, [&](const torch::Tensor& x) { return net->forward(x, v); },
        example, fmt::format("exit{}", row.exit))
        .save((dir / fmt::format("exit{}.pt", row.exit)).string());
  }
}

// An engine built from a fresh copy of the bundle's net, and how long it
// took until its first inference was done (the start-up a user waits for).
struct Started {
  std::unique_ptr<runtime::AdaptiveEngine> engine;
  double load_s = 0;    // verifying and loading the bundle
  double build_s = 0;   // the engine's constructor
  double first_ms = 0;  // the first inference after it
  double ready_s() const { return load_s + build_s + first_ms / 1e3; }
};

Started start_engine(const std::string& bundle,
                     const runtime::EngineOptions& options,
                     const torch::Tensor& x, size_t first_variant) {
  Started s;
  core::Stopwatch clock;
  operators::ElasticNet net = runtime::load_bundle(bundle).net;
  s.load_s = clock.seconds();
  clock.restart();
  s.engine = std::make_unique<runtime::AdaptiveEngine>(net, options);
  s.build_s = clock.seconds();
  clock.restart();
  s.engine->infer(x, first_variant);
  s.first_ms = clock.milliseconds();
  return s;
}

nlohmann::json startup_json(const Started& s) {
  const runtime::StartupReport& r = s.engine->startup();
  return {{"ready_s", s.ready_s()},
          {"bundle_load_s", s.load_s},
          {"engine_build_s", s.build_s},
          {"timing_s", r.timing_s},
          {"fusing_s", r.fusing_s},
          {"first_inference_ms", s.first_ms},
          {"cache", runtime::to_string(r.cache)},
          {"cache_path", r.cache_path},
          {"cache_written", r.cache_written}};
}

// Whole-variant graphs built other ways than the engine's, for
// --try-passes. Each is checked against eager before it is timed.
std::vector<std::string> recipes() {
  return {"frozen_no_mkldnn", "channels_last_frozen", "legacy_executor"};
}

torch::jit::Module build_recipe(const std::string& recipe,
                                operators::ElasticNet& net,
                                const core::Variant& v, const torch::Tensor& x,
                                bool& channels_last_input) {
  channels_last_input = false;
  torch::jit::Module traced = runtime::trace_module(
      *net, [&](const torch::Tensor& t) { return net->forward(t, v); }, x,
      "recipe");
  if (recipe == "legacy_executor") {
    // The same optimised graph, run by the legacy (non-profiling) graph
    // executor: the executor is chosen when a function first runs.
    return runtime::optimize_for_inference(traced);
  }
  torch::jit::Module copy = traced.clone();
  copy.eval();
  // freeze() also runs OptimizeFrozenGraph: BN folded, no MKL-DNN.
  torch::jit::Module frozen = torch::jit::freeze(copy);
  if (recipe == "channels_last_frozen") {
    // NHWC weights and input: oneDNN's channels-last convolutions through
    // ATen, without the MKL-DNN opaque layout.
    auto graph = frozen.get_method("forward").graph();
    for (torch::jit::Node* node : graph->nodes()) {
      if (node->kind() != c10::prim::Constant ||
          !node->hasAttribute(torch::jit::attr::value) ||
          node->kindOf(torch::jit::attr::value) !=
              torch::jit::AttributeKind::t) {
        continue;
      }
      const at::Tensor& t = node->t(torch::jit::attr::value);
      if (t.dim() == 4) {
        node->t_(torch::jit::attr::value,
                 t.contiguous(at::MemoryFormat::ChannelsLast));
      }
    }
    channels_last_input = true;
  }
  return frozen;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Batch-1 latency: adaptive engine vs eager LibTorch vs Python"};
  std::string bundle, form_cache;
  int threads = 2, repeats = 400, rounds = 8, max_fused = 16;
  bool json = false, skip_python = false, show_blocks = false, no_int8 = false;
  std::string backend = "auto";
  bool try_passes = false;
  int64_t calibration = 256, accuracy_images = 2000;
  std::string python = "/usr/bin/python3", data;
  app.add_option("--bundle", bundle, "exported bundle directory")->required();
  app.add_option("--threads", threads, "intra-op threads (both sides)");
  app.add_option("--repeats", repeats, "timed runs per measurement, in all");
  app.add_option("--rounds", rounds,
                 "interleaved rounds the repeats split into");
  app.add_option("--python", python, "Python with torch");
  app.add_flag("--skip-python", skip_python, "C++ side only");
  app.add_flag("--json", json, "one JSON object on stdout");
  app.add_flag("--blocks", show_blocks,
               "print each block's times, form and the rule that chose it");
  app.add_flag("--no-int8", no_int8, "skip the int8 engine");
  app.add_option("--backend", backend,
                 "the engine's optimised blocks: auto (timed), onednn or "
                 "xnnpack")
      ->check(CLI::IsMember({"auto", "onednn", "xnnpack"}));
  app.add_option("--calibration", calibration,
                 "held-out images that set the int8 ranges");
  app.add_option("--accuracy", accuracy_images,
                 "test images scored per exit and form (0 = skip)");
  app.add_option("--data", data,
                 "dataset root (default: the bundle's dataset.root)");
  app.add_option("--form-cache", form_cache,
                 "form cache of the timed engine (default: "
                 "<bundle>/engine_cache)");
  app.add_option("--max-fused", max_fused,
                 "fused variants the engine may hold (0: fusion off)");
  app.add_flag("--try-passes", try_passes,
               "also time other whole-graph recipes (frozen without MKL-DNN, "
               "channels-last, legacy executor)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (repeats < 1 || rounds < 1) {
      throw UsageError(
          fmt::format("--repeats and --rounds must be ≥ 1, got {} and {}",
                      repeats, rounds));
    }
    core::setup_execution(std::to_string(threads), "cpu", 0);
    if (form_cache.empty()) form_cache = runtime::form_cache_dir(bundle);
    runtime::LoadedBundle eager_bundle = runtime::load_bundle(bundle);
    operators::ElasticNet eager = eager_bundle.net;
    eager->eval();
    const core::ModelSpec& spec = eager->spec();
    torch::manual_seed(0);
    torch::Tensor x =
        torch::randn({1, spec.in_channels, spec.resolution, spec.resolution});

    std::vector<ExitRow> rows;
    {
      const core::VariantSpace space(spec);
      const std::vector<core::Variant> all = space.all();
      for (size_t k = 0; k < eager_bundle.trunk.size(); ++k) {
        ExitRow row;
        row.exit = int(k) + 1;
        core::Variant v = space.trunk(int(k));
        row.index = size_t(std::find(all.begin(), all.end(), v) - all.begin());
        row.variant = space.to_string(v);
        rows.push_back(row);
      }
    }

    runtime::EngineOptions options;
    options.max_fused_variants = max_fused;
    options.backend = runtime::parse_backend(backend);
    // Cold: no stored forms, every block timed (a fresh cache directory).
    const fs::path cold_dir =
        fs::temp_directory_path() /
        fmt::format("adascale_bench_engine_cache_{}", getpid());
    fs::remove_all(cold_dir);
    options.form_cache_dir = cold_dir.string();
    Started cold = start_engine(bundle, options, x, rows.back().index);
    nlohmann::json cold_json = startup_json(cold);
    std::vector<runtime::BlockReport> cold_blocks = cold.engine->blocks();
    const runtime::StartupReport cold_backend = cold.engine->startup();
    cold.engine.reset();
    fs::remove_all(cold_dir);
    // Cached: the bundle's own form cache, as the demo starts; a first run
    // on this machine fills it and starts again to measure a cached start.
    options.form_cache_dir = form_cache;
    Started cached = start_engine(bundle, options, x, rows.back().index);
    nlohmann::json first_cached_json = startup_json(cached);
    if (cached.engine->startup().cache != runtime::FormCacheStatus::kHit) {
      cached = start_engine(bundle, options, x, rows.back().index);
    }
    runtime::AdaptiveEngine& engine = *cached.engine;
    for (ExitRow& row : rows) row.fused = engine.fused(row.index);

    auto images_of = [&](datasets::ImageSplit split, int64_t n) {
      core::DatasetConfig dataset = eager_bundle.manifest.dataset;
      if (!data.empty()) dataset.root = data;
      return datasets::load_normalized_images(
          dataset, eager_bundle.normalization, spec.in_channels,
          spec.resolution, split, n);
    };
    std::optional<runtime::AdaptiveEngine> int8;
    double int8_build_s = 0;
    if (!no_int8) {
      runtime::EngineOptions int8_options;
      int8_options.precision = runtime::Precision::kInt8;
      int8_options.calibration =
          images_of(datasets::ImageSplit::kCalibration, calibration).images;
      core::Stopwatch clock;
      int8.emplace(runtime::load_bundle(bundle).net, int8_options);
      int8_build_s = clock.seconds();
    }

    // The per-block design's cost: each variant also traced and optimised
    // whole, as one graph (what a single-variant deployment would run; it
    // holds a second copy of the weights).
    std::vector<torch::jit::Module> whole;
    for (const ExitRow& row : rows) {
      const core::Variant& v = engine.variants()[row.index];
      whole.push_back(runtime::optimize_for_inference(runtime::trace_module(
          *eager, [&](const torch::Tensor& t) { return eager->forward(t, v); },
          x, "whole")));
    }
    // Logit differences against eager on a batch of random inputs.
    {
      torch::Tensor batch =
          torch::randn({8, spec.in_channels, spec.resolution, spec.resolution});
      c10::InferenceMode inference;
      for (size_t i = 0; i < rows.size(); ++i) {
        ExitRow& row = rows[i];
        const core::Variant& v = engine.variants()[row.index];
        torch::Tensor want = eager->forward(batch, v);
        row.engine_diff =
            max_abs_diff(engine.infer(batch, row.index).logits, want);
        row.chained_diff =
            max_abs_diff(engine.infer_chained(batch, row.index), want);
        row.whole_diff =
            max_abs_diff(whole[i].forward({batch}).toTensor(), want);
      }
    }

    // Python's rounds interleave with ours (engine_latency.py --serve): a
    // round of every C++ measurement, then a round of Python's, so a drift
    // of the machine's speed lands on both sides alike.
    fs::path py_dir;
    std::unique_ptr<bench::Coprocess> py;
    std::vector<std::vector<double>> py_eager(rows.size()),
        py_optimized(rows.size()), py_mobile(rows.size());
    if (!skip_python) {
      py_dir = fs::temp_directory_path() /
               fmt::format("adascale_bench_engine_{}", getpid());
      fs::create_directories(py_dir);
      write_python_inputs(eager, rows, engine.variants(), py_dir);
      const std::string src =
          fs::path(__FILE__).parent_path() / "engine_latency.py";
      py = std::make_unique<bench::Coprocess>(fmt::format(
          "{} {} --dir {} --threads {} --repeats {} --rounds {} --serve",
          python, src, py_dir.string(), threads, repeats, rounds));
      const nlohmann::json checks = nlohmann::json::parse(py->receive());
      for (const auto& e : checks.at("exits")) {
        rows.at(size_t(e.at("exit").get<int>() - 1)).python_diff =
            e.at("max_abs_diff_eager");
      }
    }
    const int per_round = std::max(3, repeats / rounds);
    {
      c10::InferenceMode inference;
      for (int r = 0; r < rounds; ++r) {
        if (py) {
          py->send("round");
          const nlohmann::json round = nlohmann::json::parse(py->receive());
          for (const auto& e : round.at("exits")) {
            const size_t i = size_t(e.at("exit").get<int>() - 1);
            py_eager.at(i).push_back(e.at("eager_ms"));
            py_optimized.at(i).push_back(e.at("optimized_ms"));
            py_mobile.at(i).push_back(e.at("mobile_ms"));
          }
        }
        for (ExitRow& row : rows) {
          const core::Variant& v = engine.variants()[row.index];
          // The engine runs each variant at its own thread count (often
          // fewer for small ones); everything else runs at `threads`.
          runtime::set_intra_op_threads(threads);
          row.eager_ms.push_back(
              core::measure_latency([&] { eager->forward(x, v); }, 5, per_round)
                  .median_ms);
          torch::jit::Module& w = whole[size_t(row.exit - 1)];
          row.whole_ms.push_back(
              core::measure_latency([&] { w.forward({x}); }, 5, per_round)
                  .median_ms);
          row.engine_ms.push_back(
              core::measure_latency([&] { engine.infer(x, row.index); }, 5,
                                    per_round)
                  .median_ms);
          runtime::set_intra_op_threads(threads);
          row.chained_ms.push_back(
              core::measure_latency([&] { engine.infer_chained(x, row.index); },
                                    5, per_round)
                  .median_ms);
          if (int8) {
            row.int8_ms.push_back(
                core::measure_latency([&] { int8->infer(x, row.index); }, 5,
                                      per_round)
                    .median_ms);
          }
        }
      }
    }

    if (try_passes) {
      // Each recipe timed in its own rounds beside the engine, so its ratio
      // to the engine is measured under the same conditions.
      for (const std::string& recipe : recipes()) {
        const bool legacy = recipe == "legacy_executor";
        const bool profiling = torch::jit::getProfilingMode();
        const bool executor = torch::jit::getExecutorMode();
        if (legacy) {
          torch::jit::getProfilingMode() = false;
          torch::jit::getExecutorMode() = false;
        }
        std::vector<torch::jit::Module> built;
        std::vector<bool> nhwc;
        for (ExitRow& row : rows) {
          bool channels_last = false;
          built.push_back(build_recipe(
              recipe, eager, engine.variants()[row.index], x, channels_last));
          nhwc.push_back(channels_last);
        }
        c10::InferenceMode inference;
        for (size_t i = 0; i < rows.size(); ++i) {
          ExitRow& row = rows[i];
          torch::Tensor in =
              nhwc[i] ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
          torch::Tensor want = eager->forward(x, engine.variants()[row.index]);
          row.recipe_diff[recipe] =
              max_abs_diff(built[i].forward({in}).toTensor(), want);
        }
        for (int r = 0; r < rounds; ++r) {
          for (size_t i = 0; i < rows.size(); ++i) {
            torch::Tensor in =
                nhwc[i] ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
            torch::jit::Module& m = built[i];
            rows[i].recipe_ms[recipe].push_back(
                core::measure_latency([&] { m.forward({in}); }, 5, per_round)
                    .median_ms);
            rows[i].recipe_ms[recipe + "/engine"].push_back(
                core::measure_latency([&] { engine.infer(x, rows[i].index); },
                                      5, per_round)
                    .median_ms);
          }
        }
        torch::jit::getProfilingMode() = profiling;
        torch::jit::getExecutorMode() = executor;
      }
    }

    if (accuracy_images > 0) {
      datasets::NormalizedImages test =
          images_of(datasets::ImageSplit::kTest, accuracy_images);
      torch::Tensor labels = torch::tensor(test.labels);
      c10::InferenceMode inference;
      for (ExitRow& row : rows) {
        const core::Variant& v = engine.variants()[row.index];
        auto top1 = [&](const torch::Tensor& p) {
          return p.eq(labels).to(torch::kDouble).mean().item<double>();
        };
        row.eager_top1 =
            top1(predictions(test.images, [&](const torch::Tensor& b) {
              return eager->forward(b, v);
            }));
        torch::Tensor fp32 =
            predictions(test.images, [&](const torch::Tensor& b) {
              return engine.infer(b, row.index).logits;
            });
        row.engine_top1 = top1(fp32);
        if (int8) {
          torch::Tensor q =
              predictions(test.images, [&](const torch::Tensor& b) {
                return int8->infer(b, row.index).logits;
              });
          row.int8_top1 = top1(q);
          row.int8_agreement =
              q.eq(fp32).to(torch::kDouble).mean().item<double>();
        }
      }
    }

    if (py) {
      if (const int status = py->finish(); status != 0) {
        throw IoError(
            fmt::format("engine_latency.py exited with status {}", status));
      }
      fs::remove_all(py_dir);
      for (size_t i = 0; i < rows.size(); ++i) {
        rows[i].python_eager_ms = median(py_eager[i]);
        rows[i].python_optimized_ms = median(py_optimized[i]);
        rows[i].python_mobile_ms = median(py_mobile[i]);
      }
    }

    int optimized_blocks = 0, int8_blocks = 0;
    for (const auto& b : engine.blocks()) optimized_blocks += b.optimized;
    if (int8) {
      for (const auto& b : int8->blocks()) int8_blocks += b.int8;
    }
    int64_t eager_bytes = 0;
    for (const auto& t : eager->parameters()) eager_bytes += t.nbytes();
    for (const auto& t : eager->buffers()) eager_bytes += t.nbytes();
    int64_t whole_bytes = 0;
    for (const auto& w : whole) whole_bytes += runtime::graph_constant_bytes(w);

    auto rules_json = [](const std::vector<runtime::BlockReport>& blocks) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& b : blocks) {
        j.push_back({{"block", b.name},
                     {"form", runtime::to_string(b.form)},
                     {"rule", runtime::to_string(b.rule)},
                     {"decided_by", runtime::to_string(b.decided_by)},
                     {"eager_ms", b.eager_ms},
                     {"optimized_ms", b.optimized_ms},
                     {"int8_ms", b.int8_ms},
                     {"xnnpack_ms", b.xnnpack_ms},
                     {"p_value", b.p_value},
                     {"gain", b.gain}});
      }
      return j;
    };
    nlohmann::json report;
    report["bundle"] = bundle;
    report["threads"] = threads;
    report["startup_cold"] = cold_json;
    report["startup_cached"] = startup_json(cached);
    report["startup_first_with_bundle_cache"] = first_cached_json;
    report["engine_build_s"] = cached.build_s;
    report["backend_option"] = backend;
    report["backend"] = runtime::to_string(engine.startup().backend);
    report["backend_rule"] = runtime::to_string(engine.startup().backend_rule);
    report["backend_cold"] = runtime::to_string(cold_backend.backend);
    report["backend_cold_rule"] = runtime::to_string(cold_backend.backend_rule);
    report["backend_cold_p_value"] = cold_backend.backend_p_value;
    report["trunk_onednn_ms_cold"] = cold_backend.trunk_onednn_ms;
    report["trunk_xnnpack_ms_cold"] = cold_backend.trunk_xnnpack_ms;
    report["blocks"] = engine.blocks().size();
    report["optimized_blocks"] = optimized_blocks;
    report["engine_weight_bytes"] = engine.weight_bytes();
    report["eager_weight_bytes"] = eager_bytes;
    report["whole_graphs_weight_bytes"] = whole_bytes;
    report["block_forms_cold"] = rules_json(cold_blocks);
    report["block_forms"] = rules_json(engine.blocks());
    int64_t fused_extra = 0;
    for (const auto& f : engine.fused_variants()) {
      report["fused"].push_back({{"variant", f.id},
                                 {"ahead", f.ahead},
                                 {"build_ms", f.build_ms},
                                 {"extra_weight_bytes", f.extra_bytes},
                                 {"max_abs_diff_vs_chain", f.max_abs_diff}});
      fused_extra += f.extra_bytes;
    }
    report["fused_extra_weight_bytes"] = fused_extra;
    report["max_fused_variants"] = max_fused;
    if (int8) {
      report["int8_engine_build_s"] = int8_build_s;
      report["int8_blocks"] = int8_blocks;
      report["int8_engine_weight_bytes"] = int8->weight_bytes();
      report["calibration_images"] = calibration;
    }
    report["accuracy_images"] = accuracy_images;
    for (const ExitRow& row : rows) {
      nlohmann::json j;
      j["exit"] = row.exit;
      j["variant"] = row.variant;
      j["fused"] = row.fused;
      j["threads"] = engine.threads_of(row.index);
      j["cpp_eager_ms"] = median(row.eager_ms);
      j["engine_ms"] = median(row.engine_ms);
      j["engine_chained_ms"] = median(row.chained_ms);
      j["cpp_whole_graph_ms"] = median(row.whole_ms);
      j["engine_speedup_vs_cpp_eager"] =
          median(row.eager_ms) / median(row.engine_ms);
      j["max_abs_diff_vs_eager"] = {{"engine", row.engine_diff},
                                    {"engine_chained", row.chained_diff},
                                    {"cpp_whole", row.whole_diff}};
      if (int8) {
        j["int8_engine_ms"] = median(row.int8_ms);
        j["int8_speedup_vs_cpp_eager"] =
            median(row.eager_ms) / median(row.int8_ms);
      }
      if (accuracy_images > 0) {
        j["cpp_eager_top1"] = row.eager_top1;
        j["engine_top1"] = row.engine_top1;
        if (int8) {
          j["int8_top1"] = row.int8_top1;
          j["int8_agrees_with_float"] = row.int8_agreement;
        }
      }
      if (!skip_python) {
        j["python_eager_ms"] = row.python_eager_ms;
        j["python_optimized_ms"] = row.python_optimized_ms;
        j["python_mobile_ms"] = row.python_mobile_ms;
        j["engine_speedup_vs_python_mobile"] =
            row.python_mobile_ms / median(row.engine_ms);
        j["engine_speedup_vs_python_eager"] =
            row.python_eager_ms / median(row.engine_ms);
        j["engine_speedup_vs_python_optimized"] =
            row.python_optimized_ms / median(row.engine_ms);
        if (int8) {
          j["int8_speedup_vs_python_optimized"] =
              row.python_optimized_ms / median(row.int8_ms);
        }
        j["python_port_max_abs_diff"] = row.python_diff;
      }
      for (const auto& [recipe, ms] : row.recipe_ms) {
        j["recipes"][recipe] = median(ms);
      }
      for (const auto& [recipe, d] : row.recipe_diff) {
        j["recipes"][recipe + "/max_abs_diff_vs_eager"] = d;
      }
      report["exits"].push_back(j);
    }
    if (json) {
      fmt::print("{}\n", report.dump(2));
      return 0;
    }
    auto count_rules = [](const std::vector<runtime::BlockReport>& blocks) {
      std::map<std::string, int> n;
      for (const auto& b : blocks) {
        ++n[runtime::to_string(b.form) + " by " + runtime::to_string(b.rule)];
      }
      std::vector<std::string> parts;
      for (const auto& [k, v] : n) parts.push_back(fmt::format("{} {}", v, k));
      return fmt::format("{}", fmt::join(parts, ", "));
    };
    auto startup_line = [](const char* what, const nlohmann::json& j) {
      fmt::print(
          "start-up {:<7} {:6.2f} s to the first inference (bundle {:.2f} s, "
          "engine {:.2f} s of which timing {:.2f} s and fusing {:.2f} s, "
          "first inference {:.1f} ms; form cache {})\n",
          what, j["ready_s"].get<double>(), j["bundle_load_s"].get<double>(),
          j["engine_build_s"].get<double>(), j["timing_s"].get<double>(),
          j["fusing_s"].get<double>(), j["first_inference_ms"].get<double>(),
          j["cache"].get<std::string>());
    };
    fmt::print(
        "engine: {} blocks, {} optimised; weights {:.2f} MB (eager net {:.2f} "
        "MB; the {} whole-variant graphs would hold {:.2f} MB more); {} "
        "threads\n",
        engine.blocks().size(), optimized_blocks,
        double(engine.weight_bytes()) / 1e6, double(eager_bytes) / 1e6,
        whole.size(), double(whole_bytes) / 1e6, threads);
    startup_line("cold", cold_json);
    startup_line("cached", report["startup_cached"]);
    fmt::print(
        "backend (--backend {}): cold start {} by {} (trunk {:.3f} ms on "
        "oneDNN, {:.3f} ms on XNNPACK, p {:.2g}); timed engine {} by {}\n",
        backend, runtime::to_string(cold_backend.backend),
        runtime::to_string(cold_backend.backend_rule),
        cold_backend.trunk_onednn_ms, cold_backend.trunk_xnnpack_ms,
        cold_backend.backend_p_value,
        runtime::to_string(engine.startup().backend),
        runtime::to_string(engine.startup().backend_rule));
    fmt::print("forms, cold start: {}\n", count_rules(cold_blocks));
    fmt::print("forms, timed engine: {} (cache {})\n",
               count_rules(engine.blocks()), form_cache);
    fmt::print(
        "fused: {} variants (bound {}), {:.0f} bytes of weights not shared "
        "with the blocks:",
        engine.fused_variants().size(), max_fused, double(fused_extra));
    for (const auto& f : engine.fused_variants()) fmt::print(" {}", f.id);
    fmt::print("\n");
    if (int8) {
      fmt::print(
          "int8 engine: {} of {} blocks int8 ({} calibration images), built "
          "in {:.2f} s; weights {:.2f} MB\n",
          int8_blocks, int8->blocks().size(), calibration, int8_build_s,
          double(int8->weight_bytes()) / 1e6);
    }
    if (show_blocks) {
      const std::vector<int>& counts = engine.thread_counts();
      fmt::print(
          "\n{:<22} {:>9} {:>9} {:>9} {:>9} {:>10} {:<12} {:>9} {:>7}  {}\n",
          "block", "eager", "optim.", "int8", "xnnpack", "form", "rule (cold)",
          "p", "gain",
          counts.size() > 1 ? fmt::format("running form at {} threads",
                                          fmt::join(counts, "/"))
                            : std::string());
      for (size_t i = 0; i < cold_blocks.size(); ++i) {
        const auto& b = cold_blocks[i];
        fmt::print(
            "{:<22} {:>7.3f}ms {:>7.3f}ms {:>7.3f}ms {:>7.3f}ms {:>10} {:<12} "
            "{:>9.2g} {:>6.1f}%  {:.3f}  now: {} by {}\n",
            b.name, b.eager_ms, b.optimized_ms, b.int8_ms, b.xnnpack_ms,
            runtime::to_string(b.form), runtime::to_string(b.rule), b.p_value,
            100 * b.gain, fmt::join(engine.blocks()[i].threads_ms, "/"),
            runtime::to_string(engine.blocks()[i].form),
            runtime::to_string(engine.blocks()[i].rule));
      }
    }
    auto cell = [](const nlohmann::json& j, const char* key, const char* f) {
      return j.contains(key)
                 ? fmt::format(fmt::runtime(f), j[key].get<double>())
                 : std::string("-");
    };
    fmt::print(
        "\n{:<5} {:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} "
        "{:>8} {:>8} {:>8} {:>9}\n",
        "exit", "variant", "C++ eager", "C++ whole", "engine", "chained",
        "int8", "Py eager", "Py optim", "Py mobile", "vs eager", "vs Py o.",
        "vs Py m.", "max |d|");
    for (const auto& j : report["exits"]) {
      fmt::print(
          "{:<5} {:<28} {:>7.3f}ms {:>7.3f}ms {:>7.3f}ms {:>7.3f}ms {:>9} "
          "{:>9} {:>9} {:>9} {:>7.2f}x {:>8} {:>8} {:>9.2g}\n",
          j["exit"].get<int>(),
          j["variant"].get<std::string>() +
              (j["fused"].get<bool>() ? " (fused" : " (") +
              fmt::format("{} thr)", j["threads"].get<int>()),
          j["cpp_eager_ms"].get<double>(),
          j["cpp_whole_graph_ms"].get<double>(), j["engine_ms"].get<double>(),
          j["engine_chained_ms"].get<double>(),
          cell(j, "int8_engine_ms", "{:.3f}ms"),
          cell(j, "python_eager_ms", "{:.3f}ms"),
          cell(j, "python_optimized_ms", "{:.3f}ms"),
          cell(j, "python_mobile_ms", "{:.3f}ms"),
          j["engine_speedup_vs_cpp_eager"].get<double>(),
          cell(j, "engine_speedup_vs_python_optimized", "{:.2f}x"),
          cell(j, "engine_speedup_vs_python_mobile", "{:.2f}x"),
          j["max_abs_diff_vs_eager"]["engine"].get<double>());
    }
    fmt::print(
        "(vs eager: C++ eager / engine, target ≥ 2; vs Py o.: Python "
        "optimize_for_inference / engine, target ≥ 1; vs Py m.: Python "
        "optimize_for_mobile on a channels-last input / engine; max |d|: "
        "engine logits "
        "against eager, target ≤ 1e-5; chained |d| {:.2g}, C++ whole |d| "
        "{:.2g} at most)\n",
        std::accumulate(rows.begin(), rows.end(), 0.0,
                        [](double m, const ExitRow& r) {
                          return std::max(m, r.chained_diff);
                        }),
        std::accumulate(rows.begin(), rows.end(), 0.0,
                        [](double m, const ExitRow& r) {
                          return std::max(m, r.whole_diff);
                        }));
    if (try_passes) {
      fmt::print(
          "\nwhole-graph recipes, each beside the engine in its own "
          "rounds (ms; recipe / engine)\n");
      for (const ExitRow& row : rows) {
        fmt::print("exit {}:", row.exit);
        for (const std::string& recipe : recipes()) {
          const double ms = median(row.recipe_ms.at(recipe));
          const double eng = median(row.recipe_ms.at(recipe + "/engine"));
          fmt::print("  {} {:.3f} vs {:.3f} ({:.2f}x, |d| {:.2g})", recipe, ms,
                     eng, ms / eng, row.recipe_diff.at(recipe));
        }
        fmt::print("\n");
      }
    }
    if (accuracy_images > 0) {
      fmt::print(
          "\ntop-1 on {} test images\n{:<5} {:>10} {:>10} {:>10} {:>14}\n",
          accuracy_images, "exit", "C++ eager", "engine", "int8",
          "int8 = float");
      for (const auto& j : report["exits"]) {
        fmt::print(
            "{:<5} {:>9.2f}% {:>9.2f}% {:>10} {:>14}\n", j["exit"].get<int>(),
            100 * j["cpp_eager_top1"].get<double>(),
            100 * j["engine_top1"].get<double>(),
            j.contains("int8_top1")
                ? fmt::format("{:.2f}%", 100 * j["int8_top1"].get<double>())
                : "-",
            j.contains("int8_agrees_with_float")
                ? fmt::format("{:.2f}%",
                              100 * j["int8_agrees_with_float"].get<double>())
                : "-");
      }
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_engine: {}\n", e.what());
    return 1;
  }
}
