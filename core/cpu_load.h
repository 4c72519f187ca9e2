#pragma once
/// CPU load from /proc/stat (paper §IV-A): the busy share of all CPUs
/// between two snapshots, and the share left after subtracting this
/// process's own CPU time, so a program can tell how loaded the machine is
/// by *others* while it runs.

#include <cstdint>
#include <string>

namespace adascale::core {

/// One snapshot of the machine's and this process's CPU time, in ticks.
struct CpuTimes {
  uint64_t busy = 0;   ///< user + nice + system + irq + softirq + steal
  uint64_t total = 0;  ///< busy + idle + iowait
  uint64_t self = 0;   ///< this process: utime + stime (all threads)
  bool valid = false;  ///< false when /proc is not readable
};

/// Reads <proc_root>/stat and <proc_root>/self/stat; `valid` is false when
/// either is absent or malformed.
CpuTimes read_cpu_times(const std::string& proc_root = "/proc");

/// Busy share of all CPUs in [0, 1] between `before` and `after`; NaN when
/// either snapshot is invalid or no time passed.
double cpu_utilization(const CpuTimes& before, const CpuTimes& after);

/// As cpu_utilization() without this process's own CPU time: the load
/// other programs put on the machine.
double background_load(const CpuTimes& before, const CpuTimes& after);

}  // namespace adascale::core
