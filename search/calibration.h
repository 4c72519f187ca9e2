#pragma once
/// Device calibration (DESIGN §3.4): micro-benchmarks that measure this
/// machine's figures for a core::DeviceProfile, as `adascale calibrate`
/// writes them. What a benchmark cannot see (DRAM clock and power, CPU power
/// without a RAPL sensor) is taken from a base profile, and the profile's
/// `source` says which figure came from where.
///
/// Conventions:
/// - GMAC/s: an fp32 n×n×n GEMM (torch::mm) counts n³ MACs; best of repeats,
///   at LibTorch's current intra-op thread count.
/// - Bandwidth, 10^9 B/s: a copy counts the bytes read plus the bytes
///   written (STREAM's copy convention; write-allocate traffic is not
///   counted); a read counts the bytes read.
/// - Latency: ns per dependent load of a pointer chase over a random cyclic
///   permutation of 64-byte lines, so every load touches a new line and the
///   prefetchers cannot guess the next one. The chase buffer asks for
///   transparent huge pages, so that the figures are cache and DRAM
///   latencies rather than page walks; where THP is off they include TLB
///   misses.
///
/// Every benchmark runs on the calling thread (the GEMM and the copy fan out
/// through LibTorch's pool); none prints, progress goes to core/logging.

#include <cstdint>
#include <string>
#include <vector>

#include "core/device_profile.h"

namespace adascale::search {

/// One data (or unified) cache level as the OS reports it.
struct CacheInfo {
  std::string name;        ///< l1d, l2, l3, ... (l1 for a unified L1)
  int level = 0;           ///< 1, 2, 3, ...
  int64_t size_bytes = 0;  ///< capacity of one instance
};

/// The data and unified caches of cpu0, innermost first, read from
/// `sysfs_dir`/index*/{level,type,size}; instruction caches are skipped.
/// When that directory holds no data cache, falls back to
/// sysconf(_SC_LEVEL1_DCACHE_SIZE, ...). Throws IoError when neither knows.
std::vector<CacheInfo> read_cache_levels(
    const std::string& sysfs_dir = "/sys/devices/system/cpu/cpu0/cache");

/// fp32 GMAC/s of an n×n×n torch::mm: `warmup` untimed runs, then the best
/// of `repeats` timed ones.
double measure_gemm_gmacs(int64_t n = 2048, int repeats = 5, int warmup = 1);

/// Copy bandwidth, GB/s (read + written bytes), of a `bytes`-byte tensor
/// copy_ through LibTorch's thread pool; best of `repeats` after one warm-up
/// copy that also faults the pages in.
double measure_copy_bandwidth_gbs(int64_t bytes = int64_t(256) << 20,
                                  int repeats = 5);

/// Nanoseconds per dependent load of a pointer chase over
/// `working_set_bytes` (rounded down to whole 64-byte lines, at least two):
/// one lap round the cycle (at most `loads` loads) untimed, then the best
/// of `repeats` runs of `loads` loads each.
double measure_chase_latency_ns(int64_t working_set_bytes,
                                int64_t loads = int64_t(1) << 20,
                                int repeats = 3);

/// Single-thread read bandwidth, GB/s: a vectorised sum over a
/// `bytes`-byte buffer, swept until about `total_bytes` have been read;
/// best of `repeats`.
double measure_read_bandwidth_gbs(int64_t bytes,
                                  int64_t total_bytes = int64_t(256) << 20,
                                  int repeats = 3);

/// What calibrate_device() measures and how hard it tries.
struct CalibrationOptions {
  std::string name;  ///< the profile's name
  /// How `source` names the base profile (its path as the user gave it).
  std::string base_label;
  /// Much smaller sizes and repeats (a few seconds in all), for tests.
  bool quick = false;
  /// The date written into `source`, "YYYY-MM-DD"; empty: today.
  std::string date;
};

/// One point of the latency curve.
struct LatencyPoint {
  int64_t working_set_bytes = 0;
  double latency_ns = 0;
};

/// What calibrate_device() found.
struct Calibration {
  core::DeviceProfile profile;
  /// Chase latency over working sets doubling from 4 KiB up to 256 MiB or
  /// 4× the last cache level, whichever is larger (RAM permitting).
  std::vector<LatencyPoint> latency_curve;
  std::vector<std::string> measured;   ///< figures measured or read here
  std::vector<std::string> from_base;  ///< figures copied from the base
  int threads = 0;                     ///< intra-op threads of GEMM and copy
  double seconds = 0;                  ///< wall time of the calibration
};

/// Measures this machine and fills a profile: CPU peak, clocks and cores;
/// DRAM size, bandwidth and latency; every cache level's size, latency
/// (chase at twice the size of the level inside it, half its own for the first)
/// and read bandwidth; package power when the RAPL counter is readable. The
/// rest comes from `base`. A GPU section is written only when CUDA is available
/// and `base` has one (its peak then measured). The result passes
/// core::validate_device_profile(): throws Error when the measured figures do
/// not (a cache no faster than DRAM), IoError when the cache sizes cannot be
/// found.
Calibration calibrate_device(const CalibrationOptions& options,
                             const core::DeviceProfile& base);

}  // namespace adascale::search
