// Loader throughput benchmark: the C++ training loader on CIFAR-10
// (crop+flip+normalise, batch 128) at 1 and 2 threads, against the usual
// Python pipeline (torchvision transforms + DataLoader, best of 0 and 2
// workers) on the same in-memory images, run from here in the same session.
//
//   build/bin/bench_loader [--root data/cifar-10-batches-bin] [--batches 100]

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/execution.h"
#include "core/logging.h"
#include "datasets/dataset_factory.h"
#include "datasets/dataset_summary.h"

namespace {

std::string run_command(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) throw adascale::IoError("cannot run: " + cmd);
  std::string out;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Loader throughput: C++ loader vs torchvision DataLoader"};
  std::string root = "data/cifar-10-batches-bin";
  int64_t batches = 100;
  bool json = false;
  app.add_option("--root", root, "CIFAR-10 binary directory");
  app.add_option("--batches", batches, "batches timed per configuration");
  app.add_flag("--json", json, "one JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    using namespace adascale;
    core::RunConfig config = core::load_run_config(
        "configs/datasets/cifar10.yaml",
        {"dataset.root=" + root, "dataset.validation_fraction=0",
         "log_level=warn"});
    adascale::log::set_level(adascale::log::Level::kWarn);
    auto pipeline = datasets::make_pipeline(config);
    nlohmann::json result;
    for (int threads : {1, 2}) {
      core::setup_execution(std::to_string(threads), "cpu", 0);
      datasets::measure_throughput(*pipeline->train, 5);  // warm-up
      auto t = datasets::measure_throughput(*pipeline->train, batches);
      result["cpp_threads_" + std::to_string(threads)] = t.images_per_second;
    }
    std::string py = run_command(
        fmt::format("/usr/bin/python3 "
                    "experiments/benchmarks/loader_throughput.py --root '{}' "
                    "--batches {} --threads 2",
                    root, batches));
    auto pyj = nlohmann::json::parse(py);
    double python = pyj["best_images_per_second"];
    double cpp = std::max(result["cpp_threads_1"].get<double>(),
                          result["cpp_threads_2"].get<double>());
    result["python"] = pyj;
    result["ratio_best_cpp_over_best_python"] = cpp / python;
    result["ratio_cpp_2_threads_over_best_python"] =
        result["cpp_threads_2"].get<double>() / python;
    if (json) {
      fmt::print("{}\n", result.dump());
      return 0;
    }
    fmt::print(
        "loader throughput, CIFAR-10 train, crop+flip+normalise, batch 128, {} "
        "batches\n",
        batches);
    fmt::print("  C++ loader, 1 thread : {:8.0f} images/s\n",
               result["cpp_threads_1"].get<double>());
    fmt::print("  C++ loader, 2 threads: {:8.0f} images/s\n",
               result["cpp_threads_2"].get<double>());
    fmt::print("  Python, 0 workers    : {:8.0f} images/s\n",
               pyj["images_per_second"]["workers_0"].get<double>());
    fmt::print("  Python, 2 workers    : {:8.0f} images/s\n",
               pyj["images_per_second"]["workers_2"].get<double>());
    fmt::print(
        "  ratio (C++ 2 threads / best Python): {:.1f}x (target >= 3x)\n",
        result["ratio_cpp_2_threads_over_best_python"].get<double>());
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_loader: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
