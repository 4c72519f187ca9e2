#include "harness/load_generator.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <new>

#include "core/error.h"
#include "core/logging.h"

namespace adascale::harness {

namespace {

using Clock = LoadClock;

// Memory comes in chunks mapped straight from the kernel: unmapping gives
// them back at once, where malloc'ed blocks might stay in the heap.
constexpr size_t kChunkBytes = size_t{1} << 20;
constexpr size_t kPageBytes = 4096;
constexpr double kBytesPerMb = 1024.0 * 1024.0;

size_t bytes_of_mb(double mb) {
  return size_t(std::ceil(mb * kBytesPerMb));
}

int thread_count(const LoadGeneratorOptions& o) {
  if (o.threads < 0) {
    throw UsageError(fmt::format(
        "load generator: threads must be >= 0 (0 = one per core), got {}",
        o.threads));
  }
  if (o.slice_ms < 1) {
    throw UsageError(fmt::format(
        "load generator: slice_ms must be >= 1, got {}", o.slice_ms));
  }
  if (o.trace_period_ms < 1) {
    throw UsageError(
        fmt::format("load generator: trace_period_ms must be >= 1, got {}",
                    o.trace_period_ms));
  }
  if (!(o.max_memory_mb >= 0) || !std::isfinite(o.max_memory_mb)) {
    throw UsageError(
        fmt::format("load generator: max_memory_mb must be a number >= 0, "
                    "got {}",
                    o.max_memory_mb));
  }
  if (o.threads > 0) return o.threads;
  return std::max(1, int(std::thread::hardware_concurrency()));
}

}  // namespace

DutySlice duty_slice(LoadClock::time_point planned, LoadClock::time_point now,
                     LoadClock::duration slice, double cpu) {
  cpu = cpu > 0 ? std::min(cpu, 1.0) : 0.0;  // NaN: 0
  DutySlice s;
  s.begin = std::max(planned, now);
  s.busy_until =
      s.begin + std::chrono::duration_cast<LoadClock::duration>(slice * cpu);
  s.end = s.begin + slice;
  return s;
}

LoadClock::duration burner_phase(int index, int threads,
                                 LoadClock::duration slice) {
  if (threads < 1 || index <= 0) return LoadClock::duration::zero();
  return std::chrono::duration_cast<LoadClock::duration>(
      slice * (double(index) / double(threads)));
}

LoadGenerator::LoadGenerator(LoadGeneratorOptions options)
    : options_(options), threads_(thread_count(options)) {}

LoadGenerator::~LoadGenerator() {
  stop();
}

bool LoadGenerator::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

void LoadGenerator::start() {
  std::lock_guard<std::mutex> control(control_);
  start_locked();
}

void LoadGenerator::start_locked() {
  LoadTarget target;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_) return;
    running_ = true;
    stopping_ = false;
    target = target_;
  }
  burners_.reserve(size_t(threads_));
  for (int i = 0; i < threads_; ++i)
    burners_.emplace_back([this, i] { burn(i); });
  resize_memory(bytes_of_mb(target.memory_mb));
}

void LoadGenerator::stop() {
  std::lock_guard<std::mutex> control(control_);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!running_) {
      lock.unlock();
      join_follower();
      return;
    }
    running_ = false;
    stopping_ = true;
  }
  wake_.notify_all();
  join_follower();
  for (auto& t : burners_) t.join();
  burners_.clear();
  resize_memory(0);
}

void LoadGenerator::join_follower() {
  if (!follower_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    unfollow_ = true;
  }
  wake_.notify_all();
  follower_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  unfollow_ = false;
  trace_time_.reset();
}

void LoadGenerator::set_target(LoadTarget target) {
  {
    std::lock_guard<std::mutex> control(control_);
    join_follower();
  }
  apply(target);
}

LoadTarget LoadGenerator::target() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return target_;
}

void LoadGenerator::apply(LoadTarget target) {
  if (!(target.cpu >= 0 && target.cpu <= 1)) {
    throw UsageError(fmt::format(
        "load generator: cpu must be a share in [0, 1], got {}", target.cpu));
  }
  if (!(target.memory_mb >= 0 && target.memory_mb <= options_.max_memory_mb)) {
    throw UsageError(
        fmt::format("load generator: memory_mb must be in [0, {}], got {}",
                    options_.max_memory_mb, target.memory_mb));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    target_ = target;
    cpu_ = target.cpu;
  }
  resize_memory(bytes_of_mb(target.memory_mb));
}

