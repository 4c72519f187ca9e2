#include "runtime/resource_readers.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace adascale::runtime {

namespace fs = std::filesystem;

namespace {

// These files are small (the largest, meminfo and memory.stat, a few KiB),
// so each is read whole.
std::optional<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n";
  size_t begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(space);
  return s.substr(begin, end - begin + 1);
}

// The whole (trimmed) text must be one number.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
  text = trim(text);
  T value{};
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

std::string_view first_line(std::string_view text) {
  return text.substr(0, text.find('\n'));
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// The value of "key value" (memory.stat) or "Key: value kB" (meminfo) for
// `key`, whichever separator the file uses.
std::optional<uint64_t> keyed_value(std::string_view text,
                                    std::string_view key) {
  for (std::string_view line : split_lines(text)) {
    if (line.substr(0, key.size()) != key) continue;
    std::string_view rest = line.substr(key.size());
    if (!rest.empty() && rest[0] == ':') rest.remove_prefix(1);
    if (rest.empty() || (rest[0] != ' ' && rest[0] != '\t')) continue;
    auto words = split_words(rest);
    if (words.empty()) return std::nullopt;
    return parse_number<uint64_t>(words[0]);
  }
  return std::nullopt;
}

std::optional<double> khz_file_as_mhz(const fs::path& path) {
  auto text = read_text(path);
  if (!text) return std::nullopt;
  auto khz = parse_number<uint64_t>(*text);
  if (!khz || *khz == 0) return std::nullopt;
  return double(*khz) / 1000.0;
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
  auto text = read_text(fs::path(paths.proc) / "meminfo");
  if (!text) return std::nullopt;
  auto total = keyed_value(*text, "MemTotal");
  if (!total || *total == 0) return std::nullopt;
  auto available = keyed_value(*text, "MemAvailable");
  if (!available) {
    auto mem_free = keyed_value(*text, "MemFree");
    if (!mem_free) return std::nullopt;
    available = *mem_free + keyed_value(*text, "Buffers").value_or(0) +
                keyed_value(*text, "Cached").value_or(0);
  }
  double used = 1.0 - double(*available) / double(*total);
  return std::clamp(used, 0.0, 1.0);
}

std::string cgroup_directory(const SystemPaths& paths) {
  const fs::path root(paths.cgroup);
  auto text = read_text(fs::path(paths.proc) / "self" / "cgroup");
  if (!text) return root.string();
  // The cgroup v2 entry is "0::/path"; v1 lines name a controller.
  std::optional<std::string_view> path;
  for (std::string_view line : split_lines(*text))
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
    auto limit = parse_number<uint64_t>(*max);  // "max": no limit here
    if (!limit) continue;
    auto current_text = read_text(dir / "memory.current");
    if (!current_text) continue;
    auto current = parse_number<uint64_t>(*current_text);
    if (!current) continue;
    // Inactive page cache counts in memory.current but is the first thing
    // reclaimed under pressure; the working set (as kubelet and `docker
    // stats` report it) is what the limit really squeezes.
    uint64_t inactive = 0;
    if (auto stat = read_text(dir / "memory.stat"))
      inactive = keyed_value(*stat, "inactive_file").value_or(0);
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
    auto quota = parse_number<uint64_t>(words[0]);
    // The period defaults to 100 ms when only the quota was written.
    auto period = words.size() > 1 ? parse_number<uint64_t>(words[1])
                                   : std::optional<uint64_t>(100000);
    if (!quota || !period || *period == 0) continue;
    double cores = double(*quota) / double(*period);
    tightest = std::min(tightest.value_or(cores), cores);
  }
  return tightest;
}

std::optional<double> read_cpu_clock_mhz(const SystemPaths& paths) {
  return khz_file_as_mhz(fs::path(paths.cpu) / "cpu0" / "cpufreq" /
                         "scaling_cur_freq");
}

std::optional<double> read_cpu_max_clock_mhz(const SystemPaths& paths) {
  return khz_file_as_mhz(fs::path(paths.cpu) / "cpu0" / "cpufreq" /
                         "cpuinfo_max_freq");
}

}  // namespace adascale::runtime
