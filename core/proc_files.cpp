#include "core/proc_files.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace adascale::core {

namespace fs = std::filesystem;

namespace {

std::string join(const std::string& root, std::string_view rest) {
  return (fs::path(root) / fs::path(std::string(rest))).string();
}

}  // namespace

std::optional<std::string> read_text_file(const std::string& path) {
  // These files are a few KiB at most (meminfo, memory.stat), so each is
  // read whole.
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

std::optional<std::string> read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
    line.pop_back();
  return line;
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

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n";
  size_t begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(space);
  return s.substr(begin, end - begin + 1);
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

std::optional<uint64_t> parse_unsigned(std::string_view text) {
  text = trim(text);
  uint64_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

std::optional<std::string> keyed_field(std::string_view text,
                                       std::string_view key) {
  if (key.empty()) return std::nullopt;
  for (std::string_view line : split_lines(text)) {
    if (line.substr(0, key.size()) != key) continue;
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      // "key: value"; the key may be padded ("cpu MHz\t\t: 2400.000").
      if (trim(line.substr(0, colon)) != key) continue;
      return std::string(trim(line.substr(colon + 1)));
    }
    // "key value": the key must end at a space or tab.
    std::string_view rest = line.substr(key.size());
    if (rest.empty() || (rest[0] != ' ' && rest[0] != '\t')) continue;
    return std::string(trim(rest));
  }
  return std::nullopt;
}

std::optional<uint64_t> keyed_number(std::string_view text,
                                     std::string_view key) {
  auto value = keyed_field(text, key);
  if (!value) return std::nullopt;
  auto words = split_words(*value);
  if (words.empty()) return std::nullopt;
  return parse_unsigned(words[0]);
}

std::optional<StatCpuTicks> read_stat_cpu_ticks(const std::string& proc_root) {
  auto line = read_first_line(join(proc_root, "stat"));
  if (!line) return std::nullopt;
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice";
  // guest time is already inside user and nice.
  auto words = split_words(*line);
  if (words.size() < 8 || words[0] != "cpu") return std::nullopt;
  uint64_t v[7] = {};  // user nice system idle iowait irq softirq
  for (size_t i = 0; i < 7; ++i) {
    auto n = parse_unsigned(words[i + 1]);
    if (!n) return std::nullopt;
    v[i] = *n;
  }
  // steal: absent on very old kernels.
  const uint64_t steal =
      words.size() > 8 ? parse_unsigned(words[8]).value_or(0) : 0;
  StatCpuTicks t;
  t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + steal;
  t.total = t.busy + v[3] + v[4];
  return t;
}

std::optional<uint64_t> read_self_cpu_ticks(const std::string& proc_root) {
  auto line = read_first_line(join(proc_root, "self/stat"));
  if (!line) return std::nullopt;
  // Field 2 is "(comm)", which may hold spaces and ')': count the fields
  // after the last ')'. utime and stime are fields 14 and 15.
  const size_t close = line->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  auto words = split_words(std::string_view(*line).substr(close + 1));
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3;  // words start at 3
  if (words.size() <= kStime) return std::nullopt;
  auto utime = parse_unsigned(words[kUtime]);
  auto stime = parse_unsigned(words[kStime]);
  if (!utime || !stime) return std::nullopt;
  return *utime + *stime;
}

std::optional<MemInfo> read_meminfo(const std::string& proc_root) {
  auto text = read_text_file(join(proc_root, "meminfo"));
  if (!text) return std::nullopt;
  auto total = keyed_number(*text, "MemTotal");
  if (!total || *total == 0) return std::nullopt;
  auto available = keyed_number(*text, "MemAvailable");
  if (!available) {
    auto mem_free = keyed_number(*text, "MemFree");
    if (!mem_free) return std::nullopt;
    available = *mem_free + keyed_number(*text, "Buffers").value_or(0) +
                keyed_number(*text, "Cached").value_or(0);
  }
  return MemInfo{*total, *available};
}

std::optional<uint64_t> read_self_status_kib(std::string_view key,
                                             const std::string& proc_root) {
  auto text = read_text_file(join(proc_root, "self/status"));
  if (!text) return std::nullopt;
  return keyed_number(*text, key);
}

std::optional<std::string> read_cpuinfo_field(std::string_view key,
                                              const std::string& proc_root) {
  auto text = read_text_file(join(proc_root, "cpuinfo"));
  if (!text) return std::nullopt;
  return keyed_field(*text, key);
}

std::optional<double> read_cpufreq_mhz(std::string_view file, int cpu,
                                       const std::string& cpu_root) {
  const fs::path path = fs::path(cpu_root) / ("cpu" + std::to_string(cpu)) /
                        "cpufreq" / std::string(file);
  auto text = read_text_file(path.string());
  if (!text) return std::nullopt;
  auto khz = parse_unsigned(*text);
  if (!khz || *khz == 0) return std::nullopt;
  return double(*khz) / 1000.0;
}

std::optional<int64_t> parse_cache_size(std::string_view text) {
  text = trim(text);
  int64_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || value <= 0) return std::nullopt;
  std::string_view suffix = text.substr(size_t(end - text.data()));
  if (suffix.empty()) return value;
  switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
    case 'K':
      return value * 1024;
    case 'M':
      return value * 1024 * 1024;
    case 'G':
      return value * 1024 * 1024 * 1024;
  }
  return std::nullopt;
}

std::vector<SysfsCache> read_sysfs_caches(const std::string& cache_dir) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (fs::directory_iterator it(cache_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().filename().string().rfind("index", 0) == 0)
      dirs.push_back(it->path());
  }
  std::sort(dirs.begin(), dirs.end());
  std::vector<SysfsCache> caches;
  for (const auto& dir : dirs) {
    auto level = read_first_line((dir / "level").string());
    auto type = read_first_line((dir / "type").string());
    auto size = read_first_line((dir / "size").string());
    if (!level || !type || !size) continue;
    auto l = parse_unsigned(*level);
    auto bytes = parse_cache_size(*size);
    if (!l || *l == 0 || *l > 16 || !bytes) continue;
    caches.push_back({int(*l), *type, *bytes});
  }
  return caches;
}

}  // namespace adascale::core
