#include "core/device_profile.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"

namespace adascale::core {

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& path,
                       const std::string& msg) {
  throw ConfigError(source + ": " + path + ": " + msg);
}

// A zero left after reading means the key was absent: the per-field checks
// already refuse an explicit zero or a negative value.
void require(const std::string& source, const std::string& path, double value,
             const char* what) {
  if (value <= 0)
    fail(source, path, fmt::format("missing (expected {})", what));
}

void validate_processor(const ProcessorProfile& p, const std::string& source,
                        const std::string& section) {
  auto key = [&](const char* k) { return section + "." + k; };
  require(source, key("cores"), p.cores, "a positive core count");
  require(source, key("max_clock_mhz"), p.max_clock_mhz, "MHz > 0");
  require(source, key("min_clock_mhz"), p.min_clock_mhz, "MHz > 0");
  require(source, key("peak_gmacs"), p.peak_gmacs, "fp32 GMAC/s > 0");
  require(source, key("active_power_w"), p.active_power_w, "watts > 0");
  require(source, key("idle_power_w"), p.idle_power_w, "watts > 0");
  if (p.min_clock_mhz > p.max_clock_mhz) {
    fail(source, key("min_clock_mhz"),
         fmt::format("{} MHz is above max_clock_mhz {} MHz", p.min_clock_mhz,
                     p.max_clock_mhz));
  }
  if (p.idle_power_w > p.active_power_w) {
    fail(source, key("idle_power_w"),
         fmt::format("{} W is above active_power_w {} W", p.idle_power_w,
                     p.active_power_w));
  }
}

}  // namespace

void validate_device_profile(const DeviceProfile& profile,
                             const std::string& source) {
  const std::string& name = profile.name;
  bool identifier =
      !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      });
  if (!identifier) {
    fail(source, "name",
         fmt::format("expected lower-case letters, digits and '_', got '{}'",
                     name));
  }
  validate_processor(profile.cpu, source, "cpu");
  if (profile.has_gpu()) validate_processor(profile.gpu, source, "gpu");

  const MemoryProfile& m = profile.memory;
  require(source, "memory.size_mib", m.size_mib, "MiB > 0");
  require(source, "memory.clock_mhz", m.clock_mhz, "MHz > 0");
  require(source, "memory.bandwidth_gbs", m.bandwidth_gbs, "GB/s > 0");
  require(source, "memory.latency_ns", m.latency_ns, "ns > 0");
  require(source, "memory.active_power_w", m.active_power_w, "watts > 0");
  if (m.caches.empty()) {
    fail(source, "memory.caches",
         "missing (expected at least one cache level, innermost first)");
  }
  for (size_t i = 0; i < m.caches.size(); ++i) {
    const CacheLevel& c = m.caches[i];
    std::string path = fmt::format("memory.caches[{}]", i);
    if (c.name.empty()) fail(source, path + ".name", "missing");
    require(source, path + ".size_kib", c.size_kib, "KiB > 0");
    require(source, path + ".latency_ns", c.latency_ns, "ns > 0");
    require(source, path + ".bandwidth_gbs", c.bandwidth_gbs, "GB/s > 0");
    if (c.latency_ns >= m.latency_ns) {
      fail(source, path + ".latency_ns",
           fmt::format("{} ns is not below the DRAM latency {} ns",
                       c.latency_ns, m.latency_ns));
    }
    if (i == 0) continue;
    const CacheLevel& inner = m.caches[i - 1];
    if (c.latency_ns < inner.latency_ns) {
      fail(source, path + ".latency_ns",
           fmt::format("{} ns is below the inner level {}'s {} ns",
                       c.latency_ns, inner.name, inner.latency_ns));
    }
  }
}

DeviceProfile load_device_profile(const std::string& path,
                                  const std::vector<std::string>& overrides) {
  config::Node tree = config::load_file(path);
  for (const auto& o : overrides) config::apply_override(tree, o);
  auto profile = config::Reader::read_struct<DeviceProfile>(tree);
  validate_device_profile(profile, path);
  return profile;
}

std::string device_profile_yaml(const DeviceProfile& profile) {
  config::Node tree = config::Writer::write_struct(profile);
  if (!profile.has_gpu()) {
    // An absent GPU is an omitted section, not a section of zeros (which
    // would not read back).
    auto& e = tree.entries;
    e.erase(std::remove_if(e.begin(), e.end(),
                           [](const auto& kv) { return kv.first == "gpu"; }),
            e.end());
  }
  return config::to_yaml(tree);
}

}  // namespace adascale::core
