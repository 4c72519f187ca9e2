// Search query time (issue 5's benchmark): the guided search through its
// B+ tree indexes against a linear scan over the same rows, and against the
// usual Python way (a vectorised NumPy mask + argmax), at the default
// network's variant count and at 10^6 synthetic variants, in one run.
//
//   build/bin/bench_search [--small 500] [--large 1000000] [--queries 2000]
//                          [--skip-python] [--json]
//
// Rows are synthetic but shaped like a variant space: latency log-normal,
// energy proportional to latency with ±20% scatter, accuracy rising with
// log-latency plus noise. Budgets are drawn between the 5th and 95th
// latency percentiles; half the queries also bound energy, a quarter set an
// accuracy floor, a quarter minimise α·latency + β·energy. Every indexed
// answer is checked against the scan's.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/order_statistics.h"
#include "core/timing.h"
#include "experiments/benchmarks/run_command.h"
#include "search/guided_search.h"

namespace {

using namespace adascale;
using bench::run_command;
using search::GuidedSearch;
using search::SearchObjective;
using search::SearchQuery;
using search::SearchRow;
using Clock = std::chrono::steady_clock;

std::vector<SearchRow> make_rows(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> log_latency(std::log(3.0), 0.6);
  std::uniform_real_distribution<double> scatter(0.8, 1.2);
  std::normal_distribution<double> noise(0.0, 0.03);
  std::vector<SearchRow> rows(n);
  for (size_t i = 0; i < n; ++i) {
    double l = std::exp(log_latency(rng));
    rows[i].key = i;
    rows[i].latency_ms = l;
    rows[i].energy_mj = 40.0 * l * scatter(rng);
    double acc = 0.55 + 0.12 * std::log1p(l) + noise(rng);
    rows[i].accuracy = std::clamp(acc, 0.0, 1.0);
  }
  return rows;
}

std::vector<SearchQuery> make_queries(const std::vector<SearchRow>& rows,
                                      size_t n, uint64_t seed) {
  std::vector<double> lat, energy;
  for (const auto& r : rows) {
    lat.push_back(r.latency_ms);
    energy.push_back(r.energy_mj);
  }
  std::sort(lat.begin(), lat.end());
  std::sort(energy.begin(), energy.end());
  auto quantile = [](const std::vector<double>& v, double q) {
    return core::sorted_quantile(v, q);
  };
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<SearchQuery> queries(n);
  for (auto& q : queries) {
    q.latency_budget_ms = quantile(lat, 0.05 + 0.9 * u(rng));
    if (u(rng) < 0.5) q.energy_budget_mj = quantile(energy, 0.1 + 0.9 * u(rng));
    if (u(rng) < 0.25) q.min_accuracy = 0.5 + 0.3 * u(rng);
    if (u(rng) < 0.25) {
      q.objective = SearchObjective::kWeightedCost;
      q.alpha = u(rng);
      q.beta = 0.02 * u(rng);
    }
  }
  return queries;
}

struct Timing {
  double median_us = 0, mean_us = 0, p90_us = 0;
};

/// Times each call of fn(query) separately (the median is the target's
/// statistic); returns the answers too.
template <typename Fn>
Timing time_queries(const std::vector<SearchQuery>& queries, size_t count,
                    Fn fn, std::vector<search::SearchResult>* answers) {
  std::vector<double> us;
  count = std::min(count, queries.size());
  for (size_t i = 0; i < count; ++i) {
    auto t0 = Clock::now();
    search::SearchResult r = fn(queries[i]);
    auto t1 = Clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (answers) answers->push_back(r);
  }
  core::LatencyStats s = core::summarize(us);  // "ms" fields hold µs here
  return {s.median_ms, s.mean_ms, s.p90_ms};
}

/// Rows and queries as flat float64 arrays for the Python side.
void write_case(const std::string& path, const std::vector<SearchRow>& rows,
                const std::vector<SearchQuery>& queries) {
  std::ofstream out(path, std::ios::binary);
  auto put = [&](double v) {
    out.write(reinterpret_cast<const char*>(&v), sizeof v);
  };
  put(double(rows.size()));
  put(double(queries.size()));
  for (const auto& r : rows) {
    put(r.latency_ms);
    put(r.energy_mj);
    put(r.accuracy);
  }
  for (const auto& q : queries) {
    put(q.latency_budget_ms);
    put(q.energy_budget_mj);
    put(q.min_accuracy);
    put(q.objective == SearchObjective::kWeightedCost ? 1.0 : 0.0);
    put(q.alpha);
    put(q.beta);
  }
  if (!out) throw IoError(path + ": cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Guided-search query time: B+ tree vs linear scan vs NumPy"};
  size_t small = 500, large = 1000000, queries = 2000, scan_queries = 200;
  bool json = false, skip_python = false;
  app.add_option("--small", small, "rows of the default-size case");
  app.add_option("--large", large, "rows of the large synthetic case");
  app.add_option("--queries", queries, "timed queries per case (index)");
  app.add_option("--scan-queries", scan_queries,
                 "timed queries of the large case's scan and NumPy runs");
  app.add_flag("--skip-python", skip_python, "C++ side only");
  app.add_flag("--json", json, "one JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    nlohmann::json out;
    for (auto [name, n] : {std::pair<const char*, size_t>{"default", small},
                           std::pair<const char*, size_t>{"large", large}}) {
      core::Stopwatch build;
      GuidedSearch search(make_rows(n, 42 + n), 32);
      double build_ms = build.milliseconds();
      auto qs = make_queries(search.rows(), queries, 7);
      std::vector<search::SearchResult> fast, slow;
      Timing indexed = time_queries(
          qs, qs.size(), [&](const SearchQuery& q) { return search.find(q); },
          &fast);
      size_t scanned = n > 100000 ? scan_queries : qs.size();
      Timing scan = time_queries(
          qs, scanned, [&](const SearchQuery& q) { return search.scan(q); },
          &slow);
      size_t mismatches = 0, feasible = 0;
      for (size_t i = 0; i < slow.size(); ++i) {
        mismatches += fast[i].best != slow[i].best ||
                      fast[i].nearest_miss != slow[i].nearest_miss;
      }
      for (const auto& r : fast) feasible += r.best.has_value();
      if (mismatches > 0) {
        throw InternalError(
            fmt::format("{} case: {} indexed answers differ from the scan",
                        name, mismatches));
      }
      nlohmann::json c = {
          {"rows", n},
          {"front_rows", search.front_size()},
          {"build_ms", build_ms},
          {"queries", qs.size()},
          {"feasible_share", double(feasible) / double(fast.size())},
          {"index_median_us", indexed.median_us},
          {"index_mean_us", indexed.mean_us},
          {"index_p90_us", indexed.p90_us},
          {"scan_queries", scanned},
          {"scan_median_us", scan.median_us},
          {"scan_over_index", scan.median_us / indexed.median_us}};
      if (!skip_python) {
        auto path = (std::filesystem::temp_directory_path() /
                     fmt::format("bench_search_{}.bin", n))
                        .string();
        std::vector<SearchQuery> py_qs(qs.begin(), qs.begin() + long(scanned));
        write_case(path, search.rows(), py_qs);
        auto py = nlohmann::json::parse(run_command(
            "/usr/bin/python3 experiments/benchmarks/search_query.py " + path));
        std::filesystem::remove(path);
        double py_median = py["median_us"];
        c["numpy_median_us"] = py_median;
        c["numpy_over_index"] = py_median / indexed.median_us;
        // NumPy must agree on which variants answer (accuracy of the pick).
        size_t disagreements = 0;
        const auto& picks = py["best"];
        for (size_t i = 0; i < slow.size(); ++i) {
          long want = slow[i].best ? long(*slow[i].best) : -1;
          disagreements += picks[i].get<long>() != want;
        }
        if (disagreements > 0) {
          throw InternalError(
              fmt::format("{} case: NumPy picks {} different variants", name,
                          disagreements));
        }
      }
      out[name] = c;
    }
    if (json) {
      fmt::print("{}\n", out.dump());
      return 0;
    }
    for (const char* name : {"default", "large"}) {
      const auto& c = out[name];
      fmt::print(
          "{:>7} {:>8} rows (front {:>5}, built in {:.1f} ms): index median "
          "{:.2f} µs (p90 {:.2f}), scan {:.1f} µs = {:.0f}x",
          name, c["rows"].get<size_t>(), c["front_rows"].get<size_t>(),
          c["build_ms"].get<double>(), c["index_median_us"].get<double>(),
          c["index_p90_us"].get<double>(), c["scan_median_us"].get<double>(),
          c["scan_over_index"].get<double>());
      if (c.contains("numpy_median_us")) {
        fmt::print(", NumPy {:.1f} µs = {:.0f}x",
                   c["numpy_median_us"].get<double>(),
                   c["numpy_over_index"].get<double>());
      }
      fmt::print("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_search: error: {}\n", e.what());
    return 1;
  }
}
