#pragma once
/// How many intra-op threads inference should use under the background load
/// the monitor measures. Measured on the 2-core development VM: with one
/// core's worth of other work running, a batch-1 variant at 2 threads ran at
/// 20 ms median against 1 ms at 1 thread, because every parallel region
/// waits for whichever worker the scheduler has descheduled. So the
/// governor gives inference the cores the others leave idle:
///
///     threads = clamp(⌊cores · (1 − background) + headroom⌋, 1, max_threads)
///
/// It gives threads up at once (a contended parallel region costs more than
/// a lost core) but takes them back only after the same larger answer came
/// `settle` samples in a row, so a noisy load does not flip it every period.
/// Pure logic; not thread-safe (the controller owns it).

#include <optional>

#include "core/config/checks.h"

namespace adascale::runtime {

/// `threads:` section of a runtime config.
struct ThreadGovernorConfig {
  bool enabled = true;
  int max_threads = 0;     ///< 0 = every hardware thread
  double headroom = 0.25;  ///< share of a core counted as free anyway
  int settle = 3;          ///< samples a larger answer must repeat

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("enabled", enabled, "adapt the intra-op thread count to the load");
    v("max_threads", max_threads, check::in_range(0, 4096), "0 = all");
    v("headroom", headroom, check::in_range(0.0, 1.0), "share of a core");
    v("settle", settle, check::in_range(1, 1000), "samples in a row");
  }
};

class ThreadGovernor {
 public:
  /// `cores`: hardware threads of the machine (≥ 1). Throws UsageError for
  /// values outside the ranges visit() states.
  ThreadGovernor(ThreadGovernorConfig config, int cores);

  /// Feeds one background-load reading (share of all cores in [0, 1]; an
  /// absent reading changes nothing) and returns the thread count to use.
  int update(std::optional<double> background);
  int threads() const { return threads_; }
  /// Gives one thread up at once (never below 1), for a measured overrun
  /// the load readings have not shown yet; the next update() may take it
  /// back, after `settle` samples as usual. Returns the thread count.
  int shed();
  /// The share of `threads` worker time the background takes from them: the
  /// busy cores beyond those left to inference, spread over its threads,
  ///     clamp((background · cores − (cores − threads)) / threads, 0, 1).
  /// At threads = cores it is the background load itself (what the latency
  /// model's load correction was fitted on); once the governor has handed
  /// the busy cores to the others it is 0. NaN when `background` is.
  double contention(double background) const;
  const ThreadGovernorConfig& config() const { return config_; }

 private:
  ThreadGovernorConfig config_;
  int cores_;
  int max_threads_;
  int threads_;
  int candidate_ = 0;
  int streak_ = 0;
};

}  // namespace adascale::runtime
