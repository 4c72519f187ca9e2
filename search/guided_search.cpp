#include "search/guided_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/error.h"

namespace adascale::search {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void require(bool ok, const char* field, double value, const char* what) {
  if (!ok) {
    throw UsageError(
        fmt::format("search query: {} {}, got {}", field, what, value));
  }
}

bool feasible(const SearchRow& r, const SearchQuery& q) {
  return r.latency_ms * q.latency_scale <= q.latency_budget_ms &&
         r.energy_mj <= q.energy_budget_mj && r.accuracy >= q.min_accuracy;
}

double excess(double value, double limit) {
  if (value <= limit) return 0.0;
  return std::isinf(limit) ? 0.0 : (value - limit) / limit;
}

}  // namespace

void validate_query(const SearchQuery& q) {
  // NaN fails every comparison, so each check below also refuses it.
  require(q.latency_budget_ms > 0, "latency budget (ms)", q.latency_budget_ms,
          "must be a number > 0");
  require(q.energy_budget_mj > 0, "energy budget (mJ)", q.energy_budget_mj,
          "must be a number > 0");
  require(q.min_accuracy >= 0 && q.min_accuracy <= 1, "accuracy floor",
          q.min_accuracy, "must be in [0, 1]");
  require(q.alpha >= 0 && std::isfinite(q.alpha), "alpha", q.alpha,
          "must be a finite number >= 0");
  require(q.beta >= 0 && std::isfinite(q.beta), "beta", q.beta,
          "must be a finite number >= 0");
  require(q.latency_scale > 0 && std::isfinite(q.latency_scale),
          "latency scale", q.latency_scale, "must be a finite number > 0");
}

Shortfall shortfall(const SearchRow& r, const SearchQuery& q) {
  Shortfall s;
  s.latency = excess(r.latency_ms * q.latency_scale, q.latency_budget_ms);
  s.energy = excess(r.energy_mj, q.energy_budget_mj);
  if (q.min_accuracy > 0 && r.accuracy < q.min_accuracy) {
    s.accuracy = (q.min_accuracy - r.accuracy) / q.min_accuracy;
  }
  s.worst = std::max({s.latency, s.energy, s.accuracy});
  return s;
}

GuidedSearch::GuidedSearch(std::vector<SearchRow> rows, int order)
    : rows_(std::move(rows)),
      by_latency_(order),
      by_energy_(order),
      front_(order) {
  if (rows_.size() > std::numeric_limits<uint32_t>::max()) {
    throw UsageError("search: more than 2^32 rows");
  }
  std::vector<std::pair<double, uint32_t>> lat, energy;
  lat.reserve(rows_.size());
  energy.reserve(rows_.size());
  for (size_t i = 0; i < rows_.size(); ++i) {
    const SearchRow& r = rows_[i];
    bool ok = r.latency_ms >= 0 && std::isfinite(r.latency_ms) &&
              r.energy_mj >= 0 && std::isfinite(r.energy_mj) &&
              r.accuracy >= 0 && r.accuracy <= 1;
    if (!ok) {
      throw DataError(fmt::format(
          "search: row {} (key {:#x}): latency {} ms, energy {} mJ, accuracy "
          "{}: expected finite latency and energy >= 0 and accuracy in [0, 1]",
          i, r.key, r.latency_ms, r.energy_mj, r.accuracy));
    }
    lat.emplace_back(r.latency_ms, uint32_t(i));
    energy.emplace_back(r.energy_mj, uint32_t(i));
  }
  by_latency_.bulk_load(std::move(lat));
  by_energy_.bulk_load(std::move(energy));
  rebuild_front();
}

void GuidedSearch::rebuild_front() {
  // Sweep in latency order (ties: energy, then accuracy descending, then
  // index), keeping a staircase of the (energy, accuracy) front seen so far:
  // accuracy rises with energy along it, so the best accuracy reachable at
  // energy <= e is the last step at or below e. A row is dominated exactly
  // when that accuracy reaches its own.
  std::vector<uint32_t> order(rows_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const SearchRow& x = rows_[a];
    const SearchRow& y = rows_[b];
    if (x.latency_ms != y.latency_ms) return x.latency_ms < y.latency_ms;
    if (x.energy_mj != y.energy_mj) return x.energy_mj < y.energy_mj;
    if (x.accuracy != y.accuracy) return x.accuracy > y.accuracy;
    return a < b;
  });
  std::map<double, double> stairs;  // energy -> best accuracy
  std::vector<std::pair<double, uint32_t>> front;
  for (uint32_t i : order) {
    const SearchRow& r = rows_[i];
    auto above = stairs.upper_bound(r.energy_mj);
    if (above != stairs.begin() && std::prev(above)->second >= r.accuracy) {
      continue;
    }
    front.emplace_back(r.latency_ms, i);
    // Steps at or above this energy with no better accuracy are now hidden.
    auto it = stairs.lower_bound(r.energy_mj);
    while (it != stairs.end() && it->second <= r.accuracy) {
      it = stairs.erase(it);
    }
    stairs[r.energy_mj] = r.accuracy;
  }
  front_.bulk_load(std::move(front));
}

