#pragma once
/// Routes the shared logger (core/logging.h) into a string while a
/// LogCapture lives: level info, each message bare on its own line. The
/// logger's sinks and level are restored afterwards.

#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/logging.h"

namespace adascale::testing {

class LogCapture {
 public:
  LogCapture() : saved_sinks_(log::logger().sinks()) {
    saved_level_ = log::logger().level();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    sink->set_pattern("%v");
    log::logger().sinks() = {sink};
    log::logger().set_level(spdlog::level::info);
  }
  ~LogCapture() {
    log::logger().sinks() = saved_sinks_;
    log::logger().set_level(saved_level_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  /// Everything logged so far.
  std::string text() const {
    log::logger().flush();
    return stream_.str();
  }
  /// The messages logged so far, one per line.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(text());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::ostringstream stream_;
  std::vector<spdlog::sink_ptr> saved_sinks_;
  spdlog::level::level_enum saved_level_;
};

}  // namespace adascale::testing
