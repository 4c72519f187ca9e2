#include "training/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "core/error.h"
#include "core/logging.h"

namespace adascale::training {
namespace {

constexpr int kBarWidth = 20;
constexpr double kRedrawSeconds = 0.1;

double steady_seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ProgressMode resolve_progress_mode(const std::string& setting) {
  if (setting == "auto") {
    return ::isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLines;
  }
  if (setting == "bar") return ProgressMode::kBar;
  if (setting == "lines") return ProgressMode::kLines;
  if (setting == "off") return ProgressMode::kOff;
  throw ConfigError("train.progress: expected auto|bar|lines|off, got '" +
                    setting + "'");
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long s = std::llround(seconds);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

Progress::Progress(ProgressMode mode, std::string title, int64_t total_steps,
                   int log_every, std::ostream* bar_stream, Clock clock)
    : mode_(mode),
      title_(std::move(title)),
      total_(total_steps),
      log_every_(std::max(1, log_every)),
      out_(bar_stream != nullptr ? bar_stream : &std::cerr),
      clock_(clock ? std::move(clock) : Clock(steady_seconds)) {
  start_ = clock_();
}

Progress::~Progress() {
  try {
    finish();
  } catch (...) {
    // A destructor must not throw; the bar line is cosmetic.
  }
}

std::string Progress::status(int64_t step, int64_t images, double loss,
                             double accuracy) const {
  const double elapsed = clock_() - start_;
  std::string s =
      total_ > 0 ? fmt::format("{}/{}", step, total_) : fmt::format("{}", step);
  s += fmt::format(" loss {:.3f} acc {:.1f}%", loss, 100.0 * accuracy);
  if (elapsed > 0) {
    s += fmt::format(" {:.0f} img/s", double(images) / elapsed);
    if (total_ > 0 && step > 0) {
      const double left = elapsed / double(step) * double(total_ - step);
      s += " ETA " + format_duration(std::max(0.0, left));
    }
  }
  return s;
}

void Progress::update(int64_t step, int64_t images, double loss,
                      double accuracy) {
  step_ = step;
  images_ = images;
  loss_ = loss;
  accuracy_ = accuracy;
  switch (mode_) {
    case ProgressMode::kOff:
      return;
    case ProgressMode::kLines:
      if (step != last_logged_ &&
          (step % log_every_ == 0 || (total_ > 0 && step == total_))) {
        log::info("{} {}", title_, status(step, images, loss, accuracy));
        last_logged_ = step;
      }
      return;
    case ProgressMode::kBar:
      drawn_pending_ = true;
      draw(total_ > 0 && step >= total_);
      return;
  }
}

void Progress::draw(bool force) {
  const double now = clock_();
  if (!force && last_draw_ >= 0 && now - last_draw_ < kRedrawSeconds) return;
  std::string line = title_;
  if (total_ > 0) {
    const int64_t filled =
        std::clamp<int64_t>(step_ * kBarWidth / total_, 0, kBarWidth);
    line += " [" + std::string(size_t(filled), '#') +
            std::string(size_t(kBarWidth - filled), '.') + "]";
  }
  line += " " + status(step_, images_, loss_, accuracy_);
  // Blank out what a longer previous line left behind.
  const size_t width = line.size();
  if (width < last_width_) line.append(last_width_ - width, ' ');
  *out_ << '\r' << line << std::flush;
  last_width_ = width;
  last_draw_ = now;
  drawn_pending_ = false;
  any_drawn_ = true;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (mode_ == ProgressMode::kBar) {
    if (drawn_pending_) draw(true);
    if (any_drawn_) *out_ << '\n' << std::flush;
  } else if (mode_ == ProgressMode::kLines && step_ > last_logged_) {
    // An epoch cut short (interrupt, early end of data) still gets its line.
    log::info("{} {}", title_, status(step_, images_, loss_, accuracy_));
    last_logged_ = step_;
  }
}

}  // namespace adascale::training
