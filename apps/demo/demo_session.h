#pragma once
/// The demo of paper §V-F and Fig. 8: classify a test split in a loop under
/// a background load that follows a trace, once with the runtime adapting
/// the variant and once with one static variant, and compare.
///
/// Each phase restarts the trace, so both see the same load over time. The
/// runtime's loop (resource monitor, forecaster, policy) runs in both (so
/// the static phase's log shows the load too); only the adaptive phase lets
/// it pick the variant. The runtime (runtime/adaptive_runtime.h) carries
/// the policy, forecast, monitor and thread settings; the static phase runs
/// at its intra_op_threads.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "datasets/normalized_images.h"
#include "runtime/adaptive_runtime.h"
#include "runtime/forecast_selector.h"

namespace adascale::demo {

struct DemoOptions {
  double duration_s = 60;  ///< per phase
  double warmup_s = 2;     ///< untimed inference before the first phase
  bool adaptive = true;    ///< run the adaptive phase
  bool static_phase = true;
  size_t static_variant = 0;  ///< engine index of the static baseline
  bool quiet = false;         ///< no per-second lines
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
  /// Walk-forward errors of the AR and the naive (last value) load
  /// forecasts over this phase's samples (horizon periods ahead), and how
  /// often each was the one the policy got; 0 scored when the phase was too
  /// short.
  runtime::ForecastScore forecast;
  /// How the loop's predicted latency bound (its q-quantile, q =
  /// runtime.predicted_quantile) held: latencies of the running variant
  /// scored against the bound predicted before they ran.
  runtime::QuantileScore bound;
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
  /// `runtime` must not have its loop running (autostart off): each phase
  /// starts a fresh one.
  DemoSession(runtime::AdaptiveRuntime& runtime,
              const datasets::NormalizedImages& images, DemoOptions options,
              LoadSwitch load);

  /// Runs the phases the options ask for; returns their summaries.
  std::vector<PhaseSummary> run();
  const std::vector<SecondRecord>& seconds() const { return seconds_; }

 private:
  PhaseSummary run_phase(const std::string& phase, bool adaptive);

  runtime::AdaptiveRuntime& runtime_;
  const datasets::NormalizedImages& images_;
  DemoOptions options_;
  LoadSwitch load_;
  std::vector<SecondRecord> seconds_;
  int64_t cursor_ = 0;  ///< next test image
};

/// seconds as CSV (header + one line per record).
std::string seconds_csv(const std::vector<SecondRecord>& seconds);

}  // namespace adascale::demo
