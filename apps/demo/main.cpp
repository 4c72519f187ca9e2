// adascale-demo: the adaptive runtime on a bundle, under a background load
// that follows a trace (paper §V-F, Fig. 8). It classifies the test split in
// a loop, prints load, variant, exit, latency and accuracy once a second,
// and at the end writes timeline.csv, summary.json, timeline.png and the
// resolved config.yaml and prints adaptive against static (--json: the
// summary as one JSON object).
//
//   adascale-demo --bundle B [--config demo.yaml] [--set key.path=value ...]
//                 [--out DIR] [--json] [--quiet]
//
// Everything else is a key of the demo config (apps/demo/demo_config.h,
// configs/demo/default.yaml): --set runtime.policy.budget_ms=10.

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/cli/common_options.h"
#include "apps/demo/demo_config.h"
#include "apps/demo/demo_session.h"
#include "apps/demo/load_process.h"
#include "apps/demo/timeline_plot.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/heap_reuse.h"
#include "core/interrupt.h"
#include "core/logging.h"
#include "core/timing.h"
#include "datasets/normalized_images.h"
#include "harness/load_trace.h"
#include "runtime/adaptive_runtime.h"
#include "runtime/bundle.h"

namespace {

using namespace adascale;
namespace fs = std::filesystem;

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// What stays on the command line: the bundle, where results go and how
// they are reported; every setting is a config key.
struct Args {
  std::string bundle;
  std::string out;
  cli::CommonOptions common;  ///< --config, --set, --json
  bool quiet = false;
};

std::vector<demo::TimelinePoint> points(
    const std::vector<demo::SecondRecord>& seconds, const std::string& phase) {
  std::vector<demo::TimelinePoint> out;
  for (const auto& r : seconds) {
    if (r.phase != phase || r.inferences == 0) continue;
    demo::TimelinePoint p;
    p.t_s = r.t_s;
    p.latency_p50_ms = r.latency_p50_ms;
    p.latency_p95_ms = r.latency_p95_ms;
    p.accuracy = r.accuracy;
    p.load = r.load;
    p.load_forecast = r.forecast;
    p.exit = int(std::lround(r.exit_mean));
    out.push_back(p);
  }
  return out;
}

nlohmann::json to_json(const demo::PhaseSummary& s) {
  nlohmann::json j;
  j["phase"] = s.phase;
  j["inferences"] = s.inferences;
  j["seconds"] = s.seconds;
  j["latency_mean_ms"] = s.latency_mean_ms;
  j["latency_p50_ms"] = s.latency_p50_ms;
  j["latency_p95_ms"] = s.latency_p95_ms;
  j["latency_p99_ms"] = s.latency_p99_ms;
  j["accuracy"] = s.accuracy;
  j["miss_rate"] = s.miss_rate;
  j["switches"] = s.switches;
  j["decisions"] = s.decisions;
  j["decision_us_mean"] = s.decision_us_mean;
  j["decision_us_max"] = s.decision_us_max;
  j["switch_us_max"] = s.switch_us_max;
  j["thread_changes"] = s.thread_changes;
  j["reflexes"] = s.reflexes;
  j["forecast_mae"] = s.forecast.ar_mae;
  j["naive_forecast_mae"] = s.forecast.naive_mae;
  j["used_forecast_mae"] = s.forecast.used_mae;
  j["forecasts_scored"] = s.forecast.scored;
  j["forecasts_used"] = {{"ar", s.forecast.ar_used},
                         {"naive", s.forecast.naive_used}};
  j["latency_bound_scored"] = s.bound.scored;
  j["latency_bound_coverage"] =
      s.bound.scored > 0 ? nlohmann::json(s.bound.coverage()) : nullptr;
  j["latency_bound_tightness"] =
      s.bound.scored > 0 ? nlohmann::json(s.bound.tightness()) : nullptr;
  j["variant_share"] = s.variant_share;
  nlohmann::json exits;
  for (const auto& [e, share] : s.exit_share) exits[std::to_string(e)] = share;
  j["exit_share"] = exits;
  return j;
}

// The output directory, made and checked writable before the run: a bad
// --out must not cost the whole run and its results.
std::string prepare_out(const Args& args, const std::string& trace_name) {
  std::string out = args.out;
  if (out.empty()) {
    out = fmt::format("demo_runs/{}_{}",
                      fs::path(args.bundle).filename().stem().string(),
                      trace_name);
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out)) {
    throw IoError(fmt::format("--out {}: cannot create the directory{}", out,
                              ec ? ": " + ec.message() : std::string()));
  }
  if (::access(out.c_str(), W_OK | X_OK) != 0) {
    throw IoError(fmt::format("--out {}: not writable", out));
  }
  return out;
}

