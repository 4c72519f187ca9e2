#pragma once
/// The two tables of paper §IV-C (DESIGN §3.4), plus the fitted latency
/// models they were predicted with, stored in a run's `tables.h5` (HDF5
/// compound datasets, each with a `schema_version` attribute) and mirrored
/// to `tables.csv` for people.
///
/// - Performance-index table: one row per variant: params, storage, MACs,
///   memory accesses (eq. 4), validation top-1.
/// - Predictive-performance table: one row per variant × device × batch:
///   predicted latency and energy, the cache-hit rate behind the energy,
///   and the latency measured on this machine (NaN when not measured).
/// - Latency models: one row per device × batch, the coefficients of
///   search::LatencyModel and how well they predicted.

#include <cstdint>
#include <string>
#include <vector>

#include "core/row_schema.h"
#include "search/latency_model.h"

namespace adascale::search {

/// Bumped whenever a stored field changes meaning or layout.
inline constexpr int64_t kTablesSchemaVersion = 2;

/// Longest variant id and device name the file holds.
inline constexpr size_t kTablesVariantChars = 63;
inline constexpr size_t kTablesDeviceChars = 31;

struct IndexEntry {
  uint64_t key = 0;     ///< packed variant key (core::VariantSpace::pack)
  std::string variant;  ///< readable id, "e3:basic.ghost.dws"
  int exit = 0;         ///< 1-based
  int64_t params = 0;
  int64_t storage_bytes = 0;  ///< fp32
  int64_t macs = 0;
  int64_t memory_access_bytes = 0;  ///< eq. 4, batch 1
  int layers = 0;  ///< profiled layers: the load correction's per-layer term
  double validation_top1 = 0;     ///< [0, 1]; NaN when not scored
  int64_t validation_images = 0;  ///< images top-1 was scored on

  /// The columns of /performance_index, in file order (and of tables.csv,
  /// less the key).
  template <typename V>
  void visit(V& v) {
    using core::Column;
    v("key", key, Column::hdf5_only(), "packed variant key");
    v("variant", variant, Column::text(kTablesVariantChars + 1));
    v("exit", exit, "1-based");
    v("params", params);
    v("storage_bytes", storage_bytes, "bytes, fp32");
    v("macs", macs);
    v("memory_access_bytes", memory_access_bytes, "bytes, eq. 4, batch 1");
    v("layers", layers, "profiled layers");
    v("validation_top1", validation_top1, "[0, 1]; NaN: not scored");
    v("validation_images", validation_images);
  }
};

struct PredictiveEntry {
  uint64_t key = 0;
  std::string device;  ///< DeviceProfile::name
  int batch = 1;
  int threads = 1;
  double predicted_latency_ms = 0;  ///< at no load, max clock
  double predicted_energy_mj = 0;
  double hit_rate = 0;             ///< eq. 5
  double measured_latency_ms = 0;  ///< NaN when not measured

  /// The columns of /predictive_performance, in file order (and of
  /// tables.csv after the index columns, less the key).
  template <typename V>
  void visit(V& v) {
    using core::Column;
    v("key", key, Column::hdf5_only(), "packed variant key");
    v("device", device, Column::text(kTablesDeviceChars + 1));
    v("batch", batch);
    v("threads", threads);
    v("predicted_latency_ms", predicted_latency_ms, "ms, no load, max clock");
    v("predicted_energy_mj", predicted_energy_mj, "mJ");
    v("hit_rate", hit_rate, "eq. 5");
    v("measured_latency_ms", measured_latency_ms, "ms; NaN: not measured");
  }
};

struct LatencyModelEntry {
  std::string device;
  int batch = 1;
  int threads = 1;
  LatencyModel model;
  /// Share of variants within ±10%, cross-validated (NaN: not measured).
  double within_10pct = 0;
  /// Background load during the measurement the model was fitted on.
  double fit_load = 0;
  /// Share within ±10% under `load_probe_load` with the fitted load slope
  /// (NaN: no measurement under load yet).
  double load_within_10pct = 0;
  double load_probe_load = 0;

  /// The columns of /latency_models, in file order: every class scale,
  /// then every per-layer cost (stored in µs).
  template <typename V>
  void visit(V& v) {
    using core::Column;
    v("device", device, Column::text(kTablesDeviceChars + 1));
    v("batch", batch);
    v("threads", threads);
    v("fitted_on", model.fitted_on, "variants measured");
    for (size_t c = 0; c < kLayerClasses; ++c) {
      v(std::string("scale_") + layer_class_name(LayerClass(c)),
        model.class_scale[c]);
    }
    for (size_t c = 0; c < kLayerClasses; ++c) {
      v(std::string("per_layer_us_") + layer_class_name(LayerClass(c)),
        model.per_layer_s[c], Column::scaled(1e6), "µs");
    }
    v("load_slope", model.load_slope);
    v("load_per_layer_us", model.load_per_layer_s, Column::scaled(1e6), "µs");
    v("within_10pct", within_10pct);
    v("fit_load", fit_load);
    v("load_within_10pct", load_within_10pct);
    v("load_probe_load", load_probe_load);
  }
};

struct PerformanceTables {
  std::vector<IndexEntry> index;
  std::vector<PredictiveEntry> predictive;
  std::vector<LatencyModelEntry> models;

  /// The model for (device, batch), or nullptr.
  const LatencyModelEntry* model(const std::string& device, int batch) const;
};

/// Writes `h5_path` (atomically: a temporary file renamed over it), its
/// checksum sidecar `<h5_path>.sha256` and `csv_path`. Throws UsageError for
/// names longer than the fields, IoError when a file cannot be written.
void write_tables(const PerformanceTables& tables, const std::string& h5_path,
                  const std::string& csv_path);

/// Reads a tables file after checking it against its checksum sidecar
/// (absent: written by an older build, read with a warning; a bundle's
/// copy is covered by the bundle's SHA256SUMS). Throws IoError when it
/// cannot be opened, DataError naming the file when the checksum differs,
/// it is not an AdaScale tables file or its schema version differs from
/// kTablesSchemaVersion.
PerformanceTables read_tables(const std::string& h5_path);

}  // namespace adascale::search
