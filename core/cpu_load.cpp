#include "core/cpu_load.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace adascale::core {

CpuTimes read_cpu_times() {
  CpuTimes t;
  std::ifstream stat("/proc/stat");
  std::string label;
  uint64_t user, nice, system, idle, iowait, irq, softirq, steal = 0;
  if (!(stat >> label >> user >> nice >> system >> idle >> iowait >> irq >>
        softirq) ||
      label != "cpu") {
    return t;
  }
  stat >> steal;  // absent on very old kernels
  t.busy = user + nice + system + irq + softirq + steal;
  t.total = t.busy + idle + iowait;

  // /proc/self/stat: field 2 is "(comm)", which may contain spaces, so
  // parse after the last ')'. utime and stime are fields 14 and 15.
  std::ifstream self("/proc/self/stat");
  std::string line;
  if (!std::getline(self, line)) return t;
  auto close = line.rfind(')');
  if (close == std::string::npos) return t;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  t.self = utime + stime;
  t.valid = true;
  return t;
}

namespace {

double share(uint64_t part, const CpuTimes& a, const CpuTimes& b) {
  if (!a.valid || !b.valid || b.total <= a.total)
    return std::numeric_limits<double>::quiet_NaN();
  double s = double(part) / double(b.total - a.total);
  return std::clamp(s, 0.0, 1.0);
}

}  // namespace

double cpu_utilization(const CpuTimes& a, const CpuTimes& b) {
  return share(b.busy - std::min(a.busy, b.busy), a, b);
}

double background_load(const CpuTimes& a, const CpuTimes& b) {
  uint64_t busy = b.busy - std::min(a.busy, b.busy);
  uint64_t self = b.self - std::min(a.self, b.self);
  return share(busy - std::min(busy, self), a, b);
}

}  // namespace adascale::core