// The table of adaptive against static and the forecasts' errors.
void print_report(const demo::PhaseSummary* a, const demo::PhaseSummary* s,
                  const std::vector<demo::PhaseSummary>& phases,
                  const runtime::RuntimeOptions& runtime,
                  const std::string& out) {
  fmt::print("\n{:<22} {:>12} {:>12}\n", "", "adaptive", "static");
  auto cell = [](const demo::PhaseSummary* p, double v, const char* f) {
    return p ? fmt::format(fmt::runtime(f), v) : std::string("-");
  };
  auto row = [&](const char* name, double demo::PhaseSummary::*field,
                 const char* f) {
    fmt::print("{:<22} {:>12} {:>12}\n", name, cell(a, a ? a->*field : 0, f),
               cell(s, s ? s->*field : 0, f));
  };
  row("mean latency", &demo::PhaseSummary::latency_mean_ms, "{:.2f} ms");
  row("p95 latency", &demo::PhaseSummary::latency_p95_ms, "{:.2f} ms");
  row("accuracy", &demo::PhaseSummary::accuracy, "{:.4f}");
  row("deadline misses", &demo::PhaseSummary::miss_rate, "{:.4f}");
  if (a && s) {
    fmt::print(
        "adaptive vs static: mean latency {:.1f}% lower, accuracy {:+.2f} "
        "points, misses {:.2f}% vs {:.2f}%; {} switches, decision {:.1f} µs "
        "mean ({:.1f} max), switch {:.2f} µs max, {} thread-count changes, "
        "{} overrun reflexes\n",
        100 * (1 - a->latency_mean_ms / s->latency_mean_ms),
        -100 * (s->accuracy - a->accuracy), 100 * a->miss_rate,
        100 * s->miss_rate, a->switches, a->decision_us_mean,
        a->decision_us_max, a->switch_us_max, a->thread_changes, a->reflexes);
  }
  for (const auto& p : phases) {
    if (p.forecast.scored == 0) continue;
    const runtime::ForecastScore& f = p.forecast;
    fmt::print(
        "{} phase load forecast ({} ms ahead, {} forecasts): AR mean abs "
        "error {:.4f}, naive (last value) {:.4f}; forecaster {} used AR {} "
        "times, naive {} times: mean abs error {:.4f}\n",
        p.phase, runtime.monitor.period_ms * runtime.forecast.horizon, f.scored,
        f.ar_mae, f.naive_mae, runtime.forecast.model, f.ar_used, f.naive_used,
        f.used_mae);
  }
  for (const auto& p : phases) {
    if (p.bound.scored == 0) continue;
    fmt::print(
        "{} phase latency bound (predicted p{:g}): {:.1f}% of {} latencies at "
        "or under it; mean bound {:.2f}x the mean latency\n",
        p.phase, 100 * runtime.predicted_quantile, 100 * p.bound.coverage(),
        p.bound.scored, p.bound.tightness());
  }
  fmt::print(
      "wrote {0}/timeline.csv, {0}/summary.json, {0}/timeline.png, "
      "{0}/config.yaml\n",
      out);
}

