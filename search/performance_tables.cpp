#include "search/performance_tables.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checksum.h"
#include "core/hdf5_util.h"
#include "core/logging.h"

namespace adascale::search {

namespace {

namespace h5 = core::hdf5;
using h5::FieldType;

constexpr const char* kIndexName = "performance_index";
constexpr const char* kPredictiveName = "predictive_performance";
constexpr const char* kModelsName = "latency_models";
constexpr const char* kVersionAttribute = "schema_version";

struct IndexRow {
  int64_t key;
  char variant[kTablesVariantChars + 1];
  int32_t exit;
  int64_t params, storage_bytes, macs, memory_access_bytes;
  int32_t layers;
  double validation_top1;
  int64_t validation_images;
};

struct PredictiveRow {
  int64_t key;
  char device[kTablesDeviceChars + 1];
  int32_t batch, threads;
  double predicted_latency_ms, predicted_energy_mj, hit_rate,
      measured_latency_ms;
};

struct ModelRow {
  char device[kTablesDeviceChars + 1];
  int32_t batch, threads, fitted_on;
  double class_scale[kLayerClasses];
  double per_layer_us[kLayerClasses];
  double load_slope, load_per_layer_us, within_10pct, fit_load,
      load_within_10pct, load_probe_load;
};

#define ADASCALE_FIELD(Row, name, type) \
  h5::Field {                           \
#name, offsetof(Row, name), type, 0 \
  }
#define ADASCALE_STRING(Row, name)                                    \
  h5::Field {                                                         \
#name, offsetof(Row, name), FieldType::kString, sizeof(Row::name) \
  }

const h5::RowLayout& index_layout() {
  static const h5::RowLayout layout{
      sizeof(IndexRow),
      {ADASCALE_FIELD(IndexRow, key, FieldType::kInt64),
       ADASCALE_STRING(IndexRow, variant),
       ADASCALE_FIELD(IndexRow, exit, FieldType::kInt32),
       ADASCALE_FIELD(IndexRow, params, FieldType::kInt64),
       ADASCALE_FIELD(IndexRow, storage_bytes, FieldType::kInt64),
       ADASCALE_FIELD(IndexRow, macs, FieldType::kInt64),
       ADASCALE_FIELD(IndexRow, memory_access_bytes, FieldType::kInt64),
       ADASCALE_FIELD(IndexRow, layers, FieldType::kInt32),
       ADASCALE_FIELD(IndexRow, validation_top1, FieldType::kFloat64),
       ADASCALE_FIELD(IndexRow, validation_images, FieldType::kInt64)}};
  return layout;
}

const h5::RowLayout& predictive_layout() {
  static const h5::RowLayout layout{
      sizeof(PredictiveRow),
      {ADASCALE_FIELD(PredictiveRow, key, FieldType::kInt64),
       ADASCALE_STRING(PredictiveRow, device),
       ADASCALE_FIELD(PredictiveRow, batch, FieldType::kInt32),
       ADASCALE_FIELD(PredictiveRow, threads, FieldType::kInt32),
       ADASCALE_FIELD(PredictiveRow, predicted_latency_ms, FieldType::kFloat64),
       ADASCALE_FIELD(PredictiveRow, predicted_energy_mj, FieldType::kFloat64),
       ADASCALE_FIELD(PredictiveRow, hit_rate, FieldType::kFloat64),
       ADASCALE_FIELD(PredictiveRow, measured_latency_ms,
                      FieldType::kFloat64)}};
  return layout;
}

const h5::RowLayout& model_layout() {
  static const h5::RowLayout layout = [] {
    h5::RowLayout l{sizeof(ModelRow),
                    {ADASCALE_STRING(ModelRow, device),
                     ADASCALE_FIELD(ModelRow, batch, FieldType::kInt32),
                     ADASCALE_FIELD(ModelRow, threads, FieldType::kInt32),
                     ADASCALE_FIELD(ModelRow, fitted_on, FieldType::kInt32)}};
    for (size_t c = 0; c < kLayerClasses; ++c) {
      const char* name = layer_class_name(LayerClass(c));
      l.fields.push_back({fmt::format("scale_{}", name),
                          offsetof(ModelRow, class_scale) + c * sizeof(double),
                          FieldType::kFloat64, 0});
      l.fields.push_back({fmt::format("per_layer_us_{}", name),
                          offsetof(ModelRow, per_layer_us) + c * sizeof(double),
                          FieldType::kFloat64, 0});
    }
    for (auto f :
         {ADASCALE_FIELD(ModelRow, load_slope, FieldType::kFloat64),
          ADASCALE_FIELD(ModelRow, load_per_layer_us, FieldType::kFloat64),
          ADASCALE_FIELD(ModelRow, within_10pct, FieldType::kFloat64),
          ADASCALE_FIELD(ModelRow, fit_load, FieldType::kFloat64),
          ADASCALE_FIELD(ModelRow, load_within_10pct, FieldType::kFloat64),
          ADASCALE_FIELD(ModelRow, load_probe_load, FieldType::kFloat64)})
      l.fields.push_back(f);
    return l;
  }();
  return layout;
}

#undef ADASCALE_FIELD
#undef ADASCALE_STRING

void copy_name(char* field, size_t size, const std::string& text,
               const char* what) {
  if (text.size() >= size) {
    throw UsageError(fmt::format("tables: {} '{}' is longer than {} characters",
                                 what, text, size - 1));
  }
  h5::copy_fixed_string(field, size, text);
}

template <typename Row>
void store(const h5::File& file, const char* name, const h5::RowLayout& layout,
           const std::vector<Row>& rows) {
  auto dataset = h5::RowDataset::create(file, name, layout);
  dataset.write_attribute(kVersionAttribute, kTablesSchemaVersion);
  dataset.append_rows(rows);
}

template <typename Row>
std::vector<Row> load(const h5::File& file, const std::string& path,
                      const char* name, const h5::RowLayout& layout) {
  h5::RowDataset dataset;
  try {
    dataset = h5::RowDataset::open(file, name, layout);
  } catch (const DataError&) {
    throw DataError(fmt::format(
        "{}: not an AdaScale tables file (no /{} dataset); build one with "
        "`adascale tables --run DIR`",
        path, name));
  }
  int64_t version = -1;
  try {
    version = dataset.read_attribute(kVersionAttribute);
  } catch (const DataError&) {
    throw DataError(
        fmt::format("{}: /{} has no {} attribute: not an AdaScale tables file",
                    path, name, kVersionAttribute));
  }
  if (version != kTablesSchemaVersion) {
    throw DataError(fmt::format(
        "{}: /{} has schema version {}, this build reads version {}; rebuild "
        "it with `adascale tables`",
        path, name, version, kTablesSchemaVersion));
  }
  return dataset.read_rows<Row>();
}

std::string csv_number(double v) {
  return std::isnan(v) ? "" : fmt::format("{:.6g}", v);
}

}  // namespace

const LatencyModelEntry* PerformanceTables::model(const std::string& device,
                                                  int batch) const {
  for (const auto& m : models)
    if (m.device == device && m.batch == batch) return &m;
  return nullptr;
}

void write_tables(const PerformanceTables& tables, const std::string& h5_path,
                  const std::string& csv_path) {
  std::vector<IndexRow> index;
  for (const auto& e : tables.index) {
    IndexRow r{};
    r.key = int64_t(e.key);
    copy_name(r.variant, sizeof r.variant, e.variant, "variant id");
    r.exit = e.exit;
    r.params = e.params;
    r.storage_bytes = e.storage_bytes;
    r.macs = e.macs;
    r.memory_access_bytes = e.memory_access_bytes;
    r.layers = e.layers;
    r.validation_top1 = e.validation_top1;
    r.validation_images = e.validation_images;
    index.push_back(r);
  }
  std::vector<PredictiveRow> predictive;
  for (const auto& e : tables.predictive) {
    PredictiveRow r{};
    r.key = int64_t(e.key);
    copy_name(r.device, sizeof r.device, e.device, "device name");
    r.batch = e.batch;
    r.threads = e.threads;
    r.predicted_latency_ms = e.predicted_latency_ms;
    r.predicted_energy_mj = e.predicted_energy_mj;
    r.hit_rate = e.hit_rate;
    r.measured_latency_ms = e.measured_latency_ms;
    predictive.push_back(r);
  }
  std::vector<ModelRow> models;
  for (const auto& e : tables.models) {
    ModelRow r{};
    copy_name(r.device, sizeof r.device, e.device, "device name");
    r.batch = e.batch;
    r.threads = e.threads;
    r.fitted_on = e.model.fitted_on;
    for (size_t c = 0; c < kLayerClasses; ++c) {
      r.class_scale[c] = e.model.class_scale[c];
      r.per_layer_us[c] = e.model.per_layer_s[c] * 1e6;
    }
    r.load_slope = e.model.load_slope;
    r.load_per_layer_us = e.model.load_per_layer_s * 1e6;
    r.within_10pct = e.within_10pct;
    r.fit_load = e.fit_load;
    r.load_within_10pct = e.load_within_10pct;
    r.load_probe_load = e.load_probe_load;
    models.push_back(r);
  }

  // HDF5 writes in place, so write a sibling and rename it over the old
  // file: a crash or a full disk leaves the previous tables intact. The
  // sibling's name is made by mkstemp (never a file planted at a
  // predictable name) and removed when anything fails.
  core::make_parent_directories(h5_path);
  const std::filesystem::path target(h5_path);
  std::string tmp = (target.parent_path() /
                     ("." + target.filename().string() + ".tmp-XXXXXX"))
                        .string();
  const int reserved = ::mkstemp(tmp.data());
  if (reserved < 0) throw IoError(tmp + ": cannot create");
  ::close(reserved);
  struct RemoveUnlessInstalled {
    std::string path;
    ~RemoveUnlessInstalled() {
      if (!path.empty()) ::unlink(path.c_str());
    }
  } cleanup{tmp};
  {
    h5::File file(tmp, h5::File::Mode::kCreate);
    store(file, kIndexName, index_layout(), index);
    store(file, kPredictiveName, predictive_layout(), predictive);
    store(file, kModelsName, model_layout(), models);
    file.flush();
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    throw IoError(tmp + ": fsync failed");
  }
  ::close(fd);
  // The sidecar first, from the finished sibling: if it cannot be written
  // (a full disk), the old tables and their sidecar stay as they were.
  core::write_checksum_sidecar(h5_path, tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, h5_path, ec);
  if (ec) throw IoError(h5_path + ": cannot replace: " + ec.message());
  cleanup.path.clear();

  std::map<uint64_t, const IndexEntry*> by_key;
  for (const auto& e : tables.index) by_key[e.key] = &e;
  std::string csv =
      "variant,exit,params,storage_bytes,macs,memory_access_bytes,layers,"
      "validation_top1,validation_images,device,batch,threads,predicted_"
      "latency_ms,"
      "predicted_energy_mj,hit_rate,measured_latency_ms\n";
  for (const auto& p : tables.predictive) {
    auto it = by_key.find(p.key);
    if (it == by_key.end()) {
      throw InternalError(fmt::format(
          "tables: predictive row for key {:#x} has no index row", p.key));
    }
    const IndexEntry& i = *it->second;
    csv += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", i.variant, i.exit,
        i.params, i.storage_bytes, i.macs, i.memory_access_bytes, i.layers,
        csv_number(i.validation_top1), i.validation_images, p.device, p.batch,
        p.threads, csv_number(p.predicted_latency_ms),
        csv_number(p.predicted_energy_mj), csv_number(p.hit_rate),
        csv_number(p.measured_latency_ms));
  }
  core::write_file_atomic(csv_path, csv);
}

