#pragma once
/// The demo of paper §V-F and Fig. 8: classify a test split in a loop under
/// a background load that follows a trace, once with the runtime adapting
/// the variant and once with one static variant, and compare.
///
/// Each phase restarts the trace, so both see the same load over time. The
/// resource monitor, forecaster and policy run in both (so the static
/// phase's log shows the load too); only the adaptive phase lets them pick
/// the variant.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "datasets/normalized_images.h"
#include "runtime/adaptation_policy.h"
#include "runtime/adaptive_engine.h"
#include "runtime/ar_forecaster.h"
#include "runtime/resource_monitor.h"
#include "runtime/thread_governor.h"
#include "runtime/variant_rows.h"

namespace adascale::demo {

struct DemoOptions {
  double duration_s = 60;  ///< per phase
  double warmup_s = 2;     ///< untimed inference before the first phase
  bool adaptive = true;    ///< run the adaptive phase
  bool static_phase = true;
  size_t static_variant = 0;  ///< engine index of the static baseline
  runtime::PolicyConfig policy;
  runtime::ForecastConfig forecast;
  runtime::MonitorConfig monitor;
  /// The adaptive phase's thread governor (disabled: a fixed count).
  runtime::ThreadGovernorConfig governor;
  int threads = 1;  ///< intra-op threads of the static phase (and at start)
  /// Quantile of the latencies between decisions fed back to the policy.
  double feedback_quantile = 0.5;
  bool quiet = false;  ///< no per-second lines
};

/// One second of one phase.
struct SecondRecord {
  std::string phase;  ///< "adaptive" | "static"
  double t_s = 0;     ///< end of the second, from the phase's start
  double load = 0;    ///< newest load index (NaN before the first sample)
  double forecast = 0;
  std::string variant;   ///< the variant running at the end of the second
  double exit_mean = 0;  ///< mean 1-based exit taken
  int64_t inferences = 0;
  double latency_mean_ms = 0, latency_p50_ms = 0, latency_p95_ms = 0;
  int64_t misses = 0;   ///< inferences over the budget
  double accuracy = 0;  ///< running top-1 since the phase's start
  double feedback_ratio = 1;
  size_t switches = 0;  ///< switches since the phase's start
  int threads = 0;      ///< intra-op threads in use at the end of the second
};

/// A whole phase.
struct PhaseSummary {
  std::string phase;
  int64_t inferences = 0;
  double seconds = 0;
  double latency_mean_ms = 0, latency_p50_ms = 0, latency_p95_ms = 0,
         latency_p99_ms = 0;
  double accuracy = 0;
  double miss_rate = 0;  ///< share of inferences over the budget
  size_t switches = 0;
  size_t decisions = 0;
  double decision_us_mean = 0, decision_us_max = 0, switch_us_max = 0;
  size_t thread_changes = 0;
  size_t reflexes = 0;  ///< reactions to measured overruns (adaptive only)
  /// Walk-forward error of the AR forecast on this phase's recorded load
  /// series (monitor period steps ahead) against the naive last-value
  /// forecast; 0 forecasts when the series was too short.
  runtime::ForecastError forecast;
  /// Share of inferences per variant id.
  std::map<std::string, double> variant_share;
  /// Share of inferences per exit taken (1-based).
  std::map<int, double> exit_share;
};

/// Callback the demo drives its background load through: `true` starts the
/// trace from its beginning, `false` idles.
using LoadSwitch = std::function<void(bool)>;

class DemoSession {
 public:
  DemoSession(runtime::AdaptiveEngine& engine, runtime::VariantRows rows,
              const datasets::NormalizedImages& images, DemoOptions options,
              LoadSwitch load);

  /// Runs the phases the options ask for; returns their summaries.
  std::vector<PhaseSummary> run();
  const std::vector<SecondRecord>& seconds() const { return seconds_; }

 private:
  PhaseSummary run_phase(const std::string& phase, bool adaptive);

  runtime::AdaptiveEngine& engine_;
  runtime::VariantRows rows_;
  std::vector<size_t> engine_index_;  ///< engine index of each row
  const datasets::NormalizedImages& images_;
  DemoOptions options_;
  LoadSwitch load_;
  std::vector<SecondRecord> seconds_;
  int64_t cursor_ = 0;  ///< next test image
};

/// seconds as CSV (header + one line per record).
std::string seconds_csv(const std::vector<SecondRecord>& seconds);

}  // namespace adascale::demo
