#include "runtime/resource_monitor.h"

#include <fmt/format.h>

#include <exception>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/logging.h"
#include "runtime/system_sampler.h"

namespace adascale::runtime {

void validate_monitor_config(const MonitorConfig& config) {
  if (config.period_ms < 1) {
    throw UsageError(fmt::format("monitor.period_ms: must be >= 1 ms, got {}",
                                 config.period_ms));
  }
  if (config.history < 1) {
    throw UsageError(fmt::format(
        "monitor.history: must keep >= 1 sample, got {}", config.history));
  }
  validate_load_index_weights(config.load_index);
}

std::chrono::steady_clock::time_point next_sample_due(
    std::chrono::steady_clock::time_point due,
    std::chrono::steady_clock::time_point now,
    std::chrono::milliseconds period) {
  auto next = due + period;
  if (next < now) next = now + period;
  return next;
}

ResourceMonitor::ResourceMonitor(MonitorConfig config, SystemPaths paths)
    : config_(std::move(config)) {
  validate_monitor_config(config_);
  // std::function needs a copyable callable; the sampler owns an NVML
  // handle, so it is shared rather than copied.
  auto system = std::make_shared<SystemSampler>(std::move(paths));
  sampler_ = [system] { return system->sample(); };
}

ResourceMonitor::ResourceMonitor(MonitorConfig config, Sampler sampler)
    : config_(std::move(config)), sampler_(std::move(sampler)) {
  validate_monitor_config(config_);
  if (!sampler_) throw UsageError("resource monitor: empty sampling function");
}

ResourceMonitor::~ResourceMonitor() {
  stop();
}

void ResourceMonitor::start() {
  std::lock_guard control(control_);
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void ResourceMonitor::stop() {
  std::lock_guard control(control_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool ResourceMonitor::running() const {
  std::lock_guard control(control_);
  return thread_.joinable();
}

void ResourceMonitor::run() {
  using Clock = std::chrono::steady_clock;
  const auto period = config_.period();
  auto next = Clock::now();
  for (;;) {
    // Sampled without the lock: readers never wait on /proc or NVML.
    std::optional<ResourceSample> sample;
    std::string failure;
    try {
      sample = sampler_();
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }

    std::unique_lock lock(mutex_);
    if (sample) {
      const size_t capacity = size_t(config_.history);
      if (ring_.size() < capacity) {
        ring_.push_back(*sample);
      } else {
        ring_[next_] = *sample;
      }
      next_ = (next_ + 1) % capacity;
      ++taken_;
    } else {
      // A thread must not let an exception escape (std::terminate); a
      // failed reading is skipped and the next one tried on schedule.
      if (errors_ == 0) {
        log::warn("resource monitor: sampling failed: {}", failure);
      } else {
        log::debug("resource monitor: sampling failed: {}", failure);
      }
      ++errors_;
    }

    // On schedule, keep the cadence; late (a slow sample), wait a whole
    // period rather than sample back to back.
    next = next_sample_due(next, Clock::now(), period);
    if (wake_.wait_until(lock, next, [this] { return stop_requested_; }))
      return;
  }
}

std::optional<ResourceSample> ResourceMonitor::latest() const {
  std::lock_guard lock(mutex_);
  if (ring_.empty()) return std::nullopt;
  size_t newest = (next_ + ring_.size() - 1) % ring_.size();
  return ring_[newest];
}

std::vector<ResourceSample> ResourceMonitor::history() const {
  std::lock_guard lock(mutex_);
  // Until the ring is full, next_ == ring_.size() and the slots are in
  // order; once full, the oldest sample sits at next_.
  std::vector<ResourceSample> out;
  out.reserve(ring_.size());
  const size_t oldest = ring_.size() < size_t(config_.history) ? 0 : next_;
  for (size_t i = 0; i < ring_.size(); ++i)
    out.push_back(ring_[(oldest + i) % ring_.size()]);
  return out;
}

std::vector<double> ResourceMonitor::load_series() const {
  std::vector<double> series;
  for (const auto& sample : history()) {
    if (auto load = load_index(sample, config_.load_index))
      series.push_back(*load);
  }
  return series;
}

std::optional<double> ResourceMonitor::latest_load() const {
  auto samples = history();
  for (auto it = samples.rbegin(); it != samples.rend(); ++it) {
    if (auto load = load_index(*it, config_.load_index)) return load;
  }
  return std::nullopt;
}

size_t ResourceMonitor::samples_taken() const {
  std::lock_guard lock(mutex_);
  return taken_;
}

size_t ResourceMonitor::sampling_errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

}  // namespace adascale::runtime
