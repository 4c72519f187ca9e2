#include "search/latency_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/order_statistics.h"

namespace adascale::search {

namespace {

// A convolution with fewer MACs per output element than this reads about
// as many bytes as it computes: depthwise, grouped or very thin.
constexpr double kThinConvMacsPerOutput = 32.0;

int64_t elements(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1},
                         std::multiplies<>());
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Solves the square system m x = v (n×n, row-major) by Gaussian
// elimination with partial pivoting; a (near-)singular pivot gives 0.
std::vector<double> solve(std::vector<double> m, std::vector<double> v,
                          size_t n) {
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(m[r * n + c]) > std::abs(m[pivot * n + c])) pivot = r;
    if (std::abs(m[pivot * n + c]) < 1e-12) continue;
    if (pivot != c) {
      for (size_t k = 0; k < n; ++k) std::swap(m[c * n + k], m[pivot * n + k]);
      std::swap(v[c], v[pivot]);
    }
    for (size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      double f = m[r * n + c] / m[c * n + c];
      if (f == 0) continue;
      for (size_t k = c; k < n; ++k) m[r * n + k] -= f * m[c * n + k];
      v[r] -= f * v[c];
    }
  }
  std::vector<double> x(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    if (std::abs(m[i * n + i]) >= 1e-12) x[i] = v[i] / m[i * n + i];
  return x;
}

// Unconstrained least squares over the columns in `set` (others 0).
std::vector<double> least_squares_on(const std::vector<double>& a, size_t rows,
                                     size_t cols, const std::vector<double>& b,
                                     const std::vector<bool>& set) {
  std::vector<size_t> idx;
  for (size_t j = 0; j < cols; ++j)
    if (set[j]) idx.push_back(j);
  const size_t n = idx.size();
  std::vector<double> ata(n * n, 0.0), atb(n, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    const double* row = &a[r * cols];
    for (size_t i = 0; i < n; ++i) {
      atb[i] += row[idx[i]] * b[r];
      for (size_t k = 0; k < n; ++k)
        ata[i * n + k] += row[idx[i]] * row[idx[k]];
    }
  }
  std::vector<double> s = solve(ata, atb, n), x(cols, 0.0);
  for (size_t i = 0; i < n; ++i) x[idx[i]] = s[i];
  return x;
}

}  // namespace

const char* layer_class_name(LayerClass c) {
  switch (c) {
    case LayerClass::kConv:
      return "conv";
    case LayerClass::kThinConv:
      return "thin_conv";
    case LayerClass::kLinear:
      return "linear";
    case LayerClass::kNormalize:
      return "normalize";
    case LayerClass::kPool:
      return "pool";
    case LayerClass::kElementwise:
      return "elementwise";
  }
  return "?";
}

LayerClass classify_layer(const LayerProfile& layer) {
  const std::string& k = layer.kind;
  if (starts_with(k, "conv")) {
    int64_t out = elements(layer.output_shape);
    double per_output = out > 0 ? double(layer.macs) / double(out) : 0.0;
    return per_output < kThinConvMacsPerOutput ? LayerClass::kThinConv
                                               : LayerClass::kConv;
  }
  if (layer.macs > 0) return LayerClass::kLinear;  // linear, matmul, bmm...
  if (k.find("norm") != std::string::npos) return LayerClass::kNormalize;
  if (k.find("pool") != std::string::npos) return LayerClass::kPool;
  return LayerClass::kElementwise;
}

double LatencyFeatures::total_layers() const {
  return std::accumulate(layers.begin(), layers.end(), 0.0);
}

double LatencyFeatures::theoretical_s() const {
  return std::accumulate(roofline_s.begin(), roofline_s.end(), 0.0);
}

double layer_roofline_seconds(const LayerProfile& layer,
                              const core::DeviceProfile& device, int threads) {
  const auto& cpu = device.cpu;
  int used = std::clamp(threads, 1, std::max(cpu.cores, 1));
  double macs_per_s = cpu.peak_gmacs * 1e9 * used / std::max(cpu.cores, 1);
  double bytes = double(layer.memory_access_bytes);
  double bandwidth = device.memory.bandwidth_gbs;
  for (const auto& cache : device.memory.caches) {
    if (bytes <= cache.size_kib * 1024.0) {
      bandwidth = cache.bandwidth_gbs;
      break;
    }
  }
  double compute = double(layer.macs) / macs_per_s;
  double memory = bytes / (bandwidth * 1e9);
  return std::max(compute, memory);
}

