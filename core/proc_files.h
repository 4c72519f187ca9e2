#pragma once
/// The one reader of Linux's /proc and sysfs text files in AdaScale: CPU
/// times (/proc/stat, /proc/self/stat), memory (/proc/meminfo,
/// /proc/self/status), /proc/cpuinfo fields, cpufreq clocks and cache sizes
/// (sysfs), plus the small parsers these formats share, which cgroup v2
/// files (runtime/resource_readers.h) reuse.
///
/// Every reader takes the root it reads under, defaulting to the real
/// system's, so tests point it at a fake tree in a temporary directory. A
/// file that is missing, unreadable or malformed gives std::nullopt (or an
/// empty list), never 0 and never an exception.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace adascale::core {

/// procfs mount point.
inline constexpr const char* kProcRoot = "/proc";
/// Per-CPU sysfs directory (cpu0/, cpu1/, ... with cpufreq/ and cache/).
inline constexpr const char* kCpuSysfsRoot = "/sys/devices/system/cpu";

// ---- Generic text ---------------------------------------------------------

/// The whole file; for the small pseudo-files of /proc and sysfs.
std::optional<std::string> read_text_file(const std::string& path);

/// The first line without its trailing whitespace.
std::optional<std::string> read_first_line(const std::string& path);

/// `text` without leading and trailing spaces, tabs and line ends.
std::string_view trim(std::string_view text);

/// The lines of `text` (split at '\n'; a final line end adds no line).
std::vector<std::string_view> split_lines(std::string_view text);

/// The words of `line`, split at spaces and tabs.
std::vector<std::string_view> split_words(std::string_view line);

/// The whole (trimmed) text as one non-negative decimal integer.
std::optional<uint64_t> parse_unsigned(std::string_view text);

/// The value of `key` in a keyed text file, trimmed: the first line that is
/// either "key: value" (any spaces or tabs around the colon: /proc/meminfo,
/// /proc/self/status, /proc/cpuinfo) or, for a line with no colon,
/// "key value" (cgroup v2 memory.stat). Keys match whole and case-sensitively.
std::optional<std::string> keyed_field(std::string_view text,
                                       std::string_view key);

/// The first word of keyed_field() as parse_unsigned() reads it
/// ("MemTotal: 1000 kB" gives 1000).
std::optional<uint64_t> keyed_number(std::string_view text,
                                     std::string_view key);

// ---- /proc ----------------------------------------------------------------

/// Aggregate CPU time of the machine, in clock ticks, from the "cpu" line of
/// <proc_root>/stat.
struct StatCpuTicks {
  uint64_t busy = 0;   ///< user + nice + system + irq + softirq + steal
  uint64_t total = 0;  ///< busy + idle + iowait
};

/// <proc_root>/stat's "cpu" line (steal counts 0 on kernels without it).
std::optional<StatCpuTicks> read_stat_cpu_ticks(
    const std::string& proc_root = kProcRoot);

/// This process's utime + stime (all threads), in clock ticks, from
/// <proc_root>/self/stat; a command name with spaces or ')' is handled.
std::optional<uint64_t> read_self_cpu_ticks(
    const std::string& proc_root = kProcRoot);

/// Machine memory from <proc_root>/meminfo, in KiB.
struct MemInfo {
  uint64_t total_kib = 0;  ///< MemTotal (> 0)
  /// MemAvailable; on kernels older than 3.14, which lack it,
  /// MemFree + Buffers + Cached.
  uint64_t available_kib = 0;
};

/// MemTotal and the memory available; absent without a positive MemTotal or
/// without MemAvailable and MemFree.
std::optional<MemInfo> read_meminfo(const std::string& proc_root = kProcRoot);

/// One "Key: N kB" line of <proc_root>/self/status in KiB: "VmRSS" (resident
/// now), "VmHWM" (peak resident), ...
std::optional<uint64_t> read_self_status_kib(
    std::string_view key, const std::string& proc_root = kProcRoot);

/// The first value of `key` in <proc_root>/cpuinfo ("model name",
/// "cpu MHz", ...), as text.
std::optional<std::string> read_cpuinfo_field(
    std::string_view key, const std::string& proc_root = kProcRoot);

// ---- sysfs ----------------------------------------------------------------

/// A cpufreq file of CPU `cpu` (<cpu_root>/cpu<cpu>/cpufreq/<file>, which
/// holds kHz: "scaling_cur_freq", "cpuinfo_max_freq", "cpuinfo_min_freq")
/// in MHz; absent without cpufreq (most virtual machines) or when it reads 0.
std::optional<double> read_cpufreq_mhz(
    std::string_view file, int cpu = 0,
    const std::string& cpu_root = kCpuSysfsRoot);

/// One entry of a CPU's sysfs cache directory (cpu0/cache/indexN/).
struct SysfsCache {
  int level = 0;           ///< 1, 2, 3, ...
  std::string type;        ///< "Data", "Instruction" or "Unified"
  int64_t size_bytes = 0;  ///< capacity of one instance
};

/// Every `index*` entry of `cache_dir` with a readable level, type and
/// size, in name order (index0, index1, ...); others are skipped.
std::vector<SysfsCache> read_sysfs_caches(const std::string& cache_dir);

/// A sysfs cache size: "32K", "512K", "1M" (K, M, G are binary), or a bare
/// number of bytes; absent for anything else.
std::optional<int64_t> parse_cache_size(std::string_view text);

}  // namespace adascale::core
