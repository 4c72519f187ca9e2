#include "runtime/system_sampler.h"

#include <cmath>

namespace adascale::runtime {

namespace {

std::optional<double> finite(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace

SystemSampler::SystemSampler(SystemPaths paths, bool gpu)
    : paths_(std::move(paths)), previous_(read_cpu_times(paths_)) {
  if (gpu) gpu_ = std::make_unique<NvmlGpu>();
}

ResourceSample SystemSampler::sample() {
  ResourceSample s;
  s.timestamp = steady_seconds();
  core::CpuTimes now = read_cpu_times(paths_);
  // cpu_utilization() and background_load() are NaN for an invalid
  // snapshot or no elapsed tick: absent, not 0.
  s.cpu_utilization = finite(core::cpu_utilization(previous_, now));
  s.background_load = finite(core::background_load(previous_, now));
  // Keep the older snapshot when no tick passed, so the next delta spans
  // enough time to mean something.
  if (now.valid && (!previous_.valid || now.total > previous_.total))
    previous_ = now;
  s.memory_utilization = read_memory_utilization(paths_);
  s.cpu_quota_cores = read_cpu_quota_cores(paths_);
  s.cpu_clock_mhz = read_cpu_clock_mhz(paths_);
  s.cpu_max_clock_mhz = read_cpu_max_clock_mhz(paths_);
  if (gpu_) s.gpu_utilization = gpu_->utilization();
  return s;
}

}  // namespace adascale::runtime