int run(const Args& args, const std::string& exe) {
  // Every value is checked here, before the bundle or the load cost anything.
  const demo::DemoConfig cfg =
      demo::load_demo_config(args.common.config, args.common.sets);
  const bool json = args.common.json;
  // The load process starts before anything else makes threads.
  std::optional<harness::LoadTrace> trace;
  std::unique_ptr<demo::LoadProcess> load;
  if (!cfg.trace.empty()) {
    trace = harness::LoadTrace::from_file(cfg.trace);
  }
  const std::string out =
      prepare_out(args, trace ? trace->name() : std::string("idle"));
  // From here SIGINT/SIGTERM only raise a flag: the session ends early and
  // what was measured is still written, with exit status 130.
  core::install_interrupt_handler();
  if (trace) load = std::make_unique<demo::LoadProcess>(exe, cfg.trace);
  log::set_level(log::parse_level(cfg.log_level));
  // The runtime runs on the CPU: its optimised blocks are MKL-DNN graphs.
  core::Execution exec =
      core::setup_execution(cfg.runtime.intra_op_threads == 0
                                ? std::string("auto")
                                : std::to_string(cfg.runtime.intra_op_threads),
                            "cpu", 0);

  core::Stopwatch loading;
  runtime::LoadedBundle bundle = runtime::load_bundle(args.bundle);
  core::DatasetConfig dataset = bundle.manifest.dataset;
  if (!cfg.data.empty()) dataset.root = cfg.data;
  datasets::NormalizedImages images = datasets::load_normalized_images(
      dataset, bundle.normalization, bundle.spec.in_channels,
      bundle.spec.resolution, datasets::ImageSplit::kTest, cfg.limit);

  runtime::RuntimeOptions settings = cfg.runtime;
  settings.engine.mode = runtime::parse_block_mode(cfg.engine.block_mode);
  settings.engine.backend = runtime::parse_backend(cfg.engine.backend);
  settings.engine.precision = runtime::parse_precision(cfg.engine.precision);
  if (settings.engine.precision == runtime::Precision::kInt8) {
    settings.engine.calibration =
        datasets::load_normalized_images(
            dataset, bundle.normalization, bundle.spec.in_channels,
            bundle.spec.resolution, datasets::ImageSplit::kCalibration,
            cfg.engine.calibration_images)
            .images;
  }
  settings.intra_op_threads = exec.threads;
  // Variants under the accuracy floor never run: when nothing meets the
  // budget the policy falls back to the fastest variant, which must still
  // be worth running. (Checked here too, to name the key.)
  const double min_accuracy = cfg.runtime.min_accuracy;
  if (std::none_of(
          bundle.manifest.variants.begin(), bundle.manifest.variants.end(),
          [&](const auto& v) { return v.validation_top1 >= min_accuracy; })) {
    throw UsageError(
        fmt::format("no variant of {} reaches runtime.min_accuracy {}",
                    args.bundle, min_accuracy));
  }
  // Each phase starts the runtime's loop itself.
  settings.autostart = false;
  // The demo decides block forms at every start, as it always has.
  settings.form_cache = false;
  runtime::AdaptiveRuntime rt =
      runtime::AdaptiveRuntime::open(std::move(bundle), settings);
  const runtime::AdaptiveEngine& engine = rt.engine();
  const runtime::VariantRows& rows = rt.rows();
  int optimized = 0;
  int int8 = 0;
  for (const auto& b : engine.blocks()) {
    optimized += b.optimized;
    int8 += b.int8;
  }

  demo::DemoOptions options;
  options.duration_s = cfg.duration_s;
  options.warmup_s = cfg.warmup_s;
  options.adaptive = cfg.mode != demo::DemoPhases::kStatic;
  options.static_phase = cfg.mode != demo::DemoPhases::kAdaptive;
  options.quiet = args.quiet || json;
  // The static baseline: the given variant, else the trunk at the deepest
  // trained exit (the full backbone: the model one would deploy unscaled).
  core::Variant baseline =
      cfg.static_variant.empty()
          ? engine.space().trunk(int(rt.bundle().trunk.size()) - 1)
          : engine.space().parse(cfg.static_variant);
  options.static_variant = engine.index_of(baseline);

  // Start-up's peak (the dataset decoded, every block timed) is not reached
  // again: give its freed pages back so the demo runs at its working set.
  core::release_free_heap_memory();

  const double budget_ms = cfg.runtime.policy.budget_ms;
  if (!json) {
    fmt::print(
        "adascale-demo: {} ({} variants; {} of {} blocks optimised on {}, {} "
        "int8), {} test images, {} threads, budget {} ms, trace {}, tables "
        "device {}; ready in {:.1f} s\n",
        args.bundle, rows.rows.size(), optimized, engine.blocks().size(),
        engine.startup().backend == runtime::Form::kXnnpack ? "XNNPACK"
                                                            : "oneDNN",
        int8, images.size(), exec.threads, budget_ms,
        trace ? trace->name() : std::string("none (idle)"), rows.device,
        loading.seconds());
    // Seen now, not at the first measured second: whoever watches the demo
    // (a script, a test) learns that the warm-up has begun.
    std::fflush(stdout);
  }

  demo::DemoSession session(rt, images, options, [&](bool on) {
    if (!load) return;
    if (on) {
      load->follow();
    } else {
      load->idle();
    }
  });
  std::vector<demo::PhaseSummary> phases = session.run();
  const bool interrupted = core::interrupt_requested();

  core::write_file_atomic(out + "/timeline.csv",
                          demo::seconds_csv(session.seconds()));
  // The resolved config: `--config OUT/config.yaml` runs the same again.
  core::write_file_atomic(out + "/config.yaml", demo::to_yaml(cfg));
  nlohmann::json summary;
  summary["bundle"] = args.bundle;
  summary["out"] = out;
  summary["budget_ms"] = budget_ms;
  summary["trace"] = cfg.trace;
  summary["threads"] = exec.threads;
  summary["static_variant"] = engine.space().to_string(baseline);
  summary["early_exit_threshold"] = cfg.runtime.policy.early_exit_threshold;
  summary["objective"] = cfg.runtime.policy.objective;
  summary["accuracy_floor_drop"] = cfg.runtime.policy.accuracy_floor_drop;
  summary["precision"] = cfg.engine.precision;
  summary["backend"] = engine.startup().backend == runtime::Form::kXnnpack
                           ? "xnnpack"
                           : "onednn";
  summary["int8_blocks"] = int8;
  summary["adapt_threads"] = cfg.runtime.governor.enabled;
  summary["min_accuracy"] = min_accuracy;
  summary["feedback_quantile"] = cfg.runtime.feedback_quantile;
  summary["predicted_quantile"] = cfg.runtime.predicted_quantile;
  summary["variants_considered"] = rows.rows.size();
  summary["forecaster"] = cfg.runtime.forecast.model;
  summary["interrupted"] = interrupted;
  for (const auto& p : phases) summary["phases"][p.phase] = to_json(p);
  const demo::PhaseSummary* a = nullptr;
  const demo::PhaseSummary* s = nullptr;
  for (const auto& p : phases) (p.phase == "adaptive" ? a : s) = &p;
  if (a && s) {
    const double lower = 1 - a->latency_mean_ms / s->latency_mean_ms;
    const double drop = s->accuracy - a->accuracy;
    summary["adaptive_vs_static"] = {
        {"mean_latency_reduction", lower},
        {"accuracy_drop_points", drop},
        {"accuracy_drop_relative", drop / s->accuracy}};
  }
  core::write_file_atomic(out + "/summary.json", summary.dump(2) + "\n");
  demo::plot_timeline(
      points(session.seconds(), "adaptive"),
      points(session.seconds(), "static"), budget_ms,
      fmt::format("{} under {} (budget {} ms)",
                  fs::path(args.bundle).filename().string(),
                  trace ? trace->name() : std::string("idle"), budget_ms),
      out + "/timeline.png");
  if (json) {
    fmt::print("{}\n", summary.dump());
  } else {
    print_report(a, s, phases, cfg.runtime, out);
  }
  if (interrupted) {
    fmt::print(stderr, "adascale-demo: interrupted; wrote what was measured\n");
    return 130;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The background-load child (see load_process.h) shares this binary.
  if (argc == 3 && std::string(argv[1]) == "--load-process") {
    try {
      return adascale::demo::run_load_process(argv[2]);
    } catch (const std::exception& e) {
      fmt::print(stderr, "adascale-demo load process: {}\n",
                 first_line(e.what()));
      return 1;
    }
  }
  CLI::App app{"AdaScale adaptive runtime demo (paper Fig. 8)",
               "adascale-demo"};
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "adascale-demo: error: " + first_line(e.what()) + " (see --help)\n";
  });
  Args args;
  app.add_option("--bundle", args.bundle, "exported bundle directory")
      ->required();
  cli::add_common_options(&app, args.common, true);
  app.get_option("--config")
      ->description(
          "demo config YAML (every key and its default: "
          "configs/demo/default.yaml)");
  app.get_option("--set")->description(
      "override a demo config value, e.g. --set runtime.policy.budget_ms=10 "
      "(repeatable)");
  app.add_option("--out", args.out,
                 "output directory (default demo_runs/<bundle>_<trace>)");
  app.add_flag("--quiet", args.quiet, "no per-second lines");
  // The options before the demo config; each names its key now.
  const std::pair<const char*, const char*> renamed[] = {
      {"--budget-ms", "runtime.policy.budget_ms"},
      {"--trace", "trace"},
      {"--duration", "duration_s"},
      {"--static", "static_variant"},
      {"--mode", "mode"},
      {"--early-exit", "runtime.policy.early_exit_threshold"},
      {"--hysteresis", "runtime.policy.hysteresis"},
      {"--margin", "runtime.policy.margin"},
      {"--overrun-streak", "runtime.policy.overrun_streak"},
      {"--overrun-downgrade", "runtime.policy.overrun_downgrade"},
      {"--objective", "runtime.policy.objective"},
      {"--accuracy-floor-drop", "runtime.policy.accuracy_floor_drop"},
      {"--monitor-period-ms", "runtime.monitor.period_ms"},
      {"--device", "runtime.tables_device"},
      {"--data", "data"},
      {"--limit", "limit"},
      {"--block-mode", "engine.block_mode"},
      {"--precision", "engine.precision"},
      {"--calibration", "engine.calibration_images"},
      {"--warmup", "warmup_s"},
      {"--log-level", "log_level"},
      {"--adapt-threads", "runtime.threads.enabled"},
      {"--feedback-quantile", "runtime.feedback_quantile"},
      {"--forecaster", "runtime.forecast.model"},
      {"--min-accuracy", "runtime.min_accuracy"},
  };
  for (const auto& [flag, key] : renamed) {
    cli::add_renamed_option(&app, flag, fmt::format("--set {}={{}}", key));
  }
  cli::add_renamed_option(
      &app, "--threads",
      "--set runtime.intra_op_threads=N (0 = every hardware thread)");
  try {
    app.parse(argc, argv);
    return run(args, fs::read_symlink("/proc/self/exe").string());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const adascale::Error& e) {
    fmt::print(stderr, "adascale-demo: error: {}\n", first_line(e.what()));
    return 1;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "adascale-demo: LibTorch error: {}\n",
               first_line(e.what_without_backtrace()));
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "adascale-demo: internal error: {}\n",
               first_line(e.what()));
    return 3;
  }
}
