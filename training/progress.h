#pragma once
/// Progress of a training epoch for people: a bar rewritten in place on a
/// terminal, plain log lines otherwise (so they also reach the run's
/// log.txt), or nothing. Shows steps, running loss and accuracy, throughput
/// and the time left.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace adascale::training {

/// How progress is shown.
enum class ProgressMode { kBar, kLines, kOff };

/// Parses `train.progress`: bar | lines | off, or auto (a bar when stderr is
/// a terminal, lines otherwise). Throws ConfigError for anything else.
ProgressMode resolve_progress_mode(const std::string& setting);

/// One epoch's progress. Not thread-safe: update it from the training loop.
class Progress {
 public:
  /// Seconds on a monotonic clock; injectable for tests.
  using Clock = std::function<double()>;

  /// `total_steps` ≤ 0 means unknown (no bar, no ETA). In lines mode a line
  /// is logged every `log_every` steps and at the last step. The bar goes to
  /// `bar_stream` (std::cerr when null), at most ~10 redraws per second.
  Progress(ProgressMode mode, std::string title, int64_t total_steps,
           int log_every, std::ostream* bar_stream = nullptr,
           Clock clock = nullptr);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// `step`: 1-based steps done so far; `images` seen so far this epoch;
  /// the running `loss` and `accuracy` (a fraction).
  void update(int64_t step, int64_t images, double loss, double accuracy);
  /// Ends the bar's line (draws the latest state first). Idempotent; the
  /// destructor calls it.
  void finish();

  /// The status text for the given state, without the bar (for lines mode
  /// and tests): "step/total loss 1.234 acc 45.6% 1234 img/s ETA 3m05s".
  std::string status(int64_t step, int64_t images, double loss,
                     double accuracy) const;

 private:
  void draw(bool force);

  ProgressMode mode_;
  std::string title_;
  int64_t total_;
  int log_every_;
  std::ostream* out_;
  Clock clock_;
  double start_ = 0;
  double last_draw_ = -1;
  size_t last_width_ = 0;
  int64_t last_logged_ = 0;
  bool drawn_pending_ = false;  ///< an update not yet drawn
  bool any_drawn_ = false;
  bool finished_ = false;
  // Latest state.
  int64_t step_ = 0, images_ = 0;
  double loss_ = 0, accuracy_ = 0;
};

/// A short duration for people: "1h02m", "3m05s", "12s"; "?" when negative
/// or not finite.
std::string format_duration(double seconds);

}  // namespace adascale::training
