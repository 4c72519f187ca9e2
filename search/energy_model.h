#pragma once
/// Energy prediction (paper §IV-B, eq. 3–5; DESIGN §3.4).
///
/// The paper's text names the terms of eq. 3 but its formula did not
/// survive extraction, so we state ours. With M_p the memory traffic
/// (eq. 4 bytes) of processor p, h the cache-hit rate, P the power
/// coefficients and f the clocks of the device profile:
///
///   E = P_cpu · T_cpu + P_gpu · T_gpu + P_mem · (1 − h) · M / B_mem
///
/// T_p is the time processor p is busy: the predicted latency of the
/// layers it runs, at `active_power_w` scaled to the cores in use (a clock
/// below the maximum lowers power ∝ f: the dynamic-power rule, with time
/// already stretched by the latency model). The DRAM term charges memory
/// power for the time the misses keep it streaming: traffic that misses
/// every cache, over DRAM bandwidth.
///
/// Cache-hit rate (eq. 5), estimated from access times: a layer whose
/// working set fits cache level i sees that level's access time t_i; with
/// t_1 the innermost cache's and t_mem DRAM's,
///
///   h = (t_mem − t_i) / (t_mem − t_1)
///
/// (1 for L1-resident data, 0 when nothing fits), and a variant's h is the
/// traffic-weighted mean over its layers.

#include "core/device_profile.h"
#include "search/intrinsic_profiler.h"

namespace adascale::search {

/// The access time (ns) a working set of `bytes` sees on `device`.
double access_time_ns(double bytes, const core::DeviceProfile& device);

/// Eq. 5 for one working set.
double cache_hit_rate(double bytes, const core::DeviceProfile& device);

/// Eq. 5 over a profile: traffic-weighted mean of its layers' hit rates.
double cache_hit_rate(const ModelProfile& profile,
                      const core::DeviceProfile& device);

/// Where a variant's energy goes, millijoules.
struct EnergyEstimate {
  double processor_mj = 0;
  double memory_mj = 0;
  double hit_rate = 0;
  double total_mj() const { return processor_mj + memory_mj; }
};

/// Eq. 3 for a variant run on the CPU with `threads` cores for
/// `latency_ms` (the predicted latency), at `clock_ratio` = current clock /
/// max clock (1 = max).
EnergyEstimate predict_energy(const ModelProfile& profile,
                              const core::DeviceProfile& device,
                              double latency_ms, int threads,
                              double clock_ratio = 1.0);

}  // namespace adascale::search
