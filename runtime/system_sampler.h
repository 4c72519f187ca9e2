#pragma once
/// Takes ResourceSamples of the real machine (paper §IV-A): CPU busy share
/// from /proc/stat deltas between consecutive samples, memory, cgroup CPU
/// quota, cpufreq clocks and, where NVML loads, GPU utilisation.

#include <memory>

#include "core/cpu_load.h"
#include "runtime/nvml_gpu.h"
#include "runtime/resource_readers.h"
#include "runtime/resource_sample.h"

namespace adascale::runtime {

/// Reads every source under `paths` on each call. Not thread-safe: one
/// monitor thread owns it.
class SystemSampler {
 public:
  /// Takes the first CPU snapshot now, so the first sample already has a
  /// utilisation (over the time since construction). `gpu` false skips
  /// NVML (no dlopen at all).
  explicit SystemSampler(SystemPaths paths = {}, bool gpu = true);

  /// One reading. CPU utilisation is over the time since the previous call
  /// and absent when no clock tick passed in between (calls < 10 ms apart).
  ResourceSample sample();

 private:
  SystemPaths paths_;
  core::CpuTimes previous_;
  std::unique_ptr<NvmlGpu> gpu_;
};

}  // namespace adascale::runtime
