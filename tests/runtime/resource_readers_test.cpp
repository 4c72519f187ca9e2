#include "runtime/resource_readers.h"

#include <gtest/gtest.h>

#include <string>

#include "runtime/nvml_gpu.h"
#include "runtime/system_sampler.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

using adascale::testing::TempDir;

// A fake system under a test directory: proc/, cgroup/, cpu/.
SystemPaths fake_paths(const TempDir& dir) {
  SystemPaths p;
  p.proc = dir.file("proc");
  p.cgroup = dir.file("cgroup");
  p.cpu = dir.file("cpu");
  return p;
}

TEST(ResourceReaders, ParsesMeminfo) {
  TempDir dir;
  auto paths = fake_paths(dir);
  dir.write("proc/meminfo",
            "MemTotal:        1000 kB\n"
            "MemFree:          100 kB\n"
            "MemAvailable:     250 kB\n"
            "Buffers:           10 kB\n"
            "Cached:            50 kB\n"
            "SwapCached:         0 kB\n");
  EXPECT_NEAR(*read_meminfo_utilization(paths), 0.75, 1e-12);
  EXPECT_NEAR(*read_memory_utilization(paths), 0.75, 1e-12);

  // Old kernels: no MemAvailable, so MemFree + Buffers + Cached.
  dir.write("proc/meminfo",
            "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\n"
            "Cached: 90 kB\nSwapCached: 500 kB\n");
  EXPECT_NEAR(*read_meminfo_utilization(paths), 0.8, 1e-12);

  dir.write("proc/meminfo", "MemTotal: lots\nMemAvailable: 10 kB\n");
  EXPECT_FALSE(read_meminfo_utilization(paths).has_value());
  dir.write("proc/meminfo", "MemAvailable: 10 kB\n");
  EXPECT_FALSE(read_meminfo_utilization(paths).has_value());
}

TEST(ResourceReaders, CgroupMemoryLimitWinsWhenTighter) {
  TempDir dir;
  auto paths = fake_paths(dir);
  dir.write("proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 750 kB\n");
  dir.write("cgroup/memory.max", "1000000\n");
  dir.write("cgroup/memory.current", "800000\n");
  // Without memory.stat, all of memory.current counts.
  EXPECT_NEAR(*read_cgroup_memory_utilization(paths), 0.8, 1e-12);
  // Inactive page cache is reclaimable: the working set is 600000.
  dir.write("cgroup/memory.stat",
            "anon 500000\nfile 300000\ninactive_file 200000\n"
            "active_file 100000\n");
  EXPECT_NEAR(*read_cgroup_memory_utilization(paths), 0.6, 1e-12);
  EXPECT_NEAR(*read_memory_utilization(paths), 0.6, 1e-12);

  // The machine is the tighter one now.
  dir.write("cgroup/memory.current", "300000\n");
  EXPECT_NEAR(*read_memory_utilization(paths), 0.25, 1e-12);

  // No limit: the cgroup says nothing, the machine figure stands.
  dir.write("cgroup/memory.max", "max\n");
  EXPECT_FALSE(read_cgroup_memory_utilization(paths).has_value());
  EXPECT_NEAR(*read_memory_utilization(paths), 0.25, 1e-12);
}

TEST(ResourceReaders, CpuMaxGivesCoresOrNothing) {
  TempDir dir;
  auto paths = fake_paths(dir);
  EXPECT_FALSE(read_cpu_quota_cores(paths).has_value());  // no file
  dir.write("cgroup/cpu.max", "max 100000\n");
  EXPECT_FALSE(read_cpu_quota_cores(paths).has_value());
  dir.write("cgroup/cpu.max", "200000 100000\n");
  EXPECT_DOUBLE_EQ(*read_cpu_quota_cores(paths), 2.0);
  dir.write("cgroup/cpu.max", "150000\n");  // period defaults to 100 ms
  EXPECT_DOUBLE_EQ(*read_cpu_quota_cores(paths), 1.5);
  dir.write("cgroup/cpu.max", "garbage\n");
  EXPECT_FALSE(read_cpu_quota_cores(paths).has_value());
}

