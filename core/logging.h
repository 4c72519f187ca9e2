#pragma once
/// One logging wrapper for the whole library (spdlog underneath): levels,
/// timestamps, stderr always, plus a run's `log.txt` once a run opens it.
/// Library code logs here and never prints.

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace adascale::log {

/// Log levels, least to most severe.
enum class Level { kDebug, kInfo, kWarn, kError, kOff };

/// Parses "debug|info|warn|error|off"; throws ConfigError otherwise.
Level parse_level(std::string_view text);

/// Sets the threshold of every sink.
void set_level(Level level);

/// Also writes every message to `path` (appending). Throws IoError.
void add_file_sink(const std::string& path);

/// Removes file sinks (a run closed); stderr stays.
void remove_file_sinks();

/// The shared logger; use the helpers below instead where possible.
spdlog::logger& logger();

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  logger().debug(f, std::forward<Args>(args)...);
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  logger().info(f, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  logger().warn(f, std::forward<Args>(args)...);
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  logger().error(f, std::forward<Args>(args)...);
}

}  // namespace adascale::log
