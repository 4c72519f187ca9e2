// `adascale probe --run DIR`: linear probes on pooled features after every
// block of a trained trunk (accuracy per depth), written to DIR/probes.csv.

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "apps/adascale/run_loading.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/dataset_factory.h"
#include "training/linear_probe.h"

namespace adascale::app {
namespace {

namespace fs = std::filesystem;

struct ProbeCommandOptions {
  std::string run;
  std::vector<std::string> sets;
  bool json = false;
  training::ProbeOptions probe;
};

void run_probe(const ProbeCommandOptions& opt) {
  LoadedRun run = load_run(opt.run, opt.sets);
  if (!run.spec.elastic()) {
    throw UsageError("probe: " + run.dir +
                     " trained a zoo model; probes read the elastic trunk");
  }
  auto data = datasets::make_pipeline(run.config);
  auto results = training::run_linear_probes(run.net, run.trunk, *data->train,
                                             *data->test, opt.probe);
  std::string csv = "depth,block,channels,train_top1,test_top1\n";
  nlohmann::json out;
  out["run"] = run.dir;
  for (const auto& r : results) {
    csv += fmt::format("{},{},{},{:.6f},{:.6f}\n", r.depth, r.block, r.channels,
                       r.train_top1, r.test_top1);
    out["probes"].push_back({{"depth", r.depth},
                             {"block", r.block},
                             {"channels", r.channels},
                             {"train_top1", r.train_top1},
                             {"test_top1", r.test_top1}});
  }
  const std::string path = (fs::path(run.dir) / "probes.csv").string();
  core::write_file_atomic(path, csv);
  if (opt.json) {
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("{:<6} {:<16} {:>8} {:>10} {:>10}\n", "depth", "block", "channels",
             "train", "test");
  for (const auto& r : results) {
    fmt::print("{:<6} {:<16} {:>8} {:>9.2f}% {:>9.2f}%\n", r.depth, r.block,
               r.channels, 100 * r.train_top1, 100 * r.test_top1);
  }
  fmt::print("written to {}\n", path);
}

}  // namespace

void register_probe_command(CLI::App& app) {
  auto options = std::make_shared<ProbeCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "probe",
      "Linear probes after every block of a trained trunk (accuracy per "
      "depth)");
  add_run_options(cmd, options->run, options->sets, options->json);
  cmd->add_option("--epochs", options->probe.epochs,
                  "probe training passes over the cached features")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--limit", options->probe.max_images,
                  "at most N images per split (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([options] { run_probe(*options); });
}

}  // namespace adascale::app
