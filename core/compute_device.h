#pragma once
/// The device a run computes on, as LibTorch names it, and the one wait a
/// wall clock needs on an asynchronous device. Light: only c10's Device.

#include <c10/core/Device.h>

#include <string>

namespace adascale::core {

/// The config's `device` (auto | cpu | cuda) resolved as resolve_device()
/// does: "auto" is cuda where LibTorch sees a CUDA device, else cpu;
/// "cuda" without one is a ConfigError.
c10::Device compute_device(const std::string& device);

/// Waits until `device` has finished the work queued on it, so that a
/// stopwatch read afterwards covers that work (CUDA launches return before
/// the kernels run). Nothing to wait for on the CPU or the meta device.
void synchronize(const c10::Device& device);

}  // namespace adascale::core
