#include "search/energy_model.h"

#include <algorithm>

namespace adascale::search {

double access_time_ns(double bytes, const core::DeviceProfile& device) {
  for (const auto& cache : device.memory.caches)
    if (bytes <= cache.size_kib * 1024.0) return cache.latency_ns;
  return device.memory.latency_ns;
}

double cache_hit_rate(double bytes, const core::DeviceProfile& device) {
  const auto& m = device.memory;
  if (m.caches.empty()) return 0.0;
  double t1 = m.caches.front().latency_ns, tm = m.latency_ns;
  if (tm <= t1) return 0.0;  // validate_device_profile refuses this
  double h = (tm - access_time_ns(bytes, device)) / (tm - t1);
  return std::clamp(h, 0.0, 1.0);
}

double cache_hit_rate(const ModelProfile& profile,
                      const core::DeviceProfile& device) {
  double traffic = 0, hits = 0;
  for (const auto& layer : profile.layers) {
    double bytes = double(layer.memory_access_bytes);
    traffic += bytes;
    hits += bytes * cache_hit_rate(bytes, device);
  }
  return traffic > 0 ? hits / traffic : 0.0;
}

EnergyEstimate predict_energy(const ModelProfile& profile,
                              const core::DeviceProfile& device,
                              double latency_ms, int threads,
                              double clock_ratio) {
  EnergyEstimate e;
  const auto& cpu = device.cpu;
  int cores = std::max(cpu.cores, 1);
  double used = double(std::clamp(threads, 1, cores)) / cores;
  double ratio = std::clamp(clock_ratio, 0.0, 1.0);
  // Idle power is drawn whether or not we run; the inference is charged
  // the active power above it on the cores it occupies.
  double power_w = cpu.idle_power_w / cores * std::clamp(threads, 1, cores) +
                   (cpu.active_power_w - cpu.idle_power_w) * used * ratio;
  e.processor_mj = power_w * latency_ms;  // W × ms = mJ
  e.hit_rate = cache_hit_rate(profile, device);
  double miss_bytes = (1.0 - e.hit_rate) * double(profile.memory_access_bytes);
  double dram_s = miss_bytes / (device.memory.bandwidth_gbs * 1e9);
  e.memory_mj = device.memory.active_power_w * dram_s * 1e3;
  return e;
}

}  // namespace adascale::search
