#include "core/proc_files.h"

#include <gtest/gtest.h>

#include <string>

#include "core/cpu_load.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;

TEST(ProcFiles, KeyedFieldsOfEveryFormat) {
  const std::string meminfo =
      "MemTotal:        1000 kB\nMemFree:   100 kB\nSwapCached: 5 kB\n"
      "Cached:   50 kB\n";
  EXPECT_EQ(keyed_number(meminfo, "MemTotal"), 1000u);
  EXPECT_EQ(keyed_number(meminfo, "Cached"), 50u);  // not SwapCached
  EXPECT_EQ(keyed_field(meminfo, "MemFree"), "100 kB");
  EXPECT_FALSE(keyed_field(meminfo, "Mem").has_value());  // keys match whole
  EXPECT_FALSE(keyed_field(meminfo, "MemAvailable").has_value());

  const std::string status =
      "Name:\tcat\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
  EXPECT_EQ(keyed_number(status, "VmRSS"), 1024u);
  EXPECT_EQ(keyed_number(status, "VmHWM"), 2048u);
  EXPECT_FALSE(keyed_number(status, "Name").has_value());  // not a number

  const std::string cpuinfo =
      "processor\t: 0\nmodel name\t: Example CPU @ 2.40GHz\n"
      "cpu MHz\t\t: 2400.000\ncpu MHz dynamic\t: 800\n";
  EXPECT_EQ(keyed_field(cpuinfo, "model name"), "Example CPU @ 2.40GHz");
  EXPECT_EQ(keyed_field(cpuinfo, "cpu MHz"), "2400.000");

  const std::string memory_stat =
      "file 300\nfile_mapped 7\ninactive_file 200\n";
  EXPECT_EQ(keyed_number(memory_stat, "inactive_file"), 200u);
  EXPECT_EQ(keyed_number(memory_stat, "file"), 300u);
  EXPECT_FALSE(keyed_number(memory_stat, "anon").has_value());
}

TEST(ProcFiles, NumbersAndWords) {
  EXPECT_EQ(parse_unsigned(" 42\n"), 42u);
  EXPECT_FALSE(parse_unsigned("42 kB").has_value());
  EXPECT_FALSE(parse_unsigned("-1").has_value());
  EXPECT_FALSE(parse_unsigned("max").has_value());
  EXPECT_FALSE(parse_unsigned("").has_value());
  EXPECT_EQ(split_words(" a\tbb  c ").size(), 3u);
  EXPECT_EQ(split_lines("a\nb\n").size(), 2u);
  EXPECT_EQ(trim(" \tx y\r\n"), "x y");
  EXPECT_EQ(parse_cache_size("32K"), 32 * 1024);
  EXPECT_EQ(parse_cache_size("1M\n"), 1024 * 1024);
  EXPECT_EQ(parse_cache_size("4096"), 4096);
  EXPECT_FALSE(parse_cache_size("K").has_value());
  EXPECT_FALSE(parse_cache_size("32X").has_value());
  EXPECT_FALSE(parse_cache_size("0K").has_value());
}

TEST(ProcFiles, StatAndSelfStatGiveCpuTicks) {
  TempDir dir;
  const std::string proc = dir.file("proc");
  EXPECT_FALSE(read_stat_cpu_ticks(proc).has_value());  // no file
  dir.write("proc/stat",
            "cpu  100 10 50 800 40 5 3 2 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n");
  auto t = read_stat_cpu_ticks(proc);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->busy, 100u + 10 + 50 + 5 + 3 + 2);
  EXPECT_EQ(t->total, t->busy + 800 + 40);
  // Very old kernels: no steal column.
  dir.write("proc/stat", "cpu 100 10 50 800 40 5 3\n");
  EXPECT_EQ(read_stat_cpu_ticks(proc)->busy, 168u);
  dir.write("proc/stat", "cpu 100 10 50\n");
  EXPECT_FALSE(read_stat_cpu_ticks(proc).has_value());
  dir.write("proc/stat", "intr 100 10 50 800 40 5 3 2\n");
  EXPECT_FALSE(read_stat_cpu_ticks(proc).has_value());

  // A command name with spaces and ')' must not shift the fields.
  dir.write("proc/self/stat",
            "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 70 30 0 0 20 0 1\n");
  EXPECT_EQ(read_self_cpu_ticks(proc), 100u);
  dir.write("proc/self/stat", "1234 (x) S 1 2 3 4 5 6 7 8 9 10 70\n");
  EXPECT_FALSE(read_self_cpu_ticks(proc).has_value());  // truncated

  // cpu_load.h's snapshot is these two together.
  dir.write("proc/stat", "cpu 100 10 50 800 40 5 3\n");
  dir.write("proc/self/stat",
            "1234 (x) S 1 2 3 4 5 6 7 8 9 10 70 30 0 0 20 0 1\n");
  CpuTimes times = read_cpu_times(proc);
  EXPECT_TRUE(times.valid);
  EXPECT_EQ(times.busy, 168u);
  EXPECT_EQ(times.self, 100u);
}

