#pragma once
/// The resource monitor of paper §IV-A (DESIGN §3.5): a thread that takes a
/// ResourceSample every period and keeps the latest ones in a ring buffer,
/// from which the runtime reads the current state and the load index
/// series its forecaster learns from.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/config/checks.h"
#include "runtime/load_index.h"
#include "runtime/resource_readers.h"
#include "runtime/resource_sample.h"

namespace adascale::runtime {

/// `monitor:` section of a runtime config.
struct MonitorConfig {
  /// Time between samples, ms. /proc/stat counts in 10 ms ticks, so
  /// periods much under 50 ms give coarse CPU figures.
  int period_ms = 100;
  /// Samples kept (the ring buffer's capacity).
  int history = 600;
  /// Weights of the load index series.
  LoadIndexWeights load_index;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("period_ms", period_ms, check::in_range(1, 3'600'000), "ms");
    v("history", history, check::in_range(1, 10'000'000), "samples kept");
    v("load_index", load_index);
  }

  /// period_ms as a duration.
  std::chrono::milliseconds period() const {
    return std::chrono::milliseconds(period_ms);
  }
};

/// Throws UsageError naming the field when a value is out of range.
void validate_monitor_config(const MonitorConfig& config);

/// The monitor's schedule, a pure function so that tests check it without
/// timing the thread: after the sample due at `due` has been taken, at
/// `now`, the next one is due a period after `due` (keeping the cadence)
/// or, when that has already passed (a slow sample), a whole period after
/// `now`, rather than back to back, which would give CPU deltas over
/// almost no time.
std::chrono::steady_clock::time_point next_sample_due(
    std::chrono::steady_clock::time_point due,
    std::chrono::steady_clock::time_point now,
    std::chrono::milliseconds period);

/// Samples resources on its own thread between start() and stop().
/// Every public method is thread-safe.
class ResourceMonitor {
 public:
  /// Produces one sample; called on the monitor thread only.
  using Sampler = std::function<ResourceSample()>;

  /// Samples the real machine (SystemSampler) under `paths`.
  explicit ResourceMonitor(MonitorConfig config = {}, SystemPaths paths = {});
  /// Samples with `sampler` instead: tests, trace replay. The samples are
  /// kept as returned (their timestamps included).
  ResourceMonitor(MonitorConfig config, Sampler sampler);
  /// Stops and joins the thread.
  ~ResourceMonitor();
  ResourceMonitor(const ResourceMonitor&) = delete;
  ResourceMonitor& operator=(const ResourceMonitor&) = delete;

  /// Starts the thread, which samples at once and then every period; no-op
  /// when running. A stopped monitor may start again; its history stays.
  void start();
  /// Wakes the thread and joins it, without waiting out the period (a
  /// sample in progress finishes first). No-op when not running.
  void stop();
  bool running() const;

  /// The newest sample; std::nullopt before the first.
  std::optional<ResourceSample> latest() const;
  /// The kept samples, oldest first.
  std::vector<ResourceSample> history() const;
  /// The load index of the kept samples, oldest first, skipping samples
  /// without one: the series the forecaster learns from.
  std::vector<double> load_series() const;
  /// The load index of the newest sample that has one.
  std::optional<double> latest_load() const;
  /// Samples taken since construction (kept or already overwritten).
  size_t samples_taken() const;
  /// Sampler calls that threw (logged, then skipped).
  size_t sampling_errors() const;

  const MonitorConfig& config() const { return config_; }

 private:
  void run();

  const MonitorConfig config_;
  Sampler sampler_;

  mutable std::mutex mutex_;  // everything below
  std::condition_variable wake_;
  bool stop_requested_ = false;
  std::vector<ResourceSample> ring_;  // capacity config_.history
  size_t next_ = 0;                   // slot the next sample goes to
  size_t taken_ = 0;
  size_t errors_ = 0;

  mutable std::mutex control_;  // start() / stop() against each other
  std::thread thread_;
};

}  // namespace adascale::runtime
