#include "runtime/forecast_selector.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace adascale::runtime {

std::string to_string(ForecastModel model) {
  return model == ForecastModel::kAr ? "ar" : "naive";
}

ForecastSelector::ForecastSelector(ForecastConfig config)
    : ar_(config),
      alpha_(1.0 - std::exp2(-1.0 / double(config.score_halflife))) {}

void ForecastSelector::clear() {
  ar_.clear();
  pending_.clear();
  score_ = {};
  ar_sum_ = naive_sum_ = used_sum_ = 0;
  choice_ = ForecastModel::kNaive;
}

ForecastModel ForecastSelector::choose() const {
  const std::string& model = config().model;
  if (model == "ar") return ForecastModel::kAr;
  if (model == "naive") return ForecastModel::kNaive;
  // "best": AR must have a record of one half-life and be strictly better.
  if (score_.scored >= size_t(config().score_halflife) &&
      score_.ar_recent < score_.naive_recent) {
    return ForecastModel::kAr;
  }
  return ForecastModel::kNaive;
}

void ForecastSelector::push(double value) {
  ar_.push(value);  // throws on a non-finite value before anything changes
  const size_t h = size_t(config().horizon);
  if (pending_.size() == h && pending_.front().scored) {
    const Pending& p = pending_.front();
    const double ar_error = std::abs(p.ar - value);
    const double naive_error = std::abs(p.naive - value);
    if (score_.scored == 0) {
      score_.ar_recent = ar_error;
      score_.naive_recent = naive_error;
    } else {
      score_.ar_recent += alpha_ * (ar_error - score_.ar_recent);
      score_.naive_recent += alpha_ * (naive_error - score_.naive_recent);
    }
    ar_sum_ += ar_error;
    naive_sum_ += naive_error;
    used_sum_ += std::abs(p.used - value);
    ++score_.scored;
    const double n = double(score_.scored);
    score_.ar_mae = ar_sum_ / n;
    score_.naive_mae = naive_sum_ / n;
    score_.used_mae = used_sum_ / n;
  }
  if (pending_.size() == h) pending_.pop_front();
  choice_ = choose();
  Pending p;
  p.ar = ar_.forecast(int(h));
  p.naive = config().clamp_unit ? std::clamp(value, 0.0, 1.0) : value;
  p.used = choice_ == ForecastModel::kAr ? p.ar : p.naive;
  p.scored = ar_.ready();
  pending_.push_back(p);
  ++(choice_ == ForecastModel::kAr ? score_.ar_used : score_.naive_used);
}

double ForecastSelector::forecast() const {
  if (pending_.empty()) {
    throw UsageError("forecast: no values pushed yet");
  }
  return pending_.back().used;
}

ForecastModel ForecastSelector::choice() const {
  return choice_;
}

}  // namespace adascale::runtime
