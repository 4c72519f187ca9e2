#pragma once
/// A background-load generator: it makes the CPU and memory load a
/// LoadTarget (or a LoadTrace over time) asks for, in this process, so that
/// the runtime can be measured under repeatable "user activity" without
/// stress-ng.
///
///  - CPU: one burner thread per core. Every slice (10 ms by default) each
///    spins for cpu × slice and sleeps the rest, so the machine's cores are
///    busy the target share on average (duty_slice() is the schedule). The
///    busy loop checks the stop flag every round and the sleeps wait on a
///    condition variable, so stop() never waits out a slice.
///  - Memory: a buffer of memory_mb MiB in 1 MiB chunks, every page written
///    so it is resident, grown or shrunk chunk by chunk when the target
///    changes (chunks above the allocator's mmap threshold go back to the
///    system when freed). The buffer exists only while running.
///
/// The load shows up in this process's own CPU time, so a monitor that
/// excludes its own process (runtime::LoadIndexWeights::exclude_self) would not
/// see it: run the generator in a separate process (the demo does) when the
/// load must look like another program's.
///
/// Every public method is thread-safe. Part of the experiment harness
/// (adascale_harness: the demo, benchmarks and tests), not of the runtime
/// library an application deploys.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "harness/load_trace.h"

namespace adascale::harness {

/// How the generator works.
struct LoadGeneratorOptions {
  /// Burner threads; 0 = one per hardware thread.
  int threads = 0;
  /// Length of one on/off cycle, ms.
  int slice_ms = 10;
  /// How often a followed trace updates the target, ms.
  int trace_period_ms = 50;
  /// Largest memory target accepted, MiB.
  double max_memory_mb = 16384;
};

/// The clock the burners schedule their slices on.
using LoadClock = std::chrono::steady_clock;

/// One on/off cycle of a burner thread: busy from `begin` to `busy_until`,
/// idle from there to `end`, where the next one is planned to begin.
struct DutySlice {
  LoadClock::time_point begin;
  LoadClock::time_point busy_until;
  LoadClock::time_point end;
};

/// The burners' schedule, a pure function so that tests check the duty
/// cycle without timing it. The slice begins at `planned` (where the one
/// before ended) or, when the burner is behind that (descheduled on a
/// loaded machine), at `now`: the backlog is dropped, not burnt. It is busy
/// for the first cpu × `slice` and idle for the rest; `cpu` is clamped to
/// [0, 1] (NaN counts as 0).
DutySlice duty_slice(LoadClock::time_point planned, LoadClock::time_point now,
                     LoadClock::duration slice, double cpu);

/// How far into the first slice burner `index` of `threads` begins, so that
/// the threads' busy phases are spread evenly over a slice: slice × index /
/// threads.
LoadClock::duration burner_phase(int index, int threads,
                                 LoadClock::duration slice);

/// What the burner threads have done since the generator was constructed,
/// summed over them: counts, so that tests check the duty cycle rather
/// than measure CPU time. A slice is counted (with its planned phases)
/// when it begins, its busy-loop rounds when the busy phase ends.
struct BurnStats {
  uint64_t slices = 0;       ///< slices begun
  uint64_t busy_slices = 0;  ///< of them, those with a busy phase (cpu > 0)
  uint64_t spin_rounds = 0;  ///< rounds of the busy loop
  LoadClock::duration scheduled{0};       ///< planned length of the slices
  LoadClock::duration scheduled_busy{0};  ///< of their busy phases
};

/// Makes background CPU and memory load between start() and stop().
class LoadGenerator {
 public:
  /// Throws UsageError naming the option when one is out of range
  /// (threads < 0, slice_ms or trace_period_ms < 1, max_memory_mb < 0).
  explicit LoadGenerator(LoadGeneratorOptions options = {});
  /// Stops and joins every thread, frees the memory.
  ~LoadGenerator();
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  /// Starts the burner threads and allocates the memory target; no-op when
  /// running.
  void start();
  /// Stops following a trace, wakes and joins every thread and frees the
  /// memory, promptly (an allocation in progress is abandoned between
  /// chunks). No-op when not running; the target stays for a next start().
  void stop();
  bool running() const;

  /// Sets the load to make (stopping a followed trace). While running, the
  /// memory buffer is resized and touched before this returns. Throws
  /// UsageError when cpu is outside [0, 1] or memory_mb outside [0,
  /// max_memory_mb] (or either is NaN).
  void set_target(LoadTarget target);
  /// The current target.
  LoadTarget target() const;

  /// Follows `trace` on a thread of its own: every trace_period_ms the
  /// target becomes trace.at(time_scale × seconds since this call). Starts
  /// the generator when it is not running; replaces a trace followed
  /// before. Throws UsageError for time_scale ≤ 0.
  void follow(LoadTrace trace, double time_scale = 1.0);
  /// Stops following; the last target stays. No-op when not following.
  void stop_following();
  bool following() const;
  /// Trace time of the last update, s; std::nullopt when not following.
  std::optional<double> trace_time_s() const;

  /// Bytes of the memory buffer now allocated (and touched).
  size_t allocated_bytes() const;
  /// The burners' work so far (see BurnStats); kept across stop() and
  /// start().
  BurnStats burn_stats() const;
  /// Burner threads started by start().
  int threads() const { return threads_; }
  const LoadGeneratorOptions& options() const { return options_; }

 private:
  void burn(int index);
  void run_trace(LoadTrace trace, double time_scale);
  /// Validates and stores `target`, then resizes the memory to it.
  void apply(LoadTarget target);
  /// Grows or shrinks the buffer to `bytes` (0 when not running).
  void resize_memory(size_t bytes);
  /// start() with control_ held.
  void start_locked();
  /// Ends the follower thread, if any, with control_ held.
  void join_follower();

  const LoadGeneratorOptions options_;
  const int threads_;

  std::atomic<double> cpu_{0};         // target share, read by the burners
  std::atomic<bool> stopping_{false};  // burners and allocations: quit
  std::atomic<bool> unfollow_{false};  // the follower: quit

  mutable std::mutex mutex_;  // target_, trace_time_, stats_, cv waits
  std::condition_variable wake_;
  LoadTarget target_;
  BurnStats stats_;
  std::optional<double> trace_time_;
  bool running_ = false;

  mutable std::mutex memory_mutex_;  // chunks_
  std::vector<void*> chunks_;        // mmap'ed, kChunkBytes each
  std::atomic<size_t> allocated_{0};

  std::mutex control_;  // start/stop/follow against each other
  std::vector<std::thread> burners_;
  std::thread follower_;
};

}  // namespace adascale::harness
