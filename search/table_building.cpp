#include "search/table_building.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/timing.h"
#include "search/energy_model.h"
#include "search/latency_measurement.h"
#include "search/variant_profiles.h"

namespace adascale::search {
namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A model fitted on measurements, and the clock of the device it ran on.
using FittedModel = std::pair<LatencyModel, double>;

// Not measured there: the pure roofline is never within 10% (docs), so the
// efficiency fitted on the machine measured in this build is borrowed, its
// per-layer dispatch costs scaled by the clock ratio (dispatch is CPU
// work); without one, the roofline.
LatencyModel borrowed_model(const FittedModel* fitted,
                            const core::DeviceProfile& device) {
  LatencyModel model;
  if (fitted == nullptr) return model;
  model = fitted->first;
  model.fitted_on = 0;
  model.load_slope = model.load_per_layer_s = 0;
  const double clock_ratio = fitted->second / device.cpu.max_clock_mhz;
  for (auto& c : model.per_layer_s) c *= clock_ratio;
  return model;
}

// Every fifth variant calibrates the load correction at the measured
// load; the rest test it. Writes the per-variant probe CSV.
void fit_load(LatencyModelEntry& entry, LatencyFitReport& fit,
              const std::vector<LatencyFeatures>& features,
              const VariantLatencies& m, const core::VariantSpace& space,
              const std::vector<core::Variant>& variants,
              const TableBuildOptions& options) {
  std::vector<LatencyFeatures> cal_f;
  std::vector<double> cal_m, predicted, plain, test_m;
  for (size_t i = 0; i < variants.size(); i += 5) {
    cal_f.push_back(features[i]);
    cal_m.push_back(m.median_ms[i]);
  }
  fit_load_correction(entry.model, cal_f, cal_m, m.background_load);
  std::string csv =
      "variant,background_load,measured_ms,predicted_idle_ms,predicted_ms,"
      "calibration\n";
  for (size_t i = 0; i < variants.size(); ++i) {
    const double idle = entry.model.predict_ms(features[i]);
    const double loaded = entry.model.predict_ms(
        idle, features[i].total_layers(), m.background_load);
    csv += fmt::format("{},{:.4f},{:.6g},{:.6g},{:.6g},{}\n",
                       space.to_string(variants[i]), m.background_load,
                       m.median_ms[i], idle, loaded, i % 5 == 0 ? 1 : 0);
    if (i % 5 == 0) continue;
    predicted.push_back(loaded);
    plain.push_back(idle);
    test_m.push_back(m.median_ms[i]);
  }
  fit.probe_csv =
      (fs::path(options.probe_dir) /
       fmt::format("load_probe_{}_b{}.csv", entry.device, fit.batch))
          .string();
  core::write_file_atomic(fit.probe_csv, csv);
  const PredictionAccuracy acc = prediction_accuracy(predicted, test_m);
  entry.load_within_10pct = acc.within_10pct;
  entry.load_probe_load = m.background_load;
  fit.mode = LatencyFitReport::Mode::kLoadCorrection;
  fit.within_10pct = acc.within_10pct;
  fit.within_10pct_uncorrected =
      prediction_accuracy(plain, test_m).within_10pct;
  fit.median_abs_rel_error = acc.median_abs_rel_error;
  fit.tested_on = acc.samples;
}

// Fits the model on idle measurements, judged on out-of-fold predictions:
// a model judged on the variants it was fitted on would flatter itself.
void fit_idle(LatencyModelEntry& entry, LatencyFitReport& fit,
              const std::vector<LatencyFeatures>& features,
              const VariantLatencies& m, const TableBuildOptions& options) {
  const std::vector<double>& measured = m.median_ms;
  const int folds =
      int(std::min<size_t>(size_t(options.folds), measured.size() / 2));
  PredictionAccuracy acc;
  acc.within_10pct = acc.median_abs_rel_error = acc.max_abs_rel_error = kNaN;
  if (folds >= 2) {
    acc = prediction_accuracy(
        cross_validated_predictions(features, measured, folds), measured);
  }
  std::vector<double> roofline;
  for (const auto& f : features) roofline.push_back(f.theoretical_s() * 1e3);
  const PredictionAccuracy raw = prediction_accuracy(roofline, measured);
  // A load correction fitted earlier stays: it describes how this machine
  // slows under load, which a refit at idle cannot see.
  const double kappa = entry.model.load_slope;
  const double lambda = entry.model.load_per_layer_s;
  entry.model = fit_latency_model(features, measured);
  entry.model.load_slope = kappa;
  entry.model.load_per_layer_s = lambda;
  entry.within_10pct = acc.within_10pct;
  entry.fit_load = m.background_load;
  fit.mode = LatencyFitReport::Mode::kFit;
  fit.within_10pct = acc.within_10pct;
  fit.median_abs_rel_error = acc.median_abs_rel_error;
  fit.max_abs_rel_error = acc.max_abs_rel_error;
  fit.roofline_within_10pct = raw.within_10pct;
  fit.roofline_median_abs_rel_error = raw.median_abs_rel_error;
  fit.folds = folds;
}

// The measured latencies `previous` holds for `variants` on (device, batch).
std::vector<double> previous_measurements(
    const PerformanceTables& previous, const std::string& device, int batch,
    const core::VariantSpace& space,
    const std::vector<core::Variant>& variants) {
  std::map<uint64_t, double> by_key;
  for (const auto& p : previous.predictive)
    if (p.device == device && p.batch == batch)
      by_key[p.key] = p.measured_latency_ms;
  std::vector<double> measured(variants.size(), kNaN);
  for (size_t i = 0; i < variants.size(); ++i) {
    auto it = by_key.find(space.pack(variants[i]));
    if (it != by_key.end()) measured[i] = it->second;
  }
  return measured;
}

}  // namespace

