#pragma once
/// Wall-clock timing: a stopwatch and the latency protocol every benchmark
/// and profiler shares (warm-up, then order statistics over repeats).

#include <chrono>
#include <functional>
#include <vector>

namespace adascale::core {

/// Monotonic stopwatch.
class Stopwatch {
 public:
  Stopwatch() : start_(Clock::now()) {}
  void restart() { start_ = Clock::now(); }
  double seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }
  double milliseconds() const { return seconds() * 1e3; }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_;
};

/// Order statistics of repeated runs, in milliseconds.
struct LatencyStats {
  double median_ms = 0, mean_ms = 0, min_ms = 0, p90_ms = 0;
  int repeats = 0;
};

/// Statistics of a list of samples (ms); empty input gives zeros.
LatencyStats summarize(std::vector<double> samples_ms);

/// Runs `fn` `warmup` times untimed, then `repeats` times timed, and stops
/// early once `max_seconds` of timed runs have passed (at least 3 runs).
LatencyStats measure_latency(const std::function<void()>& fn, int warmup,
                             int repeats, double max_seconds = 1e9);

}  // namespace adascale::core
