#include "core/timing.h"

#include <algorithm>
#include <numeric>

#include "core/order_statistics.h"

namespace adascale::core {

LatencyStats summarize(std::vector<double> samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  const size_t n = samples.size();
  s.repeats = int(n);
  s.mean_ms = std::accumulate(samples.begin(), samples.end(), 0.0) / double(n);
  const std::vector<double> q = quantiles(std::move(samples), {0.0, 0.5, 0.9});
  s.min_ms = q[0];
  s.median_ms = q[1];
  s.p90_ms = q[2];
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
