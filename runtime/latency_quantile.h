#pragma once
/// A latency quantile the policy can trust under load: the q-quantile
/// (p90 by default) of the running variant's next latencies, predicted as
/// the policy's point prediction (the latency model at the forecast load
/// index, feedback included) times a quantile of recent measured/predicted
/// ratios. Point predictions under load repeat too rarely to be within ±10%
/// (the measurements themselves do not repeat that well), but a ratio's
/// spread is stable enough to bound them.
///
/// Calibration is kept by adaptive conformal inference (Gibbs & Candès,
/// "Adaptive Conformal Inference Under Distribution Shift", NeurIPS 2021):
/// every scored latency moves the quantile level used, up after a latency
/// above the prediction, down after one below (α ← α + γ·(1 − q − miss)),
/// so the long-run share under the prediction tends to q even when the
/// load's regime shifts and the recent ratios mislead.
///
/// Pure logic, no clock; not thread-safe (the controller owns it).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace adascale::runtime {

struct LatencyQuantileConfig {
  double quantile = 0.9;  ///< q: target share of latencies under the bound
  size_t window = 2048;   ///< recent measured/predicted ratios kept
  size_t warmup = 64;     ///< ratios before the first prediction
  double step = 0.005;    ///< γ: how fast the level follows misses
};

/// Throws UsageError naming the field out of range: quantile in [0.5, 0.999],
/// window ≥ warmup ≥ 1, step in [0, 0.1].
void validate_latency_quantile_config(const LatencyQuantileConfig& config);

/// How well the predictions held: latencies scored against the prediction
/// made before they ran, and how many were at or under it.
struct QuantileScore {
  int64_t scored = 0;
  int64_t covered = 0;
  double bound_sum_ms = 0;     ///< of the bounds the latencies met
  double measured_sum_ms = 0;  ///< of the latencies scored
  /// covered / scored; NaN before the first scored latency.
  double coverage() const;
  /// Mean bound over mean scored latency: how far out the bound sits (a
  /// bound far above every latency would cover them all and say little).
  double tightness() const;
};

class LatencyQuantile {
 public:
  explicit LatencyQuantile(LatencyQuantileConfig config = {});

  /// The predicted q-quantile of a latency whose point prediction is
  /// `predicted_ms`; NaN until `warmup` ratios were seen or when
  /// `predicted_ms` is not positive.
  double predict(double predicted_ms) const;

  /// One measured latency of the variant whose point prediction was
  /// `predicted_ms` and whose quantile prediction was `bound_ms` (from
  /// predict(), made before it ran; NaN when there was none, then it is
  /// not scored). Scores it, moves the level, keeps its ratio.
  void observe(double predicted_ms, double bound_ms, double measured_ms);

  const QuantileScore& score() const { return score_; }
  /// The ratio quantile level in use now (q at the start).
  double level() const { return 1 - alpha_; }
  const LatencyQuantileConfig& config() const { return config_; }

 private:
  LatencyQuantileConfig config_;
  std::vector<double> ratios_;  // ring buffer of the last `window` ratios
  size_t next_ = 0;
  double alpha_;
  QuantileScore score_;
};

}  // namespace adascale::runtime
