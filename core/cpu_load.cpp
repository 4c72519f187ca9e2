#include "core/cpu_load.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace adascale::core {

CpuTimes read_cpu_times(const std::string& proc_root) {
  CpuTimes t;
  std::ifstream stat(proc_root + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return t;
  std::istringstream fields(line);
  std::string label;
  uint64_t user, nice, system, idle, iowait, irq, softirq, steal = 0;
  if (!(fields >> label >> user >> nice >> system >> idle >> iowait >> irq >>
        softirq) ||
      label != "cpu") {
    return t;
  }
  if (!(fields >> steal)) steal = 0;  // absent on very old kernels
  t.busy = user + nice + system + irq + softirq + steal;
  t.total = t.busy + idle + iowait;

  // /proc/self/stat: field 2 is "(comm)", which may contain spaces and ')',
  // so count fields after the last ')'. utime and stime are fields 14, 15.
  std::ifstream self(proc_root + "/self/stat");
  if (!std::getline(self, line)) return t;
  auto close = line.rfind(')');
  if (close == std::string::npos) return t;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  int index = 3;
  for (; index <= 15 && rest >> field; ++index) {
    if (index < 14) continue;
    char* end = nullptr;
    unsigned long long v = std::strtoull(field.c_str(), &end, 10);
    if (end == field.c_str() || *end != '\0') return t;
    (index == 14 ? utime : stime) = v;
  }
  if (index <= 15) return t;  // truncated line
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
