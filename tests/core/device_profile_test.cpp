#include "core/device_profile.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;

std::filesystem::path devices_dir() {
  auto root =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return root / "configs" / "devices";
}

const char* kProfile = R"(
name: test_board
description: a board for tests
source: made up
cpu: {cores: 4, max_clock_mhz: 2000, min_clock_mhz: 500, peak_gmacs: 64,
      active_power_w: 5, idle_power_w: 1}
memory:
  size_mib: 4096
  clock_mhz: 1600
  bandwidth_gbs: 12.8
  latency_ns: 100
  active_power_w: 1
  caches:
    - {name: l1d, size_kib: 32, latency_ns: 2, bandwidth_gbs: 30}
    - {name: l2, size_kib: 1024, latency_ns: 12, bandwidth_gbs: 15}
)";

TEST(DeviceProfile, EveryShippedProfileLoads) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(devices_dir())) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    DeviceProfile p = load_device_profile(entry.path().string());
    EXPECT_EQ(p.name, entry.path().stem().string());
    EXPECT_GT(p.cpu.peak_gmacs, 0);
    EXPECT_FALSE(p.memory.caches.empty());
    ++count;
  }
  EXPECT_GE(count, 3);  // Jetson Xavier NX, Raspberry Pi 4B, generic x86
}

TEST(DeviceProfile, GpuIsOptional) {
  auto nx =
      load_device_profile((devices_dir() / "jetson_xavier_nx.yaml").string());
  EXPECT_TRUE(nx.has_gpu());
  EXPECT_DOUBLE_EQ(nx.gpu.peak_gmacs, 422.4);
  auto pi =
      load_device_profile((devices_dir() / "raspberry_pi_4b.yaml").string());
  EXPECT_FALSE(pi.has_gpu());
}

TEST(DeviceProfile, YamlRoundTrip) {
  TempDir dir;
  for (const char* name : {"jetson_xavier_nx", "raspberry_pi_4b"}) {
    auto p = load_device_profile(
        (devices_dir() / (std::string(name) + ".yaml")).string());
    std::string path =
        dir.write(std::string(name) + ".yaml", device_profile_yaml(p));
    auto back = load_device_profile(path);
    EXPECT_EQ(device_profile_yaml(back), device_profile_yaml(p)) << name;
    EXPECT_EQ(back.has_gpu(), p.has_gpu());
    EXPECT_EQ(back.memory.caches.size(), p.memory.caches.size());
  }
}

TEST(DeviceProfile, MissingFieldsAreNamed) {
  TempDir dir;
  std::string path = dir.write("board.yaml", kProfile);
  EXPECT_NO_THROW(load_device_profile(path));
  EXPECT_THROW_WITH(load_device_profile(path, {"cpu={cores: 4}"}), ConfigError,
                    "cpu.max_clock_mhz: missing");
  EXPECT_THROW_WITH(load_device_profile(path, {"memory.caches=[]"}),
                    ConfigError, "memory.caches: missing");
  EXPECT_THROW_WITH(
      load_device_profile(path, {"gpu={cores: 384, max_clock_mhz: 1100}"}),
      ConfigError, "gpu.min_clock_mhz: missing");
  EXPECT_THROW_WITH(
      load_device_profile(path, {"memory.caches=[{name: l1, size_kib: 32}]"}),
      ConfigError, "memory.caches[0].latency_ns: missing");
  // The message names the file.
  EXPECT_THROW_WITH(load_device_profile(path, {"cpu={cores: 4}"}), ConfigError,
                    path);
}

TEST(DeviceProfile, NonPositiveAndInconsistentValuesAreRefused) {
  TempDir dir;
  std::string path = dir.write("board.yaml", kProfile);
  EXPECT_THROW_WITH(load_device_profile(path, {"cpu.peak_gmacs=0"}),
                    ConfigError, "cpu.peak_gmacs: must be > 0");
  EXPECT_THROW_WITH(load_device_profile(path, {"memory.bandwidth_gbs=-3"}),
                    ConfigError, "memory.bandwidth_gbs: must be > 0");
  EXPECT_THROW_WITH(load_device_profile(path, {"cpu.peak_gmacs=fast"}),
                    ConfigError, "expected a number, got 'fast'");
  EXPECT_THROW_WITH(load_device_profile(path, {"cpu.min_clock_mhz=3000"}),
                    ConfigError, "above max_clock_mhz");
  EXPECT_THROW_WITH(load_device_profile(path, {"cpu.idle_power_w=9"}),
                    ConfigError, "above active_power_w");
  EXPECT_THROW_WITH(load_device_profile(path, {"memory.caches.1.latency_ns=1"}),
                    ConfigError, "below the inner level l1d");
  EXPECT_THROW_WITH(
      load_device_profile(path, {"memory.caches.1.latency_ns=100"}),
      ConfigError, "not below the DRAM latency");
  EXPECT_THROW_WITH(load_device_profile(path, {"name=Test Board"}), ConfigError,
                    "name: expected lower-case");
  EXPECT_THROW_WITH(load_device_profile(path, {"cpu.turbo=true"}), ConfigError,
                    "cpu.turbo: unknown key");
}

}  // namespace
}  // namespace adascale::core
