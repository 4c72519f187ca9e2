#pragma once
/// Performance-guided search (paper §IV-C, eq. 6–7; DESIGN §3.4): pick the
/// variant to run under a latency budget T, an energy budget E and an
/// accuracy floor, either the most accurate feasible one (the default) or
/// the one minimising α·latency + β·energy.
///
/// Both objectives are monotone: a variant that is no slower, no hungrier
/// and no less accurate than another is never a worse answer. So only the
/// Pareto front over (latency ↓, energy ↓, accuracy ↑) can hold the answer,
/// and the nearest miss too when nothing is feasible. The search keeps that
/// front in a B+ tree keyed on latency and walks it up to T: a query touches
/// O(log n + front within T) rows instead of n. Full B+ tree indexes on
/// latency and on energy serve range queries over every row ("all variants
/// under 5 ms") and absorb recalibrated predictions with an erase + insert.
///
/// Pure C++ (no LibTorch): rows are plain numbers keyed by packed variant
/// keys; callers turn keys into readable ids.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "search/bplus_tree.h"

namespace adascale::search {

/// What the search knows about one variant: its row of the two tables.
struct SearchRow {
  uint64_t key = 0;       ///< packed variant key (core::VariantSpace)
  double accuracy = 0;    ///< validation top-1 in [0, 1]
  double latency_ms = 0;  ///< predicted latency at no load
  double energy_mj = 0;   ///< predicted energy per inference
};

/// Which feasible variant wins.
enum class SearchObjective {
  kMostAccurate,  ///< highest accuracy (ties: lower latency, then energy)
  kWeightedCost,  ///< lowest α·latency + β·energy (eq. 6; ties: accuracy)
};

/// One query: eq. 7's constraints plus the objective.
struct SearchQuery {
  double latency_budget_ms = std::numeric_limits<double>::infinity();  ///< T
  double energy_budget_mj = std::numeric_limits<double>::infinity();   ///< E
  double min_accuracy = 0;  ///< accuracy floor in [0, 1]
  SearchObjective objective = SearchObjective::kMostAccurate;
  double alpha = 1;  ///< weight of latency (ms) in eq. 6, ≥ 0
  double beta = 0;   ///< weight of energy (mJ) in eq. 6, ≥ 0
  /// Predicted latency × this factor is what the variant takes now (the
  /// runtime correction for the current load, ≥ 1 under load); > 0.
  double latency_scale = 1;
};

/// Why a variant is infeasible, as relative excesses over each limit (0 when
/// the limit holds); `worst` is their maximum, the distance minimised by the
/// nearest miss.
struct Shortfall {
  double latency = 0;   ///< (scaled latency − T) / T
  double energy = 0;    ///< (energy − E) / E
  double accuracy = 0;  ///< (floor − accuracy) / floor
  double worst = 0;
};

/// A query's answer: `best` when something is feasible, else
/// `nearest_miss` (the row with the smallest Shortfall::worst) and its
/// shortfall. Indices refer to the rows given to GuidedSearch.
struct SearchResult {
  std::optional<size_t> best;
  std::optional<size_t> nearest_miss;
  Shortfall miss;
  size_t examined = 0;  ///< rows looked at (for the benchmark and tests)
};

/// Throws UsageError naming the field when a query is not meaningful:
/// negative or NaN budgets, a floor outside [0, 1], negative weights or a
/// non-positive latency scale.
void validate_query(const SearchQuery& query);

/// The relative excesses of `row` over the limits of `query`.
Shortfall shortfall(const SearchRow& row, const SearchQuery& query);

/// The indexed search over a fixed set of variants.
class GuidedSearch {
 public:
  /// Indexes `rows` (bulk-loaded B+ trees of `order`). Throws UsageError on
  /// a NaN or negative latency/energy or an accuracy outside [0, 1].
  explicit GuidedSearch(std::vector<SearchRow> rows, int order = 32);

  /// The answer to `query` through the Pareto-front index.
  SearchResult find(const SearchQuery& query) const;

  /// The same answer by scanning every row: the reference for tests and the
  /// baseline of the search benchmark.
  SearchResult scan(const SearchQuery& query) const;

  /// Indices of every row with latency ≤ `latency_ms` and energy ≤
  /// `energy_mj`, in latency order (a range query on the latency index).
  std::vector<size_t> within(double latency_ms, double energy_mj) const;

  /// Replaces row `index`'s predictions (recalibration): both indexes are
  /// updated in place and the front is rebuilt. O(n log n).
  void update(size_t index, double latency_ms, double energy_mj);

  const std::vector<SearchRow>& rows() const { return rows_; }
  /// Rows on the Pareto front.
  size_t front_size() const { return front_.size(); }
  const BPlusTree<double, uint32_t>& latency_index() const {
    return by_latency_;
  }
  const BPlusTree<double, uint32_t>& energy_index() const { return by_energy_; }

 private:
  void rebuild_front();
  /// Whether row a beats row b under the query's objective (both feasible).
  bool better(uint32_t a, uint32_t b, const SearchQuery& query) const;

  std::vector<SearchRow> rows_;
  BPlusTree<double, uint32_t> by_latency_;
  BPlusTree<double, uint32_t> by_energy_;
  BPlusTree<double, uint32_t> front_;  ///< Pareto rows keyed on latency
};

}  // namespace adascale::search
