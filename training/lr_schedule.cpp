#include "training/lr_schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace adascale::training {
namespace {

constexpr double kPi = 3.14159265358979323846;

// PyTorch's _annealing_cos: `start` at pct 0, `end` at pct 1.
double cosine_anneal(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1.0);
}

double one_cycle(const core::ScheduleConfig& s, double base_lr, double t) {
  const double initial = base_lr / s.div_factor;
  const double final_lr = initial / s.final_div_factor;
  if (s.peak_at > 0 && t < s.peak_at) {
    return cosine_anneal(initial, base_lr, t / s.peak_at);
  }
  if (s.peak_at >= 1) return base_lr;
  return cosine_anneal(base_lr, final_lr, (t - s.peak_at) / (1 - s.peak_at));
}

}  // namespace

double scheduled_lr(const core::ScheduleConfig& s, double base_lr, double epoch,
                    double total_epochs) {
  if (!(total_epochs > 0)) {
    throw ConfigError(
        fmt::format("learning-rate schedule: total epochs must be > 0, got {}",
                    total_epochs));
  }
  if (!(epoch >= 0)) {
    throw InternalError(
        fmt::format("learning-rate schedule: negative epoch {}", epoch));
  }
  epoch = std::min(epoch, total_epochs);
  const double t = epoch / total_epochs;
  double lr = base_lr;
  switch (s.type) {
    case core::ScheduleType::kOneCycle:
      return one_cycle(s, base_lr, t);  // its own warm-up
    case core::ScheduleType::kMultistep:
      for (double m : s.milestones) {
        if (m <= epoch) lr *= s.gamma;
      }
      break;
    case core::ScheduleType::kCosine:
      lr = cosine_anneal(base_lr, base_lr * s.final_fraction, t);
      break;
    case core::ScheduleType::kConstant:
      break;
  }
  if (s.warmup_epochs > 0 && epoch < s.warmup_epochs) {
    lr *= s.warmup_start + (1 - s.warmup_start) * epoch / s.warmup_epochs;
  }
  return lr;
}

}  // namespace adascale::training
