#include "runtime/ar_forecaster.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace adascale::runtime {

namespace {

// Solves the symmetric positive semi-definite system m a = v (n×n,
// row-major) by Gaussian elimination with partial pivoting. Returns false
// when a pivot falls under `tolerance`: the lags are (nearly) collinear and
// the least-squares solution is not unique.
bool solve(std::vector<double> m, std::vector<double> v, size_t n,
           double tolerance, std::vector<double>& a) {
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(m[r * n + c]) > std::abs(m[pivot * n + c])) pivot = r;
    if (!(std::abs(m[pivot * n + c]) > tolerance)) return false;
    if (pivot != c) {
      for (size_t k = 0; k < n; ++k) std::swap(m[c * n + k], m[pivot * n + k]);
      std::swap(v[c], v[pivot]);
    }
    for (size_t r = c + 1; r < n; ++r) {
      double f = m[r * n + c] / m[c * n + c];
      if (f == 0) continue;
      for (size_t k = c; k < n; ++k) m[r * n + k] -= f * m[c * n + k];
      v[r] -= f * v[c];
    }
  }
  a.assign(n, 0.0);
  for (size_t i = n; i-- > 0;) {
    double s = v[i];
    for (size_t k = i + 1; k < n; ++k) s -= m[i * n + k] * a[k];
    a[i] = s / m[i * n + i];
  }
  return true;
}

}  // namespace

void validate_forecast_config(const ForecastConfig& c) {
  if (c.order < 1) {
    throw UsageError(
        fmt::format("forecast.order: must be >= 1, got {}", c.order));
  }
  const int min_window = 2 * c.order + 2;
  if (c.window < min_window) {
    throw UsageError(fmt::format(
        "forecast.window: must be >= 2·order + 2 = {} for order {}, got {}",
        min_window, c.order, c.window));
  }
  if (c.horizon < 1) {
    throw UsageError(
        fmt::format("forecast.horizon: must be >= 1 step, got {}", c.horizon));
  }
  if (c.refit_every < 0) {
    throw UsageError(fmt::format(
        "forecast.refit_every: must be >= 0 (0 = only on fit()), got {}",
        c.refit_every));
  }
  if (c.model != "ar" && c.model != "naive" && c.model != "best") {
    throw UsageError(fmt::format(
        "forecast.model: expected one of ar|naive|best, got '{}'", c.model));
  }
  if (c.score_halflife < 1) {
    throw UsageError(
        fmt::format("forecast.score_halflife: must be >= 1 forecast, got {}",
                    c.score_halflife));
  }
}

ArForecaster::ArForecaster(ForecastConfig config) : config_(config) {
  validate_forecast_config(config_);
  use_fallback();
}

void ArForecaster::use_fallback() {
  coefficients_.assign(size_t(config_.order), 0.0);
  coefficients_[0] = 1.0;
  intercept_ = 0;
  fallback_ = true;
}

void ArForecaster::clear() {
  values_.clear();
  since_fit_ = 0;
  fitted_ = false;
  use_fallback();
}

bool ArForecaster::ready() const {
  return values_.size() >= size_t(2 * config_.order + 2);
}

void ArForecaster::push(double value) {
  if (!std::isfinite(value)) {
    throw UsageError(
        fmt::format("forecast: value {} is not a finite number", value));
  }
  values_.push_back(value);
  while (values_.size() > size_t(config_.window)) values_.pop_front();
  if (since_fit_ < std::numeric_limits<int>::max()) ++since_fit_;
  if (config_.refit_every > 0 && ready() &&
      (!fitted_ || since_fit_ >= config_.refit_every)) {
    fit();
  }
}

