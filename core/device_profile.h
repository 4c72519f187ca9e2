#pragma once
/// A device profile (DESIGN §3.4): what the latency and energy predictors
/// need to know about a machine. Pure data, read from
/// `configs/devices/<name>.yaml` or written by `adascale calibrate`.
///
/// Every figure is required and must be positive: a predictor fed a
/// missing clock or a zero bandwidth would print confident nonsense, so a
/// profile with a hole is refused, naming the file and the key. The one
/// exception is `gpu:`, which a device without a usable GPU omits.

#include <string>
#include <vector>

#include "core/config/checks.h"

namespace adascale::core {

/// One cache level, `memory.caches[i]`, innermost first.
struct CacheLevel {
  std::string name;          ///< l1d, l2, l3, ...
  double size_kib = 0;       ///< capacity, KiB (per core for private caches)
  double latency_ns = 0;     ///< load-to-use latency of a hit
  double bandwidth_gbs = 0;  ///< sustained read bandwidth, 10^9 B/s

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("name", name);
    v("size_kib", size_kib, check::positive<double>(), "KiB");
    v("latency_ns", latency_ns, check::positive<double>(), "ns per hit");
    v("bandwidth_gbs", bandwidth_gbs, check::positive<double>(), "GB/s");
  }
};

/// A processor that runs network layers: `cpu:` or `gpu:`.
struct ProcessorProfile {
  int cores = 0;              ///< cores (CPU) or CUDA cores (GPU)
  double max_clock_mhz = 0;   ///< highest sustained clock
  double min_clock_mhz = 0;   ///< lowest clock the governor uses
  double peak_gmacs = 0;      ///< fp32 MAC/s at max clock, all cores, 10^9
  double active_power_w = 0;  ///< power at full load and max clock
  double idle_power_w = 0;    ///< power when idle

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("cores", cores, check::positive<int>());
    v("max_clock_mhz", max_clock_mhz, check::positive<double>(), "MHz");
    v("min_clock_mhz", min_clock_mhz, check::positive<double>(), "MHz");
    v("peak_gmacs", peak_gmacs, check::positive<double>(), "GMAC/s fp32");
    v("active_power_w", active_power_w, check::positive<double>(), "W");
    v("idle_power_w", idle_power_w, check::positive<double>(), "W");
  }

  /// True when any figure is set (an omitted `gpu:` leaves all zero).
  bool present() const {
    return cores > 0 || max_clock_mhz > 0 || min_clock_mhz > 0 ||
           peak_gmacs > 0 || active_power_w > 0 || idle_power_w > 0;
  }
};

/// Main memory and the cache hierarchy in front of it: `memory:`.
struct MemoryProfile {
  double size_mib = 0;   ///< capacity, MiB
  double clock_mhz = 0;  ///< I/O clock
  /// DRAM bandwidth, 10^9 B/s: measured by `calibrate`, datasheet peak in
  /// the shipped profiles.
  double bandwidth_gbs = 0;
  double latency_ns = 0;      ///< DRAM load-to-use latency
  double active_power_w = 0;  ///< DRAM power while streaming
  std::vector<CacheLevel> caches;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("size_mib", size_mib, check::positive<double>(), "MiB");
    v("clock_mhz", clock_mhz, check::positive<double>(), "MHz");
    v("bandwidth_gbs", bandwidth_gbs, check::positive<double>(), "GB/s");
    v("latency_ns", latency_ns, check::positive<double>(), "ns");
    v("active_power_w", active_power_w, check::positive<double>(), "W");
    v("caches", caches);
  }
};

/// A whole device profile file.
struct DeviceProfile {
  std::string name;         ///< identifier: lower case, digits, '_'
  std::string description;  ///< one line for people
  std::string source;       ///< where the figures come from
  ProcessorProfile cpu;
  ProcessorProfile gpu;  ///< absent (all zero) when the file omits it
  MemoryProfile memory;

  template <typename V>
  void visit(V& v) {
    v("name", name);
    v("description", description);
    v("source", source);
    v("cpu", cpu);
    v("gpu", gpu);
    v("memory", memory);
  }

  bool has_gpu() const { return gpu.present(); }
};

/// Checks what the per-field checks cannot: every required figure present,
/// clocks and powers ordered (min ≤ max, idle ≤ active), caches growing
/// in size and latency and faster than DRAM. `source` names the file in
/// errors. Throws ConfigError.
void validate_device_profile(const DeviceProfile& profile,
                             const std::string& source);

/// Reads a profile file (with `include:` and `--set` overrides), then
/// validate_device_profile(). Throws ConfigError / IoError.
DeviceProfile load_device_profile(
    const std::string& path, const std::vector<std::string>& overrides = {});

/// The profile as YAML (what `adascale calibrate` writes); reading it back
/// gives the same profile.
std::string device_profile_yaml(const DeviceProfile& profile);

}  // namespace adascale::core
