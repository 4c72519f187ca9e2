// `adascale tables --run DIR`: the performance-index and predictive-
// performance tables of a trained elastic run (paper §IV-B/C, DESIGN §3.4),
// written to DIR/tables.h5 and DIR/tables.csv. The building is
// search::build_tables(); this command reads the run, scores validation
// top-1 (or reuses it), and prints the report.

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "apps/adascale/run_loading.h"
#include "core/device_profile.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/path_lock.h"
#include "core/timing.h"
#include "datasets/dataset_factory.h"
#include "search/performance_tables.h"
#include "search/table_building.h"
#include "training/variant_evaluation.h"

namespace adascale::app {
namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct TablesOptions {
  std::string run;
  std::vector<std::string> devices;
  std::vector<std::string> sets;
  bool measure = false;
  bool revalidate = false;
  double assume_load = -1;  ///< < 0: measure it from /proc/stat
  int batch = 8;
  int repeats = 21;
  int64_t validation_limit = 0;
  bool json = false;
};

std::vector<std::string> default_devices() {
  std::vector<std::string> files;
  const fs::path dir = "configs/devices";
  if (fs::is_directory(dir)) {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    throw UsageError(
        "tables: no --device-profile given and no configs/devices/*.yaml "
        "here; pass --device-profile FILE");
  }
  return files;
}

// The variants' validation top-1: an earlier tables file's when it scored
// every variant on as many images (the weights have not changed unless
// --revalidate says so), else scored now.
search::ValidationScores validation_scores(
    const TablesOptions& opt, LoadedRun& run,
    const std::vector<core::Variant>& variants,
    const search::PerformanceTables& previous, const std::string& h5_path) {
  auto data = datasets::make_pipeline(run.config);
  const int64_t available = data->validation->num_samples();
  const int64_t wanted = opt.validation_limit > 0
                             ? std::min(opt.validation_limit, available)
                             : available;
  search::ValidationScores scores;
  scores.top1.assign(variants.size(), kNaN);
  scores.images.assign(variants.size(), 0);
  if (available == 0) {
    log::warn("tables: {} has no validation split; top-1 left empty", opt.run);
    return scores;
  }
  if (!opt.revalidate) {
    if (auto cached = search::previous_validation(previous, run.net->variants(),
                                                  variants, wanted)) {
      log::info(
          "tables: validation top-1 of {} variants ({} images) from the "
          "previous {}",
          variants.size(), wanted, h5_path);
      return *cached;
    }
  }
  core::Stopwatch watch;
  auto acc = training::evaluate_variants(run.net, *data->validation,
                                         opt.validation_limit);
  // evaluate_variants scores all(); the trained variants are its first.
  for (size_t i = 0; i < variants.size(); ++i) {
    scores.top1[i] = acc[i].top1;
    scores.images[i] = acc[i].samples;
  }
  log::info("tables: validation top-1 of {} variants on {} images in {:.1f} s",
            variants.size(), wanted, watch.seconds());
  return scores;
}

nlohmann::json fit_json(const search::LatencyFitReport& f) {
  nlohmann::json j;
  j["device"] = f.device;
  j["batch"] = f.batch;
  j["background_load"] = f.background_load;
  j["retest_within_10pct"] = f.retest_within_10pct;
  j["measure_seconds"] = f.measure_seconds;
  if (f.mode == search::LatencyFitReport::Mode::kLoadCorrection) {
    j["mode"] = "load_correction";
    j["load_slope"] = f.model.load_slope;
    j["load_per_layer_us"] = f.model.load_per_layer_s * 1e6;
    j["within_10pct"] = f.within_10pct;
    j["within_10pct_uncorrected"] = f.within_10pct_uncorrected;
    j["median_abs_rel_error"] = f.median_abs_rel_error;
    j["tested_on"] = f.tested_on;
    j["probe_csv"] = f.probe_csv;
  } else {
    j["mode"] = "fit";
    j["within_10pct"] = f.within_10pct;
    j["median_abs_rel_error"] = f.median_abs_rel_error;
    j["max_abs_rel_error"] = f.max_abs_rel_error;
    j["roofline_within_10pct"] = f.roofline_within_10pct;
    j["roofline_median_abs_rel_error"] = f.roofline_median_abs_rel_error;
    j["folds"] = f.folds;
  }
  for (size_t c = 0; c < search::kLayerClasses; ++c) {
    const char* name = search::layer_class_name(search::LayerClass(c));
    j["class_scale"][name] = f.model.class_scale[c];
    j["per_layer_us"][name] = f.model.per_layer_s[c] * 1e6;
  }
  return j;
}

void print_fit(const search::LatencyFitReport& f) {
  if (f.mode == search::LatencyFitReport::Mode::kFit) {
    fmt::print(
        "latency model {} batch {}: {:.1f}% of variants within ±10% "
        "({}-fold cross-validated; median error {:.1f}%); pure roofline "
        "{:.1f}%; background load {:.2f}\n",
        f.device, f.batch, 100 * f.within_10pct, f.folds,
        100 * f.median_abs_rel_error, 100 * f.roofline_within_10pct,
        f.background_load);
  } else {
    fmt::print(
        "load correction {} batch {}: background load {:.2f}, slope "
        "{:.2f}: {:.1f}% within ±10% (uncorrected {:.1f}%)\n",
        f.device, f.batch, f.background_load, f.model.load_slope,
        100 * f.within_10pct, 100 * f.within_10pct_uncorrected);
  }
}

void run_tables(const TablesOptions& opt) {
  if (opt.batch < 1) throw UsageError("tables: --batch must be ≥ 1");
  core::Stopwatch total;
  LoadedRun run = load_run(opt.run, opt.sets);
  // The run's writer lock, as `train` takes it: tables.h5 is written into
  // the run, and a run still training would change under the measurement.
  const core::PathLock lock = core::PathLock::acquire(opt.run, "tables");
  if (!run.spec.elastic()) {
    throw UsageError(fmt::format(
        "tables: {} trains the zoo model '{}'; tables index the variants of "
        "an elastic net",
        opt.run, run.spec.name));
  }
  search::TableBuildOptions build;
  for (const auto& file : opt.devices.empty() ? default_devices() : opt.devices)
    build.devices.push_back(core::load_device_profile(file));
  build.batches =
      opt.batch == 1 ? std::vector<int>{1} : std::vector<int>{1, opt.batch};
  build.measure = opt.measure;
  build.repeats = opt.repeats;
  build.assume_load = opt.assume_load;
  build.probe_dir = run.dir;

  const std::vector<core::Variant> variants =
      run.net->variants().up_to_exit(int(run.trunk.size()));
  // An earlier tables file gives the models fitted then (kept unless this
  // build refits them) and the validation top-1.
  const std::string h5_path = (fs::path(run.dir) / "tables.h5").string();
  search::PerformanceTables previous;
  if (fs::exists(h5_path)) {
    try {
      previous = search::read_tables(h5_path);
    } catch (const DataError& e) {
      log::warn("tables: ignoring the old {} ({})", h5_path, e.what());
    }
  }
  const search::TablesReport built = search::build_tables(
      run.net, variants, previous,
      [&] { return validation_scores(opt, run, variants, previous, h5_path); },
      build);

  core::Stopwatch watch;
  const std::string csv_path = (fs::path(run.dir) / "tables.csv").string();
  search::write_tables(built.tables, h5_path, csv_path);
  const double write_seconds = watch.seconds();

  if (opt.json) {
    nlohmann::json report;
    report["run"] = run.dir;
    report["variants"] = variants.size();
    report["threads"] = at::get_num_threads();
    report["validation_cached"] = built.validation_from_previous;
    report["seconds"]["profile"] = built.profile_seconds;
    report["seconds"]["validation"] = built.validation_seconds;
    report["seconds"]["predict_and_measure"] = built.predict_seconds;
    report["seconds"]["write"] = write_seconds;
    report["seconds"]["total"] = total.seconds();
    for (const auto& f : built.fits)
      report["latency_fits"].push_back(fit_json(f));
    report["tables_h5"] = h5_path;
    report["tables_csv"] = csv_path;
    for (const auto& d : build.devices) report["devices"].push_back(d.name);
    fmt::print("{}\n", report.dump());
    return;
  }
  fmt::print(
      "{} variants × {} device(s) × batch {} in {:.1f} s "
      "(profile {:.1f} s, validation {:.1f} s, predict/measure {:.1f} s)\n",
      variants.size(), build.devices.size(), fmt::join(build.batches, ","),
      total.seconds(), built.profile_seconds, built.validation_seconds,
      built.predict_seconds);
  for (const auto& f : built.fits) print_fit(f);
  fmt::print("written to {} and {}\n", h5_path, csv_path);
}

}  // namespace

void register_tables_command(CLI::App& app) {
  auto options = std::make_shared<TablesOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tables",
      "Build a run's performance-index and predictive-performance tables");
  add_run_options(cmd, options->run, options->sets, options->json);
  cmd->add_option("--device-profile", options->devices,
                  "device profile YAML (repeatable; default: "
                  "configs/devices/*.yaml); with --measure the first is this "
                  "machine");
  cli::add_renamed_option(cmd, "--device", "--device-profile {}", "FILE");
  cmd->add_flag("--measure", options->measure,
                "measure latencies here and fit the first device's model");
  cmd->add_flag("--revalidate", options->revalidate,
                "score validation top-1 again instead of reusing tables.h5's");
  cmd->add_option("--assume-load", options->assume_load,
                  "with --measure: the background load in [0, 1] to record "
                  "instead of the one read from /proc/stat")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--batch", options->batch, "the batch size N besides 1")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--repeats", options->repeats,
                  "timed passes over all variants (a third at batch N)")
      ->check(CLI::Range(3, 1000));
  cmd->add_option("--validation-limit", options->validation_limit,
                  "score at most N validation images")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([options] { run_tables(*options); });
}

}  // namespace adascale::app
