// adascale-demo: the adaptive runtime on a bundle, under a background load
// that follows a trace (paper §V-F, Fig. 8). It classifies the test split in
// a loop, prints load, variant, exit, latency and accuracy once a second,
// and at the end writes timeline.csv, summary.json and timeline.png and
// prints adaptive against static.
//
//   adascale-demo --bundle B --budget-ms T [--trace configs/traces/X.yaml]
//                 [--duration S] [--static VARIANT] [--out DIR] ...

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/demo/demo_session.h"
#include "apps/demo/load_process.h"
#include "apps/demo/timeline_plot.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/interrupt.h"
#include "core/logging.h"
#include "core/timing.h"
#include "datasets/normalized_images.h"
#include "runtime/adaptive_runtime.h"
#include "runtime/bundle.h"
#include "harness/load_trace.h"

namespace {

using namespace adascale;
namespace fs = std::filesystem;

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

struct Args {
  std::string bundle;
  double budget_ms = 0;
  std::string trace;
  double duration_s = 60;
  std::string static_variant;
  std::string mode = "both";
  std::string out;
  std::string threads = "auto";
  double early_exit = 0;
  int hysteresis = 3;
  double margin = 0.1;
  int overrun_streak = 2;
  bool overrun_downgrade = false;
  std::string objective = "accuracy";
  double accuracy_floor_drop = 0.03;
  int monitor_period_ms = 100;
  std::string device;
  std::string data;
  int64_t limit = 0;
  std::string block_mode = "fastest";
  std::string precision = "fp32";
  int64_t calibration = 256;
  double warmup_s = 2;
  bool quiet = false;
  bool adapt_threads = true;
  std::string log_level = "warn";
  double min_accuracy = 0.5;
  double feedback_quantile = 0.5;
  std::string forecaster = "best";
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

int run(const Args& args, const std::string& exe) {
  if (!(args.budget_ms > 0) || !std::isfinite(args.budget_ms)) {
    throw UsageError(
        fmt::format("--budget-ms must be > 0, got {}", args.budget_ms));
  }
  // Infinite or NaN times would spin forever or never end a phase.
  if (!(args.duration_s > 0) || !std::isfinite(args.duration_s)) {
    throw UsageError(
        fmt::format("--duration must be a finite number of seconds > 0, got {}",
                    args.duration_s));
  }
  if (!(args.warmup_s >= 0) || !std::isfinite(args.warmup_s)) {
    throw UsageError(
        fmt::format("--warmup must be a finite number of seconds >= 0, got {}",
                    args.warmup_s));
  }
  if (args.mode != "both" && args.mode != "adaptive" && args.mode != "static") {
    throw UsageError("--mode '" + args.mode +
                     "' is not one of both, adaptive, static");
  }
  // The load process starts before anything else makes threads.
  std::optional<harness::LoadTrace> trace;
  std::unique_ptr<demo::LoadProcess> load;
  if (!args.trace.empty()) {
    trace = harness::LoadTrace::from_file(args.trace);
  }
  const std::string out =
      prepare_out(args, trace ? trace->name() : std::string("idle"));
  // From here SIGINT/SIGTERM only raise a flag: the session ends early and
  // what was measured is still written, with exit status 130.
  core::install_interrupt_handler();
  if (trace) load = std::make_unique<demo::LoadProcess>(exe, args.trace);
  log::set_level(log::parse_level(args.log_level));
  core::Execution exec = core::setup_execution(args.threads, "cpu", 0);

  core::Stopwatch loading;
  runtime::LoadedBundle bundle = runtime::load_bundle(args.bundle);
  core::DatasetConfig dataset = bundle.manifest.dataset;
  if (!args.data.empty()) dataset.root = args.data;
  datasets::NormalizedImages images = datasets::load_normalized_images(
      dataset, bundle.normalization, bundle.spec.in_channels,
      bundle.spec.resolution, datasets::ImageSplit::kTest, args.limit);

  runtime::RuntimeOptions settings;
  settings.engine.mode = runtime::parse_block_mode(args.block_mode);
  settings.engine.precision = runtime::parse_precision(args.precision);
  if (settings.engine.precision == runtime::Precision::kInt8) {
    if (args.calibration < 1) {
      throw UsageError(
          fmt::format("--calibration must be ≥ 1, got {}", args.calibration));
    }
    settings.engine.calibration =
        datasets::load_normalized_images(
            dataset, bundle.normalization, bundle.spec.in_channels,
            bundle.spec.resolution, datasets::ImageSplit::kCalibration,
            args.calibration)
            .images;
  }
  settings.policy.budget_ms = args.budget_ms;
  settings.policy.hysteresis = args.hysteresis;
  settings.policy.margin = args.margin;
  settings.policy.overrun_streak = args.overrun_streak;
  settings.policy.overrun_downgrade = args.overrun_downgrade;
  settings.policy.early_exit_threshold = args.early_exit;
  settings.policy.objective = args.objective;
  settings.policy.accuracy_floor_drop = args.accuracy_floor_drop;
  runtime::validate_policy_config(settings.policy);
  settings.forecast.model = args.forecaster;
  settings.intra_op_threads = exec.threads;
  settings.feedback_quantile = args.feedback_quantile;
  settings.governor.enabled = args.adapt_threads;
  settings.monitor.period_ms = args.monitor_period_ms;
  runtime::validate_monitor_config(settings.monitor);
  settings.tables_device = args.device;
  // Variants under the accuracy floor never run: when nothing meets the
  // budget the policy falls back to the fastest variant, which must still
  // be worth running. (Checked here too, to name the flag.)
  settings.min_accuracy = std::max(0.0, args.min_accuracy);
  if (std::none_of(bundle.manifest.variants.begin(),
                   bundle.manifest.variants.end(), [&](const auto& v) {
                     return v.validation_top1 >= args.min_accuracy;
                   })) {
    throw UsageError(fmt::format("no variant of {} reaches --min-accuracy {}",
                                 args.bundle, args.min_accuracy));
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
  options.duration_s = args.duration_s;
  options.warmup_s = args.warmup_s;
  options.adaptive = args.mode != "static";
  options.static_phase = args.mode != "adaptive";
  options.quiet = args.quiet;
  // The static baseline: the given variant, else the trunk at the deepest
  // trained exit (the full backbone: the model one would deploy unscaled).
  core::Variant baseline =
      args.static_variant.empty()
          ? engine.space().trunk(int(rt.bundle().trunk.size()) - 1)
          : engine.space().parse(args.static_variant);
  options.static_variant = engine.index_of(baseline);

  fmt::print(
      "adascale-demo: {} ({} variants; {} of {} blocks optimised, {} int8), "
      "{} test images, {} threads, budget {} ms, trace {}, tables device {}; "
      "ready in {:.1f} s\n",
      args.bundle, rows.rows.size(), optimized, engine.blocks().size(), int8,
      images.size(), exec.threads, args.budget_ms,
      trace ? trace->name() : std::string("none (idle)"), rows.device,
      loading.seconds());

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
  nlohmann::json summary;
  summary["bundle"] = args.bundle;
  summary["budget_ms"] = args.budget_ms;
  summary["trace"] = args.trace;
  summary["threads"] = exec.threads;
  summary["static_variant"] = engine.space().to_string(baseline);
  summary["early_exit_threshold"] = args.early_exit;
  summary["objective"] = args.objective;
  summary["accuracy_floor_drop"] = args.accuracy_floor_drop;
  summary["precision"] = args.precision;
  summary["int8_blocks"] = int8;
  summary["adapt_threads"] = args.adapt_threads;
  summary["min_accuracy"] = args.min_accuracy;
  summary["feedback_quantile"] = args.feedback_quantile;
  summary["variants_considered"] = rows.rows.size();
  summary["forecaster"] = args.forecaster;
  summary["interrupted"] = interrupted;
  for (const auto& p : phases) summary["phases"][p.phase] = to_json(p);

  fmt::print("\n{:<22} {:>12} {:>12}\n", "", "adaptive", "static");
  const demo::PhaseSummary* a = nullptr;
  const demo::PhaseSummary* s = nullptr;
  for (const auto& p : phases) (p.phase == "adaptive" ? a : s) = &p;
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
    const double lower = 1 - a->latency_mean_ms / s->latency_mean_ms;
    const double drop = s->accuracy - a->accuracy;
    summary["adaptive_vs_static"] = {
        {"mean_latency_reduction", lower},
        {"accuracy_drop_points", drop},
        {"accuracy_drop_relative", drop / s->accuracy}};
    fmt::print(
        "adaptive vs static: mean latency {:.1f}% lower, accuracy {:+.2f} "
        "points, misses {:.2f}% vs {:.2f}%; {} switches, decision {:.1f} µs "
        "mean ({:.1f} max), switch {:.2f} µs max, {} thread-count changes, "
        "{} overrun reflexes\n",
        100 * lower, -100 * drop, 100 * a->miss_rate, 100 * s->miss_rate,
        a->switches, a->decision_us_mean, a->decision_us_max, a->switch_us_max,
        a->thread_changes, a->reflexes);
  }
  for (const auto& p : phases) {
    if (p.forecast.scored == 0) continue;
    const runtime::ForecastScore& f = p.forecast;
    fmt::print(
        "{} phase load forecast ({} ms ahead, {} forecasts): AR mean abs "
        "error {:.4f}, naive (last value) {:.4f}; forecaster {} used AR {} "
        "times, naive {} times: mean abs error {:.4f}\n",
        p.phase, settings.monitor.period_ms * settings.forecast.horizon,
        f.scored, f.ar_mae, f.naive_mae, args.forecaster, f.ar_used,
        f.naive_used, f.used_mae);
  }
  core::write_file_atomic(out + "/summary.json", summary.dump(2) + "\n");
  demo::plot_timeline(
      points(session.seconds(), "adaptive"),
      points(session.seconds(), "static"), args.budget_ms,
      fmt::format("{} under {} (budget {} ms)",
                  fs::path(args.bundle).filename().string(),
                  trace ? trace->name() : std::string("idle"), args.budget_ms),
      out + "/timeline.png");
  fmt::print("wrote {0}/timeline.csv, {0}/summary.json, {0}/timeline.png\n",
             out);
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
  app.add_option("--budget-ms", args.budget_ms, "latency budget per image, ms")
      ->required();
  app.add_option("--trace", args.trace,
                 "background load trace (configs/traces/*.yaml); none = idle");
  app.add_option("--duration", args.duration_s, "seconds per phase")
      ->capture_default_str();
  app.add_option("--static", args.static_variant,
                 "static baseline variant (default: the trunk at the deepest "
                 "exit)");
  app.add_option("--mode", args.mode, "both | adaptive | static")
      ->capture_default_str();
  app.add_option("--out", args.out,
                 "output directory (default demo_runs/<bundle>_<trace>)");
  app.add_option("--threads", args.threads, "intra-op threads: auto or N")
      ->capture_default_str();
  app.add_option("--early-exit", args.early_exit,
                 "confidence threshold for input-adaptive early exit; 0 = off")
      ->capture_default_str();
  app.add_option("--hysteresis", args.hysteresis,
                 "decisions a better variant must stay feasible")
      ->capture_default_str();
  app.add_option("--margin", args.margin, "share of the budget kept free")
      ->capture_default_str();
  app.add_option("--overrun-streak", args.overrun_streak,
                 "overruns of the budget in a row that trigger a reaction "
                 "before the next monitor sample; 0 = off")
      ->capture_default_str();
  app.add_option("--overrun-downgrade", args.overrun_downgrade,
                 "at one thread, an overrun reaction may downgrade the "
                 "variant (true|false)")
      ->capture_default_str();
  app.add_option("--objective", args.objective,
                 "accuracy = most accurate variant within the budget | "
                 "latency = fastest variant within --accuracy-floor-drop of "
                 "the most accurate")
      ->capture_default_str();
  app.add_option("--accuracy-floor-drop", args.accuracy_floor_drop,
                 "--objective latency: variants more than this far below the "
                 "best accuracy (a fraction) never run")
      ->capture_default_str();
  app.add_option("--monitor-period-ms", args.monitor_period_ms,
                 "resource sampling period")
      ->capture_default_str();
  app.add_option("--device", args.device,
                 "device rows of tables.h5 (default: the measured one)");
  app.add_option("--data", args.data,
                 "dataset root (default: the bundle's dataset.root)");
  app.add_option("--limit", args.limit, "use at most N test images; 0 = all")
      ->capture_default_str();
  app.add_option("--block-mode", args.block_mode,
                 "fastest | eager | optimized engine blocks")
      ->capture_default_str();
  app.add_option("--precision", args.precision,
                 "fp32 | int8 (int8 blocks where they are faster and within "
                 "5% of the float output)")
      ->capture_default_str();
  app.add_option("--calibration", args.calibration,
                 "held-out images that set the int8 ranges")
      ->capture_default_str();
  app.add_option("--warmup", args.warmup_s, "seconds of untimed warm-up")
      ->capture_default_str();
  app.add_flag("--quiet", args.quiet, "no per-second lines");
  app.add_option("--log-level", args.log_level,
                 "debug | info | warn | error (library messages, stderr)")
      ->capture_default_str();
  app.add_option("--adapt-threads", args.adapt_threads,
                 "adapt intra-op threads to the background load (true|false)")
      ->capture_default_str();
  app.add_option("--feedback-quantile", args.feedback_quantile,
                 "latency quantile between decisions fed back to the policy "
                 "(0.5 = median; 0.9 steers the tail: fewer misses, smaller "
                 "variants)")
      ->capture_default_str();
  app.add_option("--forecaster", args.forecaster,
                 "load forecast the policy uses: ar | naive (last value) | "
                 "best (whichever has the lower recent error)")
      ->check(CLI::IsMember({"ar", "naive", "best"}))
      ->capture_default_str();
  app.add_option("--min-accuracy", args.min_accuracy,
                 "never run variants below this validation top-1")
      ->capture_default_str();
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
