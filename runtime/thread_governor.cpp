#include "runtime/thread_governor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace adascale::runtime {

ThreadGovernor::ThreadGovernor(ThreadGovernorConfig config, int cores)
    : config_(config), cores_(cores) {
  if (cores_ < 1)
    throw UsageError(fmt::format("cores must be ≥ 1, got {}", cores_));
  if (config_.max_threads < 0 ||
      !(config_.headroom >= 0 && config_.headroom <= 1) || config_.settle < 1) {
    throw UsageError(fmt::format(
        "threads: max_threads ≥ 0, headroom in [0, 1] and settle ≥ 1, got {}, "
        "{} and {}",
        config_.max_threads, config_.headroom, config_.settle));
  }
  max_threads_ = config_.max_threads > 0 ? config_.max_threads : cores_;
  threads_ = max_threads_;
}

int ThreadGovernor::update(std::optional<double> background) {
  if (!config_.enabled || !background || !std::isfinite(*background)) {
    return threads_;
  }
  const double idle =
      double(cores_) * (1.0 - std::clamp(*background, 0.0, 1.0));
  const int want =
      std::clamp(int(std::floor(idle + config_.headroom)), 1, max_threads_);
  if (want == threads_) {
    streak_ = 0;
    return threads_;
  }
  if (want < threads_) {
    threads_ = want;
    streak_ = 0;
    return threads_;
  }
  if (want != candidate_) {
    candidate_ = want;
    streak_ = 0;
  }
  if (++streak_ >= config_.settle) {
    threads_ = want;
    streak_ = 0;
  }
  return threads_;
}

int ThreadGovernor::shed() {
  if (config_.enabled && threads_ > 1) --threads_;
  candidate_ = 0;
  streak_ = 0;
  return threads_;
}

double ThreadGovernor::contention(double background) const {
  if (!std::isfinite(background)) return background;
  const double busy = std::clamp(background, 0.0, 1.0) * double(cores_);
  const double shared = busy - double(cores_ - threads_);
  return std::clamp(shared / double(threads_), 0.0, 1.0);
}

}  // namespace adascale::runtime
