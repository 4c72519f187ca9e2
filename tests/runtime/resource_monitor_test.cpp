#include "runtime/resource_monitor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A sampler that numbers its samples 1, 2, 3, ... in cpu_quota_cores (a
// field the load index never reads) and counts its calls.
struct CountingSampler {
  std::shared_ptr<std::atomic<int>> calls =
      std::make_shared<std::atomic<int>>(0);
  ResourceSample operator()() const {
    ResourceSample s;
    s.timestamp = steady_seconds();
    s.cpu_quota_cores = double(++*calls);
    return s;
  }
};

MonitorConfig fast(int period_ms, int history = 100) {
  MonitorConfig c;
  c.period_ms = period_ms;
  c.history = history;
  return c;
}

// Polls `done` until it holds or `limit` passes.
template <typename F>
bool wait_for(F done, milliseconds limit = milliseconds(2000)) {
  auto until = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

TEST(ResourceMonitor, SamplesEveryPeriodInOrder) {
  CountingSampler sampler;
  ResourceMonitor monitor(fast(5), sampler);
  EXPECT_FALSE(monitor.running());
  EXPECT_FALSE(monitor.latest().has_value());
  monitor.start();
  EXPECT_TRUE(monitor.running());
  std::this_thread::sleep_for(milliseconds(60));
  auto start = Clock::now();
  monitor.stop();
  EXPECT_LT(ms_since(start), 50.0);
  EXPECT_FALSE(monitor.running());

  // ~12 expected; a loaded 2-core machine may fall behind.
  const size_t taken = monitor.samples_taken();
  EXPECT_GE(taken, 3u);
  EXPECT_LE(taken, 20u);  // the period is honoured, no busy loop
  EXPECT_EQ(size_t(sampler.calls->load()), taken);
  auto history = monitor.history();
  ASSERT_EQ(history.size(), taken);
  for (size_t i = 0; i < history.size(); ++i) {
    EXPECT_DOUBLE_EQ(*history[i].cpu_quota_cores, double(i + 1));
    if (i > 0) {
      EXPECT_GT(history[i].timestamp, history[i - 1].timestamp);
    }
  }
  EXPECT_DOUBLE_EQ(*monitor.latest()->cpu_quota_cores, double(taken));

  // Stopped means stopped.
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(size_t(sampler.calls->load()), taken);
}

TEST(ResourceMonitor, StopDoesNotWaitOutThePeriod) {
  CountingSampler sampler;
  ResourceMonitor monitor(fast(10'000), sampler);
  monitor.start();
  ASSERT_TRUE(wait_for([&] { return monitor.samples_taken() >= 1; }));
  auto start = Clock::now();
  monitor.stop();
  EXPECT_LT(ms_since(start), 50.0);
  EXPECT_EQ(monitor.samples_taken(), 1u);
  monitor.stop();  // idempotent
}

TEST(ResourceMonitor, RingBufferKeepsTheNewestInOrder) {
  CountingSampler sampler;
  ResourceMonitor monitor(fast(1, /*history=*/4), sampler);
  monitor.start();
  ASSERT_TRUE(wait_for([&] { return monitor.samples_taken() >= 10; }));
  monitor.stop();
  const size_t taken = monitor.samples_taken();
  auto history = monitor.history();
  ASSERT_EQ(history.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_DOUBLE_EQ(*history[i].cpu_quota_cores, double(taken - 3 + i));
  EXPECT_DOUBLE_EQ(*monitor.latest()->cpu_quota_cores, double(taken));

  // Restarting keeps the history and carries on numbering.
  monitor.start();
  ASSERT_TRUE(wait_for([&] { return monitor.samples_taken() >= taken + 2; }));
  monitor.stop();
  EXPECT_DOUBLE_EQ(*monitor.latest()->cpu_quota_cores,
                   double(monitor.samples_taken()));
}

TEST(ResourceMonitor, DestructorStopsAndJoins) {
  CountingSampler sampler;
  {
    ResourceMonitor monitor(fast(5), sampler);
    monitor.start();
    ASSERT_TRUE(wait_for([&] { return sampler.calls->load() >= 2; }));
  }
  const int calls = sampler.calls->load();
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(sampler.calls->load(), calls);
  // Never started: nothing to join.
  ResourceMonitor idle(fast(5), sampler);
}

TEST(ResourceMonitor, LoadSeriesSkipsSamplesWithoutAnIndex) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  ResourceMonitor monitor(fast(1, 50), [calls] {
    ResourceSample s;
    s.timestamp = steady_seconds();
    int n = ++*calls;
    if (n % 2 == 0) s.background_load = 0.01 * n;  // odd ones: no source
    return s;
  });
  EXPECT_FALSE(monitor.latest_load().has_value());
  monitor.start();
  ASSERT_TRUE(wait_for([&] { return monitor.samples_taken() >= 9; }));
  monitor.stop();
  const int taken = int(monitor.samples_taken());
  ASSERT_LE(taken, 50);  // all still in the ring
  auto series = monitor.load_series();
  ASSERT_EQ(series.size(), size_t(taken / 2));
  for (size_t i = 0; i < series.size(); ++i)
    EXPECT_NEAR(series[i], 0.01 * double(2 * (i + 1)), 1e-12);
  EXPECT_NEAR(*monitor.latest_load(), series.back(), 1e-12);
}

TEST(ResourceMonitor, SamplingErrorsAreSkippedNotFatal) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  ResourceMonitor monitor(fast(1), [calls] {
    if (++*calls % 2 == 1) throw std::runtime_error("flaky source");
    return ResourceSample{};
  });
  monitor.start();
  ASSERT_TRUE(wait_for([&] { return monitor.samples_taken() >= 3; }));
  monitor.stop();
  EXPECT_GE(monitor.sampling_errors(), 3u);
  EXPECT_EQ(monitor.samples_taken() + monitor.sampling_errors(),
            size_t(calls->load()));
}

TEST(ResourceMonitor, RefusesBadConfigs) {
  CountingSampler sampler;
  EXPECT_THROW_WITH((ResourceMonitor{fast(0), sampler}), UsageError,
                    "monitor.period_ms");
  EXPECT_THROW_WITH((ResourceMonitor{fast(5, 0), sampler}), UsageError,
                    "monitor.history");
  MonitorConfig c = fast(5);
  c.load_index.cpu = -1;
  EXPECT_THROW_WITH((ResourceMonitor{c, sampler}), UsageError,
                    "load_index.cpu");
  EXPECT_THROW_WITH((ResourceMonitor{fast(5), ResourceMonitor::Sampler{}}),
                    UsageError, "empty sampling function");
}

TEST(ResourceMonitor, MonitorsTheRealMachine) {
  ResourceMonitor monitor(fast(20));
  monitor.start();
  ASSERT_TRUE(wait_for([&] { return monitor.samples_taken() >= 3; }));
  monitor.stop();
  auto latest = monitor.latest();
  ASSERT_TRUE(latest.has_value());
  ASSERT_TRUE(latest->memory_utilization.has_value());
  EXPECT_GT(*latest->memory_utilization, 0.0);
  auto load = monitor.latest_load();
  ASSERT_TRUE(load.has_value());  // memory at least
  EXPECT_GE(*load, 0.0);
  EXPECT_LE(*load, 1.0);
}

}  // namespace
}  // namespace adascale::runtime
