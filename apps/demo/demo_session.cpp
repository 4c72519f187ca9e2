#include "apps/demo/demo_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/timing.h"
#include "runtime/adaptation_controller.h"
#include "runtime/system_sampler.h"

namespace adascale::demo {
namespace {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  size_t i = size_t(q * double(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + long(i), v.end());
  return v[i];
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

}  // namespace

DemoSession::DemoSession(runtime::AdaptiveEngine& engine,
                         runtime::VariantRows rows,
                         const datasets::NormalizedImages& images,
                         DemoOptions options, LoadSwitch load)
    : engine_(engine),
      rows_(std::move(rows)),
      images_(images),
      options_(std::move(options)),
      load_(std::move(load)) {
  if (images_.size() == 0) throw DataError("the demo has no test images");
  if (!(options_.duration_s > 0)) {
    throw UsageError(
        fmt::format("--duration must be > 0 s, got {}", options_.duration_s));
  }
  if (options_.static_variant >= engine_.variants().size()) {
    throw UsageError("static variant out of range");
  }
  for (const search::SearchRow& row : rows_.rows) {
    engine_index_.push_back(engine_.index_of_key(row.key));
  }
}

std::vector<PhaseSummary> DemoSession::run() {
  // Warm-up at idle: first calls pay for allocations and caches.
  core::Stopwatch warm;
  while (warm.seconds() < options_.warmup_s && !core::interrupt_requested()) {
    engine_.infer(images_.images[cursor_++ % images_.size()].unsqueeze(0),
                  options_.static_variant);
  }
  // An interrupt (SIGINT/SIGTERM, see core/interrupt.h) ends the phase in
  // progress as if its time were up, and no later phase starts.
  std::vector<PhaseSummary> out;
  if (options_.adaptive && !core::interrupt_requested()) {
    out.push_back(run_phase("adaptive", true));
  }
  if (options_.static_phase && !core::interrupt_requested()) {
    out.push_back(run_phase("static", false));
  }
  return out;
}

PhaseSummary DemoSession::run_phase(const std::string& phase, bool adaptive) {
  runtime::AdaptationPolicy policy(rows_.rows, rows_.layers, rows_.model,
                                   options_.policy);
  std::optional<runtime::ThreadGovernor> governor;
  engine_.set_threads(options_.threads);
  if (adaptive && options_.governor.enabled) {
    governor.emplace(options_.governor,
                     int(std::max(1u, std::thread::hardware_concurrency())));
  }
  runtime::AdaptationController controller(
      engine_, std::move(policy), engine_index_, options_.forecast,
      options_.monitor.load_index, std::move(governor),
      options_.feedback_quantile);
  engine_.set_early_exit_threshold(
      adaptive ? options_.policy.early_exit_threshold : 0.0);
  runtime::SystemSampler sampler({}, /*gpu=*/true);
  runtime::ResourceMonitor monitor(options_.monitor, [&] {
    runtime::ResourceSample s = sampler.sample();
    controller.on_sample(s);
    return s;
  });

  PhaseSummary summary;
  summary.phase = phase;
  std::vector<double> all_latencies;
  std::map<size_t, int64_t> per_variant;
  std::map<int, int64_t> per_exit;
  int64_t correct = 0, misses = 0;

  std::vector<double> second_latencies;
  int64_t second_misses = 0, second_exit_sum = 0;
  const double budget = options_.policy.budget_ms;

  load_(true);
  monitor.start();
  core::Stopwatch clock;
  double next_second = 1.0;
  while (true) {
    const double now = clock.seconds();
    const bool end = now >= options_.duration_s || core::interrupt_requested();
    if (now >= next_second || end) {
      runtime::ControllerStatus status = controller.status();
      SecondRecord rec;
      rec.phase = phase;
      rec.t_s = now;
      rec.load = status.load;
      rec.forecast = status.forecast;
      size_t running = adaptive ? status.variant : options_.static_variant;
      rec.variant = engine_.space().to_string(engine_.variants()[running]);
      rec.inferences = int64_t(second_latencies.size());
      rec.exit_mean =
          rec.inferences ? double(second_exit_sum) / double(rec.inferences) : 0;
      rec.latency_mean_ms = mean(second_latencies);
      rec.latency_p50_ms = percentile(second_latencies, 0.5);
      rec.latency_p95_ms = percentile(second_latencies, 0.95);
      rec.misses = second_misses;
      rec.accuracy = all_latencies.empty()
                         ? 0
                         : double(correct) / double(all_latencies.size());
      rec.feedback_ratio = status.feedback_ratio;
      rec.switches = status.switches;
      rec.threads = adaptive && options_.governor.enabled ? status.threads
                                                          : options_.threads;
      seconds_.push_back(rec);
      if (!options_.quiet) {
        fmt::print(
            "[{:>8}] t={:>5.1f}s load {:.2f} (forecast {:.2f})  {:<28} exit "
            "{:.1f}  {}T  p50 {:>6.2f} ms  p95 {:>6.2f} ms  misses "
            "{:>3}/{:<4} acc {:.1f}%\n",
            phase, now, rec.load, rec.forecast, rec.variant, rec.exit_mean,
            rec.threads, rec.latency_p50_ms, rec.latency_p95_ms, rec.misses,
            rec.inferences, 100 * rec.accuracy);
        std::fflush(stdout);
      }
      second_latencies.clear();
      second_misses = second_exit_sum = 0;
      next_second += 1.0;
      if (end) break;
    }
    const int64_t i = cursor_++ % images_.size();
    torch::Tensor x = images_.images[i].unsqueeze(0);
    runtime::InferenceResult r =
        adaptive ? engine_.infer(x) : engine_.infer(x, options_.static_variant);
    if (adaptive) controller.observe(r);
    const bool hit =
        r.logits.argmax(1).item<int64_t>() == images_.labels[size_t(i)];
    correct += hit;
    const bool miss = r.latency_ms > budget;
    misses += miss;
    second_misses += miss;
    second_exit_sum += r.exit + 1;
    second_latencies.push_back(r.latency_ms);
    all_latencies.push_back(r.latency_ms);
    ++per_variant[r.variant];
    ++per_exit[r.exit + 1];
  }
  monitor.stop();
  load_(false);
  const std::vector<double> series = monitor.load_series();
  const size_t needed =
      size_t(2 * options_.forecast.order + 2 + options_.forecast.horizon);
  if (series.size() >= needed) {
    summary.forecast = runtime::forecast_error(series, options_.forecast);
  }

  runtime::ControllerStatus status = controller.status();
  summary.seconds = clock.seconds();
  summary.inferences = int64_t(all_latencies.size());
  const double n = std::max<double>(1, double(summary.inferences));
  summary.latency_mean_ms = mean(all_latencies);
  summary.latency_p50_ms = percentile(all_latencies, 0.5);
  summary.latency_p95_ms = percentile(all_latencies, 0.95);
  summary.latency_p99_ms = percentile(all_latencies, 0.99);
  summary.accuracy = double(correct) / n;
  summary.miss_rate = double(misses) / n;
  summary.switches = adaptive ? status.switches : 0;
  summary.decisions = status.decisions;
  summary.decision_us_mean = status.decision_us_mean;
  summary.decision_us_max = status.decision_us_max;
  summary.switch_us_max = status.switch_us_max;
  summary.thread_changes = status.thread_changes;
  summary.reflexes = adaptive ? status.reflexes : 0;
  for (const auto& [v, count] : per_variant) {
    summary.variant_share[engine_.space().to_string(engine_.variants()[v])] =
        double(count) / n;
  }
  for (const auto& [e, count] : per_exit) {
    summary.exit_share[e] = double(count) / n;
  }
  return summary;
}

std::string seconds_csv(const std::vector<SecondRecord>& seconds) {
  std::ostringstream out;
  out << "phase,t_s,load,forecast,variant,exit_mean,inferences,"
         "latency_mean_ms,latency_p50_ms,latency_p95_ms,misses,accuracy,"
         "feedback_ratio,switches,threads\n";
  for (const SecondRecord& r : seconds) {
    out << fmt::format(
        "{},{:.3f},{:.4f},{:.4f},{},{:.3f},{},{:.4f},{:.4f},"
        "{:.4f},{},{:.5f},{:.4f},{},{}\n",
        r.phase, r.t_s, r.load, r.forecast, r.variant, r.exit_mean,
        r.inferences, r.latency_mean_ms, r.latency_p50_ms, r.latency_p95_ms,
        r.misses, r.accuracy, r.feedback_ratio, r.switches, r.threads);
  }
  return out.str();
}

}  // namespace adascale::demo