TEST(ProcFiles, MeminfoWithAndWithoutMemAvailable) {
  TempDir dir;
  const std::string proc = dir.file("proc");
  EXPECT_FALSE(read_meminfo(proc).has_value());
  dir.write("proc/meminfo",
            "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\n");
  auto m = read_meminfo(proc);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->total_kib, 1000u);
  EXPECT_EQ(m->available_kib, 250u);
  dir.write("proc/meminfo",
            "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\n"
            "Cached: 90 kB\nSwapCached: 500 kB\n");
  EXPECT_EQ(read_meminfo(proc)->available_kib, 200u);
  dir.write("proc/meminfo", "MemTotal: 0 kB\nMemAvailable: 10 kB\n");
  EXPECT_FALSE(read_meminfo(proc).has_value());
}

TEST(ProcFiles, SelfStatusAndCpuinfo) {
  TempDir dir;
  const std::string proc = dir.file("proc");
  EXPECT_FALSE(read_self_status_kib("VmRSS", proc).has_value());
  dir.write("proc/self/status",
            "Name:\tadascale\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n");
  EXPECT_EQ(read_self_status_kib("VmRSS", proc), 4096u);
  EXPECT_EQ(read_self_status_kib("VmHWM", proc), 5120u);
  EXPECT_FALSE(read_self_status_kib("VmSwap", proc).has_value());
  dir.write("proc/cpuinfo", "processor\t: 0\nHardware\t: BCM2835\n");
  EXPECT_EQ(read_cpuinfo_field("Hardware", proc), "BCM2835");
  EXPECT_FALSE(read_cpuinfo_field("model name", proc).has_value());
}

TEST(ProcFiles, CpufreqInMhzOrNothing) {
  TempDir dir;
  const std::string cpu = dir.file("cpu");
  EXPECT_FALSE(read_cpufreq_mhz("scaling_cur_freq", 0, cpu).has_value());
  dir.write("cpu/cpu0/cpufreq/scaling_cur_freq", "2400000\n");
  dir.write("cpu/cpu1/cpufreq/scaling_cur_freq", "800000\n");
  EXPECT_DOUBLE_EQ(*read_cpufreq_mhz("scaling_cur_freq", 0, cpu), 2400);
  EXPECT_DOUBLE_EQ(*read_cpufreq_mhz("scaling_cur_freq", 1, cpu), 800);
  dir.write("cpu/cpu0/cpufreq/cpuinfo_max_freq", "0\n");
  EXPECT_FALSE(read_cpufreq_mhz("cpuinfo_max_freq", 0, cpu).has_value());
  dir.write("cpu/cpu0/cpufreq/cpuinfo_max_freq", "<unknown>\n");
  EXPECT_FALSE(read_cpufreq_mhz("cpuinfo_max_freq", 0, cpu).has_value());
}

TEST(ProcFiles, SysfsCachesInIndexOrder) {
  TempDir dir;
  EXPECT_TRUE(read_sysfs_caches(dir.file("missing")).empty());
  auto add = [&](const std::string& index, const std::string& level,
                 const std::string& type, const std::string& size) {
    dir.write(index + "/level", level + "\n");
    dir.write(index + "/type", type + "\n");
    if (!size.empty()) dir.write(index + "/size", size + "\n");
  };
  add("index1", "1", "Instruction", "32K");
  add("index0", "1", "Data", "48K");
  add("index2", "2", "Unified", "1280K");
  add("index3", "3", "Unified", "");  // no size: skipped
  dir.write("power/level", "9\n");    // not an index entry
  auto caches = read_sysfs_caches(dir.path());
  ASSERT_EQ(caches.size(), 3u);
  EXPECT_EQ(caches[0].type, "Data");
  EXPECT_EQ(caches[0].size_bytes, 48 * 1024);
  EXPECT_EQ(caches[1].type, "Instruction");
  EXPECT_EQ(caches[2].level, 2);
  EXPECT_EQ(caches[2].size_bytes, 1280 * 1024);
}

// The real files parse wherever /proc is mounted (no figures asserted).
TEST(ProcFiles, ThisMachineReads) {
  EXPECT_TRUE(read_stat_cpu_ticks().has_value());
  EXPECT_TRUE(read_self_cpu_ticks().has_value());
  EXPECT_TRUE(read_meminfo().has_value());
  EXPECT_TRUE(read_self_status_kib("VmRSS").has_value());
}

}  // namespace
}  // namespace adascale::core