PerformanceTables read_tables(const std::string& h5_path) {
  if (!std::filesystem::exists(h5_path)) {
    throw IoError(fmt::format(
        "{}: no such file; build the tables with `adascale tables --run DIR`",
        h5_path));
  }
  // A bundle's copy is covered by the bundle's SHA256SUMS instead.
  const bool in_bundle = std::filesystem::exists(
      std::filesystem::path(h5_path).parent_path() / "SHA256SUMS");
  if (core::verify_checksum_sidecar(h5_path) == core::SidecarCheck::kAbsent &&
      !in_bundle) {
    log::warn(
        "{}: no checksum file beside it (written by an older build); "
        "its integrity cannot be verified",
        h5_path);
  }
  h5::File file(h5_path, h5::File::Mode::kReadOnly);
  PerformanceTables t;
  for (const auto& r :
       load<IndexRow>(file, h5_path, kIndexName, index_layout())) {
    IndexEntry e;
    e.key = uint64_t(r.key);
    e.variant = h5::read_fixed_string(r.variant, sizeof r.variant);
    e.exit = r.exit;
    e.params = r.params;
    e.storage_bytes = r.storage_bytes;
    e.macs = r.macs;
    e.memory_access_bytes = r.memory_access_bytes;
    e.layers = r.layers;
    e.validation_top1 = r.validation_top1;
    e.validation_images = r.validation_images;
    t.index.push_back(e);
  }
  for (const auto& r : load<PredictiveRow>(file, h5_path, kPredictiveName,
                                           predictive_layout())) {
    PredictiveEntry e;
    e.key = uint64_t(r.key);
    e.device = h5::read_fixed_string(r.device, sizeof r.device);
    e.batch = r.batch;
    e.threads = r.threads;
    e.predicted_latency_ms = r.predicted_latency_ms;
    e.predicted_energy_mj = r.predicted_energy_mj;
    e.hit_rate = r.hit_rate;
    e.measured_latency_ms = r.measured_latency_ms;
    t.predictive.push_back(e);
  }
  for (const auto& r :
       load<ModelRow>(file, h5_path, kModelsName, model_layout())) {
    LatencyModelEntry e;
    e.device = h5::read_fixed_string(r.device, sizeof r.device);
    e.batch = r.batch;
    e.threads = r.threads;
    e.model.fitted_on = r.fitted_on;
    for (size_t c = 0; c < kLayerClasses; ++c) {
      e.model.class_scale[c] = r.class_scale[c];
      e.model.per_layer_s[c] = r.per_layer_us[c] * 1e-6;
    }
    e.model.load_slope = r.load_slope;
    e.model.load_per_layer_s = r.load_per_layer_us * 1e-6;
    e.within_10pct = r.within_10pct;
    e.fit_load = r.fit_load;
    e.load_within_10pct = r.load_within_10pct;
    e.load_probe_load = r.load_probe_load;
    t.models.push_back(e);
  }
  return t;
}

}  // namespace adascale::search