TEST(ResourceReaders, AncestorLimitsOfOwnCgroupApply) {
  TempDir dir;
  auto paths = fake_paths(dir);
  // cgroup v1 lines are ignored; the v2 "0::" line names the cgroup.
  dir.write("proc/self/cgroup", "4:memory:/elsewhere\n0::/app/job\n");
  dir.write("cgroup/app/memory.max", "1000\n");
  dir.write("cgroup/app/memory.current", "900\n");
  dir.write("cgroup/app/cpu.max", "50000 100000\n");
  dir.write("cgroup/app/job/memory.max", "max\n");
  dir.write("cgroup/app/job/memory.current", "500\n");
  dir.write("cgroup/app/job/cpu.max", "200000 100000\n");
  EXPECT_EQ(cgroup_directory(paths), dir.file("cgroup/app/job"));
  EXPECT_NEAR(*read_cgroup_memory_utilization(paths), 0.9, 1e-12);
  EXPECT_DOUBLE_EQ(*read_cpu_quota_cores(paths), 0.5);

  // A cgroup path that does not exist under the mount (another namespace)
  // falls back to the mount root.
  dir.write("proc/self/cgroup", "0::/not/here\n");
  EXPECT_EQ(cgroup_directory(paths), dir.file("cgroup"));
  dir.write("proc/self/cgroup", "0::/../app\n");
  EXPECT_EQ(cgroup_directory(paths), dir.file("cgroup"));
}

TEST(ResourceReaders, CpufreqClocksInMhz) {
  TempDir dir;
  auto paths = fake_paths(dir);
  EXPECT_FALSE(read_cpu_clock_mhz(paths).has_value());
  EXPECT_FALSE(read_cpu_max_clock_mhz(paths).has_value());
  dir.write("cpu/cpu0/cpufreq/scaling_cur_freq", "2400000\n");
  dir.write("cpu/cpu0/cpufreq/cpuinfo_max_freq", "3500000\n");
  EXPECT_DOUBLE_EQ(*read_cpu_clock_mhz(paths), 2400.0);
  EXPECT_DOUBLE_EQ(*read_cpu_max_clock_mhz(paths), 3500.0);
}

TEST(ResourceReaders, CpuTimesFromFakeProcStat) {
  TempDir dir;
  auto paths = fake_paths(dir);
  EXPECT_FALSE(read_cpu_times(paths).valid);
  // comm holds ") " to check the fields are counted after the last ')'.
  auto self = [&](int utime, int stime) {
    dir.write("proc/self/stat",
              "4242 (odd) name) S 1 4242 4242 0 -1 4194304 100 0 0 0 " +
                  std::to_string(utime) + " " + std::to_string(stime) +
                  " 0 0 20 0 3 0 12345\n");
  };
  // user nice system idle iowait irq softirq steal guest guest_nice
  dir.write("proc/stat",
            "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n");
  EXPECT_FALSE(read_cpu_times(paths).valid);  // no self/stat yet
  self(30, 10);
  core::CpuTimes a = read_cpu_times(paths);
  ASSERT_TRUE(a.valid);
  EXPECT_EQ(a.busy, 150u);
  EXPECT_EQ(a.total, 1000u);
  EXPECT_EQ(a.self, 40u);

  // 100 ticks later: 90 busy (70 of them ours), 10 idle.
  dir.write("proc/stat", "cpu  160 5 75 805 55 0 0 0 0 0\n");
  self(60, 50);
  core::CpuTimes b = read_cpu_times(paths);
  ASSERT_TRUE(b.valid);
  EXPECT_NEAR(core::cpu_utilization(a, b), 0.9, 1e-12);
  EXPECT_NEAR(core::background_load(a, b), 0.2, 1e-12);

  dir.write("proc/stat", "cpu  1 2 3\n");
  EXPECT_FALSE(read_cpu_times(paths).valid);
}

TEST(ResourceReaders, MissingSourcesAreAbsentNotZero) {
  TempDir dir;
  SystemSampler sampler(fake_paths(dir), /*gpu=*/false);
  ResourceSample s = sampler.sample();
  EXPECT_GT(s.timestamp, 0);
  EXPECT_FALSE(s.cpu_utilization.has_value());
  EXPECT_FALSE(s.background_load.has_value());
  EXPECT_FALSE(s.memory_utilization.has_value());
  EXPECT_FALSE(s.cpu_quota_cores.has_value());
  EXPECT_FALSE(s.cpu_clock_mhz.has_value());
  EXPECT_FALSE(s.cpu_max_clock_mhz.has_value());
  EXPECT_FALSE(s.gpu_utilization.has_value());

  NvmlGpu gpu(0, "libadascale-no-such-nvml.so.1");
  EXPECT_FALSE(gpu.available());
  EXPECT_FALSE(gpu.utilization().has_value());
}

