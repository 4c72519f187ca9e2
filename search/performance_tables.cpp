#include "search/performance_tables.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

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

constexpr const char* kIndexName = "performance_index";
constexpr const char* kPredictiveName = "predictive_performance";
constexpr const char* kModelsName = "latency_models";
constexpr const char* kVersionAttribute = "schema_version";

// The name fields are fixed-length: refuse what they cannot hold before
// anything is written.
void check_name(const std::string& text, size_t max_chars, const char* what) {
  if (text.size() > max_chars) {
    throw UsageError(fmt::format("tables: {} '{}' is longer than {} characters",
                                 what, text, max_chars));
  }
}

template <typename Row>
void store(const h5::File& file, const char* name,
           const std::vector<Row>& rows) {
  auto dataset = core::create_row_dataset<Row>(file, name);
  dataset.write_attribute(kVersionAttribute, kTablesSchemaVersion);
  core::append_rows(dataset, rows);
}

template <typename Row>
std::vector<Row> load(const h5::File& file, const std::string& path,
                      const char* name) {
  h5::RowDataset dataset;
  try {
    dataset = core::open_row_dataset<Row>(file, name);
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
  return core::read_rows<Row>(dataset);
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
  for (const auto& e : tables.index) {
    check_name(e.variant, kTablesVariantChars, "variant id");
  }
  for (const auto& e : tables.predictive) {
    check_name(e.device, kTablesDeviceChars, "device name");
  }
  for (const auto& e : tables.models) {
    check_name(e.device, kTablesDeviceChars, "device name");
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
    store(file, kIndexName, tables.index);
    store(file, kPredictiveName, tables.predictive);
    store(file, kModelsName, tables.models);
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
  // One line per predictive row, joined with its index row.
  constexpr auto kReadable = core::CsvNumbers::kReadable;
  std::string csv = core::row_schema<IndexEntry>().csv_header() + "," +
                    core::row_schema<PredictiveEntry>().csv_header() + "\n";
  for (const auto& p : tables.predictive) {
    auto it = by_key.find(p.key);
    if (it == by_key.end()) {
      throw InternalError(fmt::format(
          "tables: predictive row for key {:#x} has no index row", p.key));
    }
    csv += core::csv_line(*it->second, kReadable) + "," +
           core::csv_line(p, kReadable) + "\n";
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
  t.index = load<IndexEntry>(file, h5_path, kIndexName);
  t.predictive = load<PredictiveEntry>(file, h5_path, kPredictiveName);
  t.models = load<LatencyModelEntry>(file, h5_path, kModelsName);
  return t;
}

}  // namespace adascale::search
