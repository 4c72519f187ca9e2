#include "runtime/adaptation_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "core/error.h"

namespace adascale::runtime {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void require(bool ok, const char* field, double value, const char* what) {
  if (!ok) {
    throw UsageError(fmt::format("policy.{}: {}, got {}", field, what, value));
  }
}

void require(bool ok, const char* field, const std::string& value,
             const char* what) {
  if (!ok) {
    throw UsageError(
        fmt::format("policy.{}: {}, got '{}'", field, what, value));
  }
}

// Admissibility compares an accuracy with (highest − drop): the subtraction
// rounds (0.9 − 0.05 > 0.85 in doubles), so a row exactly at the floor gets
// this much slack to stay admissible.
constexpr double kFloorSlack = 1e-12;

// The GuidedSearch pre-filter compares r·c·(1 + κL)·idle against the limit,
// the exact check r·c·(idle·(1 + κL) + …): the two round differently, so the
// pre-filter gets this much slack to stay a superset of the feasible rows.
constexpr double kPrefilterSlack = 1e-9;

std::vector<search::SearchRow> with_layers_as_energy(
    std::vector<search::SearchRow> rows, const std::vector<double>& layers) {
  if (rows.empty()) throw UsageError("policy: no variants to choose from");
  if (layers.size() != rows.size()) {
    throw UsageError(fmt::format("policy: {} layer counts for {} variants",
                                 layers.size(), rows.size()));
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!(std::isfinite(layers[i]) && layers[i] >= 0)) {
      throw UsageError(fmt::format(
          "policy: variant {} (key {:#x}): layer count must be a number >= 0, "
          "got {}",
          i, rows[i].key, layers[i]));
    }
    rows[i].energy_mj = layers[i];
  }
  return rows;
}

}  // namespace

void validate_policy_config(const PolicyConfig& c) {
  // NaN fails every comparison, so each check also refuses it.
  require(c.budget_ms > 0 && std::isfinite(c.budget_ms), "budget_ms",
          c.budget_ms, "must be a number > 0");
  require(c.hysteresis >= 1, "hysteresis", c.hysteresis, "must be >= 1");
  require(c.margin >= 0 && c.margin <= 0.99, "margin", c.margin,
          "must be in [0, 0.99]");
  require(c.feedback_smoothing >= 0 && c.feedback_smoothing <= 1,
          "feedback_smoothing", c.feedback_smoothing, "must be in [0, 1]");
  require(c.feedback_min >= 0.01 && c.feedback_min <= 1, "feedback_min",
          c.feedback_min, "must be in [0.01, 1]");
  require(c.feedback_max >= 1 && c.feedback_max <= 1000, "feedback_max",
          c.feedback_max, "must be in [1, 1000]");
  require(c.early_exit_threshold >= 0 && c.early_exit_threshold <= 1,
          "early_exit_threshold", c.early_exit_threshold, "must be in [0, 1]");
  require(c.overrun_streak >= 0 && c.overrun_streak <= 1000, "overrun_streak",
          c.overrun_streak, "must be in [0, 1000]");
  require(c.objective == "accuracy" || c.objective == "latency", "objective",
          c.objective, "expected one of accuracy|latency");
  require(c.accuracy_floor_drop >= 0 && c.accuracy_floor_drop <= 1,
          "accuracy_floor_drop", c.accuracy_floor_drop, "must be in [0, 1]");
}

const char* reason_name(Decision::Reason reason) {
  switch (reason) {
    case Decision::Reason::kInitial:
      return "initial";
    case Decision::Reason::kKeep:
      return "keep";
    case Decision::Reason::kDowngrade:
      return "downgrade";
    case Decision::Reason::kUpgrade:
      return "upgrade";
    case Decision::Reason::kInfeasible:
      return "infeasible";
  }
  return "?";
}

