#include "harness/load_generator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <thread>

#include "core/error.h"
#include "core/memory_usage.h"
#include "tests/hang_guard.h"
#include "tests/test_util.h"

namespace adascale::harness {
namespace {

using testing::eventually;
using testing::kHangLimit;
using testing::returns_within;

// No test here measures CPU time or how long a call takes: on a busy
// machine such bounds fail. The duty cycle is checked through duty_slice()
// and the burners' BurnStats counts (tests/hang_guard.h only turns a hang
// into a failure).
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr size_t kMiB = size_t{1} << 20;
// A slice that no test outlasts: a burner that waited one out would hang.
constexpr int kHourMs = 3'600'000;

// Stops `gen`, failing the test (and leaking the generator) when stop()
// hangs.
void stop_or_fail(std::unique_ptr<LoadGenerator>& gen) {
  LoadGenerator* g = gen.get();
  if (!returns_within([g] { g->stop(); })) {
    gen.release();  // its threads still run: leak it rather than hang
    FAIL() << "stop() did not return within " << kHangLimit.count() << " ms";
  }
}

TEST(LoadGenerator, DutySliceIsBusyForTheTargetShare) {
  const Clock::time_point t0{};  // any origin
  const auto slice =
      std::chrono::duration_cast<Clock::duration>(milliseconds(10));
  const auto ms = [](double v) {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(v));
  };

  DutySlice half = duty_slice(t0, t0, slice, 0.5);
  EXPECT_EQ(half.begin, t0);
  EXPECT_EQ(half.busy_until, t0 + ms(5));
  EXPECT_EQ(half.end, t0 + slice);

  DutySlice quarter = duty_slice(t0, t0, slice, 0.25);
  EXPECT_EQ(quarter.busy_until - quarter.begin, ms(2.5));
  EXPECT_EQ(quarter.end - quarter.busy_until, ms(7.5));

  DutySlice idle = duty_slice(t0, t0, slice, 0.0);
  EXPECT_EQ(idle.busy_until, idle.begin);  // no busy phase at all
  EXPECT_EQ(idle.end, t0 + slice);
  DutySlice full = duty_slice(t0, t0, slice, 1.0);
  EXPECT_EQ(full.busy_until, full.end);  // no idle phase

  // Out-of-range shares are clamped, never a negative or overlong phase.
  EXPECT_EQ(duty_slice(t0, t0, slice, -0.5).busy_until, t0);
  EXPECT_EQ(duty_slice(t0, t0, slice, 2.0).busy_until, t0 + slice);
  EXPECT_EQ(duty_slice(t0, t0, slice, std::nan("")).busy_until, t0);

  // On schedule, slices follow each other back to back...
  DutySlice next = duty_slice(half.end, half.end - ms(1), slice, 0.5);
  EXPECT_EQ(next.begin, half.end);
  // ...behind it, the next starts now: the backlog is not burnt.
  DutySlice late = duty_slice(half.end, half.end + ms(37), slice, 0.5);
  EXPECT_EQ(late.begin, half.end + ms(37));
  EXPECT_EQ(late.busy_until - late.begin, ms(5));
  EXPECT_EQ(late.end - late.begin, slice);
}

TEST(LoadGenerator, BurnerPhasesSpreadOverASlice) {
  const auto slice =
      std::chrono::duration_cast<Clock::duration>(milliseconds(10));
  const auto us = [](int v) {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::microseconds(v));
  };
  EXPECT_EQ(burner_phase(0, 4, slice), Clock::duration::zero());
  EXPECT_EQ(burner_phase(1, 4, slice), us(2500));
  EXPECT_EQ(burner_phase(2, 4, slice), us(5000));
  EXPECT_EQ(burner_phase(3, 4, slice), us(7500));
  EXPECT_EQ(burner_phase(0, 1, slice), Clock::duration::zero());
}

// Was: process CPU time over a second within (0.25, 0.75) of every core.
// Now: every slice the burners ran was planned half busy, and the busy
// phases really spun.
TEST(LoadGenerator, HalfLoadIsBusyHalfOfEverySlice) {
  LoadGenerator gen;
  ASSERT_GE(gen.threads(), 1);
  const uint64_t enough = 4 * uint64_t(gen.threads());
  gen.set_target({0.5, 0});
  EXPECT_EQ(gen.burn_stats().slices, 0u);  // nothing before start()
  gen.start();
  EXPECT_TRUE(gen.running());
  ASSERT_TRUE(eventually([&] {
    BurnStats s = gen.burn_stats();
    return s.slices >= enough && s.spin_rounds > 0;
  }));
  gen.stop();
  EXPECT_FALSE(gen.running());
  BurnStats s = gen.burn_stats();
  EXPECT_EQ(s.busy_slices, s.slices);
  EXPECT_EQ(s.scheduled, Clock::duration(milliseconds(10)) * int64_t(s.slices));
  EXPECT_EQ(2 * s.scheduled_busy, s.scheduled);
}

