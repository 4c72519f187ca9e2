// The adaptive runtime's own costs (issue 6 targets): the adaptation loop's
// CPU share at 10 Hz (the resource monitor and the decisions it drives), one
// policy decision (forecast + policy over a bundle's real variant rows), and
// one engine variant switch, with a count of heap allocations made while
// switching. The runtime is built as an application builds it
// (runtime::AdaptiveRuntime).
//
//   build/bin/bench_runtime --bundle B [--monitor-seconds 20] [--json]

#include <fmt/format.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/execution.h"
#include "core/order_statistics.h"
#include "core/timing.h"
#include "runtime/adaptive_runtime.h"
#include "runtime/system_sampler.h"

// Every heap allocation in this program passes through here, so the switch
// benchmark can count the ones made while switching. GCC sees these paired
// with free() after inlining and warns; that pairing is the point.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<int64_t> g_allocations{0};
}
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using namespace adascale;
using Clock = std::chrono::steady_clock;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Stats {
  double median = 0, p99 = 0, max = 0;
};
Stats stats(std::vector<double> v) {
  const std::vector<double> q = core::quantiles(std::move(v), {0.5, 0.99, 1.0});
  return {q[0], q[1], q[2]};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Adaptive runtime overheads: monitor, decision, switch"};
  std::string bundle_dir;
  double monitor_seconds = 20;
  int decisions = 100000, switches = 1000000;
  bool json = false;
  app.add_option("--bundle", bundle_dir, "exported bundle directory")
      ->required();
  app.add_option("--monitor-seconds", monitor_seconds,
                 "how long to watch the monitor");
  app.add_option("--decisions", decisions, "timed decisions");
  app.add_option("--switches", switches, "timed switches");
  app.add_flag("--json", json, "one JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    core::setup_execution("1", "cpu", 0);
    runtime::RuntimeOptions options;
    options.engine = {runtime::BlockMode::kEager, 1, 0};
    options.governor.enabled = false;  // decisions alone, no thread counts
    options.intra_op_threads = 1;
    options.monitor.period_ms = 100;
    options.autostart = false;
    options.form_cache = false;
    runtime::AdaptiveRuntime rt =
        runtime::AdaptiveRuntime::open(bundle_dir, options);
    runtime::AdaptiveEngine& engine = rt.engine();
    const runtime::VariantRows& rows = rt.rows();
    runtime::PolicyConfig pc;
    pc.budget_ms = 2 * rows.rows[rows.rows.size() / 2].latency_ms;
    rt.set_policy(pc);

    // 1. The loop at 10 Hz: this process's CPU time while only it runs.
    const runtime::MonitorConfig& mc = rt.options().monitor;
    const double cpu0 = cpu_seconds();
    core::Stopwatch wall;
    rt.start();
    std::this_thread::sleep_for(std::chrono::duration<double>(monitor_seconds));
    rt.stop();
    const double monitor_share = (cpu_seconds() - cpu0) / wall.seconds();
    const size_t samples = rt.stats().samples;
    runtime::SystemSampler sampler;
    std::vector<double> sample_us;
    for (int i = 0; i < 200; ++i) {
      auto t = Clock::now();
      sampler.sample();
      sample_us.push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - t).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(11));
    }

    // 2. Decisions: the controller's whole step (forecast + policy + the
    // switch when there is one) on a load that wanders like a busy machine,
    // fed to a fresh loop.
    rt.reset();
    std::mt19937 rng(0);
    std::normal_distribution<double> step(0, 0.08);
    double load = 0.3;
    std::vector<double> decision_us;
    runtime::ResourceSample s;
    for (int i = 0; i < decisions; ++i) {
      load = std::clamp(load + step(rng), 0.0, 1.0);
      s.background_load = load;
      s.cpu_utilization = load;
      auto t = Clock::now();
      rt.feed(s);
      decision_us.push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    }
    runtime::ControllerStatus status = rt.stats().loop;

    // 3. Switches: the engine's switch_to alone, and heap allocations in it.
    const size_t n = engine.variants().size();
    std::vector<double> switch_ns;
    switch_ns.reserve(size_t(switches) / 1000);
    const int64_t allocs0 = g_allocations.load();
    auto t0 = Clock::now();
    for (int i = 0; i < switches; ++i) engine.switch_to(size_t(i) % n);
    const double switch_mean_ns =
        std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
        double(switches);
    const int64_t switch_allocs = g_allocations.load() - allocs0;
    for (int i = 0; i < switches / 1000; ++i) {
      auto t = Clock::now();
      engine.switch_to(size_t(i) % n);
      switch_ns.push_back(
          std::chrono::duration<double, std::nano>(Clock::now() - t).count());
    }

    Stats dec = stats(decision_us), sw = stats(switch_ns),
          smp = stats(sample_us);
    nlohmann::json r;
    r["variants"] = rows.rows.size();
    r["monitor_period_ms"] = mc.period_ms;
    r["monitor_seconds"] = monitor_seconds;
    r["monitor_samples"] = samples;
    r["monitor_cpu_share_of_one_core"] = monitor_share;
    r["sample_us_median"] = smp.median;
    r["decision_us_median"] = dec.median;
    r["decision_us_p99"] = dec.p99;
    r["decision_us_max"] = dec.max;
    r["decision_switches"] = status.switches;
    r["switch_ns_mean"] = switch_mean_ns;
    r["switch_ns_median"] = sw.median;
    r["switch_ns_p99"] = sw.p99;
    r["switch_allocations"] = switch_allocs;
    if (json) {
      fmt::print("{}\n", r.dump(2));
      return 0;
    }
    fmt::print(
        "monitor at 10 Hz for {:.0f} s: {} samples, {:.3f}% of one core "
        "(one sample {:.1f} µs median)\n",
        monitor_seconds, samples, 100 * monitor_share, smp.median);
    fmt::print(
        "decision over {} variants (forecast + policy + switch): median "
        "{:.2f} µs, p99 {:.2f} µs, max {:.1f} µs ({} switches in {} "
        "decisions)\n",
        rows.rows.size(), dec.median, dec.p99, dec.max, status.switches,
        decisions);
    fmt::print(
        "engine switch: {:.1f} ns mean over {} calls, p99 {:.0f} ns; {} "
        "heap allocations\n",
        switch_mean_ns, switches, sw.p99, switch_allocs);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_runtime: {}\n", e.what());
    return 1;
  }
}
