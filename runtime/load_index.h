#pragma once
/// The device load index of paper §IV-A, eq. 2 (DESIGN §3.5):
///
///     L = (w_c·U_c + w_g·U_g + w_m·U_m) / (w_c + w_g + w_m)
///
/// with U the CPU, GPU and memory utilisations of one ResourceSample. A
/// source the sample lacks drops out of both sums, so the index stays a
/// weighted mean of what was measured: a machine without a GPU is not
/// reported as less loaded than one with an idle GPU.

#include <optional>

#include "core/config/checks.h"
#include "runtime/resource_sample.h"

namespace adascale::runtime {

/// Weights of eq. 2 and which CPU figure enters it (`load_index:` section).
struct LoadIndexWeights {
  double cpu = 1.0;     ///< w_c
  double gpu = 1.0;     ///< w_g
  double memory = 0.5;  ///< w_m
  /// true: U_c is the background load (the CPU share *other* programs
  /// use), so the runtime's own inference does not count as load it must
  /// shed; false: the whole machine's busy share.
  bool exclude_self = true;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("cpu", cpu, check::at_least(0.0), "w_c");
    v("gpu", gpu, check::at_least(0.0), "w_g");
    v("memory", memory, check::at_least(0.0), "w_m");
    v("exclude_self", exclude_self, "CPU load without this process");
  }
};

/// Throws UsageError naming the field when a weight is negative or not
/// finite, or when no weight is positive.
void validate_load_index_weights(const LoadIndexWeights& weights);

/// Eq. 2 over the sources present in `sample` (a non-finite value counts
/// as absent), each clamped to [0, 1]; std::nullopt when no source with a
/// positive weight is present. Validates `weights` first.
std::optional<double> load_index(const ResourceSample& sample,
                                 const LoadIndexWeights& weights = {});

}  // namespace adascale::runtime
