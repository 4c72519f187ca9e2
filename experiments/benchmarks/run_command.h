#pragma once
/// Runs a shell command and returns its stdout: how a benchmark runs its
/// Python counterpart in the same run.

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include "core/error.h"

namespace adascale::bench {

/// stdout of `cmd`; throws IoError when it cannot be started.
inline std::string run_command(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) throw IoError("cannot run: " + cmd);
  std::string out;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  return out;
}

}  // namespace adascale::bench
