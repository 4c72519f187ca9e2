#include "harness/load_trace.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/hostile_yaml.h"
#include "tests/memory_limit.h"
#include "tests/test_util.h"

namespace adascale::harness {
namespace {

std::string traces_dir() {
  return (std::filesystem::path(__FILE__).parent_path() / ".." / ".." /
          "configs" / "traces")
      .lexically_normal()
      .string();
}

TEST(LoadTrace, StepsHoldEachLevelThenTheLast) {
  auto trace = LoadTrace::from_yaml(R"(
kind: steps
steps:
  - {duration_s: 2, cpu: 0.1, memory_mb: 0}
  - {duration_s: 3, cpu: 0.8, memory_mb: 64}
)",
                                    "steps.yaml");
  EXPECT_EQ(trace.name(), "steps");  // from the source's stem
  EXPECT_DOUBLE_EQ(trace.duration_s(), 5.0);
  EXPECT_DOUBLE_EQ(trace.at(-1).cpu, 0.1);
  EXPECT_DOUBLE_EQ(trace.at(0).cpu, 0.1);
  EXPECT_DOUBLE_EQ(trace.at(1.99).cpu, 0.1);
  EXPECT_DOUBLE_EQ(trace.at(2.0).cpu, 0.8);
  EXPECT_DOUBLE_EQ(trace.at(2.0).memory_mb, 64);
  EXPECT_DOUBLE_EQ(trace.at(100).cpu, 0.8);  // holds the last level
  EXPECT_THROW_WITH(trace.at(std::nan("")), UsageError, "NaN");
}

TEST(LoadTrace, RepeatStartsOver) {
  auto trace = LoadTrace::from_yaml(R"(
kind: steps
repeat: true
steps:
  - {duration_s: 1, cpu: 0.0}
  - {duration_s: 1, cpu: 1.0}
)",
                                    "t.yaml");
  EXPECT_DOUBLE_EQ(trace.at(0.5).cpu, 0.0);
  EXPECT_DOUBLE_EQ(trace.at(1.5).cpu, 1.0);
  EXPECT_DOUBLE_EQ(trace.at(2.5).cpu, 0.0);
  EXPECT_DOUBLE_EQ(trace.at(13.5).cpu, 1.0);
}

TEST(LoadTrace, RampInterpolatesBetweenPoints) {
  auto trace = LoadTrace::from_yaml(R"(
name: up_down
kind: ramp
points:
  - {t_s: 0, cpu: 0, memory_mb: 0}
  - {t_s: 10, cpu: 1, memory_mb: 100}
  - {t_s: 20, cpu: 0, memory_mb: 0}
)",
                                    "ramp.yaml");
  EXPECT_EQ(trace.name(), "up_down");
  EXPECT_DOUBLE_EQ(trace.duration_s(), 20.0);
  EXPECT_DOUBLE_EQ(trace.at(0).cpu, 0.0);
  EXPECT_DOUBLE_EQ(trace.at(2.5).cpu, 0.25);
  EXPECT_DOUBLE_EQ(trace.at(5).memory_mb, 50);
  EXPECT_DOUBLE_EQ(trace.at(10).cpu, 1.0);
  EXPECT_DOUBLE_EQ(trace.at(15).cpu, 0.5);
  EXPECT_DOUBLE_EQ(trace.at(25).cpu, 0.0);
}

TEST(LoadTrace, RandomIsDeterministicGivenTheSeed) {
  auto yaml = [](int seed, bool smooth) {
    return fmt::format(R"(
kind: random
duration_s: 30
seed: {}
random: {{hold_s: 1.5, cpu: [0.2, 0.9], memory_mb: [10, 20], smooth: {}}}
)",
                       seed, smooth ? "true" : "false");
  };
  auto a = LoadTrace::from_yaml(yaml(3, false), "a.yaml");
  auto b = LoadTrace::from_yaml(yaml(3, false), "b.yaml");
  auto c = LoadTrace::from_yaml(yaml(4, false), "c.yaml");
  int differ = 0;
  for (double t = 0; t < 30; t += 0.25) {
    LoadTarget x = a.at(t);
    EXPECT_EQ(x.cpu, b.at(t).cpu) << t;
    EXPECT_EQ(x.memory_mb, b.at(t).memory_mb) << t;
    EXPECT_GE(x.cpu, 0.2);
    EXPECT_LE(x.cpu, 0.9);
    EXPECT_GE(x.memory_mb, 10);
    EXPECT_LE(x.memory_mb, 20);
    if (x.cpu != c.at(t).cpu) ++differ;
  }
  EXPECT_GT(differ, 60);
  // Levels hold for hold_s, and change between holds.
  EXPECT_EQ(a.at(1.6).cpu, a.at(2.9).cpu);
  EXPECT_NE(a.at(1.4).cpu, a.at(1.6).cpu);
  // Smooth: continuous, the held levels at the hold boundaries.
  auto s = LoadTrace::from_yaml(yaml(3, true), "s.yaml");
  EXPECT_DOUBLE_EQ(s.at(1.5).cpu, a.at(1.5).cpu);
  EXPECT_NEAR(s.at(2.25).cpu, 0.5 * (a.at(1.5).cpu + a.at(3.0).cpu), 1e-12);
}

