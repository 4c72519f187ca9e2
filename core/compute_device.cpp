#include "core/compute_device.h"

#include <torch/cuda.h>

#include "core/execution.h"

namespace adascale::core {

c10::Device compute_device(const std::string& device) {
  return resolve_device(device) == "cuda" ? c10::Device(c10::kCUDA)
                                          : c10::Device(c10::kCPU);
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace adascale::core
