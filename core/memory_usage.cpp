#include "core/memory_usage.h"

#include <cstdio>
#include <string>

#include "core/proc_files.h"

namespace adascale::core {
namespace {

int64_t status_bytes(std::string_view key) {
  const uint64_t kib = read_self_status_kib(key).value_or(0);
  return static_cast<int64_t>(kib) * 1024;
}

}  // namespace

int64_t peak_resident_bytes() {
  return status_bytes("VmHWM");
}

bool reset_peak_resident() {
  const std::string path = std::string(kProcRoot) + "/self/clear_refs";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

int64_t resident_bytes() {
  return status_bytes("VmRSS");
}

}  // namespace adascale::core