// Writes the machine's (proc/stat) and this process's (proc/self/stat) CPU
// ticks into a fake tree: `busy` split into user and system, `idle` into
// idle and iowait, `self` into utime and stime.
void write_cpu_ticks(const TempDir& dir, int busy, int idle, int self) {
  dir.write("proc/stat", "cpu  " + std::to_string(busy - busy / 3) + " 0 " +
                             std::to_string(busy / 3) + " " +
                             std::to_string(idle - idle / 5) + " " +
                             std::to_string(idle / 5) + " 0 0 0 0 0\n");
  dir.write("proc/self/stat",
            "4242 (bench) S 1 4242 4242 0 -1 4194304 100 0 0 0 " +
                std::to_string(self - self / 4) + " " +
                std::to_string(self / 4) + " 0 0 20 0 3 0 12345\n");
}

// Was: busy-loop 60 ms, then the real machine's utilisation within [0, 1].
// Now: the sampler on a fake tree whose ticks the test advances, so the
// figures are exact: each is the delta since the previous call, absent
// when no tick passed, and every other source is read through the same
// paths.
TEST(ResourceReaders, SamplerTakesCpuDeltasBetweenCalls) {
  TempDir dir;
  auto paths = fake_paths(dir);
  write_cpu_ticks(dir, /*busy=*/150, /*idle=*/850, /*self=*/40);
  dir.write("proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 600 kB\n");
  dir.write("cgroup/cpu.max", "150000 100000\n");
  dir.write("cpu/cpu0/cpufreq/scaling_cur_freq", "1800000\n");
  dir.write("cpu/cpu0/cpufreq/cpuinfo_max_freq", "3000000\n");
  SystemSampler sampler(paths, /*gpu=*/false);  // first snapshot: now

  // 100 ticks later: 90 busy, 70 of them ours.
  write_cpu_ticks(dir, 240, 860, 110);
  ResourceSample s = sampler.sample();
  ASSERT_TRUE(s.cpu_utilization.has_value());
  EXPECT_NEAR(*s.cpu_utilization, 0.9, 1e-12);
  ASSERT_TRUE(s.background_load.has_value());
  EXPECT_NEAR(*s.background_load, 0.2, 1e-12);
  EXPECT_NEAR(*s.memory_utilization, 0.4, 1e-12);
  EXPECT_DOUBLE_EQ(*s.cpu_quota_cores, 1.5);
  EXPECT_DOUBLE_EQ(*s.cpu_clock_mhz, 1800.0);
  EXPECT_DOUBLE_EQ(*s.cpu_max_clock_mhz, 3000.0);
  EXPECT_FALSE(s.gpu_utilization.has_value());

  // No tick since: no CPU figure rather than 0 (or a stale one).
  ResourceSample still = sampler.sample();
  EXPECT_FALSE(still.cpu_utilization.has_value());
  EXPECT_FALSE(still.background_load.has_value());
  EXPECT_TRUE(still.memory_utilization.has_value());
  EXPECT_GE(still.timestamp, s.timestamp);

  // 200 more ticks, 50 busy, none ours: relative to the last snapshot
  // that had ticks, not to the first.
  write_cpu_ticks(dir, 290, 1010, 110);
  ResourceSample next = sampler.sample();
  ASSERT_TRUE(next.cpu_utilization.has_value());
  EXPECT_NEAR(*next.cpu_utilization, 0.25, 1e-12);
  EXPECT_NEAR(*next.background_load, 0.25, 1e-12);
}

// The real machine's files parse; no figure is asserted that depends on
// how busy it is.
TEST(ResourceReaders, SamplerReadsTheRealMachine) {
  core::CpuTimes a = read_cpu_times();
  core::CpuTimes b = read_cpu_times();
  ASSERT_TRUE(a.valid);
  ASSERT_TRUE(b.valid);
  EXPECT_LE(a.busy, a.total);
  EXPECT_LE(a.total, b.total);  // counters only grow
  EXPECT_LE(a.self, b.self);

  SystemSampler sampler;  // real /proc, /sys; NVML if loadable
  ResourceSample s = sampler.sample();
  EXPECT_GT(s.timestamp, 0);
  ASSERT_TRUE(s.memory_utilization.has_value());
  EXPECT_GT(*s.memory_utilization, 0.0);
  EXPECT_LT(*s.memory_utilization, 1.0);
}

}  // namespace
}  // namespace adascale::runtime
