#include "search/calibration.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/device_profile.h"
#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::search {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;

// The chase and the read sweep from L1-sized to far-beyond-cache buffers
// give finite, positive figures. How they grow with the buffer is the
// machine's (and a sanitizer build's instrumented loads change it): it is
// read off `adascale calibrate`, not asserted here, since no test asserts
// a rate.
TEST(Calibration, ChaseAndReadFromL1ToDramArePositiveAndFinite) {
  for (int64_t bytes : {8 * kKiB, 64 * kMiB}) {
    double ns = measure_chase_latency_ns(bytes, 1 << 14, 1);
    EXPECT_TRUE(std::isfinite(ns)) << bytes;
    EXPECT_GT(ns, 0.0) << bytes;
  }
  for (int64_t bytes : {16 * kKiB, 64 * kMiB}) {
    double gbs = measure_read_bandwidth_gbs(bytes, 64 * kMiB, 1);
    EXPECT_TRUE(std::isfinite(gbs)) << bytes;
    EXPECT_GT(gbs, 0.0) << bytes;
  }
}

TEST(Calibration, GemmAndBandwidthArePositiveAndFinite) {
  at::set_num_threads(1);
  double gmacs = measure_gemm_gmacs(256, 2, 1);
  EXPECT_GT(gmacs, 0.0);
  EXPECT_TRUE(std::isfinite(gmacs));
  // A 1 GHz core without SIMD still does 0.2 GMAC/s; no CPU does 10^5.
  EXPECT_GT(gmacs, 0.2);
  EXPECT_LT(gmacs, 1e5);
  double copy = measure_copy_bandwidth_gbs(16 * kMiB, 2);
  EXPECT_TRUE(std::isfinite(copy));
  EXPECT_GT(copy, 0.1);
  EXPECT_LT(copy, 1e4);
  double read = measure_read_bandwidth_gbs(16 * kKiB, 8 * kMiB, 2);
  EXPECT_TRUE(std::isfinite(read));
  EXPECT_GT(read, 0.1);
  EXPECT_LT(read, 1e4);
}

TEST(Calibration, CacheLevelsOfThisMachineGrow) {
  auto caches = read_cache_levels();
  ASSERT_FALSE(caches.empty());
  EXPECT_EQ(caches[0].level, 1);
  for (size_t i = 0; i < caches.size(); ++i) {
    EXPECT_GT(caches[i].size_bytes, 0) << caches[i].name;
    EXPECT_NE(caches[i].name.find('l'), std::string::npos);
    if (i == 0) continue;
    EXPECT_GT(caches[i].level, caches[i - 1].level);
    EXPECT_GT(caches[i].size_bytes, caches[i - 1].size_bytes) << caches[i].name;
  }
}

TEST(Calibration, CacheLevelsFromASysfsTree) {
  testing::TempDir dir;
  auto cache = [&](int index, const char* level, const char* type,
                   const char* size) {
    std::string d = "index" + std::to_string(index) + "/";
    dir.write(d + "level", std::string(level) + "\n");
    dir.write(d + "type", std::string(type) + "\n");
    dir.write(d + "size", std::string(size) + "\n");
  };
  // Out of order on purpose, an instruction cache to skip, "M" sizes.
  cache(3, "3", "Unified", "8M");
  cache(0, "1", "Data", "48K");
  cache(1, "1", "Instruction", "32K");
  cache(2, "2", "Unified", "1280K");
  auto caches = read_cache_levels(dir.path());
  ASSERT_EQ(caches.size(), 3u);
  EXPECT_EQ(caches[0].name, "l1d");
  EXPECT_EQ(caches[0].size_bytes, 48 * kKiB);
  EXPECT_EQ(caches[1].name, "l2");
  EXPECT_EQ(caches[1].size_bytes, 1280 * kKiB);
  EXPECT_EQ(caches[2].name, "l3");
  EXPECT_EQ(caches[2].size_bytes, 8 * kMiB);
}

TEST(Calibration, NoSysfsCachesFallsBackToSysconf) {
  testing::TempDir dir;  // empty: no index* entries
  std::vector<CacheInfo> caches;
  try {
    caches = read_cache_levels(dir.path());
  } catch (const IoError& e) {
    // Only acceptable where the C library knows no cache sizes either.
    EXPECT_NE(std::string(e.what()).find("cannot find the cache sizes"),
              std::string::npos);
    GTEST_SKIP() << "sysconf reports no cache sizes here";
  }
  ASSERT_FALSE(caches.empty());
  EXPECT_EQ(caches[0].name, "l1d");
  EXPECT_GT(caches[0].size_bytes, 0);
}

