#include "runtime/adaptation_controller.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace adascale::runtime {
namespace {

double micros_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now() - start)
      .count();
}

// Latencies kept between two decisions: at 10 Hz, enough for inferences
// of 25 µs; more are dropped rather than allocated on the inference path.
constexpr size_t kPendingCapacity = 4096;

double clock_ratio(const ResourceSample& s) {
  if (!s.cpu_clock_mhz || !s.cpu_max_clock_mhz || *s.cpu_clock_mhz <= 0) {
    return 1.0;
  }
  return std::max(1.0, *s.cpu_max_clock_mhz / *s.cpu_clock_mhz);
}

}  // namespace

AdaptationController::AdaptationController(
    AdaptiveEngine& engine, AdaptationPolicy policy,
    std::vector<size_t> engine_index, ForecastConfig forecast,
    LoadIndexWeights weights, std::optional<ThreadGovernor> governor,
    double feedback_quantile, LatencyQuantileConfig latency_quantile)
    : engine_(engine),
      policy_(std::move(policy)),
      engine_index_(std::move(engine_index)),
      forecaster_(forecast),
      weights_(weights),
      governor_(std::move(governor)),
      feedback_quantile_(feedback_quantile),
      latency_quantile_(latency_quantile) {
  validate_load_index_weights(weights_);
  if (!(feedback_quantile_ >= 0.5 && feedback_quantile_ <= 1.0)) {
    throw UsageError(fmt::format(
        "feedback quantile must be in [0.5, 1], got {}", feedback_quantile_));
  }
  if (engine_index_.size() != policy_.rows().size()) {
    throw UsageError(fmt::format("{} engine indices for {} policy rows",
                                 engine_index_.size(), policy_.rows().size()));
  }
  for (size_t i : engine_index_) {
    if (i >= engine_.variants().size()) {
      throw UsageError(fmt::format("engine index {} out of range ({})", i,
                                   engine_.variants().size()));
    }
  }
  pending_.reserve(kPendingCapacity);
  status_.load = std::numeric_limits<double>::quiet_NaN();
  status_.latency_bound_ms = std::numeric_limits<double>::quiet_NaN();
  status_.last = policy_.decide(0.0);
  status_.variant = engine_index_[status_.last.row];
  engine_.switch_to(status_.variant);
  if (governor_) {
    status_.threads = governor_->threads();
    engine_.set_threads(status_.threads);
  }
}

void AdaptationController::on_sample(const ResourceSample& sample) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (governor_) {
    const int threads = governor_->update(sample.background_load);
    if (threads != status_.threads) {
      engine_.set_threads(threads);
      status_.threads = threads;
      ++status_.thread_changes;
    }
  }
  std::optional<double> load = load_index(sample, weights_);
  if (!load || !std::isfinite(*load)) return;
  auto start = std::chrono::steady_clock::now();
  if (!pending_.empty()) {
    const auto rank =
        size_t(feedback_quantile_ * double(pending_.size() - 1) + 0.5);
    auto at = pending_.begin() + long(rank);
    std::nth_element(pending_.begin(), at, pending_.end());
    policy_.observe(*at);
    pending_.clear();
  }
  forecaster_.push(*load);
  const double forecast = forecaster_.forecast();
  // With a governor, the policy sees the share of the forecast load that
  // still lands on the engine's threads (see the header).
  policy_load_ = governor_ ? governor_->contention(forecast) : forecast;
  clock_ratio_ = clock_ratio(sample);
  Decision d = policy_.decide(policy_load_, clock_ratio_);
  const double decision_us = micros_since(start);
  apply(d);
  reflex_armed_ = true;
  status_.load = *load;
  status_.forecast = forecast;
  status_.forecast_score = forecaster_.score();
  status_.forecast_model = forecaster_.choice();
  ++status_.decisions;
  decision_us_total_ += decision_us;
  status_.decision_us_mean = decision_us_total_ / double(status_.decisions);
  status_.decision_us_max = std::max(status_.decision_us_max, decision_us);
}

void AdaptationController::apply(const Decision& d) {
  if (d.switched) {
    auto switch_start = std::chrono::steady_clock::now();
    engine_.switch_to(engine_index_[d.row]);
    status_.switch_us_max =
        std::max(status_.switch_us_max, micros_since(switch_start));
    ++status_.switches;
  }
  status_.last = d;
  status_.variant = engine_index_[d.row];
  status_.feedback_ratio = policy_.feedback_ratio();
  status_.latency_bound_ms = latency_quantile_.predict(d.predicted_ms);
}

void AdaptationController::observe(const InferenceResult& result) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (result.variant != status_.variant || !(result.latency_ms > 0)) return;
  if (result.exit == engine_.variants()[result.variant].exit) {
    if (pending_.size() < kPendingCapacity) {
      pending_.push_back(result.latency_ms);
    }
    latency_quantile_.observe(status_.last.predicted_ms,
                              status_.latency_bound_ms, result.latency_ms);
    status_.bound_score = latency_quantile_.score();
  }
  count_overrun(result.latency_ms);
}

void AdaptationController::count_overrun(double latency_ms) {
  const int trigger = policy_.config().overrun_streak;
  if (trigger == 0) return;
  if (!(latency_ms > policy_.config().budget_ms)) {
    overruns_ = 0;
    return;
  }
  overrun_min_ms_ =
      overruns_ == 0 ? latency_ms : std::min(overrun_min_ms_, latency_ms);
  if (++overruns_ < trigger || !reflex_armed_) return;
  overruns_ = 0;
  const bool can_shed = governor_ && governor_->threads() > 1;
  if (!can_shed && !policy_.config().overrun_downgrade) return;
  reflex_armed_ = false;
  ++status_.reflexes;
  // Latencies measured before the remedy describe the old configuration.
  pending_.clear();
  if (can_shed) {
    status_.threads = governor_->shed();
    engine_.set_threads(status_.threads);
    ++status_.thread_changes;
    return;
  }
  apply(policy_.overrun(overrun_min_ms_, policy_load_, clock_ratio_));
}

ControllerStatus AdaptationController::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

}  // namespace adascale::runtime
