#include "runtime/load_generator.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/memory_usage.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMiB = size_t{1} << 20;

// CPU time of this process (all threads), seconds.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Polls `done` every 5 ms for up to `limit_s`; returns whether it held.
template <typename F>
bool eventually(F done, double limit_s = 2.0) {
  auto t0 = Clock::now();
  while (!done()) {
    if (seconds_since(t0) > limit_s) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(LoadGenerator, HalfLoadUsesAboutHalfOfEveryCore) {
  LoadGenerator gen;
  ASSERT_GE(gen.threads(), 1);
  gen.set_target({0.5, 0});
  gen.start();
  EXPECT_TRUE(gen.running());
  double cpu0 = process_cpu_seconds();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  double used = process_cpu_seconds() - cpu0;
  double elapsed = seconds_since(t0);
  gen.stop();
  EXPECT_FALSE(gen.running());
  // The CI machine is shared: a generous band around 0.5.
  double share = used / (gen.threads() * elapsed);
  EXPECT_GT(share, 0.25) << used << " s CPU over " << elapsed << " s";
  EXPECT_LT(share, 0.75) << used << " s CPU over " << elapsed << " s";
}

TEST(LoadGenerator, ZeroLoadIdles) {
  LoadGenerator gen;
  gen.start();
  double cpu0 = process_cpu_seconds();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double share =
      (process_cpu_seconds() - cpu0) / (gen.threads() * seconds_since(t0));
  gen.stop();
  EXPECT_LT(share, 0.1);
}

TEST(LoadGenerator, StopsWithin100MsAtFullLoad) {
  LoadGenerator gen;
  gen.set_target({1.0, 32});
  gen.start();
  EXPECT_EQ(gen.allocated_bytes(), 32 * kMiB);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto t0 = Clock::now();
  gen.stop();
  EXPECT_LT(seconds_since(t0), 0.1);
  EXPECT_EQ(gen.allocated_bytes(), 0u);
  // The target survives for the next start.
  EXPECT_DOUBLE_EQ(gen.target().cpu, 1.0);
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
  gen.follow(trace);
  auto t0 = Clock::now();
  gen.stop();
  EXPECT_LT(seconds_since(t0), 0.1);
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
}  // namespace adascale::runtime
