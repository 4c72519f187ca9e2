// `adascale tables --run DIR`: the performance-index and predictive-
// performance tables of a trained elastic run (paper §IV-B/C, DESIGN §3.4),
// written to DIR/tables.h5 and DIR/tables.csv. With --measure, batch-1 and
// batch-N latencies are measured on this machine, the latency model of the
// first --device-profile is fitted on them, and its accuracy reported; run
// again under background load, the same flag fits the load correction instead.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "apps/adascale/run_loading.h"
#include "core/atomic_file.h"
#include "core/device_profile.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/path_lock.h"
#include "core/timing.h"
#include "datasets/dataset_factory.h"
#include "search/energy_model.h"
#include "search/latency_measurement.h"
#include "search/latency_model.h"
#include "search/performance_tables.h"
#include "search/variant_profiles.h"
#include "training/variant_evaluation.h"

namespace adascale::app {
namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Above the load the model was fitted at by this much, a --measure run
// probes the load correction instead of refitting.
constexpr double kLoadProbeMargin = 0.15;
constexpr int kFolds = 5;

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
  std::vector<core::DeviceProfile> devices;
  for (const auto& file : opt.devices.empty() ? default_devices() : opt.devices)
    devices.push_back(core::load_device_profile(file));
  for (size_t i = 0; i < devices.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (devices[i].name == devices[k].name)
        throw UsageError("tables: device '" + devices[i].name +
                         "' given twice");

  auto& net = run.net;
  const auto& space = net->variants();
  const int exits = int(run.trunk.size());
  const std::vector<core::Variant> variants = space.up_to_exit(exits);
  const int threads = at::get_num_threads();
  const std::vector<int> batches =
      opt.batch == 1 ? std::vector<int>{1} : std::vector<int>{1, opt.batch};
  nlohmann::json report;
  report["run"] = run.dir;
  report["variants"] = variants.size();
  report["threads"] = threads;

  // Intrinsic profiles, per batch size.
  core::Stopwatch watch;
  std::vector<std::vector<search::ModelProfile>> profiles;
  for (int b : batches)
    profiles.push_back(search::profile_variants(net, variants, b));
  report["seconds"]["profile"] = watch.seconds();
  log::info("tables: profiled {} variants at batch {} in {:.1f} s",
            variants.size(), fmt::join(batches, " and "), watch.seconds());

  // An earlier tables file gives the models fitted then (kept unless this
  // run refits them) and the validation top-1 (the weights have not
  // changed unless --revalidate says so).
  const std::string h5_path = (fs::path(run.dir) / "tables.h5").string();
  search::PerformanceTables previous;
  if (fs::exists(h5_path)) {
    try {
      previous = search::read_tables(h5_path);
    } catch (const DataError& e) {
      log::warn("tables: ignoring the old {} ({})", h5_path, e.what());
    }
  }

  // Validation accuracy of every variant.
  watch.restart();
  std::vector<double> top1(variants.size(), kNaN);
  std::vector<int64_t> scored_on(variants.size(), 0);
  auto data = datasets::make_pipeline(run.config);
  const int64_t available = data->validation->num_samples();
  const int64_t wanted = opt.validation_limit > 0
                             ? std::min(opt.validation_limit, available)
                             : available;
  std::map<uint64_t, double> cached;
  if (!opt.revalidate)
    for (const auto& e : previous.index)
      if (!std::isnan(e.validation_top1) && e.validation_images == wanted)
        cached[e.key] = e.validation_top1;
  bool all_cached = available > 0;
  for (size_t i = 0; i < variants.size() && all_cached; ++i) {
    auto it = cached.find(space.pack(variants[i]));
    if (it == cached.end()) {
      all_cached = false;
    } else {
      top1[i] = it->second;
      scored_on[i] = wanted;
    }
  }
  if (all_cached) {
    log::info(
        "tables: validation top-1 of {} variants ({} images) from the "
        "previous {}",
        variants.size(), wanted, h5_path);
  } else if (available == 0) {
    log::warn("tables: {} has no validation split; top-1 left empty", opt.run);
  } else {
    auto acc = training::evaluate_variants(net, *data->validation,
                                           opt.validation_limit);
    // evaluate_variants scores all(); the trained variants are its first.
    for (size_t i = 0; i < variants.size(); ++i) {
      top1[i] = acc[i].top1;
      scored_on[i] = acc[i].samples;
    }
    log::info(
        "tables: validation top-1 of {} variants on {} images in "
        "{:.1f} s",
        variants.size(), wanted, watch.seconds());
  }
  report["validation_cached"] = all_cached;
  report["seconds"]["validation"] = watch.seconds();

  search::PerformanceTables tables;
  for (size_t i = 0; i < variants.size(); ++i) {
    const auto& p = profiles[0][i];
    tables.index.push_back(
        {space.pack(variants[i]), space.to_string(variants[i]),
         variants[i].exit + 1, p.params, p.storage_fp32_bytes, p.macs,
         p.memory_access_bytes, int(p.layers.size()), top1[i], scored_on[i]});
  }

  watch.restart();
  // Batch → a model fitted on measurements and its device's clock: the
  // machine measured now, else one measured by an earlier run.
  std::map<int, std::pair<search::LatencyModel, double>> fitted_here;
  if (!opt.measure) {
    for (const auto& d : devices)
      for (int batch : batches)
        if (const auto* m = previous.model(d.name, batch);
            m != nullptr && m->model.fitted_on > 0 && !fitted_here.count(batch))
          fitted_here[batch] = {m->model, d.cpu.max_clock_mhz};
  }
  for (size_t d = 0; d < devices.size(); ++d) {
    const core::DeviceProfile& device = devices[d];
    const bool local = opt.measure && d == 0;
    const int device_threads = local ? threads : device.cpu.cores;
    for (size_t b = 0; b < batches.size(); ++b) {
      std::vector<search::LatencyFeatures> features;
      for (const auto& p : profiles[b])
        features.push_back(search::latency_features(p, device, device_threads));
      search::LatencyModelEntry entry;
      entry.device = device.name;
      entry.batch = batches[b];
      entry.threads = device_threads;
      entry.within_10pct = kNaN;
      entry.load_within_10pct = kNaN;
      const auto* old = previous.model(device.name, batches[b]);
      if (old != nullptr) entry = *old;
      std::vector<double> measured(variants.size(), kNaN);
      if (!local && (old == nullptr || old->model.fitted_on == 0)) {
        // Not measured there. The pure roofline is never within 10% (see
        // the README), so borrow the efficiency fitted on the machine
        // measured in this run, with its per-layer dispatch costs scaled by
        // the clock ratio (dispatch is CPU work); else the roofline.
        entry.model = search::LatencyModel{};
        entry.within_10pct = kNaN;
        auto it = fitted_here.find(batches[b]);
        if (it != fitted_here.end()) {
          entry.model = it->second.first;
          entry.model.fitted_on = 0;
          entry.model.load_slope = entry.model.load_per_layer_s = 0;
          const double clock_ratio =
              it->second.second / device.cpu.max_clock_mhz;
          for (auto& c : entry.model.per_layer_s) c *= clock_ratio;
        }
      }
      if (local) {
        search::VariantLatencies m = search::measure_variant_latencies(
            net, variants, batches[b],
            batches[b] == 1 ? opt.repeats : std::max(3, opt.repeats / 3));
        // A load /proc/stat cannot see (a cgroup quota, a neighbour VM on
        // the same host) can be stated instead of measured.
        if (opt.assume_load >= 0) m.background_load = opt.assume_load;
        nlohmann::json fit;
        fit["device"] = device.name;
        fit["batch"] = batches[b];
        fit["background_load"] = m.background_load;
        fit["retest_within_10pct"] = m.retest_within_10pct;
        fit["measure_seconds"] = m.seconds;
        const bool probe_load =
            old != nullptr && old->model.fitted_on > 0 &&
            m.background_load > old->fit_load + kLoadProbeMargin;
        if (probe_load) {
          // Every fifth variant calibrates the load correction; the rest
          // test it.
          std::vector<search::LatencyFeatures> cal_f;
          std::vector<double> cal_m, predicted, plain, test_m;
          for (size_t i = 0; i < variants.size(); i += 5) {
            cal_f.push_back(features[i]);
            cal_m.push_back(m.median_ms[i]);
          }
          search::fit_load_correction(entry.model, cal_f, cal_m,
                                      m.background_load);
          std::string probe_csv =
              "variant,background_load,measured_ms,predicted_idle_ms,"
              "predicted_ms,calibration\n";
          for (size_t i = 0; i < variants.size(); ++i) {
            const double idle = entry.model.predict_ms(features[i]);
            const double loaded = entry.model.predict_ms(
                idle, features[i].total_layers(), m.background_load);
            probe_csv +=
                fmt::format("{},{:.4f},{:.6g},{:.6g},{:.6g},{}\n",
                            space.to_string(variants[i]), m.background_load,
                            m.median_ms[i], idle, loaded, i % 5 == 0 ? 1 : 0);
            if (i % 5 == 0) continue;
            predicted.push_back(loaded);
            plain.push_back(idle);
            test_m.push_back(m.median_ms[i]);
          }
          const std::string probe_path =
              (fs::path(run.dir) /
               fmt::format("load_probe_{}_b{}.csv", device.name, batches[b]))
                  .string();
          core::write_file_atomic(probe_path, probe_csv);
          auto acc = search::prediction_accuracy(predicted, test_m);
          auto uncorrected = search::prediction_accuracy(plain, test_m);
          entry.load_within_10pct = acc.within_10pct;
          entry.load_probe_load = m.background_load;
          fit["mode"] = "load_correction";
          fit["load_slope"] = entry.model.load_slope;
          fit["load_per_layer_us"] = entry.model.load_per_layer_s * 1e6;
          fit["within_10pct"] = acc.within_10pct;
          fit["within_10pct_uncorrected"] = uncorrected.within_10pct;
          fit["median_abs_rel_error"] = acc.median_abs_rel_error;
          fit["tested_on"] = acc.samples;
          fit["probe_csv"] = probe_path;
          // The table keeps the idle measurements the model rests on.
          for (const auto& p : previous.predictive)
            if (p.device == device.name && p.batch == batches[b]) {
              for (size_t i = 0; i < variants.size(); ++i)
                if (space.pack(variants[i]) == p.key)
                  measured[i] = p.measured_latency_ms;
            }
        } else {
          measured = m.median_ms;
          // Out-of-fold predictions: a model judged on the variants it was
          // fitted on would flatter itself.
          const int folds = int(std::min<size_t>(kFolds, measured.size() / 2));
          search::PredictionAccuracy acc;
          acc.within_10pct = acc.median_abs_rel_error = acc.max_abs_rel_error =
              kNaN;
          if (folds >= 2) {
            acc = search::prediction_accuracy(
                search::cross_validated_predictions(features, measured, folds),
                measured);
          }
          std::vector<double> roofline;
          for (const auto& f : features)
            roofline.push_back(f.theoretical_s() * 1e3);
          auto raw = search::prediction_accuracy(roofline, measured);
          // A load correction fitted earlier stays: it describes how this
          // machine slows under load, which a refit at idle cannot see.
          const double kappa = entry.model.load_slope;
          const double lambda = entry.model.load_per_layer_s;
          entry.model = search::fit_latency_model(features, measured);
          entry.model.load_slope = kappa;
          entry.model.load_per_layer_s = lambda;
          entry.within_10pct = acc.within_10pct;
          entry.fit_load = m.background_load;
          fit["mode"] = "fit";
          fit["within_10pct"] = acc.within_10pct;
          fit["median_abs_rel_error"] = acc.median_abs_rel_error;
          fit["max_abs_rel_error"] = acc.max_abs_rel_error;
          fit["roofline_within_10pct"] = raw.within_10pct;
          fit["roofline_median_abs_rel_error"] = raw.median_abs_rel_error;
          fit["folds"] = folds;
        }
        for (size_t c = 0; c < search::kLayerClasses; ++c)
          fit["class_scale"][search::layer_class_name(search::LayerClass(c))] =
              entry.model.class_scale[c];
        for (size_t c = 0; c < search::kLayerClasses; ++c)
          fit["per_layer_us"][search::layer_class_name(search::LayerClass(c))] =
              entry.model.per_layer_s[c] * 1e6;
        report["latency_fits"].push_back(fit);
      }
      for (size_t i = 0; i < variants.size(); ++i) {
        double latency = entry.model.predict_ms(features[i]);
        auto energy = search::predict_energy(profiles[b][i], device, latency,
                                             device_threads);
        tables.predictive.push_back(
            {space.pack(variants[i]), device.name, batches[b], device_threads,
             latency, energy.total_mj(), energy.hit_rate, measured[i]});
      }
      if (local)
        fitted_here[batches[b]] = {entry.model, device.cpu.max_clock_mhz};
      tables.models.push_back(entry);
    }
  }
  report["seconds"]["predict_and_measure"] = watch.seconds();

  watch.restart();
  const std::string csv_path = (fs::path(run.dir) / "tables.csv").string();
  search::write_tables(tables, h5_path, csv_path);
  report["seconds"]["write"] = watch.seconds();
  report["seconds"]["total"] = total.seconds();
  report["tables_h5"] = h5_path;
  report["tables_csv"] = csv_path;
  for (const auto& d : devices) report["devices"].push_back(d.name);

  if (opt.json) {
    fmt::print("{}\n", report.dump());
    return;
  }
  fmt::print(
      "{} variants × {} device(s) × batch {} in {:.1f} s "
      "(profile {:.1f} s, validation {:.1f} s, predict/measure {:.1f} s)\n",
      variants.size(), devices.size(), fmt::join(batches, ","), total.seconds(),
      report["seconds"]["profile"].get<double>(),
      report["seconds"]["validation"].get<double>(),
      report["seconds"]["predict_and_measure"].get<double>());
  if (report.contains("latency_fits")) {
    for (const auto& f : report["latency_fits"]) {
      if (f["mode"] == "fit") {
        fmt::print(
            "latency model {} batch {}: {:.1f}% of variants within ±10% "
            "({}-fold cross-validated; median error {:.1f}%); pure roofline "
            "{:.1f}%; background load {:.2f}\n",
            f["device"].get<std::string>(), f["batch"].get<int>(),
            100 * f["within_10pct"].get<double>(), f["folds"].get<int>(),
            100 * f["median_abs_rel_error"].get<double>(),
            100 * f["roofline_within_10pct"].get<double>(),
            f["background_load"].get<double>());
      } else {
        fmt::print(
            "load correction {} batch {}: background load {:.2f}, slope "
            "{:.2f}: {:.1f}% within ±10% (uncorrected {:.1f}%)\n",
            f["device"].get<std::string>(), f["batch"].get<int>(),
            f["background_load"].get<double>(), f["load_slope"].get<double>(),
            100 * f["within_10pct"].get<double>(),
            100 * f["within_10pct_uncorrected"].get<double>());
      }
    }
  }
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
