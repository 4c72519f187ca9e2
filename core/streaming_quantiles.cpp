#include "core/streaming_quantiles.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace adascale::core {
namespace {

constexpr double kLowest = 1e-6, kHighest = 1e6;
const double kLogWidth = std::log1p(0.001);  // each bin 0.1% wide
const size_t kBins =
    size_t(std::ceil(std::log(kHighest / kLowest) / kLogWidth));

size_t bin_of(double value) {
  if (!(value > kLowest)) return 0;
  const double k = std::floor(std::log(value / kLowest) / kLogWidth);
  return std::min(kBins - 1, size_t(k));
}

double centre_of(size_t bin) {
  return kLowest * std::exp((double(bin) + 0.5) * kLogWidth);
}

}  // namespace

StreamingQuantiles::StreamingQuantiles() : bins_(kBins, 0) {}

void StreamingQuantiles::add(double value) {
  ++count_;
  if (std::isnan(value)) {
    ++nans_;
    return;
  }
  const bool first = count_ - nans_ == 1;
  min_ = first ? value : std::min(min_, value);
  max_ = first ? value : std::max(max_, value);
  sum_ += value;
  ++bins_[bin_of(value)];
}

double StreamingQuantiles::mean() const {
  if (count_ == 0 || nans_ > 0) return std::numeric_limits<double>::quiet_NaN();
  return sum_ / double(count_);
}

// The value of the 0-based rank among the samples sorted ascending: the
// exact extremes, else the centre of the bin the rank falls in, kept
// within the extremes.
double StreamingQuantiles::value_at_rank(int64_t rank) const {
  if (rank <= 0) return min_;
  if (rank >= count_ - 1) return max_;
  int64_t seen = 0;
  for (size_t b = 0; b < bins_.size(); ++b) {
    seen += bins_[b];
    if (seen > rank) return std::clamp(centre_of(b), min_, max_);
  }
  return max_;
}

double StreamingQuantiles::quantile(double q) const {
  if (!(q >= 0.0 && q <= 1.0)) {
    throw InternalError(
        fmt::format("quantile: q must be in [0, 1], got {}", q));
  }
  if (count_ == 0) throw InternalError("quantile of an empty sample list");
  if (nans_ > 0) return std::numeric_limits<double>::quiet_NaN();
  const double h = std::clamp(double(count_ + 1) * q, 1.0, double(count_)) - 1;
  const auto lo = int64_t(std::floor(h));
  const double frac = h - double(lo);
  const double a = value_at_rank(lo);
  if (frac == 0.0 || lo + 1 >= count_) return a;
  const double b = value_at_rank(lo + 1);
  return a == b ? a : a + frac * (b - a);
}

}  // namespace adascale::core