LatencyFeatures latency_features(const ModelProfile& profile,
                                 const core::DeviceProfile& device,
                                 int threads) {
  LatencyFeatures f;
  for (const auto& layer : profile.layers) {
    const size_t c = size_t(classify_layer(layer));
    f.roofline_s[c] += layer_roofline_seconds(layer, device, threads);
    f.layers[c] += 1;
  }
  return f;
}

double LatencyModel::predict_ms(const LatencyFeatures& f) const {
  double s = 0;
  for (size_t c = 0; c < kLayerClasses; ++c)
    s += class_scale[c] * f.roofline_s[c] + per_layer_s[c] * f.layers[c];
  return s * 1e3;
}

double LatencyModel::predict_ms(double idle_ms, double layers, double load,
                                double clock_ratio) const {
  double l = std::isfinite(load) ? std::clamp(load, 0.0, 1.0) : 0.0;
  double c = std::isfinite(clock_ratio) && clock_ratio > 0 ? clock_ratio : 1.0;
  return c * (idle_ms * (1.0 + load_slope * l) +
              load_per_layer_s * 1e3 * l * layers);
}

std::vector<double> nonnegative_least_squares(const std::vector<double>& a,
                                              size_t cols,
                                              const std::vector<double>& b) {
  const size_t rows = b.size();
  if (cols == 0 || a.size() != rows * cols) {
    throw UsageError(
        fmt::format("least squares: {} matrix entries for {} rows × {} columns",
                    a.size(), rows, cols));
  }
  // Lawson & Hanson (1974), "Solving Least Squares Problems", ch. 23.
  std::vector<double> x(cols, 0.0);
  std::vector<bool> passive(cols, false);
  auto gradient = [&] {
    std::vector<double> w(cols, 0.0);
    for (size_t r = 0; r < rows; ++r) {
      double residual = b[r];
      for (size_t j = 0; j < cols; ++j) residual -= a[r * cols + j] * x[j];
      for (size_t j = 0; j < cols; ++j) w[j] += a[r * cols + j] * residual;
    }
    return w;
  };
  double scale = 0;
  for (double v : a) scale = std::max(scale, std::abs(v));
  for (double v : b) scale = std::max(scale, std::abs(v));
  const double tol = 1e-10 * std::max(scale * scale, 1e-300) * double(rows);
  for (size_t iteration = 0; iteration < 3 * cols + 10; ++iteration) {
    std::vector<double> w = gradient();
    size_t best = cols;
    for (size_t j = 0; j < cols; ++j)
      if (!passive[j] && w[j] > tol && (best == cols || w[j] > w[best]))
        best = j;
    if (best == cols) break;
    passive[best] = true;
    for (;;) {
      std::vector<double> s = least_squares_on(a, rows, cols, b, passive);
      bool positive = true;
      for (size_t j = 0; j < cols; ++j)
        if (passive[j] && s[j] <= 0) positive = false;
      if (positive) {
        x = s;
        break;
      }
      double alpha = 1.0;
      for (size_t j = 0; j < cols; ++j)
        if (passive[j] && s[j] <= 0)
          alpha = std::min(alpha, x[j] / (x[j] - s[j]));
      for (size_t j = 0; j < cols; ++j) {
        x[j] += alpha * (s[j] - x[j]);
        if (passive[j] && x[j] <= 1e-15) {
          passive[j] = false;
          x[j] = 0;
        }
      }
    }
  }
  return x;
}

LatencyModel fit_latency_model(const std::vector<LatencyFeatures>& features,
                               const std::vector<double>& measured_ms) {
  constexpr size_t cols = 2 * kLayerClasses;
  if (features.size() != measured_ms.size()) {
    throw UsageError(
        fmt::format("latency fit: {} feature rows but {} measured latencies",
                    features.size(), measured_ms.size()));
  }
  // Fewer samples than coefficients still fit (NNLS picks a sparse
  // solution), but one sample says nothing about relative costs.
  if (features.size() < 2) {
    throw UsageError(
        fmt::format("latency fit: {} measured latencies, need at least 2",
                    features.size()));
  }
  // Each row divided by its measurement: the residuals are relative errors.
  // Columns are scaled to unit norm for conditioning and unscaled after.
  std::vector<double> a(features.size() * cols), b(features.size(), 1.0);
  for (size_t i = 0; i < features.size(); ++i) {
    double m = measured_ms[i];
    if (!(m > 0) || !std::isfinite(m)) {
      throw UsageError(fmt::format(
          "latency fit: measured latency {} of sample {} is not a positive "
          "number",
          m, i));
    }
    for (size_t c = 0; c < kLayerClasses; ++c) {
      a[i * cols + c] = features[i].roofline_s[c] * 1e3 / m;
      a[i * cols + kLayerClasses + c] = features[i].layers[c] * 1e3 / m;
    }
  }
  std::vector<double> norm(cols, 0.0);
  for (size_t i = 0; i < features.size(); ++i)
    for (size_t c = 0; c < cols; ++c)
      norm[c] += a[i * cols + c] * a[i * cols + c];
  for (auto& n : norm) n = n > 0 ? std::sqrt(n) : 1.0;
  for (size_t i = 0; i < features.size(); ++i)
    for (size_t c = 0; c < cols; ++c) a[i * cols + c] /= norm[c];
  std::vector<double> x = nonnegative_least_squares(a, cols, b);
  LatencyModel model;
  for (size_t c = 0; c < kLayerClasses; ++c) {
    model.class_scale[c] = x[c] / norm[c];
    model.per_layer_s[c] = x[kLayerClasses + c] / norm[kLayerClasses + c];
  }
  model.fitted_on = int(features.size());
  return model;
}

