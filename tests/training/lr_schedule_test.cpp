#include "training/lr_schedule.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::training {
namespace {

constexpr double kTol = 1e-12;

core::ScheduleConfig schedule(core::ScheduleType type) {
  core::ScheduleConfig s;
  s.type = type;
  s.warmup_epochs = 0;
  return s;
}

TEST(LrSchedule, ConstantIsTheBaseRate) {
  auto s = schedule(core::ScheduleType::kConstant);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 0, 10), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 7.3, 10), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 25, 10), 0.1);
}

TEST(LrSchedule, MultistepMultipliesByGammaAtEachMilestoneReached) {
  auto s = schedule(core::ScheduleType::kMultistep);
  s.milestones = {5, 2};  // order does not matter
  s.gamma = 0.1;
  EXPECT_NEAR(scheduled_lr(s, 0.1, 0, 10), 0.1, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 1.99, 10), 0.1, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 2.0, 10), 0.01, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 4.5, 10), 0.01, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 5.0, 10), 0.001, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 9.9, 10), 0.001, kTol);
}

TEST(LrSchedule, CosineFallsFromBaseToFinalFraction) {
  auto s = schedule(core::ScheduleType::kCosine);
  s.final_fraction = 0.0;
  EXPECT_NEAR(scheduled_lr(s, 0.1, 0, 10), 0.1, kTol);
  // 0.05 × (1 + cos(π/4))
  EXPECT_NEAR(scheduled_lr(s, 0.1, 2.5, 10), 0.08535533905932738, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 5, 10), 0.05, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 10, 10), 0.0, kTol);
  s.final_fraction = 0.1;
  EXPECT_NEAR(scheduled_lr(s, 0.1, 5, 10), 0.055, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 10, 10), 0.01, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 12, 10), 0.01, kTol);  // held past the end
}

TEST(LrSchedule, WarmupScalesConstantMultistepAndCosine) {
  auto s = schedule(core::ScheduleType::kConstant);
  s.warmup_epochs = 2;
  s.warmup_start = 0.1;
  EXPECT_NEAR(scheduled_lr(s, 0.1, 0, 10), 0.01, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 0.5, 10), 0.0325, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 1, 10), 0.055, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 2, 10), 0.1, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 3, 10), 0.1, kTol);

  s.type = core::ScheduleType::kMultistep;
  s.milestones = {1};
  s.gamma = 0.1;
  // 0.01 × (0.1 + 0.9 × 0.75)
  EXPECT_NEAR(scheduled_lr(s, 0.1, 1.5, 10), 0.00775, kTol);

  s.type = core::ScheduleType::kCosine;
  s.final_fraction = 0;
  // 0.05 × (1 + cos(0.1π)) × (0.1 + 0.9 × 0.5)
  EXPECT_NEAR(scheduled_lr(s, 0.1, 1, 10), 0.05365405419811673, kTol);
}

TEST(LrSchedule, OneCycleRisesThenFallsWithCosines) {
  auto s = schedule(core::ScheduleType::kOneCycle);
  s.peak_at = 0.3;
  s.div_factor = 25;
  s.final_div_factor = 1e4;
  s.warmup_epochs = 2;  // ignored by onecycle
  // initial 0.1 / 25 = 0.004, final 0.004 / 1e4 = 4e-7, peak at epoch 3.
  EXPECT_NEAR(scheduled_lr(s, 0.1, 0, 10), 0.004, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 1, 10), 0.028, kTol);  // pct 1/3
  EXPECT_NEAR(scheduled_lr(s, 0.1, 1.5, 10), 0.052, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 3, 10), 0.1, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 3 + 7.0 / 3, 10), 0.0750001, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 6.5, 10), 0.0500002, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 10, 10), 4e-7, kTol);
  EXPECT_NEAR(scheduled_lr(s, 0.1, 11, 10), 4e-7, kTol);
}

// PyTorch's OneCycleLR(max_lr=0.1, total_steps=100, pct_start=0.3,
// anneal_strategy='cos') at step s: phase 1 runs over steps 0..29
// (end_step = 0.3 × 100 − 1) with pct = s / 29, phase 2 over 29..99 with
// pct = (s − 29) / 70, lr = end + (start − end) / 2 × (cos(π pct) + 1).
// Ours is the same curve in continuous time; step s corresponds to the epoch
// with the same phase fraction.
TEST(LrSchedule, OneCycleAgreesWithPyTorchAtMatchingPhaseFractions) {
  auto s = schedule(core::ScheduleType::kOneCycle);
  const double total = 10;
  auto epoch_of_step = [&](double step) {
    return step <= 29 ? 3.0 * step / 29 : 3.0 + 7.0 * (step - 29) / 70;
  };
  struct Point {
    double step, pytorch_lr;
  };
  // Hand-derived from the formula above.
  const Point points[] = {
      {0, 0.004},                  // initial_lr = max_lr / 25
      {10, 0.029516394846410082},  // 0.1 − 0.048 (1 + cos(10π/29))
      {29, 0.1},                   // max_lr
      {47, 0.08455319423681344},   // 4e-7 + 0.0499998 (1 + cos(18π/70))
      {64, 0.0500002},             // pct 0.5
      {99, 4e-7},                  // min_lr = initial_lr / 1e4
  };
  for (const Point& p : points) {
    EXPECT_NEAR(scheduled_lr(s, 0.1, epoch_of_step(p.step), total),
                p.pytorch_lr, kTol)
        << "step " << p.step;
  }
}

// An unknown schedule type is the config reader's error (RunConfig tests).
TEST(LrSchedule, RejectsNonPositiveTotal) {
  auto s = schedule(core::ScheduleType::kCosine);
  EXPECT_THROW_WITH(scheduled_lr(s, 0.1, 0, 0), ConfigError,
                    "total epochs must be > 0, got 0");
  EXPECT_THROW_WITH(scheduled_lr(s, 0.1, 0, -3), ConfigError, "got -3");
  EXPECT_THROW_WITH(scheduled_lr(s, 0.1, -1, 10), InternalError,
                    "negative epoch");
}

}  // namespace
}  // namespace adascale::training
