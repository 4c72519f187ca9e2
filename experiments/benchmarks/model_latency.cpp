// Forward latency of every exit of the default elastic net and of every zoo
// model, batch 1 and batch 128 (eval mode, no grad), against the same
// architectures in Python PyTorch (torchvision, same LibTorch build, same
// thread count) run from here in the same session. This is the eager
// baseline that the runtime's optimised engine has to beat.
//
//   build/bin/bench_models [--threads 2] [--repeats 30] [--json]

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/execution.h"
#include "core/model_spec.h"
#include "core/timing.h"
#include "experiments/benchmarks/run_command.h"
#include "operators/elastic_net.h"
#include "operators/zoo/zoo_factory.h"

namespace {

using namespace adascale;
using bench::run_command;

struct Row {
  std::string name;
  int64_t params = 0;
  std::map<int, double> cpp_ms, python_ms;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Model forward latency: C++ eager vs Python PyTorch eager"};
  int threads = 2;
  int repeats = 30;
  double max_seconds = 8.0;
  bool json = false, skip_python = false;
  std::vector<int> batches = {1, 128};
  std::vector<std::string> only;
  app.add_option("--threads", threads, "intra-op threads (both sides)");
  app.add_option("--repeats", repeats, "timed runs per measurement (max)");
  app.add_option("--max-seconds", max_seconds,
                 "stop repeating after this long (at least 3 runs)");
  app.add_option("--batches", batches, "batch sizes")->delimiter(',');
  app.add_option("--models", only,
                 "only these (zoo names and/or 'adascale'); default all")
      ->delimiter(',');
  app.add_flag("--skip-python", skip_python, "C++ side only");
  app.add_flag("--json", json, "one JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    core::setup_execution(std::to_string(threads), "cpu", 0);
    torch::NoGradGuard no_grad;
    std::vector<Row> rows;
    auto time_it =
        [&](Row& row,
            const std::function<torch::Tensor(const torch::Tensor&)>& forward) {
          for (int b : batches) {
            auto x = torch::randn({b, 3, 32, 32});
            auto stats = core::measure_latency(
                [&] { forward(x); }, b == 1 ? 3 : 1, repeats, max_seconds);
            row.cpp_ms[b] = stats.median_ms;
          }
        };
    auto count = [](const std::vector<torch::Tensor>& ps) {
      int64_t n = 0;
      for (const auto& p : ps) n += p.numel();
      return n;
    };

    auto wanted = [&](const std::string& name) {
      return only.empty() ||
             std::find(only.begin(), only.end(), name) != only.end();
    };
    core::ModelSpec spec =
        core::load_model_spec("configs/models/adascale_cifar.yaml");
    operators::ElasticNet net(spec);
    net->eval();
    for (int e = 0; wanted("adascale") && e < net->num_stages(); ++e) {
      core::Variant v = net->variants().trunk(e);
      Row row{"adascale " + net->variants().to_string(v), 0, {}, {}};
      row.params = count(net->variant_parameters(v));
      time_it(row, [&](const torch::Tensor& x) { return net->forward(x, v); });
      rows.push_back(row);
    }
    std::vector<std::string> zoo_names;
    for (const auto& name : operators::zoo::zoo_architectures()) {
      if (wanted(name)) zoo_names.push_back(name);
    }
    for (const auto& name : zoo_names) {
      core::ModelSpec zs;
      zs.name = name;
      zs.architecture = name;
      auto model = operators::zoo::make_zoo_model(zs);
      model.ptr()->eval();
      Row row{name, count(model.ptr()->parameters()), {}, {}};
      time_it(row, [&](const torch::Tensor& x) {
        return model.forward<torch::Tensor>(x);
      });
      rows.push_back(row);
    }
    nlohmann::json py;
    if (!skip_python) {
      std::string cmd = fmt::format(
          "/usr/bin/python3 experiments/benchmarks/model_latency.py "
          "--threads {} --repeats {} --max-seconds {} --batches {} --models {}",
          threads, repeats, max_seconds, fmt::join(batches, ","),
          fmt::join(zoo_names, ","));
      py = nlohmann::json::parse(run_command(cmd));
      for (auto& row : rows) {
        if (!py["median_ms"].contains(row.name)) continue;
        for (int b : batches) {
          row.python_ms[b] = py["median_ms"][row.name][std::to_string(b)];
        }
      }
    }

    nlohmann::json out;
    out["threads"] = threads;
    for (const auto& row : rows) {
      nlohmann::json r;
      r["params"] = row.params;
      for (int b : batches) {
        std::string key = std::to_string(b);
        r["cpp_ms"][key] = row.cpp_ms.at(b);
        if (row.python_ms.count(b)) {
          r["python_ms"][key] = row.python_ms.at(b);
          r["python_over_cpp"][key] = row.python_ms.at(b) / row.cpp_ms.at(b);
        }
      }
      if (!py.is_null() && py["params"].contains(row.name)) {
        r["python_params"] = py["params"][row.name];
      }
      out["models"][row.name] = r;
    }
    if (json) {
      fmt::print("{}\n", out.dump());
      return 0;
    }
    fmt::print(
        "forward latency, 3x32x32 input, eval, {} threads, median ms "
        "(ratio = Python / C++, > 1 means C++ faster)\n",
        threads);
    fmt::print("{:<32} {:>9}", "model", "params");
    for (int b : batches) {
      fmt::print(" {:>9} {:>9} {:>6}", fmt::format("C++ b{}", b),
                 fmt::format("Py b{}", b), "ratio");
    }
    fmt::print("\n");
    for (const auto& row : rows) {
      fmt::print("{:<32} {:>8.2f}M", row.name, double(row.params) / 1e6);
      for (int b : batches) {
        fmt::print(" {:>9.2f}", row.cpp_ms.at(b));
        if (row.python_ms.count(b)) {
          fmt::print(" {:>9.2f} {:>6.2f}", row.python_ms.at(b),
                     row.python_ms.at(b) / row.cpp_ms.at(b));
        } else {
          fmt::print(" {:>9} {:>6}", "-", "-");
        }
      }
      fmt::print("\n");
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_models: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
