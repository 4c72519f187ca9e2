#pragma once
/// Readers of the Linux files behind a ResourceSample (DESIGN §3.5):
/// /proc/stat and /proc/meminfo, cgroup v2 `memory.*` and `cpu.max`, and
/// cpufreq sysfs. Every reader takes the roots it reads under, so tests
/// point them at fake trees. A file that is missing or unreadable gives
/// std::nullopt (or an invalid CpuTimes), never 0 and never an exception.

#include <optional>
#include <string>

#include "core/cpu_load.h"

namespace adascale::runtime {

/// Where the readers look; the defaults are the real system's.
struct SystemPaths {
  std::string proc = "/proc";                   ///< procfs
  std::string cgroup = "/sys/fs/cgroup";        ///< cgroup v2 mount
  std::string cpu = "/sys/devices/system/cpu";  ///< cpufreq sysfs
};

/// Machine and own CPU time from `<proc>/stat` and `<proc>/self/stat`;
/// `valid` is false when either is missing or malformed. Feed two of them
/// to core::cpu_utilization() / core::background_load().
core::CpuTimes read_cpu_times(const SystemPaths& paths = {});

/// 1 − MemAvailable / MemTotal from `<proc>/meminfo`, in [0, 1].
/// Kernels older than 3.14 lack MemAvailable; MemFree + Buffers + Cached
/// stands in for it there.
std::optional<double> read_meminfo_utilization(const SystemPaths& paths = {});

/// This process's cgroup v2 directory: `<cgroup>` joined with the "0::"
/// line of `<proc>/self/cgroup`, or `<cgroup>` itself when that line is
/// missing or names no directory under it (a cgroup namespace shows "/").
std::string cgroup_directory(const SystemPaths& paths = {});

/// The tightest cgroup v2 memory limit on this process, as a share in use:
/// for each level from its cgroup up to the root that sets `memory.max`,
/// (memory.current − inactive_file of memory.stat) / memory.max; the
/// largest. Absent when no level sets a limit ("max") or the files are
/// missing (cgroup v1, no cgroup mount).
std::optional<double> read_cgroup_memory_utilization(
    const SystemPaths& paths = {});

/// Memory in use, in [0, 1]: the larger (tighter) of
/// read_meminfo_utilization() and read_cgroup_memory_utilization(), or
/// whichever is present.
std::optional<double> read_memory_utilization(const SystemPaths& paths = {});

/// The tightest cgroup v2 CPU limit, in cores: `cpu.max` "quota period"
/// gives quota / period, the smallest over this process's cgroup and its
/// ancestors. Absent when every level says "max" or the file is missing.
std::optional<double> read_cpu_quota_cores(const SystemPaths& paths = {});

/// Current clock of cpu0 in MHz: `<cpu>/cpu0/cpufreq/scaling_cur_freq`
/// (kHz). Absent without cpufreq (most virtual machines).
std::optional<double> read_cpu_clock_mhz(const SystemPaths& paths = {});

/// Highest clock of cpu0 in MHz: `<cpu>/cpu0/cpufreq/cpuinfo_max_freq`.
std::optional<double> read_cpu_max_clock_mhz(const SystemPaths& paths = {});

}  // namespace adascale::runtime