AdaptationPolicy::AdaptationPolicy(std::vector<search::SearchRow> rows,
                                   std::vector<double> layers,
                                   search::LatencyModel model,
                                   PolicyConfig config)
    : config_((validate_policy_config(config), config)),
      model_(model),
      layers_(std::move(layers)),
      index_(with_layers_as_energy(std::move(rows), layers_)) {
  // The Pareto front over (idle latency, layers, accuracy), walked in rank
  // order with a staircase of the (layers, idle) points seen so far: a row
  // is dominated when a row ranked above it (so at least as accurate) is
  // no slower at no more layers.
  const auto& r = index_.rows();
  std::vector<size_t> order(r.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return ranks_above(a, b); });
  std::map<double, double> stairs;  // layers -> least idle latency
  for (size_t i : order) {
    const double idle = r[i].latency_ms, n = layers_[i];
    auto above = stairs.upper_bound(n);
    if (above != stairs.begin() && std::prev(above)->second <= idle) continue;
    front_.push_back(i);
    auto it = stairs.lower_bound(n);
    while (it != stairs.end() && it->second >= idle) it = stairs.erase(it);
    stairs[n] = idle;
  }

  // Objective "latency". The top-ranked row is the most accurate of all
  // rows and always on the front; the front is in rank order, accuracy
  // descending, so its admissible rows are a prefix of it.
  latency_objective_ = config_.objective == "latency";
  if (latency_objective_) {
    floor_ = r[front_.front()].accuracy - config_.accuracy_floor_drop;
    while (admissible_front_ < front_.size() &&
           admissible(front_[admissible_front_])) {
      ++admissible_front_;
    }
  } else {
    floor_ = -kInf;
    admissible_front_ = front_.size();
  }
}

bool AdaptationPolicy::admissible(size_t row) const {
  if (row >= layers_.size()) {
    throw UsageError(fmt::format("policy: no variant {} (there are {})", row,
                                 layers_.size()));
  }
  return !latency_objective_ ||
         index_.rows()[row].accuracy >= floor_ - kFloorSlack;
}

bool AdaptationPolicy::ranks_above(size_t a, size_t b) const {
  const auto& x = index_.rows()[a];
  const auto& y = index_.rows()[b];
  if (x.accuracy != y.accuracy) return x.accuracy > y.accuracy;
  if (x.latency_ms != y.latency_ms) return x.latency_ms < y.latency_ms;
  if (layers_[a] != layers_[b]) return layers_[a] < layers_[b];
  return a < b;
}

double AdaptationPolicy::raw_ms(size_t row, double load,
                                double clock_ratio) const {
  return model_.predict_ms(index_.rows()[row].latency_ms, layers_[row], load,
                           clock_ratio);
}

double AdaptationPolicy::predict_ms(size_t row, double load,
                                    double clock_ratio) const {
  if (row >= layers_.size()) {
    throw UsageError(fmt::format("policy: no variant {} (there are {})", row,
                                 layers_.size()));
  }
  return ratio_ * raw_ms(row, load, clock_ratio);
}

bool AdaptationPolicy::feasible(size_t row, double load,
                                double clock_ratio) const {
  return predict_ms(row, load, clock_ratio) <=
         config_.budget_ms * (1.0 - config_.margin);
}