// Was: process CPU share over 300 ms < 0.1. Now: no slice had a busy
// phase and the busy loop never ran a round.
TEST(LoadGenerator, ZeroLoadIdles) {
  LoadGenerator gen;
  gen.start();
  const uint64_t enough = 3 * uint64_t(gen.threads());
  ASSERT_TRUE(eventually([&] { return gen.burn_stats().slices >= enough; }));
  gen.stop();
  BurnStats s = gen.burn_stats();
  EXPECT_EQ(s.busy_slices, 0u);
  EXPECT_EQ(s.spin_rounds, 0u);
  EXPECT_EQ(s.scheduled_busy, Clock::duration::zero());
  EXPECT_GT(s.scheduled, Clock::duration::zero());
}

// The burners read the target every slice: a change while running shows
// in the slices that follow.
TEST(LoadGenerator, BurnersFollowATargetChange) {
  LoadGenerator gen(LoadGeneratorOptions{2, 5, 50, 64});
  gen.start();
  ASSERT_TRUE(eventually([&] { return gen.burn_stats().slices >= 4; }));
  EXPECT_EQ(gen.burn_stats().busy_slices, 0u);
  gen.set_target({1.0, 0});
  ASSERT_TRUE(eventually([&] {
    BurnStats s = gen.burn_stats();
    return s.busy_slices >= 2 && s.spin_rounds > 0;
  }));
  gen.set_target({0.0, 0});
  const uint64_t busy = gen.burn_stats().busy_slices;
  // A slice that began before the change may still be busy; after it, no
  // more.
  const uint64_t seen = gen.burn_stats().slices;
  ASSERT_TRUE(eventually([&] { return gen.burn_stats().slices >= seen + 4; }));
  gen.stop();
  EXPECT_LE(gen.burn_stats().busy_slices, busy + 2);  // one per burner
}

// Was: stop() within 100 ms at full load. Now: with a slice of an hour,
// stop() still returns, so the busy loop checks the stop flag every round
// and the idle wait wakes on it; afterwards every burner has joined (no
// slice begins any more) and the memory is freed.
TEST(LoadGenerator, StopInterruptsTheBusyAndTheIdlePhase) {
  for (double cpu : {1.0, 0.5, 0.0}) {
    SCOPED_TRACE(cpu);
    // Two burners: the second idles half an hour (its phase) before its
    // first busy phase, the first spins from the start.
    auto gen = std::make_unique<LoadGenerator>(
        LoadGeneratorOptions{2, kHourMs, 50, 64});
    gen->set_target({cpu, 32});
    gen->start();
    EXPECT_EQ(gen->allocated_bytes(), 32 * kMiB);
    ASSERT_TRUE(eventually([&] { return gen->burn_stats().slices >= 2; }));
    stop_or_fail(gen);
    if (!gen) return;
    EXPECT_FALSE(gen->running());
    EXPECT_EQ(gen->allocated_bytes(), 0u);
    EXPECT_EQ(gen->burn_stats().slices, 2u);  // nobody waited one out
    // The target survives for the next start.
    EXPECT_DOUBLE_EQ(gen->target().cpu, cpu);
  }
}

TEST(LoadGenerator, StopsAtFullLoadAndStaysStopped) {
  auto gen = std::make_unique<LoadGenerator>();
  gen->set_target({1.0, 32});
  gen->start();
  EXPECT_EQ(gen->allocated_bytes(), 32 * kMiB);
  const uint64_t enough = 2 * uint64_t(gen->threads());
  ASSERT_TRUE(eventually([&] { return gen->burn_stats().slices >= enough; }));
  stop_or_fail(gen);
  if (!gen) return;
  EXPECT_FALSE(gen->running());
  EXPECT_EQ(gen->allocated_bytes(), 0u);
  EXPECT_DOUBLE_EQ(gen->target().cpu, 1.0);
  // Joined: no burner begins another slice or spins another round.
  BurnStats after = gen->burn_stats();
  std::this_thread::sleep_for(milliseconds(30));
  BurnStats later = gen->burn_stats();
  EXPECT_EQ(later.slices, after.slices);
  EXPECT_EQ(later.spin_rounds, after.spin_rounds);

  // A restart carries on counting.
  gen->start();
  ASSERT_TRUE(
      eventually([&] { return gen->burn_stats().slices > after.slices; }));
  stop_or_fail(gen);
}

