#include "search/guided_search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::search {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Rows with many ties: values on coarse grids, accuracy loosely rising
/// with latency as in a real variant space.
std::vector<SearchRow> random_rows(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> grid(1, 60);
  std::uniform_int_distribution<int> noise(-10, 10);
  std::vector<SearchRow> rows(n);
  for (size_t i = 0; i < n; ++i) {
    int lat = grid(rng);
    rows[i].key = 1000 + i;
    rows[i].latency_ms = 0.25 * lat;
    rows[i].energy_mj = 0.5 * std::max(1, lat / 2 + noise(rng));
    rows[i].accuracy = std::clamp((30 + lat + noise(rng)) / 100.0, 0.0, 1.0);
  }
  return rows;
}

SearchQuery random_query(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  SearchQuery q;
  q.latency_budget_ms = u(rng) < 0.1 ? kInf : 0.1 + 16 * u(rng);
  q.energy_budget_mj = u(rng) < 0.5 ? kInf : 0.2 + 18 * u(rng);
  q.min_accuracy = u(rng) < 0.5 ? 0.0 : u(rng);
  q.latency_scale = u(rng) < 0.5 ? 1.0 : 1 + 2 * u(rng);
  if (u(rng) < 0.5) {
    q.objective = SearchObjective::kWeightedCost;
    q.alpha = u(rng) < 0.2 ? 0.0 : u(rng);
    q.beta = u(rng) < 0.2 ? 0.0 : u(rng);
  }
  return q;
}

void expect_same(const SearchResult& a, const SearchResult& b) {
  EXPECT_EQ(a.best, b.best);
  EXPECT_EQ(a.nearest_miss, b.nearest_miss);
  EXPECT_DOUBLE_EQ(a.miss.worst, b.miss.worst);
}

bool dominates(const SearchRow& a, size_t ia, const SearchRow& b, size_t ib) {
  bool weakly = a.latency_ms <= b.latency_ms && a.energy_mj <= b.energy_mj &&
                a.accuracy >= b.accuracy;
  bool equal = a.latency_ms == b.latency_ms && a.energy_mj == b.energy_mj &&
               a.accuracy == b.accuracy;
  return weakly && (!equal || ia < ib);
}

TEST(GuidedSearch, IndexedAnswerEqualsFullScan) {
  std::mt19937_64 rng(7);
  for (size_t n : {1u, 2u, 50u, 3000u}) {
    GuidedSearch search(random_rows(n, n), n < 10 ? 3 : 16);
    size_t examined = 0, scanned = 0;
    for (int k = 0; k < 3000; ++k) {
      SearchQuery q = random_query(rng);
      SearchResult fast = search.find(q);
      SearchResult slow = search.scan(q);
      expect_same(fast, slow);
      ASSERT_TRUE(fast.best || fast.nearest_miss) << "n " << n;
      examined += fast.examined;
      scanned += slow.examined;
    }
    if (n == 3000) {
      EXPECT_LT(examined * 5, scanned);  // the front is small
    }
  }
}

TEST(GuidedSearch, FrontIsExactlyTheNonDominatedRows) {
  auto rows = random_rows(600, 3);
  GuidedSearch search(rows, 4);
  size_t expected = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < rows.size() && !dominated; ++j) {
      dominated = j != i && dominates(rows[j], j, rows[i], i);
    }
    expected += !dominated;
  }
  EXPECT_EQ(search.front_size(), expected);
  EXPECT_LT(search.front_size(), rows.size() / 2);
}

TEST(GuidedSearch, MostAccurateFeasibleAndWeightedCost) {
  // key, accuracy, latency, energy
  GuidedSearch search({{1, 0.60, 1.0, 5.0},
                       {2, 0.80, 3.0, 4.0},
                       {3, 0.90, 6.0, 9.0},
                       {4, 0.80, 3.0, 4.0}});  // a duplicate of row 1
  SearchQuery q;
  q.latency_budget_ms = 4;
  EXPECT_EQ(search.find(q).best, 1u);  // ties go to the lower row
  q.latency_scale = 2;                 // under load: 3 ms now takes 6 ms
  EXPECT_EQ(search.find(q).best, 0u);
  q = SearchQuery{};
  EXPECT_EQ(search.find(q).best, 2u);
  q.energy_budget_mj = 8;
  EXPECT_EQ(search.find(q).best, 1u);
  q = SearchQuery{};
  q.objective = SearchObjective::kWeightedCost;
  q.alpha = 1;
  q.beta = 0;
  EXPECT_EQ(search.find(q).best, 0u);
  q.alpha = 0;
  q.beta = 1;
  EXPECT_EQ(search.find(q).best, 1u);  // cheapest energy, then accuracy
  q.min_accuracy = 0.85;
  EXPECT_EQ(search.find(q).best, 2u);
}