std::optional<size_t> AdaptationPolicy::best_feasible(
    double load, double clock_ratio) const {
  const double limit = config_.budget_ms * (1.0 - config_.margin);
  // predict_ms() is c·(idle·(1 + κL) + λ·L·layers): split it into a factor
  // on the idle latency and one on the layer count, as LatencyModel does.
  const double l = std::clamp(load, 0.0, 1.0);
  const double c =
      std::isfinite(clock_ratio) && clock_ratio > 0 ? clock_ratio : 1.0;
  const double per_idle = ratio_ * c * (1.0 + model_.load_slope * l);
  const double per_layer = ratio_ * c * model_.load_per_layer_s * 1e3 * l;

  search::SearchQuery q;
  q.latency_budget_ms = limit * (1 + kPrefilterSlack);
  q.latency_scale = per_idle;
  q.energy_budget_mj =
      per_layer > 0 ? limit / per_layer * (1 + kPrefilterSlack) : kInf;
  if (!(q.latency_scale > 0 && std::isfinite(q.latency_scale)) ||
      !(q.energy_budget_mj > 0)) {
    throw InternalError(
        fmt::format("policy: query scale {} / layer budget {} out of range",
                    q.latency_scale, q.energy_budget_mj));
  }
  search::SearchResult result = index_.find(q);
  if (!result.best) return std::nullopt;  // a superset of feasible is empty
  if (ratio_ * raw_ms(*result.best, l, c) <= limit) return result.best;
  // The pre-filter's answer fails the exact check: find the first feasible
  // row of the front in rank order.
  for (size_t i : front_) {
    if (ratio_ * raw_ms(i, l, c) <= limit) return i;
  }
  return std::nullopt;
}

size_t AdaptationPolicy::fastest(double load, double clock_ratio) const {
  size_t best = front_.front();
  double best_ms = raw_ms(best, load, clock_ratio);
  for (size_t i : front_) {
    double ms = raw_ms(i, load, clock_ratio);
    if (ms < best_ms) {
      best = i;
      best_ms = ms;
    }
  }
  return best;
}

// Why the admissible part of the front holds every answer of the latency
// objective. The prediction c·r·(idle·(1 + κL) + λL·layers) never falls
// when idle latency or layer count grows (κ, λ ≥ 0; IEEE rounding is
// monotone too). The constructor drops a row j only when a row i already
// on the front, so ranked above j, is no slower idle at no more layers:
// idle_i ≤ idle_j, layers_i ≤ layers_j, accuracy_i ≥ accuracy_j (ranks
// above). So if j is admissible, so
// is i; i's prediction is ≤ j's, so i is feasible when j is; and i wins
// the objective's order against j: lower latency, or equal latency and
// higher accuracy, or equal accuracy and no more layers, and with equal
// layers too, ranks_above() gave i the lower index (or a lower idle
// latency, and then equal predictions can only come from rounding, an
// equally fast answer). Hence the fastest admissible row, feasible or not,
// is on the front, and among admissible rows only, since the walk stops
// at the first row below the floor.
size_t AdaptationPolicy::fastest_admissible(double load,
                                            double clock_ratio) const {
  const auto& r = index_.rows();
  size_t best = front_.front();  // the most accurate row is admissible
  double best_ms = raw_ms(best, load, clock_ratio);
  for (size_t k = 1; k < admissible_front_; ++k) {
    const size_t i = front_[k];
    const double ms = raw_ms(i, load, clock_ratio);
    bool better = ms < best_ms;
    if (ms == best_ms) {
      if (r[i].accuracy != r[best].accuracy) {
        better = r[i].accuracy > r[best].accuracy;
      } else if (layers_[i] != layers_[best]) {
        better = layers_[i] < layers_[best];
      } else {
        better = i < best;
      }
    }
    if (better) {
      best = i;
      best_ms = ms;
    }
  }
  return best;
}

Decision AdaptationPolicy::finish(size_t row, Decision::Reason reason,
                                  double load, double clock_ratio) {
  Decision d;
  d.row = row;
  d.reason = reason;
  d.switched = !current_ || *current_ != row;
  current_ = row;
  last_raw_ms_ = raw_ms(row, load, clock_ratio);
  d.predicted_ms = ratio_ * last_raw_ms_;
  return d;
}

