#include "runtime/nvml_gpu.h"

#include <dlfcn.h>

#include <algorithm>

#include "core/logging.h"

namespace adascale::runtime {

namespace {

// The few NVML declarations needed, from its documented C API (nvml.h is
// not installed without the CUDA toolkit). nvmlReturn_t is a C enum whose
// success value is 0; nvmlDevice_t is an opaque pointer.
using NvmlReturn = int;
constexpr NvmlReturn kNvmlSuccess = 0;
using NvmlDevice = void*;
struct NvmlUtilization {
  unsigned int gpu;     // percent of time a kernel ran
  unsigned int memory;  // percent of time device memory was read or written
};
using InitFn = NvmlReturn (*)();
using ShutdownFn = NvmlReturn (*)();
using GetHandleFn = NvmlReturn (*)(unsigned int, NvmlDevice*);
using GetUtilizationFn = NvmlReturn (*)(NvmlDevice, NvmlUtilization*);

template <typename Fn>
Fn symbol(void* library, const char* name) {
  return reinterpret_cast<Fn>(dlsym(library, name));
}

}  // namespace

NvmlGpu::NvmlGpu(unsigned index, const std::string& library) {
  library_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library_ == nullptr) {
    log::debug("NVML not loadable ({}): GPU utilisation absent", library);
    return;
  }
  auto init = symbol<InitFn>(library_, "nvmlInit_v2");
  auto get_handle =
      symbol<GetHandleFn>(library_, "nvmlDeviceGetHandleByIndex_v2");
  auto get_utilization =
      symbol<GetUtilizationFn>(library_, "nvmlDeviceGetUtilizationRates");
  auto shutdown = symbol<ShutdownFn>(library_, "nvmlShutdown");
  if (!init || !get_handle || !get_utilization || !shutdown ||
      init() != kNvmlSuccess) {
    log::debug("NVML in {} lacks a symbol or did not initialise", library);
    dlclose(library_);
    library_ = nullptr;
    return;
  }
  shutdown_ = reinterpret_cast<void*>(shutdown);
  NvmlDevice device = nullptr;
  if (get_handle(index, &device) != kNvmlSuccess || device == nullptr) {
    log::debug("NVML has no GPU {}: GPU utilisation absent", index);
    return;
  }
  device_ = device;
  get_utilization_ = reinterpret_cast<void*>(get_utilization);
}

NvmlGpu::~NvmlGpu() {
  if (library_ == nullptr) return;
  // nvmlInit/nvmlShutdown are reference-counted per process, so this does
  // not disturb another NVML user in the same process.
  if (shutdown_ != nullptr) reinterpret_cast<ShutdownFn>(shutdown_)();
  dlclose(library_);
}

std::optional<double> NvmlGpu::utilization() const {
  if (device_ == nullptr) return std::nullopt;
  NvmlUtilization rates{};
  auto get = reinterpret_cast<GetUtilizationFn>(get_utilization_);
  if (get(device_, &rates) != kNvmlSuccess) return std::nullopt;
  return std::clamp(rates.gpu / 100.0, 0.0, 1.0);
}

}  // namespace adascale::runtime
