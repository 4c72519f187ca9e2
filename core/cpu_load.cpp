#include "core/cpu_load.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/proc_files.h"

namespace adascale::core {

CpuTimes read_cpu_times(const std::string& proc_root) {
  CpuTimes t;
  auto machine = read_stat_cpu_ticks(proc_root);
  if (!machine) return t;
  t.busy = machine->busy;
  t.total = machine->total;
  auto self = read_self_cpu_ticks(proc_root);
  if (!self) return t;
  t.self = *self;
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