TEST(LoadGenerator, HoldsAndResizesTheMemoryTarget) {
  LoadGenerator gen;
  gen.set_target({0, 16});
  EXPECT_EQ(gen.allocated_bytes(), 0u);  // nothing before start()
  int64_t rss0 = core::resident_bytes();
  gen.start();
  EXPECT_EQ(gen.allocated_bytes(), 16 * kMiB);
  gen.set_target({0, 48});
  EXPECT_EQ(gen.allocated_bytes(), 48 * kMiB);
  int64_t rss1 = core::resident_bytes();
  if (rss0 > 0 && rss1 > 0) {
    // Touched pages are resident.
    EXPECT_GE(rss1 - rss0, int64_t(40 * kMiB));
  }
  gen.set_target({0, 2.5});  // rounded up to whole MiB
  EXPECT_EQ(gen.allocated_bytes(), 3 * kMiB);
  gen.stop();
  EXPECT_EQ(gen.allocated_bytes(), 0u);
  gen.start();
  EXPECT_EQ(gen.allocated_bytes(), 3 * kMiB);
}

TEST(LoadGenerator, FollowsATrace) {
  auto trace = LoadTrace::from_yaml(R"(
kind: steps
steps:
  - {duration_s: 0.1, cpu: 0.0, memory_mb: 0}
  - {duration_s: 0.1, cpu: 0.2, memory_mb: 4}
)",
                                    "short.yaml");
  LoadGenerator gen(LoadGeneratorOptions{0, 10, 10, 1024});
  gen.follow(trace);
  EXPECT_TRUE(gen.running());
  EXPECT_TRUE(gen.following());
  ASSERT_TRUE(eventually([&] { return gen.allocated_bytes() == 4 * kMiB; }));
  EXPECT_DOUBLE_EQ(gen.target().cpu, 0.2);
  ASSERT_TRUE(eventually([&] { return gen.trace_time_s().value_or(0) > 0.1; }));
  gen.stop_following();
  EXPECT_FALSE(gen.following());
  EXPECT_FALSE(gen.trace_time_s());
  EXPECT_DOUBLE_EQ(gen.target().cpu, 0.2);  // the last target stays
  EXPECT_TRUE(gen.running());

  // A manual target ends following; a time scale speeds the trace up.
  gen.follow(trace, 10.0);
  EXPECT_TRUE(gen.following());
  gen.set_target({0.1, 1});
  EXPECT_FALSE(gen.following());
  EXPECT_EQ(gen.allocated_bytes(), 1 * kMiB);
  // Stopping ends the follower too (promptness: see
  // StopInterruptsTheBusyAndTheIdlePhase).
  gen.follow(trace);
  gen.stop();
  EXPECT_FALSE(gen.running());
  EXPECT_FALSE(gen.following());
  EXPECT_EQ(gen.allocated_bytes(), 0u);
}

TEST(LoadGenerator, IsSafeUnderConcurrentCalls) {
  LoadGenerator gen(LoadGeneratorOptions{2, 5, 5, 64});
  std::vector<std::thread> callers;
  for (int k = 0; k < 3; ++k) {
    callers.emplace_back([&, k] {
      for (int i = 0; i < 20; ++i) {
        gen.set_target({0.1 * ((i + k) % 5), double((i * 3 + k) % 8)});
        if (i % 7 == k) gen.start();
        if (i % 9 == k) gen.stop();
        (void)gen.allocated_bytes();
      }
    });
  }
  for (auto& t : callers) t.join();
  gen.stop();
  EXPECT_EQ(gen.allocated_bytes(), 0u);
}

TEST(LoadGenerator, RejectsBadTargetsAndOptions) {
  LoadGenerator gen(LoadGeneratorOptions{1, 10, 50, 100});
  EXPECT_THROW_WITH(gen.set_target({1.5, 0}), UsageError, "cpu");
  EXPECT_THROW_WITH(gen.set_target({-0.1, 0}), UsageError, "cpu");
  EXPECT_THROW_WITH(gen.set_target({0.5, 200}), UsageError, "memory_mb");
  EXPECT_THROW_WITH(gen.set_target({0.5, std::nan("")}), UsageError,
                    "memory_mb");
  EXPECT_THROW_WITH(LoadGenerator(LoadGeneratorOptions{-1, 10, 50, 100}),
                    UsageError, "threads");
  EXPECT_THROW_WITH(LoadGenerator(LoadGeneratorOptions{1, 0, 50, 100}),
                    UsageError, "slice_ms");
  EXPECT_THROW_WITH(
      gen.follow(LoadTrace::from_yaml("steps: [{duration_s: 1}]\n", "t.yaml"),
                 0.0),
      UsageError, "time_scale");
}

}  // namespace
}  // namespace adascale::harness
