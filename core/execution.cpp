#include "core/execution.h"

#include <tbb/global_control.h>
#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/heap_reuse.h"
#include "core/logging.h"
#include "core/run_config.h"

namespace adascale::core {
namespace {

std::mutex& control_mutex() {
  static std::mutex m;
  return m;
}
std::unique_ptr<tbb::global_control>& tbb_control() {
  static std::unique_ptr<tbb::global_control> control;
  return control;
}

}  // namespace

int resolve_threads(const std::string& threads) {
  std::string err = RunConfig::check_threads(threads);
  if (!err.empty())
    throw ConfigError("threads: " + err + ", got '" + threads + "'");
  if (threads == "auto") {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  return clamp_threads(std::stoi(threads), "threads");
}

int clamp_threads(int wanted, const std::string& key) {
  const int hardware =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Thousands of intra-op threads only thrash (and at::set_num_threads
  // spends minutes creating them); a few per core is already past any
  // gain, so more is clamped, with a notice rather than an error, as the
  // same config moves between machines.
  const int limit = kMaxThreadsPerCore * hardware;
  if (wanted > limit) {
    log::warn("{}: {} is more than {}x the {} hardware threads; using {}", key,
              wanted, kMaxThreadsPerCore, hardware, limit);
    return limit;
  }
  return wanted;
}

std::string resolve_device(const std::string& device) {
  bool cuda = torch::cuda::is_available();
  if (device == "auto") return cuda ? "cuda" : "cpu";
  if (device == "cpu") return "cpu";
  if (device == "cuda") {
    if (!cuda) {
      throw ConfigError(
          "device: 'cuda' requested but this LibTorch sees no CUDA device");
    }
    return "cuda";
  }
  throw ConfigError("device: expected auto|cpu|cuda, got '" + device + "'");
}

Execution setup_execution(const std::string& threads, const std::string& device,
                          uint64_t seed) {
  Execution e;
  e.threads = resolve_threads(threads);
  e.device = resolve_device(device);
  e.seed = seed;
  {
    std::lock_guard<std::mutex> lock(control_mutex());
    at::set_num_threads(e.threads);
    tbb_control().reset();
    tbb_control() = std::make_unique<tbb::global_control>(
        tbb::global_control::max_allowed_parallelism,
        static_cast<size_t>(e.threads));
  }
  e.heap_reuse = reuse_freed_heap_memory();
  torch::manual_seed(seed);
  if (e.device == "cuda") torch::cuda::manual_seed_all(seed);
  log::debug("execution: {} threads, device {}, seed {}, heap reuse {}",
             e.threads, e.device, seed, e.heap_reuse);
  return e;
}

int tbb_threads() {
  return static_cast<int>(tbb::global_control::active_value(
      tbb::global_control::max_allowed_parallelism));
}

}  // namespace adascale::core
