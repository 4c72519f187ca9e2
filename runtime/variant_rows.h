#pragma once
/// The policy's view of a bundle's tables (paper §IV-C): for one device and
/// batch, each variant's validation accuracy, predicted idle latency and
/// energy, and layer count, in the engine's variant order, plus the
/// latency model whose load correction the policy applies.

#include <cstdint>
#include <string>
#include <vector>

#include "core/variant.h"
#include "search/guided_search.h"
#include "search/latency_model.h"
#include "search/performance_tables.h"

namespace adascale::runtime {

struct VariantRows {
  std::string device;
  int batch = 1;
  /// One row per variant in `variants` order (key, accuracy, idle latency,
  /// energy).
  std::vector<search::SearchRow> rows;
  std::vector<double> layers;  ///< layer count of each row
  search::LatencyModel model;  ///< the fitted model of (device, batch)
};

/// The rows of `variants` (every variant of the net, engine order) for
/// `device` at `batch`. An empty `device` picks the device whose latency
/// model was fitted on measurements (the machine the tables were built
/// on), else the first. Throws DataError naming `source` when the tables
/// lack the device, the batch, a variant, or a variant's accuracy.
VariantRows variant_rows(const search::PerformanceTables& tables,
                         const core::VariantSpace& space,
                         const std::vector<core::Variant>& variants,
                         const std::string& device, int batch,
                         const std::string& source);

}  // namespace adascale::runtime
