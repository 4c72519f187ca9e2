// `adascale search --run DIR --latency-ms T`: the performance-guided search
// (paper §IV-C, eq. 6–7) over a run's tables.h5: the most accurate variant
// (or the one minimising α·latency + β·energy) within the latency and
// energy budgets at the given load, or the nearest miss when none fits.

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "core/error.h"
#include "search/guided_search.h"
#include "search/performance_tables.h"

namespace adascale::app {
namespace {

namespace fs = std::filesystem;

struct SearchOptions {
  std::string run;
  std::string table_device;  ///< --table-device; "" = the measured one
  double latency_ms = std::numeric_limits<double>::quiet_NaN();
  double energy_mj = std::numeric_limits<double>::infinity();
  double min_accuracy = 0;
  double load = 0;
  std::string objective = "accuracy";
  double alpha = 1, beta = 0;
  int batch = 1;
  bool json = false;
};

// The device to search for: the one named, else the one with a latency
// model fitted on measurements, else the first in the table.
std::string pick_device(const search::PerformanceTables& t,
                        const SearchOptions& opt, const std::string& path) {
  std::vector<std::string> names;
  for (const auto& m : t.models)
    if (m.batch == opt.batch &&
        std::find(names.begin(), names.end(), m.device) == names.end())
      names.push_back(m.device);
  if (names.empty()) {
    throw DataError(
        fmt::format("{}: no predictions at batch {}", path, opt.batch));
  }
  if (!opt.table_device.empty()) {
    if (std::find(names.begin(), names.end(), opt.table_device) ==
        names.end()) {
      throw UsageError(fmt::format(
          "search: --table-device {}: not in {} (devices at batch {}: {})",
          opt.table_device, path, opt.batch, fmt::join(names, ", ")));
    }
    return opt.table_device;
  }
  for (const auto& m : t.models)
    if (m.batch == opt.batch && m.model.fitted_on > 0) return m.device;
  return names.front();
}

void run_search(const SearchOptions& opt) {
  if (!(opt.load >= 0 && opt.load <= 1)) {
    throw UsageError(
        fmt::format("search: --load must be in [0, 1], got {}", opt.load));
  }
  const std::string path = (fs::path(opt.run) / "tables.h5").string();
  search::PerformanceTables t = search::read_tables(path);
  const std::string device = pick_device(t, opt, path);
  const search::LatencyModelEntry* model = t.model(device, opt.batch);

  search::SearchQuery query;
  query.latency_budget_ms = opt.latency_ms;
  query.energy_budget_mj = opt.energy_mj;
  query.min_accuracy = opt.min_accuracy;
  query.objective = opt.objective == "cost"
                        ? search::SearchObjective::kWeightedCost
                        : search::SearchObjective::kMostAccurate;
  query.alpha = opt.alpha;
  query.beta = opt.beta;
  search::validate_query(query);

  std::map<uint64_t, const search::IndexEntry*> index;
  for (const auto& e : t.index) index[e.key] = &e;
  std::vector<search::SearchRow> rows;
  for (const auto& p : t.predictive) {
    if (p.device != device || p.batch != opt.batch) continue;
    auto it = index.find(p.key);
    if (it == index.end()) {
      throw DataError(
          fmt::format("{}: predictive row {:#x} has no performance-index row",
                      path, p.key));
    }
    double acc = it->second->validation_top1;
    // The load correction is not one factor (its per-layer term differs
    // by variant), so the rows carry the latency at this load.
    double latency = model->model.predict_ms(p.predicted_latency_ms,
                                             it->second->layers, opt.load);
    rows.push_back(
        {p.key, std::isnan(acc) ? 0.0 : acc, latency, p.predicted_energy_mj});
  }
  search::GuidedSearch searcher(std::move(rows));
  auto start = std::chrono::steady_clock::now();
  search::SearchResult result = searcher.find(query);
  double micros = std::chrono::duration<double, std::micro>(
                      std::chrono::steady_clock::now() - start)
                      .count();

  auto describe = [&](size_t i) {
    const search::SearchRow& r = searcher.rows()[i];
    const search::IndexEntry& e = *index.at(r.key);
    return nlohmann::json{{"variant", e.variant},
                          {"exit", e.exit},
                          {"validation_top1", r.accuracy},
                          {"latency_ms", r.latency_ms},
                          {"energy_mj", r.energy_mj},
                          {"macs", e.macs},
                          {"params", e.params}};
  };
  nlohmann::json out;
  out["device"] = device;
  out["batch"] = opt.batch;
  out["load"] = opt.load;
  out["latency_budget_ms"] = opt.latency_ms;
  if (std::isfinite(opt.energy_mj)) out["energy_budget_mj"] = opt.energy_mj;
  out["min_accuracy"] = opt.min_accuracy;
  out["objective"] = opt.objective;
  out["variants"] = searcher.rows().size();
  out["examined"] = result.examined;
  out["search_us"] = micros;
  out["feasible"] = result.best.has_value();
  if (result.best) out["best"] = describe(*result.best);
  if (result.nearest_miss) {
    out["nearest_miss"] = describe(*result.nearest_miss);
    out["nearest_miss"]["over_latency"] = result.miss.latency;
    out["nearest_miss"]["over_energy"] = result.miss.energy;
    out["nearest_miss"]["under_accuracy"] = result.miss.accuracy;
  }
  if (opt.json) {
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print(
      "device {} at load {:.2f}, batch {}; {} variants, {} examined in "
      "{:.1f} µs\n",
      device, opt.load, opt.batch, searcher.rows().size(), result.examined,
      micros);
  if (result.best) {
    const auto& b = out["best"];
    fmt::print(
        "best: {}  top-1 {:.2f}%  latency {:.3f} ms  energy {:.3f} mJ  "
        "{:.1f} M MACs\n",
        b["variant"].get<std::string>(),
        100 * b["validation_top1"].get<double>(), b["latency_ms"].get<double>(),
        b["energy_mj"].get<double>(), b["macs"].get<double>() / 1e6);
  } else {
    const auto& m = out["nearest_miss"];
    fmt::print(
        "no variant meets the budget; nearest miss: {}  latency {:.3f} "
        "ms (+{:.1f}%)  energy {:.3f} mJ (+{:.1f}%)  top-1 {:.2f}% "
        "(-{:.1f}%)\n",
        m["variant"].get<std::string>(), m["latency_ms"].get<double>(),
        100 * result.miss.latency, m["energy_mj"].get<double>(),
        100 * result.miss.energy, 100 * m["validation_top1"].get<double>(),
        100 * result.miss.accuracy);
  }
}

}  // namespace

void register_search_command(CLI::App& app) {
  auto options = std::make_shared<SearchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "search", "Pick the variant to run under latency and energy budgets");
  cmd->add_option("--run", options->run, "run directory holding tables.h5")
      ->required();
  cmd->add_option("--latency-ms", options->latency_ms,
                  "latency budget T in ms (eq. 7)")
      ->required();
  cmd->add_option("--energy-mj", options->energy_mj,
                  "energy budget E in mJ (eq. 7; default none)");
  cmd->add_option("--min-accuracy", options->min_accuracy,
                  "validation top-1 floor in [0, 1]");
  cmd->add_option("--load", options->load,
                  "current background CPU load in [0, 1]");
  cmd->add_option("--objective", options->objective,
                  "accuracy: most accurate feasible; cost: min α·latency + "
                  "β·energy (eq. 6)")
      ->check(CLI::IsMember({"accuracy", "cost"}));
  cmd->add_option("--alpha", options->alpha, "weight of latency (ms)");
  cmd->add_option("--beta", options->beta, "weight of energy (mJ)");
  cmd->add_option("--table-device", options->table_device,
                  "device name in the tables (default: the measured one)");
  cli::add_renamed_option(cmd, "--device", "--table-device {}", "NAME");
  cmd->add_option("--batch", options->batch, "batch size of the predictions")
      ->check(CLI::PositiveNumber);
  cli::add_json_flag(cmd, options->json);
  for (const char* name : {"--config", "--set"}) {
    cli::add_refused_option(
        cmd, name,
        fmt::format("search: {} does not apply: search reads only the run's "
                    "tables.h5, no config",
                    name));
  }
  cmd->callback([options] { run_search(*options); });
}

}  // namespace adascale::app