void fit_load_correction(LatencyModel& model,
                         const std::vector<LatencyFeatures>& features,
                         const std::vector<double>& measured_ms, double load) {
  if (features.empty() || features.size() != measured_ms.size()) {
    throw UsageError(
        fmt::format("load fit: {} feature rows and {} measured latencies",
                    features.size(), measured_ms.size()));
  }
  if (!(load > 0.05)) {
    throw UsageError(fmt::format(
        "load fit: background load {:.2f} is too low to fit a correction "
        "(> 0.05 needed)",
        load));
  }
  // (idle + κ·L·idle + λ·L·layers − m) / m, minimised over κ, λ ≥ 0.
  std::vector<double> a, b;
  for (size_t i = 0; i < features.size(); ++i) {
    const double m = measured_ms[i];
    if (!(m > 0) || !std::isfinite(m)) {
      throw UsageError(fmt::format(
          "load fit: measured latency {} of sample {} is not a positive "
          "number",
          m, i));
    }
    const double idle = model.predict_ms(features[i]);
    a.push_back(load * idle / m);
    a.push_back(load * features[i].total_layers() * 1e3 / m);
    b.push_back((m - idle) / m);
  }
  // Unit-norm columns for conditioning, as in fit_latency_model.
  double n0 = 0, n1 = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    n0 += a[2 * i] * a[2 * i];
    n1 += a[2 * i + 1] * a[2 * i + 1];
  }
  n0 = n0 > 0 ? std::sqrt(n0) : 1.0;
  n1 = n1 > 0 ? std::sqrt(n1) : 1.0;
  for (size_t i = 0; i < b.size(); ++i) {
    a[2 * i] /= n0;
    a[2 * i + 1] /= n1;
  }
  std::vector<double> x = nonnegative_least_squares(a, 2, b);
  model.load_slope = x[0] / n0;
  model.load_per_layer_s = x[1] / n1;
}

PredictionAccuracy prediction_accuracy(const std::vector<double>& predicted,
                                       const std::vector<double>& measured) {
  if (predicted.size() != measured.size()) {
    throw UsageError(fmt::format("accuracy: {} predictions for {} measurements",
                                 predicted.size(), measured.size()));
  }
  PredictionAccuracy acc;
  acc.samples = predicted.size();
  if (predicted.empty()) return acc;
  std::vector<double> errors;
  size_t within = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    double e = std::abs(predicted[i] - measured[i]) / measured[i];
    errors.push_back(e);
    if (e <= 0.10) ++within;
  }
  acc.within_10pct = double(within) / double(errors.size());
  acc.max_abs_rel_error = *std::max_element(errors.begin(), errors.end());
  acc.median_abs_rel_error = core::median(std::move(errors));
  return acc;
}

std::vector<double> cross_validated_predictions(
    const std::vector<LatencyFeatures>& features,
    const std::vector<double>& measured_ms, int folds) {
  if (folds < 2 || features.size() < 2 * size_t(folds)) {
    throw UsageError(fmt::format(
        "cross-validation: {} folds over {} samples (need ≥ 2 folds of ≥ 2)",
        folds, features.size()));
  }
  std::vector<double> predicted(features.size(), 0.0);
  for (int fold = 0; fold < folds; ++fold) {
    std::vector<LatencyFeatures> f;
    std::vector<double> m;
    for (size_t i = 0; i < features.size(); ++i) {
      if (int(i % size_t(folds)) == fold) continue;
      f.push_back(features[i]);
      m.push_back(measured_ms[i]);
    }
    LatencyModel model = fit_latency_model(f, m);
    for (size_t i = size_t(fold); i < features.size(); i += size_t(folds))
      predicted[i] = model.predict_ms(features[i]);
  }
  return predicted;
}

}  // namespace adascale::search
