#include "core/order_statistics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace adascale::core {
namespace {

void check_q(double q) {
  if (!(q >= 0.0 && q <= 1.0)) {
    throw InternalError(
        fmt::format("quantile: q must be in [0, 1], got {}", q));
  }
}

void check_not_empty(const std::vector<double>& samples) {
  if (samples.empty()) {
    throw InternalError("quantile of an empty sample list");
  }
}

// std::sort needs a strict weak order, which NaN breaks: answer NaN first.
bool has_nan(const std::vector<double>& samples) {
  return std::any_of(samples.begin(), samples.end(),
                     [](double v) { return std::isnan(v); });
}

}  // namespace

double sorted_quantile(const std::vector<double>& sorted, double q) {
  check_not_empty(sorted);
  check_q(q);
  const size_t n = sorted.size();
  // Rank h = (n + 1)·q, 1-based, clamped to [1, n]; 0-based below.
  const double h = std::clamp(double(n + 1) * q, 1.0, double(n)) - 1.0;
  const auto lo = size_t(std::floor(h));
  const double frac = h - double(lo);
  if (frac == 0.0 || lo + 1 >= n) return sorted[lo];
  const double a = sorted[lo], b = sorted[lo + 1];
  // a == b also keeps two equal infinities from giving inf − inf = NaN.
  if (a == b) return a;
  // The median of an even count: exactly the mean of the middle two.
  if (frac == 0.5) return 0.5 * (a + b);
  return a + frac * (b - a);
}

double quantile(std::vector<double> samples, double q) {
  check_not_empty(samples);
  check_q(q);
  if (has_nan(samples)) return std::numeric_limits<double>::quiet_NaN();
  std::sort(samples.begin(), samples.end());
  return sorted_quantile(samples, q);
}

double median(std::vector<double> samples) {
  return quantile(std::move(samples), 0.5);
}

std::vector<double> quantiles(std::vector<double> samples,
                              const std::vector<double>& qs) {
  check_not_empty(samples);
  for (double q : qs) check_q(q);
  if (has_nan(samples)) {
    return std::vector<double>(qs.size(),
                               std::numeric_limits<double>::quiet_NaN());
  }
  std::sort(samples.begin(), samples.end());
  std::vector<double> out;
  out.reserve(qs.size());
  for (double q : qs) out.push_back(sorted_quantile(samples, q));
  return out;
}

}  // namespace adascale::core
