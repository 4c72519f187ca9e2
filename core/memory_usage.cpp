#include "core/memory_usage.h"

#include <cstdio>
#include <cstring>

namespace adascale::core {
namespace {

// Reads one "Key:   1234 kB" line of /proc/self/status. Plain stdio keeps
// this usable where exceptions or allocation are unwelcome.
int64_t status_kib(const char* key) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  size_t key_len = std::strlen(key);
  char line[256];
  int64_t kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, key, key_len) != 0 || line[key_len] != ':') {
      continue;
    }
    long long value = 0;
    if (std::sscanf(line + key_len + 1, "%lld", &value) == 1 && value > 0) {
      kib = value;
    }
    break;
  }
  std::fclose(f);
  return kib;
}

}  // namespace

int64_t peak_resident_bytes() {
  return status_kib("VmHWM") * 1024;
}

bool reset_peak_resident() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

int64_t resident_bytes() {
  return status_kib("VmRSS") * 1024;
}

}  // namespace adascale::core
