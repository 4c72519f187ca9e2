#include "runtime/latency_quantile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/order_statistics.h"

namespace adascale::runtime {

void validate_latency_quantile_config(const LatencyQuantileConfig& c) {
  if (!(c.quantile >= 0.5 && c.quantile <= 0.999)) {
    throw UsageError(fmt::format(
        "predicted_quantile: must be in [0.5, 0.999], got {}", c.quantile));
  }
  if (c.warmup < 1 || c.window < c.warmup) {
    throw UsageError(fmt::format(
        "latency quantile: need window >= warmup >= 1, got window {} and "
        "warmup {}",
        c.window, c.warmup));
  }
  if (!(c.step >= 0 && c.step <= 0.1)) {
    throw UsageError(fmt::format(
        "latency quantile step: must be in [0, 0.1], got {}", c.step));
  }
}

double QuantileScore::coverage() const {
  return scored == 0 ? std::numeric_limits<double>::quiet_NaN()
                     : double(covered) / double(scored);
}

double QuantileScore::tightness() const {
  return scored == 0 || !(measured_sum_ms > 0)
             ? std::numeric_limits<double>::quiet_NaN()
             : bound_sum_ms / measured_sum_ms;
}

LatencyQuantile::LatencyQuantile(LatencyQuantileConfig config)
    : config_(config), alpha_(1 - config.quantile) {
  validate_latency_quantile_config(config_);
  ratios_.reserve(config_.window);
}

double LatencyQuantile::predict(double predicted_ms) const {
  if (ratios_.size() < config_.warmup || !(predicted_ms > 0)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return predicted_ms * core::quantile(ratios_, 1 - alpha_);
}

void LatencyQuantile::observe(double predicted_ms, double bound_ms,
                              double measured_ms) {
  if (!(predicted_ms > 0) || !(measured_ms >= 0)) return;
  if (std::isfinite(bound_ms)) {
    const bool covered = measured_ms <= bound_ms;
    ++score_.scored;
    score_.covered += covered;
    score_.bound_sum_ms += bound_ms;
    score_.measured_sum_ms += measured_ms;
    // Adaptive conformal step. Below α = 0 the bound is already the
    // largest ratio in the window; letting α run further below would keep
    // it there for hundreds of latencies after a burst has passed.
    alpha_ += config_.step * ((1 - config_.quantile) - (covered ? 0.0 : 1.0));
    alpha_ = std::clamp(alpha_, 0.0, 1.0);
  }
  const double ratio = measured_ms / predicted_ms;
  if (ratios_.size() < config_.window) {
    ratios_.push_back(ratio);
  } else {
    ratios_[next_] = ratio;
    next_ = (next_ + 1) % config_.window;
  }
}

}  // namespace adascale::runtime
