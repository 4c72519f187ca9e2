#include "runtime/resource_readers.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "core/proc_files.h"

namespace adascale::runtime {

namespace fs = std::filesystem;

namespace {

using core::keyed_number;
using core::parse_unsigned;
using core::split_words;
using core::trim;

std::optional<std::string> read_text(const fs::path& path) {
  return core::read_text_file(path.string());
}

std::string_view first_line(std::string_view text) {
  return text.substr(0, text.find('\n'));
}

// This process's cgroup and every ancestor up to the mount root, innermost
// first: a limit on any of them applies.
std::vector<fs::path> cgroup_levels(const SystemPaths& paths) {
  const fs::path root(paths.cgroup);
  fs::path dir(cgroup_directory(paths));
  fs::path rel = dir.lexically_relative(root);
  std::vector<fs::path> levels;
  if (!rel.empty() && rel != ".") {
    for (fs::path p = rel; !p.empty(); p = p.parent_path())
      levels.push_back(root / p);
  }
  levels.push_back(root);
  return levels;
}

}  // namespace

core::CpuTimes read_cpu_times(const SystemPaths& paths) {
  return core::read_cpu_times(paths.proc);
}

std::optional<double> read_meminfo_utilization(const SystemPaths& paths) {
  auto mem = core::read_meminfo(paths.proc);
  if (!mem) return std::nullopt;
  double used = 1.0 - double(mem->available_kib) / double(mem->total_kib);
  return std::clamp(used, 0.0, 1.0);
}

std::string cgroup_directory(const SystemPaths& paths) {
  const fs::path root(paths.cgroup);
  auto text = read_text(fs::path(paths.proc) / "self" / "cgroup");
  if (!text) return root.string();
  // The cgroup v2 entry is "0::/path"; v1 lines name a controller.
  std::optional<std::string_view> path;
  for (std::string_view line : core::split_lines(*text))
    if (line.substr(0, 3) == "0::") path = trim(line.substr(3));
  if (!path) return root.string();
  fs::path rel = fs::path(std::string(*path)).relative_path();
  for (const auto& part : rel)
    if (part == "..") return root.string();
  if (rel.empty()) return root.string();
  std::error_code ec;
  if (!fs::is_directory(root / rel, ec)) return root.string();
  return (root / rel).string();
}

std::optional<double> read_cgroup_memory_utilization(const SystemPaths& paths) {
  std::optional<double> tightest;
  for (const auto& dir : cgroup_levels(paths)) {
    auto max = read_text(dir / "memory.max");
    if (!max) continue;
    auto limit = parse_unsigned(*max);  // "max": no limit here
    if (!limit) continue;
    auto current_text = read_text(dir / "memory.current");
    if (!current_text) continue;
    auto current = parse_unsigned(*current_text);
    if (!current) continue;
    // Inactive page cache counts in memory.current but is the first thing
    // reclaimed under pressure; the working set (as kubelet and `docker
    // stats` report it) is what the limit really squeezes.
    uint64_t inactive = 0;
    if (auto stat = read_text(dir / "memory.stat"))
      inactive = keyed_number(*stat, "inactive_file").value_or(0);
    uint64_t working = *current - std::min(inactive, *current);
    double used = *limit == 0 ? 1.0 : double(working) / double(*limit);
    used = std::clamp(used, 0.0, 1.0);
    tightest = std::max(tightest.value_or(0.0), used);
  }
  return tightest;
}

std::optional<double> read_memory_utilization(const SystemPaths& paths) {
  auto machine = read_meminfo_utilization(paths);
  auto cgroup = read_cgroup_memory_utilization(paths);
  if (machine && cgroup) return std::max(*machine, *cgroup);
  return machine ? machine : cgroup;
}

std::optional<double> read_cpu_quota_cores(const SystemPaths& paths) {
  std::optional<double> tightest;
  for (const auto& dir : cgroup_levels(paths)) {
    auto text = read_text(dir / "cpu.max");
    if (!text) continue;
    auto words = split_words(trim(first_line(*text)));
    if (words.empty() || words[0] == "max") continue;
    auto quota = parse_unsigned(words[0]);
    // The period defaults to 100 ms when only the quota was written.
    auto period = words.size() > 1 ? parse_unsigned(words[1])
                                   : std::optional<uint64_t>(100000);
    if (!quota || !period || *period == 0) continue;
    double cores = double(*quota) / double(*period);
    tightest = std::min(tightest.value_or(cores), cores);
  }
  return tightest;
}

std::optional<double> read_cpu_clock_mhz(const SystemPaths& paths) {
  return core::read_cpufreq_mhz("scaling_cur_freq", 0, paths.cpu);
}

std::optional<double> read_cpu_max_clock_mhz(const SystemPaths& paths) {
  return core::read_cpufreq_mhz("cpuinfo_max_freq", 0, paths.cpu);
}

}  // namespace adascale::runtime