void ArForecaster::fit() {
  since_fit_ = 0;
  if (!ready()) {
    use_fallback();
    return;
  }
  fitted_ = true;
  const size_t p = size_t(config_.order);
  const size_t n = values_.size();
  const size_t rows = n - p;  // targets x_p … x_{n−1}

  // Centring the columns solves for the intercept separately (c = ȳ −
  // Σ a_j·x̄_j) and keeps the normal equations well conditioned when the
  // series sits far from 0, as a load near 1 does.
  double y_mean = 0;
  std::vector<double> x_mean(p, 0.0);
  for (size_t t = p; t < n; ++t) {
    y_mean += values_[t];
    for (size_t j = 0; j < p; ++j) x_mean[j] += values_[t - 1 - j];
  }
  y_mean /= double(rows);
  for (auto& m : x_mean) m /= double(rows);

  std::vector<double> xx(p * p, 0.0), xy(p, 0.0);
  for (size_t t = p; t < n; ++t) {
    double dy = values_[t] - y_mean;
    for (size_t j = 0; j < p; ++j) {
      double dj = values_[t - 1 - j] - x_mean[j];
      xy[j] += dj * dy;
      for (size_t k = 0; k < p; ++k)
        xx[j * p + k] += dj * (values_[t - 1 - k] - x_mean[k]);
    }
  }

  // A (numerically) constant window has no variance to explain: its sums
  // of squares are rounding noise on the scale of the values.
  double scale = 0, max_diagonal = 0;
  for (double v : values_) scale = std::max(scale, std::abs(v));
  for (size_t j = 0; j < p; ++j)
    max_diagonal = std::max(max_diagonal, xx[j * p + j]);
  const double noise = 1e-12 * std::max(scale, 1e-300);
  if (!(max_diagonal > double(rows) * noise * noise)) {
    use_fallback();
    return;
  }
  std::vector<double> a;
  if (!solve(xx, xy, p, 1e-10 * max_diagonal, a)) {
    use_fallback();
    return;
  }
  double c = y_mean;
  for (size_t j = 0; j < p; ++j) c -= a[j] * x_mean[j];
  bool finite = std::isfinite(c);
  for (double v : a) finite = finite && std::isfinite(v);
  if (!finite) {
    use_fallback();
    return;
  }
  coefficients_ = std::move(a);
  intercept_ = c;
  fallback_ = false;
}

std::vector<double> ArForecaster::forecast_path(int h) const {
  if (values_.empty()) {
    throw UsageError("forecast: no values pushed yet");
  }
  if (h < 1) {
    throw UsageError(fmt::format("forecast: horizon must be >= 1, got {}", h));
  }
  const size_t p = coefficients_.size();
  const size_t n = values_.size();
  // Newest first. With fewer than p values only the fallback model is in
  // use (a_1 = 1), so the padding with the oldest value is never weighed.
  std::vector<double> lags(p);
  for (size_t j = 0; j < p; ++j) lags[j] = values_[n - 1 - std::min(j, n - 1)];

  std::vector<double> path;
  path.reserve(size_t(h));
  for (int step = 0; step < h; ++step) {
    double x = intercept_;
    for (size_t j = 0; j < p; ++j) x += coefficients_[j] * lags[j];
    if (config_.clamp_unit) x = std::clamp(x, 0.0, 1.0);
    if (!std::isfinite(x)) {
      // An explosive fit overflowed far ahead: the last value is the
      // forecast that cannot be worse than unbounded.
      double last = values_.back();
      if (config_.clamp_unit) last = std::clamp(last, 0.0, 1.0);
      return std::vector<double>(size_t(h), last);
    }
    path.push_back(x);
    for (size_t j = p; j-- > 1;) lags[j] = lags[j - 1];
    lags[0] = x;
  }
  return path;
}

double ArForecaster::forecast(int h) const {
  return forecast_path(h).back();
}

ForecastError forecast_error(const std::vector<double>& series,
                             const ForecastConfig& config) {
  validate_forecast_config(config);
  const size_t h = size_t(config.horizon);
  const size_t needed = size_t(2 * config.order + 2) + h;
  if (series.size() < needed) {
    throw UsageError(fmt::format(
        "forecast error: a series of {} values is too short for order {} and "
        "horizon {} (need at least {})",
        series.size(), config.order, config.horizon, needed));
  }
  ArForecaster model(config);
  ForecastError error;
  double ar_sum = 0, naive_sum = 0;
  for (size_t t = 0; t < series.size(); ++t) {
    model.push(series[t]);  // throws on a non-finite value
    if (!model.ready() || t + h >= series.size()) continue;
    const double actual = series[t + h];
    ar_sum += std::abs(model.forecast(config.horizon) - actual);
    naive_sum += std::abs(series[t] - actual);
    ++error.forecasts;
  }
  error.ar_mae = ar_sum / double(error.forecasts);
  error.naive_mae = naive_sum / double(error.forecasts);
  return error;
}

}  // namespace adascale::runtime