Decision AdaptationPolicy::decide_latency(double load, double clock_ratio) {
  // The fastest admissible row is feasible iff any admissible row is.
  const size_t best = fastest_admissible(load, clock_ratio);
  if (!feasible(best, load, clock_ratio)) {
    streak_ = 0;
    return finish(best, Decision::Reason::kInfeasible, load, clock_ratio);
  }
  if (!current_) {
    streak_ = 0;
    return finish(best, Decision::Reason::kInitial, load, clock_ratio);
  }
  // The running row is admissible: only admissible rows are ever chosen.
  const size_t running = *current_;
  const double running_ms = predict_ms(running, load, clock_ratio);
  if (running_ms > config_.budget_ms) {
    streak_ = 0;
    return finish(best, Decision::Reason::kDowngrade, load, clock_ratio);
  }
  if (!(predict_ms(best, load, clock_ratio) < running_ms)) {
    streak_ = 0;
    return finish(running, Decision::Reason::kKeep, load, clock_ratio);
  }
  // A faster admissible variant is feasible now: one more decision in the
  // streak. The switch goes to this decision's best, which is feasible and
  // faster now; no streak target is needed (see the header).
  if (++streak_ < config_.hysteresis) {
    return finish(running, Decision::Reason::kKeep, load, clock_ratio);
  }
  streak_ = 0;
  return finish(best, Decision::Reason::kUpgrade, load, clock_ratio);
}

Decision AdaptationPolicy::decide(double load, double clock_ratio) {
  load = std::isfinite(load) ? std::clamp(load, 0.0, 1.0) : 0.0;
  if (!(std::isfinite(clock_ratio) && clock_ratio > 0)) clock_ratio = 1.0;
  if (latency_objective_) return decide_latency(load, clock_ratio);
  const auto& r = index_.rows();

  auto finish = [&](size_t row, Decision::Reason reason) {
    return this->finish(row, reason, load, clock_ratio);
  };

  std::optional<size_t> best = best_feasible(load, clock_ratio);
  if (!best) {
    streak_ = 0;
    return finish(fastest(load, clock_ratio), Decision::Reason::kInfeasible);
  }
  if (!current_) {
    streak_ = 0;
    return finish(*best, Decision::Reason::kInitial);
  }
  const size_t running = *current_;
  if (predict_ms(running, load, clock_ratio) > config_.budget_ms) {
    streak_ = 0;
    return finish(*best, Decision::Reason::kDowngrade);
  }
  if (!(r[*best].accuracy > r[running].accuracy)) {
    streak_ = 0;
    return finish(running, Decision::Reason::kKeep);
  }
  // A better variant is feasible now: one more decision in the streak.
  if (streak_ == 0 || ranks_above(streak_target_, *best)) {
    streak_target_ = *best;
  }
  if (++streak_ < config_.hysteresis) {
    return finish(running, Decision::Reason::kKeep);
  }
  streak_ = 0;
  size_t target = feasible(streak_target_, load, clock_ratio) &&
                          r[streak_target_].accuracy > r[running].accuracy
                      ? streak_target_
                      : *best;
  return finish(target, Decision::Reason::kUpgrade);
}

void AdaptationPolicy::observe(double measured_ms) {
  if (!current_) {
    throw UsageError("policy: observe() called before the first decision");
  }
  if (!(std::isfinite(measured_ms) && measured_ms > 0)) {
    throw UsageError(
        fmt::format("policy: measured latency must be a number > 0 ms, got {}",
                    measured_ms));
  }
  const double alpha = config_.feedback_smoothing;
  if (alpha <= 0 || !(last_raw_ms_ > 0)) return;
  const double sample = measured_ms / last_raw_ms_;
  ratio_ = std::clamp((1 - alpha) * ratio_ + alpha * sample,
                      config_.feedback_min, config_.feedback_max);
}

Decision AdaptationPolicy::overrun(double measured_ms, double load,
                                   double clock_ratio) {
  observe(measured_ms);  // validates, and keeps the EMA's history
  if (last_raw_ms_ > 0) {
    ratio_ = std::clamp(std::max(ratio_, measured_ms / last_raw_ms_),
                        config_.feedback_min, config_.feedback_max);
  }
  return decide(load, clock_ratio);
}

void AdaptationPolicy::reset() {
  current_.reset();
  last_raw_ms_ = 0;
  ratio_ = 1;
  streak_ = 0;
  streak_target_ = 0;
}

}  // namespace adascale::runtime