void LoadGenerator::resize_memory(size_t bytes) {
  std::lock_guard<std::mutex> memory(memory_mutex_);
  {
    // Checked under memory_mutex_: stop() frees after clearing running_,
    // so an allocation that raced it cannot outlive it.
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) bytes = 0;
  }
  const size_t want = (bytes + kChunkBytes - 1) / kChunkBytes;
  while (chunks_.size() > want) {
    munmap(chunks_.back(), kChunkBytes);
    chunks_.pop_back();
    allocated_ -= kChunkBytes;
  }
  while (chunks_.size() < want && !stopping_) {
    void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    // Writing every page makes it resident: untouched pages cost nothing.
    auto* bytes_of = static_cast<volatile char*>(p);
    for (size_t o = 0; o < kChunkBytes; o += kPageBytes) {
      bytes_of[o] = char(1 + (o / kPageBytes) % 127);
    }
    chunks_.push_back(p);
    allocated_ += kChunkBytes;
  }
}

size_t LoadGenerator::allocated_bytes() const {
  return allocated_.load();
}

void LoadGenerator::burn(int index) {
  const auto slice = std::chrono::duration_cast<Clock::duration>(
      std::chrono::milliseconds(options_.slice_ms));
  const auto stopped = [this] { return stopping_.load(); };
  // Spread the threads' busy phases over the slice.
  auto planned = Clock::now() + burner_phase(index, threads_, slice);
  volatile double sink = 1.0;
  while (!stopping_.load(std::memory_order_relaxed)) {
    const DutySlice s = duty_slice(planned, Clock::now(), slice,
                                   cpu_.load(std::memory_order_relaxed));
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ++stats_.slices;
      if (s.busy_until > s.begin) ++stats_.busy_slices;
      stats_.scheduled += s.end - s.begin;
      stats_.scheduled_busy += s.busy_until - s.begin;
      // Only a first slice begins in the future (its phase): idle till then.
      if (s.begin > Clock::now() && wake_.wait_until(lock, s.begin, stopped))
        break;
    }
    uint64_t rounds = 0;
    while (Clock::now() < s.busy_until &&
           !stopping_.load(std::memory_order_relaxed)) {
      for (int k = 0; k < 256; ++k) sink = sink * 1.0000001 + 1e-9;
      ++rounds;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    stats_.spin_rounds += rounds;
    if (wake_.wait_until(lock, s.end, stopped)) break;
    // Behind schedule (descheduled, a loaded machine), duty_slice() starts
    // the next slice afresh rather than burn the backlog.
    planned = s.end;
  }
}

BurnStats LoadGenerator::burn_stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void LoadGenerator::follow(LoadTrace trace, double time_scale) {
  if (!(time_scale > 0) || !std::isfinite(time_scale)) {
    throw UsageError(fmt::format(
        "load generator: time_scale must be a number > 0, got {}", time_scale));
  }
  std::lock_guard<std::mutex> control(control_);
  join_follower();
  start_locked();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    trace_time_ = 0.0;
  }
  follower_ = std::thread([this, t = std::move(trace), time_scale]() mutable {
    run_trace(std::move(t), time_scale);
  });
}

void LoadGenerator::run_trace(LoadTrace trace, double time_scale) {
  const auto begin = Clock::now();
  const auto period = std::chrono::milliseconds(options_.trace_period_ms);
  auto next = begin;
  for (;;) {
    double t = time_scale *
               std::chrono::duration<double>(Clock::now() - begin).count();
    try {
      apply(trace.at(t));
    } catch (const std::exception& e) {
      // Nobody to throw to on this thread: keep the last target.
      log::warn("load generator: trace '{}' at {:.2f} s: {}", trace.name(), t,
                e.what());
    }
    next += period;
    std::unique_lock<std::mutex> lock(mutex_);
    trace_time_ = t;
    if (wake_.wait_until(lock, next, [this] {
          return unfollow_.load() || stopping_.load();
        })) {
      return;
    }
  }
}

void LoadGenerator::stop_following() {
  std::lock_guard<std::mutex> control(control_);
  join_follower();
}

bool LoadGenerator::following() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return trace_time_.has_value();
}

std::optional<double> LoadGenerator::trace_time_s() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return trace_time_;
}

}  // namespace adascale::harness
