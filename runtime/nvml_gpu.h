#pragma once
/// GPU utilisation through NVIDIA's management library (NVML), opened at
/// run time with dlopen: the library neither links against nor needs the
/// NVIDIA driver, and on a machine without one the GPU is simply absent.

#include <optional>
#include <string>

namespace adascale::runtime {

/// One GPU's utilisation via NVML. Not thread-safe: one sampler owns it.
class NvmlGpu {
 public:
  /// Opens `library` and the GPU at `index`; failure of any step (no
  /// library, no driver, no such GPU) leaves it unavailable, never throws.
  explicit NvmlGpu(unsigned index = 0,
                   const std::string& library = "libnvidia-ml.so.1");
  ~NvmlGpu();
  NvmlGpu(const NvmlGpu&) = delete;
  NvmlGpu& operator=(const NvmlGpu&) = delete;

  /// True when NVML was loaded and the GPU found.
  bool available() const { return device_ != nullptr; }

  /// Share of the last sample period (1/6 s to 1 s, driver-defined) in
  /// which a kernel ran, in [0, 1]; absent when unavailable or the query
  /// fails.
  std::optional<double> utilization() const;

 private:
  void* library_ = nullptr;
  void* device_ = nullptr;  // nvmlDevice_t
  void* get_utilization_ = nullptr;
  void* shutdown_ = nullptr;
};

}  // namespace adascale::runtime
