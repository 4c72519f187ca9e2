#include "runtime/load_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace adascale::runtime {

void validate_load_index_weights(const LoadIndexWeights& w) {
  auto check = [](const char* field, double value) {
    if (!std::isfinite(value) || value < 0) {
      throw UsageError(fmt::format(
          "load_index.{}: weight must be a number >= 0, got {}", field, value));
    }
  };
  check("cpu", w.cpu);
  check("gpu", w.gpu);
  check("memory", w.memory);
  if (!(w.cpu > 0 || w.gpu > 0 || w.memory > 0)) {
    throw UsageError(
        "load_index: at least one of the weights cpu, gpu, memory must be > 0 "
        "(all are 0)");
  }
}

std::optional<double> load_index(const ResourceSample& sample,
                                 const LoadIndexWeights& weights) {
  validate_load_index_weights(weights);
  double sum = 0, total_weight = 0;
  auto add = [&](const std::optional<double>& u, double w) {
    if (!u || !std::isfinite(*u) || w <= 0) return;
    sum += w * std::clamp(*u, 0.0, 1.0);
    total_weight += w;
  };
  add(weights.exclude_self ? sample.background_load : sample.cpu_utilization,
      weights.cpu);
  add(sample.gpu_utilization, weights.gpu);
  add(sample.memory_utilization, weights.memory);
  if (total_weight <= 0) return std::nullopt;
  return sum / total_weight;
}

}  // namespace adascale::runtime
