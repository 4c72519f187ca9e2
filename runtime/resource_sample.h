#pragma once
/// One reading of the device's resources (paper §IV-A, DESIGN §3.5): what
/// the resource monitor records every period and the load index is built
/// from. Pure data.
///
/// A source the machine does not offer (no cgroup limit, no cpufreq, no
/// NVIDIA driver) is std::nullopt, never 0: a missing GPU is not an idle
/// one, and the load index must leave it out rather than average in a 0.

#include <chrono>
#include <optional>

namespace adascale::runtime {

/// Seconds on the steady clock: the time base of every sample.
inline double steady_seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// One reading of every resource source.
struct ResourceSample {
  /// When the reading was taken, steady_seconds().
  double timestamp = 0;
  /// Busy share of all CPUs since the previous reading, in [0, 1]
  /// (/proc/stat deltas).
  std::optional<double> cpu_utilization;
  /// As cpu_utilization without this process's own CPU time: the load the
  /// *other* programs put on the machine, in [0, 1].
  std::optional<double> background_load;
  /// Share of memory in use, in [0, 1]: 1 − MemAvailable / MemTotal, or the
  /// cgroup's working set over its limit where that is tighter.
  std::optional<double> memory_utilization;
  /// CPU time the cgroup may use, in cores (cpu.max quota / period); absent
  /// when unlimited.
  std::optional<double> cpu_quota_cores;
  /// Current clock of cpu0, MHz (cpufreq scaling_cur_freq).
  std::optional<double> cpu_clock_mhz;
  /// Highest clock of cpu0, MHz (cpufreq cpuinfo_max_freq).
  std::optional<double> cpu_max_clock_mhz;
  /// Busy share of the GPU over the driver's last sample period, in [0, 1]
  /// (NVML).
  std::optional<double> gpu_utilization;
};

}  // namespace adascale::runtime
