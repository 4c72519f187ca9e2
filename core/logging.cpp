#include "core/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "core/error.h"

namespace adascale::log {
namespace {

constexpr const char* kPattern = "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v";

std::shared_ptr<spdlog::logger> make_logger() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto lg = std::make_shared<spdlog::logger>("adascale", sink);
  lg->set_pattern(kPattern);
  lg->set_level(spdlog::level::info);
  lg->flush_on(spdlog::level::info);
  return lg;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::mutex& sinks_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> lg = make_logger();
  return *lg;
}

Level parse_level(std::string_view text) {
  if (text == "debug") return Level::kDebug;
  if (text == "info") return Level::kInfo;
  if (text == "warn") return Level::kWarn;
  if (text == "error") return Level::kError;
  if (text == "off") return Level::kOff;
  throw ConfigError("log level: expected debug|info|warn|error|off, got '" +
                    std::string(text) + "'");
}

void set_level(Level level) {
  std::lock_guard<std::mutex> lock(sinks_mutex());
  logger().set_level(to_spdlog(level));
}

void add_file_sink(const std::string& path) {
  std::lock_guard<std::mutex> lock(sinks_mutex());
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> sink;
  try {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError(path + ": cannot open log file: " + e.what());
  }
  sink->set_pattern(kPattern);
  logger().sinks().push_back(sink);
}

void remove_file_sinks() {
  std::lock_guard<std::mutex> lock(sinks_mutex());
  auto& sinks = logger().sinks();
  sinks.erase(
      std::remove_if(sinks.begin(), sinks.end(),
                     [](const spdlog::sink_ptr& s) {
                       return dynamic_cast<spdlog::sinks::basic_file_sink_mt*>(
                                  s.get()) != nullptr;
                     }),
      sinks.end());
}

}  // namespace adascale::log
