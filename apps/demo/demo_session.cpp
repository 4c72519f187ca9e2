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
#include "core/order_statistics.h"
#include "core/streaming_quantiles.h"
#include "core/timing.h"

namespace adascale::demo {
namespace {

// NaN for an interval without inferences (the plot leaves a gap).
double percentile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  return core::quantile(std::move(v), q);
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

}  // namespace

DemoSession::DemoSession(runtime::AdaptiveRuntime& runtime,
                         const datasets::NormalizedImages& images,
                         DemoOptions options, LoadSwitch load)
    : runtime_(runtime),
      images_(images),
      options_(std::move(options)),
      load_(std::move(load)) {
  if (images_.size() == 0) throw DataError("the demo has no test images");
  if (!(options_.duration_s > 0)) {
    throw UsageError(
        fmt::format("--duration must be > 0 s, got {}", options_.duration_s));
  }
  if (options_.static_variant >= runtime_.engine().variants().size()) {
    throw UsageError("static variant out of range");
  }
}

std::vector<PhaseSummary> DemoSession::run() {
  // Warm-up at idle: first calls pay for allocations and caches.
  core::Stopwatch warm;
  while (warm.seconds() < options_.warmup_s && !core::interrupt_requested()) {
    runtime_.infer(images_.images[cursor_++ % images_.size()].unsqueeze(0),
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
  const runtime::RuntimeOptions& settings = runtime_.options();
  const runtime::AdaptiveEngine& engine = runtime_.engine();
  PhaseSummary summary;
  summary.phase = phase;
  // Bounded: a soak makes millions of inferences (core/streaming_quantiles.h).
  core::StreamingQuantiles all_latencies;
  std::map<size_t, int64_t> per_variant;
  std::map<int, int64_t> per_exit;
  int64_t correct = 0, misses = 0;

  std::vector<double> second_latencies;
  int64_t second_misses = 0, second_exit_sum = 0;
  const double budget = settings.policy.budget_ms;

  load_(true);
  // A fresh loop for each phase (controller, forecaster, policy, governor
  // when adapting, monitor), started once the load follows the trace.
  runtime_.start(adaptive);
  core::Stopwatch clock;
  double next_second = 1.0;
  while (true) {
    const double now = clock.seconds();
    const bool end = now >= options_.duration_s || core::interrupt_requested();
    if (now >= next_second || end) {
      runtime::ControllerStatus status = runtime_.stats().loop;
      SecondRecord rec;
      rec.phase = phase;
      rec.t_s = now;
      rec.load = status.load;
      rec.forecast = status.forecast;
      size_t running = adaptive ? status.variant : options_.static_variant;
      rec.variant = engine.space().to_string(engine.variants()[running]);
      rec.inferences = int64_t(second_latencies.size());
      rec.exit_mean =
          rec.inferences ? double(second_exit_sum) / double(rec.inferences) : 0;
      rec.latency_mean_ms = mean(second_latencies);
      rec.latency_p50_ms = percentile(second_latencies, 0.5);
      rec.latency_p95_ms = percentile(second_latencies, 0.95);
      rec.misses = second_misses;
      rec.accuracy = all_latencies.count() == 0
                         ? 0
                         : double(correct) / double(all_latencies.count());
      rec.feedback_ratio = status.feedback_ratio;
      rec.switches = status.switches;
      rec.threads = adaptive && settings.governor.enabled
                        ? status.threads
                        : settings.intra_op_threads;
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
    // The adaptive call feeds its latency back to the loop.
    runtime::InferenceResult r =
        adaptive ? runtime_.infer(x)
                 : runtime_.infer(x, options_.static_variant);
    const bool hit =
        r.logits.argmax(1).item<int64_t>() == images_.labels[size_t(i)];
    correct += hit;
    const bool miss = r.latency_ms > budget;
    misses += miss;
    second_misses += miss;
    second_exit_sum += r.exit + 1;
    second_latencies.push_back(r.latency_ms);
    all_latencies.add(r.latency_ms);
    ++per_variant[r.variant];
    ++per_exit[r.exit + 1];
  }
  runtime_.stop();
  load_(false);

  runtime::ControllerStatus status = runtime_.stats().loop;
  summary.forecast = status.forecast_score;
  summary.bound = status.bound_score;
  summary.seconds = clock.seconds();
  summary.inferences = all_latencies.count();
  const double n = std::max<double>(1, double(summary.inferences));
  summary.latency_mean_ms = all_latencies.mean();
  if (summary.inferences > 0) {
    summary.latency_p50_ms = all_latencies.quantile(0.5);
    summary.latency_p95_ms = all_latencies.quantile(0.95);
    summary.latency_p99_ms = all_latencies.quantile(0.99);
  } else {
    summary.latency_p50_ms = summary.latency_p95_ms = summary.latency_p99_ms =
        std::numeric_limits<double>::quiet_NaN();
  }
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
    summary.variant_share[engine.space().to_string(engine.variants()[v])] =
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