TEST(LoadTrace, BurstsAlternateHeavyAndLightPeriods) {
  auto trace = LoadTrace::from_yaml(R"(
kind: bursts
duration_s: 100
seed: 5
bursts:
  light_s: [3, 8]
  heavy_s: [2, 6]
  light_cpu: [0.0, 0.15]
  heavy_cpu: [0.7, 1.0]
  heavy_memory_mb: 128
)",
                                    "bursts.yaml");
  const auto& segs = trace.segments();
  ASSERT_GE(segs.size(), 12u);
  double t = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    const auto& s = segs[i];
    bool heavy = i % 2 == 1;  // start_heavy: false
    double length = s.t1 - s.t0;
    EXPECT_DOUBLE_EQ(s.t0, t) << i;
    EXPECT_EQ(s.from.cpu, s.to.cpu);
    if (heavy) {
      EXPECT_GE(length, 2.0);
      EXPECT_LE(length, 6.0);
      EXPECT_GE(s.from.cpu, 0.7);
      EXPECT_DOUBLE_EQ(s.from.memory_mb, 128);
    } else {
      EXPECT_GE(length, 3.0);
      EXPECT_LE(length, 8.0);
      EXPECT_LE(s.from.cpu, 0.15);
      EXPECT_DOUBLE_EQ(s.from.memory_mb, 0);
    }
    t = s.t1;
  }
  EXPECT_GE(t, 100.0);
}

TEST(LoadTrace, ShippedTracesLoad) {
  auto idle = LoadTrace::from_file(traces_dir() + "/idle.yaml");
  for (double t = 0; t < 70; t += 1) EXPECT_EQ(idle.at(t).cpu, 0.0);

  auto ramp = LoadTrace::from_file(traces_dir() + "/ramp.yaml");
  EXPECT_DOUBLE_EQ(ramp.duration_s(), 60);
  EXPECT_DOUBLE_EQ(ramp.at(0).cpu, 0);
  EXPECT_DOUBLE_EQ(ramp.at(15).cpu, 0.5);
  EXPECT_DOUBLE_EQ(ramp.at(30).cpu, 1);
  EXPECT_DOUBLE_EQ(ramp.at(60).cpu, 0);

  auto random = LoadTrace::from_file(traces_dir() + "/random.yaml");
  EXPECT_EQ(random.name(), "random");
  EXPECT_DOUBLE_EQ(random.duration_s(), 120);

  auto user = LoadTrace::from_file(traces_dir() + "/user_activity.yaml");
  EXPECT_EQ(user.spec().kind, TraceKind::kBursts);
  double heavy_s = 0, light_s = 0;
  for (const auto& s : user.segments()) {
    (s.from.cpu >= 0.7 ? heavy_s : light_s) += s.t1 - s.t0;
  }
  EXPECT_GT(heavy_s, 20);
  EXPECT_GT(light_s, 20);
  EXPECT_TRUE(user.spec().repeat);
}

TEST(LoadTrace, ErrorsNameTheFileAndKey) {
  testing::TempDir dir;
  auto write = [&](const std::string& text) {
    return dir.write("bad.yaml", text);
  };
  std::string path = write(
      "kind: ramp\npoints:\n  - {t_s: 5, cpu: 0}\n"
      "  - {t_s: 2, cpu: 1}\n");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError,
                    path + ": points[1].t_s: must be > points[0].t_s");

  path = write("kind: steps\nsteps:\n  - {duration_s: 1, cpu: 1.5}\n");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError, "steps[0].cpu");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError, "bad.yaml:3");

  path = write("kind: random\nduration_s: 5\nrandom: {cpu: [0.8, 0.2]}\n");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError,
                    "random.cpu: expected [lo, hi]");

  path = write("kind: random\nrandom: {hold_s: 1}\n");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError,
                    "duration_s: must be > 0 for kind: random");

  path = write("kind: steps\nsteps: [{duration_s: 1}]\nbursts: {}\n");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError,
                    "bursts: only for kind: bursts");

  path = write("kind: wave\n");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError, "kind");

  path = write("kind: steps\n");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError,
                    "steps: needs at least one step");

  path = write("kind: bursts\nduration_s: 10\nbursts: {heavy_cpu: [0.5]}\n");
  EXPECT_THROW_WITH(LoadTrace::from_file(path), ConfigError,
                    "bursts.heavy_cpu");

  EXPECT_THROW_WITH(LoadTrace::from_file(dir.file("missing.yaml")), ConfigError,
                    "missing.yaml");
}

// `--trace FILE` reads YAML a user hands in: an alias bomb there is refused
// by name, within bounded memory (an address-space limit in a forked child;
// a loader that expanded the aliases would end in std::bad_alloc there).
TEST(LoadTrace, AliasBombIsRefusedWithinBoundedMemory) {
  testing::TempDir dir;
  const std::string path = dir.write(
      "bomb.yaml", "kind: steps\n" + testing::billion_laughs("steps"));
  ASSERT_LT(std::filesystem::file_size(path), 600u);
  const std::string needle = "once YAML aliases are expanded";
  auto refused_in_bounds = [&](const std::function<void()>& load,
                               const std::string& source) {
    const auto run = testing::run_with_address_limit(size_t(512) << 20, [&] {
      try {
        load();
      } catch (const ConfigError& e) {
        const std::string what = e.what();
        if (what.find(needle) != std::string::npos &&
            what.find(source) != std::string::npos) {
          return 0;
        }
        throw;  // its message comes back in run.message
      }
      return 6;  // accepted
    });
    EXPECT_EQ(run.status, 0) << (run.status == testing::kBadAlloc
                                     ? "ran out of its address-space limit"
                                     : "status " + std::to_string(run.status))
                             << " " << run.message;
  };
  refused_in_bounds([&] { LoadTrace::from_file(path); }, path);
  refused_in_bounds(
      [&] { LoadTrace::from_yaml(core::read_file(path), "inline trace"); },
      "inline trace");
}

}  // namespace
}  // namespace adascale::harness