std::optional<ValidationScores> previous_validation(
    const PerformanceTables& previous, const core::VariantSpace& space,
    const std::vector<core::Variant>& variants, int64_t images) {
  if (images <= 0) return std::nullopt;
  std::map<uint64_t, double> cached;
  for (const auto& e : previous.index)
    if (!std::isnan(e.validation_top1) && e.validation_images == images)
      cached[e.key] = e.validation_top1;
  ValidationScores scores;
  scores.from_previous = true;
  for (const core::Variant& v : variants) {
    auto it = cached.find(space.pack(v));
    if (it == cached.end()) return std::nullopt;
    scores.top1.push_back(it->second);
    scores.images.push_back(images);
  }
  return scores;
}

TablesReport build_tables(operators::ElasticNet& net,
                          const std::vector<core::Variant>& variants,
                          const PerformanceTables& previous,
                          const std::function<ValidationScores()>& validation,
                          const TableBuildOptions& options) {
  if (options.devices.empty()) {
    throw UsageError("tables: no device profile to build the tables for");
  }
  if (options.batches.empty() || options.batches.front() != 1 ||
      std::any_of(options.batches.begin(), options.batches.end(),
                  [](int b) { return b < 1; })) {
    throw UsageError("tables: the batch sizes must start with 1 and be ≥ 1");
  }
  for (size_t i = 0; i < options.devices.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (options.devices[i].name == options.devices[k].name)
        throw UsageError("tables: device '" + options.devices[i].name +
                         "' given twice");
  const core::VariantSpace& space = net->variants();
  const std::vector<int>& batches = options.batches;
  TablesReport report;

  core::Stopwatch watch;
  std::vector<std::vector<ModelProfile>> profiles;
  for (int b : batches) profiles.push_back(profile_variants(net, variants, b));
  report.profile_seconds = watch.seconds();
  log::info("tables: profiled {} variants at batch {} in {:.1f} s",
            variants.size(), fmt::join(batches, " and "), watch.seconds());

  watch.restart();
  ValidationScores scores = validation();
  if (scores.top1.size() != variants.size() ||
      scores.images.size() != variants.size()) {
    throw InternalError("tables: validation scored another set of variants");
  }
  report.validation_from_previous = scores.from_previous;
  report.validation_seconds = watch.seconds();
  for (size_t i = 0; i < variants.size(); ++i) {
    const ModelProfile& p = profiles[0][i];
    report.tables.index.push_back(
        {space.pack(variants[i]), space.to_string(variants[i]),
         variants[i].exit + 1, p.params, p.storage_fp32_bytes, p.macs,
         p.memory_access_bytes, int(p.layers.size()), scores.top1[i],
         scores.images[i]});
  }

  watch.restart();
  const int threads = at::get_num_threads();
  // Batch → the model fitted on this machine's measurements (now, or by an
  // earlier build when this one does not measure) and its clock.
  std::map<int, FittedModel> fitted_here;
  if (!options.measure) {
    for (const auto& d : options.devices)
      for (int batch : batches)
        if (const auto* m = previous.model(d.name, batch);
            m != nullptr && m->model.fitted_on > 0 && !fitted_here.count(batch))
          fitted_here[batch] = {m->model, d.cpu.max_clock_mhz};
  }
  for (size_t d = 0; d < options.devices.size(); ++d) {
    const core::DeviceProfile& device = options.devices[d];
    const bool local = options.measure && d == 0;
    const int device_threads = local ? threads : device.cpu.cores;
    for (size_t b = 0; b < batches.size(); ++b) {
      std::vector<LatencyFeatures> features;
      for (const auto& p : profiles[b])
        features.push_back(latency_features(p, device, device_threads));
      LatencyModelEntry entry;
      entry.device = device.name;
      entry.batch = batches[b];
      entry.threads = device_threads;
      entry.within_10pct = kNaN;
      entry.load_within_10pct = kNaN;
      const LatencyModelEntry* old = previous.model(device.name, batches[b]);
      if (old != nullptr) entry = *old;
      if (!local && (old == nullptr || old->model.fitted_on == 0)) {
        auto it = fitted_here.find(batches[b]);
        entry.model = borrowed_model(
            it == fitted_here.end() ? nullptr : &it->second, device);
        entry.within_10pct = kNaN;
      }
      std::vector<double> measured(variants.size(), kNaN);
      if (local) {
        VariantLatencies m = measure_variant_latencies(
            net, variants, batches[b],
            batches[b] == 1 ? options.repeats
                            : std::max(3, options.repeats / 3));
        if (options.assume_load >= 0) m.background_load = options.assume_load;
        LatencyFitReport fit;
        fit.device = device.name;
        fit.batch = batches[b];
        fit.background_load = m.background_load;
        fit.retest_within_10pct = m.retest_within_10pct;
        fit.measure_seconds = m.seconds;
        const bool probe_load =
            old != nullptr && old->model.fitted_on > 0 &&
            m.background_load > old->fit_load + options.load_probe_margin;
        if (probe_load) {
          fit_load(entry, fit, features, m, space, variants, options);
          // The table keeps the idle measurements the model rests on.
          measured = previous_measurements(previous, device.name, batches[b],
                                           space, variants);
        } else {
          fit_idle(entry, fit, features, m, options);
          measured = m.median_ms;
        }
        fit.model = entry.model;
        report.fits.push_back(std::move(fit));
        fitted_here[batches[b]] = {entry.model, device.cpu.max_clock_mhz};
      }
      for (size_t i = 0; i < variants.size(); ++i) {
        const double latency = entry.model.predict_ms(features[i]);
        const EnergyEstimate energy =
            predict_energy(profiles[b][i], device, latency, device_threads);
        report.tables.predictive.push_back(
            {space.pack(variants[i]), device.name, batches[b], device_threads,
             latency, energy.total_mj(), energy.hit_rate, measured[i]});
      }
      report.tables.models.push_back(entry);
    }
  }
  report.predict_seconds = watch.seconds();
  return report;
}

}  // namespace adascale::search