bool GuidedSearch::better(uint32_t a, uint32_t b, const SearchQuery& q) const {
  const SearchRow& x = rows_[a];
  const SearchRow& y = rows_[b];
  if (q.objective == SearchObjective::kWeightedCost) {
    double cx = q.alpha * x.latency_ms + q.beta * x.energy_mj;
    double cy = q.alpha * y.latency_ms + q.beta * y.energy_mj;
    if (cx != cy) return cx < cy;
  }
  if (x.accuracy != y.accuracy) return x.accuracy > y.accuracy;
  if (x.latency_ms != y.latency_ms) return x.latency_ms < y.latency_ms;
  if (x.energy_mj != y.energy_mj) return x.energy_mj < y.energy_mj;
  return a < b;
}

SearchResult GuidedSearch::find(const SearchQuery& q) const {
  validate_query(q);
  SearchResult result;
  std::optional<uint32_t> best;
  for (auto it = front_.begin(); it != front_.end(); ++it) {
    if (it->first * q.latency_scale > q.latency_budget_ms) break;
    ++result.examined;
    uint32_t i = it->second;
    if (!feasible(rows_[i], q)) continue;
    if (!best || better(i, *best, q)) best = i;
  }
  if (best) {
    result.best = *best;
    return result;
  }
  // Nothing feasible: the nearest miss is on the front too (a dominating
  // row falls short of no limit by more).
  std::optional<uint32_t> miss;
  SearchQuery by_accuracy = q;
  by_accuracy.objective = SearchObjective::kMostAccurate;
  for (const auto& [latency, i] : front_) {
    ++result.examined;
    Shortfall s = shortfall(rows_[i], q);
    if (!miss || s.worst < result.miss.worst ||
        (s.worst == result.miss.worst && better(i, *miss, by_accuracy))) {
      miss = i;
      result.miss = s;
    }
  }
  if (miss) result.nearest_miss = *miss;
  return result;
}

SearchResult GuidedSearch::scan(const SearchQuery& q) const {
  validate_query(q);
  SearchResult result;
  std::optional<uint32_t> best, miss;
  SearchQuery by_accuracy = q;
  by_accuracy.objective = SearchObjective::kMostAccurate;
  for (uint32_t i = 0; i < rows_.size(); ++i) {
    ++result.examined;
    if (feasible(rows_[i], q)) {
      if (!best || better(i, *best, q)) best = i;
      continue;
    }
    if (best) continue;
    Shortfall s = shortfall(rows_[i], q);
    if (!miss || s.worst < result.miss.worst ||
        (s.worst == result.miss.worst && better(i, *miss, by_accuracy))) {
      miss = i;
      result.miss = s;
    }
  }
  if (best) {
    result.best = *best;
    result.miss = Shortfall{};
  } else if (miss) {
    result.nearest_miss = *miss;
  }
  return result;
}

std::vector<size_t> GuidedSearch::within(double latency_ms,
                                         double energy_mj) const {
  std::vector<size_t> out;
  by_latency_.for_each_in_range(-kInf, latency_ms, [&](double, uint32_t i) {
    if (rows_[i].energy_mj <= energy_mj) {
      out.push_back(i);
    }
  });
  return out;
}

void GuidedSearch::update(size_t index, double latency_ms, double energy_mj) {
  if (index >= rows_.size()) {
    throw UsageError(
        fmt::format("search: no row {} (there are {})", index, rows_.size()));
  }
  bool ok = latency_ms >= 0 && std::isfinite(latency_ms) && energy_mj >= 0 &&
            std::isfinite(energy_mj);
  if (!ok) {
    throw UsageError(fmt::format(
        "search: row {}: latency {} ms and energy {} mJ must be finite, >= 0",
        index, latency_ms, energy_mj));
  }
  SearchRow& r = rows_[index];
  const auto i = uint32_t(index);
  if (!by_latency_.erase(r.latency_ms, i) ||
      !by_energy_.erase(r.energy_mj, i)) {
    throw InternalError(
        fmt::format("search: row {} missing from an index", index));
  }
  r.latency_ms = latency_ms;
  r.energy_mj = energy_mj;
  by_latency_.insert(latency_ms, i);
  by_energy_.insert(energy_mj, i);
  rebuild_front();
}

}  // namespace adascale::search