// What calibrate_device() copies: powers and the DRAM clock (the rest of a
// base is measured over).
core::DeviceProfile base_profile() {
  core::DeviceProfile base;
  base.name = "base";
  base.cpu = {4, 3400, 400, 217.6, 15, 2};
  base.memory.clock_mhz = 1200;
  base.memory.active_power_w = 2.0;
  return base;
}

TEST(Calibration, QuickProfileValidatesAndRoundTrips) {
  at::set_num_threads(1);
  core::DeviceProfile base = base_profile();
  CalibrationOptions options;
  options.name = "test_machine";
  options.base_label = "generic_x86.yaml";
  options.quick = true;
  options.date = "2026-11-30";
  Calibration c = calibrate_device(options, base);
  const core::DeviceProfile& p = c.profile;
  EXPECT_NO_THROW(core::validate_device_profile(p, "test"));
  EXPECT_EQ(p.name, "test_machine");
  EXPECT_FALSE(p.description.empty());
  EXPECT_EQ(p.source.rfind("adascale calibrate 2026-11-30: measured ", 0), 0u)
      << p.source;
  EXPECT_NE(p.source.find("peak_gmacs"), std::string::npos) << p.source;
  EXPECT_NE(p.source.find("memory clock"), std::string::npos) << p.source;
  EXPECT_NE(p.source.find("from generic_x86.yaml"), std::string::npos);
  EXPECT_EQ(c.threads, 1);
  // Timed, but how long it takes is for a benchmark: a bound here failed
  // on a fresh, busy machine.
  EXPECT_GT(c.seconds, 0.0);
  EXPECT_TRUE(std::isfinite(c.seconds));
  // Not measurable here: copied from the base.
  EXPECT_EQ(p.memory.clock_mhz, base.memory.clock_mhz);
  EXPECT_EQ(p.memory.active_power_w, base.memory.active_power_w);
  EXPECT_FALSE(p.has_gpu());
  // The curve doubles from 4 KiB past 4x the last cache.
  ASSERT_GE(c.latency_curve.size(), 2u);
  EXPECT_EQ(c.latency_curve.front().working_set_bytes, 4 * kKiB);
  for (size_t i = 1; i < c.latency_curve.size(); ++i) {
    EXPECT_EQ(c.latency_curve[i].working_set_bytes,
              2 * c.latency_curve[i - 1].working_set_bytes);
  }
  auto caches = read_cache_levels();
  ASSERT_EQ(p.memory.caches.size(), caches.size());
  EXPECT_GE(c.latency_curve.back().working_set_bytes,
            4 * caches.back().size_bytes);
  EXPECT_EQ(p.memory.latency_ns, c.latency_curve.back().latency_ns);

  testing::TempDir dir;
  std::string path =
      dir.write("test_machine.yaml", core::device_profile_yaml(p));
  core::DeviceProfile back = core::load_device_profile(path);
  EXPECT_EQ(back.name, p.name);
  EXPECT_EQ(back.description, p.description);
  EXPECT_EQ(back.source, p.source);
  EXPECT_EQ(back.cpu.cores, p.cpu.cores);
  EXPECT_DOUBLE_EQ(back.cpu.peak_gmacs, p.cpu.peak_gmacs);
  EXPECT_DOUBLE_EQ(back.cpu.max_clock_mhz, p.cpu.max_clock_mhz);
  EXPECT_DOUBLE_EQ(back.memory.bandwidth_gbs, p.memory.bandwidth_gbs);
  EXPECT_DOUBLE_EQ(back.memory.latency_ns, p.memory.latency_ns);
  EXPECT_DOUBLE_EQ(back.memory.size_mib, p.memory.size_mib);
  ASSERT_EQ(back.memory.caches.size(), p.memory.caches.size());
  for (size_t i = 0; i < p.memory.caches.size(); ++i) {
    EXPECT_EQ(back.memory.caches[i].name, p.memory.caches[i].name);
    EXPECT_DOUBLE_EQ(back.memory.caches[i].size_kib,
                     p.memory.caches[i].size_kib);
    EXPECT_DOUBLE_EQ(back.memory.caches[i].latency_ns,
                     p.memory.caches[i].latency_ns);
    EXPECT_DOUBLE_EQ(back.memory.caches[i].bandwidth_gbs,
                     p.memory.caches[i].bandwidth_gbs);
  }
}

}  // namespace
}  // namespace adascale::search
