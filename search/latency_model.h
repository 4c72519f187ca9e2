#pragma once
/// Latency prediction (paper §IV-B "Latency", DESIGN §3.4) in two stages.
///
/// 1. Theoretical: every layer of a variant's intrinsic profile gets a
///    roofline time on a device profile, max(MACs / peak MAC/s, bytes /
///    bandwidth), where the bandwidth is that of the innermost cache level
///    holding the layer's working set (its eq. 4 memory accesses), else
///    DRAM's. The peak is scaled to the threads the runtime uses.
/// 2. Fitted: the roofline is an ideal no kernel reaches, and how far each
///    kind of layer falls short differs (a depthwise conv is memory-bound
///    and far slower per MAC than a dense one; at batch 1 every op pays a
///    fixed dispatch cost). So the roofline times are summed per layer
///    class and a non-negative linear model over those sums plus the layer
///    count is fitted on measured latencies (relative least squares, so a
///    1 ms and a 10 ms variant weigh alike). Unfitted, the coefficients are
///    1 per class and 0 for the per-layer cost: the pure roofline.
/// 3. Runtime correction: measured latency grows with the load other
///    programs put on the CPU and with a lowered clock. Two effects: work
///    shares the cores (time × (1 + κ · load)), and every op's parallel
///    region waits for a worker thread the scheduler has descheduled (a
///    cost per layer, λ · load). So t(load) = (max clock / clock) · (t ·
///    (1 + κ · load) + λ · load · layers), κ and λ fitted on latencies
///    measured under load. On this 2-core VM, one core busy with stress-ng
///    makes LibTorch at 2 threads up to ten times slower, mostly the second
///    effect.
///
/// Pure arithmetic over profiles: no LibTorch calls.

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "core/device_profile.h"
#include "search/intrinsic_profiler.h"

namespace adascale::search {

/// The layer classes whose roofline times the model weighs separately.
enum class LayerClass : int {
  kConv,         ///< dense convolution (≥ 32 MACs per output element)
  kThinConv,     ///< depthwise / grouped / tiny convolution: memory-bound
  kLinear,       ///< linear and matmul-like layers
  kNormalize,    ///< batch / layer / group norm
  kPool,         ///< pooling of any kind
  kElementwise,  ///< activations, arithmetic, data movement, the rest
};
inline constexpr size_t kLayerClasses = 6;

/// Readable name of a class ("conv", "thin_conv", ...).
const char* layer_class_name(LayerClass c);

/// The class of one profiled layer.
LayerClass classify_layer(const LayerProfile& layer);

/// The features of one variant on one device: roofline seconds and number
/// of layers per class.
struct LatencyFeatures {
  std::array<double, kLayerClasses> roofline_s{};
  std::array<double, kLayerClasses> layers{};
  double total_layers() const;
  /// Σ roofline_s: the pure theoretical latency, seconds.
  double theoretical_s() const;
};

/// Roofline time of one layer on `device` when `threads` cores run it.
double layer_roofline_seconds(const LayerProfile& layer,
                              const core::DeviceProfile& device, int threads);

/// Features of a whole profile.
LatencyFeatures latency_features(const ModelProfile& profile,
                                 const core::DeviceProfile& device,
                                 int threads);

/// The fitted model for one device and thread count.
struct LatencyModel {
  /// Multiplier of each class's roofline time (≥ 0; 1 = the roofline).
  std::array<double, kLayerClasses> class_scale;
  /// Seconds per layer of each class (dispatch overhead, ≥ 0).
  std::array<double, kLayerClasses> per_layer_s{};
  /// Runtime correction κ: latency × (1 + load_slope · load).
  double load_slope = 0;
  /// Runtime correction λ: + load_per_layer_s · load · layers.
  double load_per_layer_s = 0;
  /// Samples the model was fitted on (0 = the pure roofline).
  int fitted_on = 0;

  LatencyModel() { class_scale.fill(1.0); }

  /// Predicted latency in ms at no load and the maximum clock.
  double predict_ms(const LatencyFeatures& f) const;
  /// Predicted latency in ms under `load` in [0, 1] and `clock_ratio` =
  /// max clock / current clock (≥ 1; 1 when unknown), from the idle
  /// prediction and the variant's layer count.
  double predict_ms(double idle_ms, double layers, double load,
                    double clock_ratio = 1.0) const;
};

/// Fits the class scales and per-layer costs by non-negative least squares
/// on relative error: minimises Σ ((pred_i − measured_i) / measured_i)².
/// Throws UsageError when the inputs differ in length, are fewer than 2,
/// or a measured latency is not a positive number.
LatencyModel fit_latency_model(const std::vector<LatencyFeatures>& features,
                               const std::vector<double>& measured_ms);

/// Fits `model.load_slope` and `model.load_per_layer_s` (non-negative,
/// relative least squares) on latencies measured under a known load; the
/// rest of the model stays. Throws UsageError when load ≤ 0.05 (nothing to
/// fit) or the inputs are empty or differ in length.
void fit_load_correction(LatencyModel& model,
                         const std::vector<LatencyFeatures>& features,
                         const std::vector<double>& measured_ms, double load);

/// How well predictions match measurements.
struct PredictionAccuracy {
  size_t samples = 0;
  double within_10pct = 0;  ///< share of |pred − meas| / meas ≤ 0.10
  double median_abs_rel_error = 0;
  double max_abs_rel_error = 0;
};

PredictionAccuracy prediction_accuracy(const std::vector<double>& predicted_ms,
                                       const std::vector<double>& measured_ms);

/// k-fold cross-validated predictions: each sample predicted by a model
/// fitted on the other folds (fold = index mod k). Needs k ≥ 2 and at
/// least 2k samples; throws UsageError otherwise.
std::vector<double> cross_validated_predictions(
    const std::vector<LatencyFeatures>& features,
    const std::vector<double>& measured_ms, int folds);

/// Non-negative least squares min ‖A x − b‖, x ≥ 0 (Lawson–Hanson), A given
/// row-major with `cols` columns. Exposed for tests.
std::vector<double> nonnegative_least_squares(const std::vector<double>& a,
                                              size_t cols,
                                              const std::vector<double>& b);

}  // namespace adascale::search