TEST(GuidedSearch, NothingFeasibleNamesTheNearestMiss) {
  GuidedSearch search(
      {{1, 0.60, 2.0, 5.0}, {2, 0.80, 3.0, 4.0}, {3, 0.90, 6.0, 9.0}});
  SearchQuery q;
  q.latency_budget_ms = 1.6;  // row 0 is 25% over, row 1 87.5%
  SearchResult r = search.find(q);
  EXPECT_FALSE(r.best);
  ASSERT_TRUE(r.nearest_miss);
  EXPECT_EQ(*r.nearest_miss, 0u);
  EXPECT_DOUBLE_EQ(r.miss.latency, 0.25);
  EXPECT_DOUBLE_EQ(r.miss.worst, 0.25);
  q.latency_budget_ms = 2.5;
  q.min_accuracy = 0.95;  // now every row misses the floor
  r = search.find(q);
  ASSERT_TRUE(r.nearest_miss);
  EXPECT_EQ(*r.nearest_miss, 1u);  // max(20%, 15.8%) < max(0%, 36.8%)
  EXPECT_DOUBLE_EQ(r.miss.latency, 0.2);
  EXPECT_NEAR(r.miss.accuracy, (0.95 - 0.80) / 0.95, 1e-12);
  EXPECT_DOUBLE_EQ(r.miss.worst, 0.2);
  expect_same(r, search.scan(q));
}

TEST(GuidedSearch, WithinIsARangeQueryOverEveryRow) {
  auto rows = random_rows(800, 11);
  GuidedSearch search(rows);
  for (double t : {0.0, 0.25, 3.0, 7.5, 100.0}) {
    for (double e : {kInf, 2.0, 6.0}) {
      std::vector<size_t> got = search.within(t, e);
      size_t expected = 0;
      for (const auto& r : rows) {
        expected += r.latency_ms <= t && r.energy_mj <= e;
      }
      EXPECT_EQ(got.size(), expected) << t << " " << e;
      for (size_t k = 1; k < got.size(); ++k) {
        EXPECT_LE(rows[got[k - 1]].latency_ms, rows[got[k]].latency_ms);
      }
    }
  }
}

TEST(GuidedSearch, UpdatesKeepIndexesAndFrontConsistent) {
  auto rows = random_rows(400, 5);
  GuidedSearch search(rows, 5);
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<size_t> pick(0, rows.size() - 1);
  std::uniform_real_distribution<double> u(0, 15);
  for (int k = 0; k < 200; ++k) {
    search.update(pick(rng), u(rng), u(rng));
    search.latency_index().check_invariants();
    search.energy_index().check_invariants();
    EXPECT_EQ(search.latency_index().size(), rows.size());
    SearchQuery q = random_query(rng);
    expect_same(search.find(q), search.scan(q));
  }
  EXPECT_THROW_WITH(search.update(400, 1, 1), UsageError, "no row 400");
  EXPECT_THROW_WITH(search.update(0, NAN, 1), UsageError, "must be finite");
}

TEST(GuidedSearch, BadQueriesAndRowsAreRefused) {
  GuidedSearch search({{1, 0.5, 1.0, 1.0}});
  auto bad = [&](auto edit, const char* needle) {
    SearchQuery q;
    edit(q);
    EXPECT_THROW_WITH(search.find(q), UsageError, needle);
  };
  bad([](SearchQuery& q) { q.latency_budget_ms = -1; },
      "latency budget (ms) must be a number > 0, got -1");
  bad([](SearchQuery& q) { q.latency_budget_ms = NAN; }, "got nan");
  bad([](SearchQuery& q) { q.energy_budget_mj = 0; }, "energy budget");
  bad([](SearchQuery& q) { q.min_accuracy = 1.5; }, "accuracy floor");
  bad([](SearchQuery& q) { q.alpha = -1; }, "alpha");
  bad([](SearchQuery& q) { q.beta = kInf; }, "beta");
  bad([](SearchQuery& q) { q.latency_scale = 0; }, "latency scale");
  EXPECT_THROW_WITH((GuidedSearch({{7, 0.5, -1.0, 1.0}})), DataError,
                    "row 0 (key 0x7)");
  EXPECT_THROW_WITH((GuidedSearch({{7, 1.5, 1.0, 1.0}})), DataError,
                    "accuracy in [0, 1]");
  GuidedSearch empty(std::vector<SearchRow>{});
  SearchResult r = empty.find(SearchQuery{});
  EXPECT_FALSE(r.best);
  EXPECT_FALSE(r.nearest_miss);
}

}  // namespace
}  // namespace adascale::search
