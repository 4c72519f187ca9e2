#pragma once
/// Building a trained run's performance tables (paper §IV-B/C, DESIGN
/// §3.4): the intrinsic profile and validation top-1 of every trained
/// variant (the performance index), and per device and batch a latency
/// model with each variant's predicted latency and energy (the predictive
/// table). On the machine being measured the model is fitted on measured
/// latencies and judged out of fold; measured again under background load,
/// the same measurement fits the load correction instead; other devices
/// borrow the fitted efficiency scaled by their clock, or keep what an
/// earlier build fitted on them. `adascale tables` parses its flags, calls
/// build_tables() and prints the report.

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/device_profile.h"
#include "core/variant.h"
#include "operators/elastic_net.h"
#include "search/latency_model.h"
#include "search/performance_tables.h"

namespace adascale::search {

/// What build_tables() builds and how hard it measures.
struct TableBuildOptions {
  /// Device profiles to predict for; with `measure` the first is this
  /// machine.
  std::vector<core::DeviceProfile> devices;
  /// Batch sizes: 1, and N when N > 1.
  std::vector<int> batches{1};
  /// Measure latencies here and fit (or load-correct) the first device.
  bool measure = false;
  /// Timed passes over all variants at batch 1 (a third at batch N).
  int repeats = 21;
  /// ≥ 0: the background load to record instead of /proc/stat's (a load it
  /// cannot see: a cgroup quota, a neighbour VM).
  double assume_load = -1;
  /// Above the load the model was fitted at by this much, a measurement
  /// fits the load correction instead of refitting.
  double load_probe_margin = 0.15;
  /// Folds of the cross-validation that judges a fitted model.
  int folds = 5;
  /// Where a load probe writes its per-variant CSV (the run directory).
  std::string probe_dir;
};

/// Validation top-1 of each variant (indexed like the variants given to
/// build_tables) and the images each was scored on; NaN where unscored.
struct ValidationScores {
  std::vector<double> top1;
  std::vector<int64_t> images;
  bool from_previous = false;  ///< read from an earlier tables file
};

/// One latency fit of a measuring build.
struct LatencyFitReport {
  enum class Mode { kFit, kLoadCorrection };
  std::string device;
  int batch = 1;
  Mode mode = Mode::kFit;
  double background_load = 0;
  double retest_within_10pct = 0;  ///< even vs odd passes agree within 10%
  double measure_seconds = 0;
  /// kFit: out-of-fold; kLoadCorrection: on the variants not calibrated on.
  double within_10pct = 0;
  double median_abs_rel_error = 0;
  // kFit only.
  double max_abs_rel_error = 0;
  double roofline_within_10pct = 0;
  double roofline_median_abs_rel_error = 0;
  int folds = 0;
  // kLoadCorrection only.
  double within_10pct_uncorrected = 0;
  size_t tested_on = 0;
  std::string probe_csv;
  /// The model after the fit.
  LatencyModel model;
};

/// What build_tables() built, and what it took.
struct TablesReport {
  PerformanceTables tables;
  std::vector<LatencyFitReport> fits;  ///< measuring builds only
  bool validation_from_previous = false;
  double profile_seconds = 0;
  double validation_seconds = 0;
  double predict_seconds = 0;  ///< predictions and measurements
};

/// The validation top-1 `previous` holds for every one of `variants`,
/// scored on `images` images; nullopt when any variant lacks one.
std::optional<ValidationScores> previous_validation(
    const PerformanceTables& previous, const core::VariantSpace& space,
    const std::vector<core::Variant>& variants, int64_t images);

/// Builds the tables of `variants` of `net`. `previous` is an earlier build
/// (empty for none): its fitted models stay unless this build refits them.
/// `validation` scores the variants (called once). Throws UsageError for
/// bad options.
TablesReport build_tables(operators::ElasticNet& net,
                          const std::vector<core::Variant>& variants,
                          const PerformanceTables& previous,
                          const std::function<ValidationScores()>& validation,
                          const TableBuildOptions& options);

}  // namespace adascale::search
