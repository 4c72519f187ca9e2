// `adascale data`: counts per split and class, channel statistics and the
// training loader's throughput for a dataset config.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "core/execution.h"
#include "datasets/dataset_summary.h"

namespace adascale::app {
namespace {

struct DataOptions {
  CommonOptions common;
  int64_t batches = 50;
};

// 0..255 statistics on the 0..1 scale of dataset.mean / dataset.std, at
// least `floor` (the std floor a run computing them itself applies).
std::vector<double> to_unit(const std::vector<double>& v255,
                            double floor = 0.0) {
  std::vector<double> out;
  for (double v : v255) {
    out.push_back(std::max(std::round(v / 255.0 * 1e4) / 1e4, floor));
  }
  return out;
}

nlohmann::json to_json(const datasets::DatasetSummary& s, int threads) {
  nlohmann::json splits = nlohmann::json::array();
  for (const auto& sp : s.splits) {
    splits.push_back({{"name", sp.name},
                      {"images", sp.images},
                      {"per_class", sp.per_class}});
  }
  return {{"format", s.format},
          {"shape", {s.channels, s.height, s.width}},
          {"classes", s.class_names},
          {"splits", splits},
          {"channel_mean_255", s.mean_255},
          {"channel_std_255", s.std_255},
          {"normalization",
           {{"mean", to_unit(s.mean_255)}, {"std", to_unit(s.std_255, 1e-3)}}},
          {"loader",
           {{"threads", threads},
            {"batches", s.loader.batches},
            {"images", s.loader.images},
            {"seconds", s.loader.seconds},
            {"images_per_second", s.loader.images_per_second}}}};
}

void print_text(const datasets::DatasetSummary& s, int threads) {
  fmt::print("dataset {}: {} classes, images {}x{}x{}\n", s.format,
             s.class_names.size(), s.channels, s.height, s.width);
  fmt::print("{:<15} {:>8}  per class\n", "split", "images");
  for (const auto& sp : s.splits) {
    auto [lo, hi] =
        std::minmax_element(sp.per_class.begin(), sp.per_class.end());
    std::string spread = sp.per_class.empty() ? "-"
                         : *lo == *hi         ? fmt::format("{} each", *lo)
                                              : fmt::format("{}..{}", *lo, *hi);
    fmt::print("{:<15} {:>8}  {}\n", sp.name, sp.images, spread);
  }
  const size_t shown = std::min<size_t>(s.class_names.size(), 20);
  fmt::print("\n{:<4} {:<20}", "id", "class");
  for (const auto& sp : s.splits) fmt::print(" {:>15}", sp.name);
  fmt::print("\n");
  for (size_t k = 0; k < shown; ++k) {
    fmt::print("{:<4} {:<20}", k, s.class_names[k]);
    for (const auto& sp : s.splits) fmt::print(" {:>15}", sp.per_class[k]);
    fmt::print("\n");
  }
  if (s.class_names.size() > shown) {
    fmt::print("... {} more classes (--json lists all)\n",
               s.class_names.size() - shown);
  }
  fmt::print("\nchannel mean (0-255, official training set): {:.1f}\n",
             fmt::join(s.mean_255, " "));
  fmt::print("channel std  (0-255, official training set): {:.1f}\n",
             fmt::join(s.std_255, " "));
  fmt::print("for the config: dataset: {{mean: [{:.4f}], std: [{:.4f}]}}\n",
             fmt::join(to_unit(s.mean_255), ", "),
             fmt::join(to_unit(s.std_255, 1e-3), ", "));
  fmt::print(
      "loader: {:.0f} images/s ({} batches of the training loader, {} "
      "threads)\n",
      s.loader.images_per_second, s.loader.batches, threads);
}

}  // namespace

void register_data_command(CLI::App& app) {
  auto options = std::make_shared<DataOptions>();
  CLI::App* cmd =
      app.add_subcommand("data",
                         "Summarise a dataset: split and class counts, channel "
                         "statistics, loader throughput");
  add_common_options(cmd, options->common, true);
  cmd->add_option("--batches", options->batches,
                  "training batches to time the loader over (0 = one epoch)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([options] {
    core::RunConfig config = load_config(options->common);
    auto pipeline = datasets::make_pipeline(config);
    datasets::DatasetSummary summary =
        datasets::summarize(config.dataset, *pipeline);
    summary.loader =
        datasets::measure_throughput(*pipeline->train, options->batches);
    int threads = core::tbb_threads();
    if (options->common.json) {
      fmt::print("{}\n", to_json(summary, threads).dump());
    } else {
      print_text(summary, threads);
    }
  });
}

}  // namespace adascale::app
