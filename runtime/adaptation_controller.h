#pragma once
/// The adaptation loop of paper §IV (DESIGN §3.5), between the resource
/// monitor and the engine: every monitor sample's load index goes into the
/// AR forecaster; the policy decides from the forecast; a decision to
/// switch becomes one AdaptiveEngine::switch_to. Latencies the inference
/// thread measures come back through observe() as the policy's feedback.
///
/// on_sample() runs on the monitor thread (see sampling_hook()), observe()
/// on the inference thread; a mutex keeps the policy consistent between
/// them. Neither blocks inference: the engine switch is one atomic store.

#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "runtime/adaptation_policy.h"
#include "runtime/adaptive_engine.h"
#include "runtime/ar_forecaster.h"
#include "runtime/forecast_selector.h"
#include "runtime/latency_quantile.h"
#include "runtime/load_index.h"
#include "runtime/resource_sample.h"
#include "runtime/thread_governor.h"

namespace adascale::runtime {

/// What the loop last saw and did, for status lines and logs.
struct ControllerStatus {
  double load = 0;      ///< newest measured load index (NaN before one)
  double forecast = 0;  ///< forecast load index for the next period
  size_t variant = 0;   ///< engine index of the running variant
  Decision last;        ///< the last decision
  size_t decisions = 0;
  size_t switches = 0;
  double feedback_ratio = 1;
  double decision_us_mean = 0;  ///< forecast + policy, per sample
  double decision_us_max = 0;
  double switch_us_max = 0;  ///< engine switch_to alone
  int threads = 0;           ///< intra-op threads the engine is told to use
  size_t thread_changes = 0;
  size_t reflexes = 0;  ///< reactions to measured overruns between samples
  /// Walk-forward errors of the AR and naive forecasts over this loop's
  /// samples, and how often each was the one the policy got.
  ForecastScore forecast_score;
  /// The forecast behind `forecast`.
  ForecastModel forecast_model = ForecastModel::kNaive;
  /// Predicted q-quantile of the running variant's latency until the next
  /// decision (LatencyQuantile; NaN while it warms up), and how the
  /// predictions held against the latencies that followed them.
  double latency_bound_ms = 0;
  QuantileScore bound_score;
};

class AdaptationController {
 public:
  /// `engine_index[i]` is the engine's index of the policy's row i. The
  /// first decision (at load 0) is made and applied here, so the engine
  /// runs the policy's choice before the first sample arrives. Throws
  /// UsageError when the sizes differ or an index is out of range.
  AdaptationController(AdaptiveEngine& engine, AdaptationPolicy policy,
                       std::vector<size_t> engine_index,
                       ForecastConfig forecast = {},
                       LoadIndexWeights weights = {},
                       std::optional<ThreadGovernor> governor = std::nullopt,
                       double feedback_quantile = 0.5,
                       LatencyQuantileConfig latency_quantile = {});

  /// Feeds one resource sample: load index → forecaster → policy → engine,
  /// and the background load → thread governor → engine thread count (when
  /// a governor was given). With a governor, the policy decides on the
  /// share of the forecast load that still lands on the engine's threads
  /// (ThreadGovernor::contention of the forecast), not on the whole load:
  /// the latency model's load correction was fitted with every core shared.
  /// A sample without a load index is skipped.
  void on_sample(const ResourceSample& sample);
  /// Feeds a measured latency back. Ignored unless it ran the variant the
  /// policy chose last and took its final exit (an early exit's latency is
  /// not that variant's). Latencies are collected until the next sample,
  /// whose decision first feeds their `feedback_quantile` to the policy:
  /// one feedback step per decision, whatever the inference rate. 0.5 (the
  /// default) steers the median under the budget; a higher quantile steers
  /// the tail, trading accuracy for fewer deadline misses (measured in the
  /// README: 0.9 under user_activity halved misses but ran e1 a quarter of
  /// the time).
  ///
  /// Overrun reflex: when `policy.overrun_streak` inferences in a row of
  /// the running variant (any exit) took longer than the budget, the
  /// controller reacts here, on the inference thread, without waiting for
  /// the next monitor sample (a load burst shows in the latencies before
  /// the 10 Hz monitor sees it). The cheapest remedy first: one intra-op
  /// thread fewer when the governor can give one up, otherwise
  /// AdaptationPolicy::overrun (a downgrade at the last forecast load). At
  /// most one reflex per monitor period; the next samples undo it when the
  /// load does not confirm it.
  void observe(const InferenceResult& result);

  ControllerStatus status() const;

 private:
  /// Switches the engine when `d` says so and records it; mutex_ held.
  void apply(const Decision& d);
  /// The overrun reflex of observe(); mutex_ held.
  void count_overrun(double latency_ms);

  AdaptiveEngine& engine_;
  AdaptationPolicy policy_;
  std::vector<size_t> engine_index_;
  ForecastSelector forecaster_;
  LoadIndexWeights weights_;
  std::optional<ThreadGovernor> governor_;
  double feedback_quantile_;
  LatencyQuantile latency_quantile_;
  mutable std::mutex mutex_;  // everything below and policy_, forecaster_
  ControllerStatus status_;
  std::vector<double> pending_;  // latencies since the last decision
  double decision_us_total_ = 0;
  double policy_load_ = 0;  // load and clock of the last sample's decision
  double clock_ratio_ = 1;
  int overruns_ = 0;           // overruns of the budget in a row
  double overrun_min_ms_ = 0;  // the smallest of them
  bool reflex_armed_ = true;   // no reflex yet since the last sample
};

}  // namespace adascale::runtime
