#include "core/timing.h"

#include <algorithm>
#include <numeric>

namespace adascale::core {

LatencyStats summarize(std::vector<double> samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  s.repeats = int(n);
  s.min_ms = samples.front();
  s.median_ms =
      n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  s.mean_ms = std::accumulate(samples.begin(), samples.end(), 0.0) / double(n);
  s.p90_ms = samples[std::min(n - 1, size_t(0.9 * double(n)))];
  return s;
}

LatencyStats measure_latency(const std::function<void()>& fn, int warmup,
                             int repeats, double max_seconds) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> samples;
  Stopwatch total;
  for (int i = 0; i < repeats; ++i) {
    Stopwatch one;
    fn();
    samples.push_back(one.milliseconds());
    if (samples.size() >= 3 && total.seconds() > max_seconds) break;
  }
  return summarize(std::move(samples));
}

}  // namespace adascale::core
