// Batch-1 latency per exit of a bundle's trunk variants (issue 6): the
// adaptive engine (per-block traced, BN-folded, MKL-DNN blocks), in float
// and with int8 blocks, against eager LibTorch on the same weights, and
// against Python PyTorch on the same weights, eager and with
// torch.jit.optimize_for_inference, run from here in the same session
// (engine_latency.py). Rounds interleave all measurements so the machine's
// slow drift hits every column alike. With the bundle's dataset present it
// also scores each exit's top-1 on the test split in all three forms, so
// int8's cost in accuracy is measured beside its gain in time.
//
//   build/bin/bench_engine --bundle B [--threads 2] [--repeats 400]
//                          [--rounds 8] [--calibration 256] [--accuracy 2000]
//                          [--no-int8] [--skip-python] [--json]

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "core/execution.h"
#include "core/timing.h"
#include "datasets/normalized_images.h"
#include "experiments/benchmarks/run_command.h"
#include "runtime/adaptive_engine.h"
#include "runtime/bundle.h"
#include "runtime/module_tracer.h"

namespace {

using namespace adascale;
namespace fs = std::filesystem;

struct ExitRow {
  int exit = 0;
  std::string variant;
  size_t index = 0;
  std::vector<double> eager_ms, engine_ms, whole_ms, int8_ms;
  double eager_top1 = 0, engine_top1 = 0, int8_top1 = 0;
  double int8_agreement = 0;  // share of images where int8 and float agree
  double python_eager_ms = 0, python_optimized_ms = 0;
  double python_diff = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Batch-1 latency: adaptive engine vs eager LibTorch vs Python"};
  std::string bundle;
  int threads = 2, repeats = 400, rounds = 8;
  bool json = false, skip_python = false, show_blocks = false, no_int8 = false;
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
               "print each block's eager, optimised and int8 time");
  app.add_flag("--no-int8", no_int8, "skip the int8 engine");
  app.add_option("--calibration", calibration,
                 "held-out images that set the int8 ranges");
  app.add_option("--accuracy", accuracy_images,
                 "test images scored per exit and form (0 = skip)");
  app.add_option("--data", data,
                 "dataset root (default: the bundle's dataset.root)");
  CLI11_PARSE(app, argc, argv);
  try {
    core::setup_execution(std::to_string(threads), "cpu", 0);
    runtime::LoadedBundle eager_bundle = runtime::load_bundle(bundle);
    operators::ElasticNet eager = eager_bundle.net;
    eager->eval();

    core::Stopwatch build_clock;
    runtime::AdaptiveEngine engine(runtime::load_bundle(bundle).net);
    const double build_s = build_clock.seconds();

    const core::ModelSpec& spec = eager->spec();
    core::DatasetConfig dataset = eager_bundle.manifest.dataset;
    if (!data.empty()) dataset.root = data;
    auto images_of = [&](datasets::ImageSplit split, int64_t n) {
      return datasets::load_normalized_images(
          dataset, eager_bundle.normalization, spec.in_channels,
          spec.resolution, split, n);
    };
    std::optional<runtime::AdaptiveEngine> int8;
    double int8_build_s = 0;
    if (!no_int8) {
      runtime::EngineOptions options;
      options.precision = runtime::Precision::kInt8;
      options.calibration =
          images_of(datasets::ImageSplit::kCalibration, calibration).images;
      core::Stopwatch clock;
      int8.emplace(runtime::load_bundle(bundle).net, options);
      int8_build_s = clock.seconds();
    }

    std::vector<ExitRow> rows;
    for (size_t k = 0; k < eager_bundle.trunk.size(); ++k) {
      ExitRow row;
      row.exit = int(k) + 1;
      core::Variant v = engine.space().trunk(int(k));
      row.index = engine.index_of(v);
      row.variant = engine.space().to_string(v);
      rows.push_back(row);
    }

    torch::manual_seed(0);
    torch::Tensor x =
        torch::randn({1, spec.in_channels, spec.resolution, spec.resolution});
    // The per-block design's cost: each variant also traced and optimised
    // whole, as one graph (what a single-variant deployment would run).
    std::vector<torch::jit::Module> whole;
    for (const ExitRow& row : rows) {
      const core::Variant& v = engine.variants()[row.index];
      whole.push_back(runtime::optimize_for_inference(runtime::trace_module(
          *eager, [&](const torch::Tensor& t) { return eager->forward(t, v); },
          x, "whole")));
    }
    const int per_round = std::max(3, repeats / rounds);
    {
      c10::InferenceMode inference;
      for (int r = 0; r < rounds; ++r) {
        for (ExitRow& row : rows) {
          const core::Variant& v = engine.variants()[row.index];
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
          if (int8) {
            row.int8_ms.push_back(
                core::measure_latency([&] { int8->infer(x, row.index); }, 5,
                                      per_round)
                    .median_ms);
          }
        }
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

    nlohmann::json py;
    if (!skip_python) {
      fs::path dir = fs::temp_directory_path() /
                     fmt::format("adascale_bench_engine_{}", getpid());
      fs::create_directories(dir);
      write_python_inputs(eager, rows, engine.variants(), dir);
      std::string src = fs::path(__FILE__).parent_path() / "engine_latency.py";
      std::string out = bench::run_command(
          fmt::format("{} {} --dir {} --threads {} --repeats {} --rounds {}",
                      python, src, dir.string(), threads, repeats, rounds));
      fs::remove_all(dir);
      py = nlohmann::json::parse(out);
      for (const auto& e : py.at("exits")) {
        ExitRow& row = rows.at(size_t(e.at("exit").get<int>() - 1));
        row.python_eager_ms = e.at("eager_ms");
        row.python_optimized_ms = e.at("optimized_ms");
        row.python_diff = e.at("max_abs_diff_eager");
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

    nlohmann::json report;
    report["bundle"] = bundle;
    report["threads"] = threads;
    report["engine_build_s"] = build_s;
    report["blocks"] = engine.blocks().size();
    report["optimized_blocks"] = optimized_blocks;
    report["engine_weight_bytes"] = engine.weight_bytes();
    report["eager_weight_bytes"] = eager_bytes;
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
      j["cpp_eager_ms"] = median(row.eager_ms);
      j["engine_ms"] = median(row.engine_ms);
      j["cpp_whole_graph_ms"] = median(row.whole_ms);
      j["engine_speedup_vs_cpp_eager"] =
          median(row.eager_ms) / median(row.engine_ms);
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
      report["exits"].push_back(j);
    }
    if (json) {
      fmt::print("{}\n", report.dump(2));
      return 0;
    }
    fmt::print(
        "engine: {} blocks, {} optimised, built in {:.2f} s; weights {:.2f} MB "
        "(eager net {:.2f} MB); {} threads\n",
        engine.blocks().size(), optimized_blocks, build_s,
        double(engine.weight_bytes()) / 1e6, double(eager_bytes) / 1e6,
        threads);
    if (int8) {
      fmt::print(
          "int8 engine: {} of {} blocks int8 ({} calibration images), built "
          "in {:.2f} s; weights {:.2f} MB\n",
          int8_blocks, int8->blocks().size(), calibration, int8_build_s,
          double(int8->weight_bytes()) / 1e6);
    }
    if (show_blocks) {
      const auto& blocks = int8 ? int8->blocks() : engine.blocks();
      for (const auto& b : blocks) {
        fmt::print(
            "  {:<22} eager {:>7.3f} ms  optimised {:>7.3f} ms  int8 {:>7.3f} "
            "ms (error {:.3f})  -> {}\n",
            b.name, b.eager_ms, b.optimized_ms, b.int8_ms, b.int8_error,
            b.int8 ? "int8"
                   : (b.optimized ? (b.mkldnn_in ? "optimised (MKL-DNN in)"
                                                 : "optimised")
                                  : "eager"));
      }
    }
    auto cell = [](const nlohmann::json& j, const char* key, const char* f) {
      return j.contains(key)
                 ? fmt::format(fmt::runtime(f), j[key].get<double>())
                 : std::string("-");
    };
    fmt::print(
        "{:<5} {:<26} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} "
        "{:>8} {:>8}\n",
        "exit", "variant", "C++ eager", "C++ whole", "engine", "int8",
        "speedup", "int8 sp.", "Py eager", "Py optim", "vs Py o.", "int8/Pyo");
    for (const auto& j : report["exits"]) {
      fmt::print(
          "{:<5} {:<26} {:>7.3f}ms {:>7.3f}ms {:>7.3f}ms {:>9} {:>7.2f}x "
          "{:>8} {:>9} {:>9} {:>8} {:>8}\n",
          j["exit"].get<int>(), j["variant"].get<std::string>(),
          j["cpp_eager_ms"].get<double>(),
          j["cpp_whole_graph_ms"].get<double>(), j["engine_ms"].get<double>(),
          cell(j, "int8_engine_ms", "{:.3f}ms"),
          j["engine_speedup_vs_cpp_eager"].get<double>(),
          cell(j, "int8_speedup_vs_cpp_eager", "{:.2f}x"),
          cell(j, "python_eager_ms", "{:.3f}ms"),
          cell(j, "python_optimized_ms", "{:.3f}ms"),
          cell(j, "engine_speedup_vs_python_optimized", "{:.2f}x"),
          cell(j, "int8_speedup_vs_python_optimized", "{:.2f}x"));
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
