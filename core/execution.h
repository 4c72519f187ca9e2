#pragma once
/// Applies a run's execution settings: threads (LibTorch intra-op and TBB),
/// device and seeds. Kept free of LibTorch types so headers stay light.

#include <cstdint>
#include <string>

namespace adascale::core {

/// What setup_execution() settled on.
struct Execution {
  int threads = 1;             ///< intra-op and TBB threads in use
  std::string device = "cpu";  ///< "cpu" or "cuda"
  uint64_t seed = 0;
  bool heap_reuse = false;  ///< freed tensor memory kept (core/heap_reuse.h)
};

/// Intra-op threads allowed per hardware thread; more are clamped.
inline constexpr int kMaxThreadsPerCore = 4;

/// "auto" = hardware threads; else the number, clamped with a logged
/// notice to kMaxThreadsPerCore × the hardware threads (clamp_threads).
/// Throws ConfigError.
int resolve_threads(const std::string& threads);

/// `wanted` (≥ 1) clamped to kMaxThreadsPerCore × the hardware threads,
/// with a logged notice naming `key` (the setting it came from) when it
/// is. The one rule for every thread count a user sets: the run config's
/// `threads` and AdaptiveRuntime's `intra_op_threads`.
int clamp_threads(int wanted, const std::string& key);

/// "auto" = cuda when available, else cpu; "cuda" without a GPU is an error.
std::string resolve_device(const std::string& device);

/// Sets LibTorch intra-op threads, the TBB parallelism limit, the device,
/// seeds LibTorch's generators and keeps freed tensor memory for reuse
/// (core/heap_reuse.h). Safe to call again with other values.
Execution setup_execution(const std::string& threads, const std::string& device,
                          uint64_t seed);

/// The TBB parallelism limit currently in force.
int tbb_threads();

}  // namespace adascale::core
