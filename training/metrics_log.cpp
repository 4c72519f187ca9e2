#include "training/metrics_log.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checksum.h"
#include "core/logging.h"

namespace adascale::training {
namespace {

namespace h5 = core::hdf5;

constexpr const char* kCsvName = "metrics.csv";
constexpr const char* kH5Name = "metrics.h5";
constexpr const char* kDataset = "metrics";

const core::RowSchema& schema() {
  return core::row_schema<MetricsRow>();
}

void validate(const MetricsRow& r) {
  const core::ColumnInfo& kind = schema().column("kind");
  if (!kind.accepts(r.kind)) {
    throw InternalError("metrics row: kind must be " + kind.one_of + ", got '" +
                        r.kind + "'");
  }
  if (r.variant.find_first_of(",\"\r\n") != std::string::npos) {
    throw ConfigError("metrics row: variant '" + r.variant +
                      "' contains a comma, quote or line break");
  }
  if (r.variant.size() > kMetricsStringBytes) {
    throw ConfigError(fmt::format(
        "metrics row: variant '{}' is {} bytes, longer than the {} that "
        "metrics.h5 stores",
        r.variant, r.variant.size(), kMetricsStringBytes));
  }
}

// Exact numbers: a resumed run rebuilds metrics.h5 from this file.
std::string csv_record(const MetricsRow& r) {
  return core::csv_line(r, core::CsvNumbers::kExact) + "\n";
}

struct CsvContents {
  std::vector<MetricsRow> rows;
  std::vector<std::string_view> lines;  ///< the rows' text, into `text`
};

// Parses the header and at most `max_rows` data lines of `text`; lines
// after those are not looked at (a resumed run drops them, torn or not).
CsvContents parse_csv(const std::string& path, const std::string& text,
                      int64_t max_rows) {
  CsvContents out;
  size_t pos = 0;
  size_t line_no = 0;
  while (pos < text.size() && int64_t(out.rows.size()) < max_rows) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1) {
      schema().check_csv_header(line, path);
      continue;
    }
    if (line.empty()) {
      throw DataError(fmt::format("{}:{}: empty line", path, line_no));
    }
    out.rows.push_back(core::parse_csv_line<MetricsRow>(
        line, core::CsvNumbers::kExact, fmt::format("{}:{}", path, line_no)));
    out.lines.push_back(line);
  }
  if (line_no == 0) {
    throw DataError(path + ": empty, expected the header line");
  }
  return out;
}

}  // namespace

bool operator==(const MetricsRow& a, const MetricsRow& b) {
  return core::rows_equal(a, b);
}

const std::string& metrics_csv_header() {
  return schema().csv_header();
}

MetricsLog::MetricsLog(const std::string& run_dir, int64_t keep_rows)
    : csv_path_(run_dir + "/" + kCsvName), h5_path_(run_dir + "/" + kH5Name) {
  if (keep_rows < 0) {
    throw InternalError(
        fmt::format("metrics log: keep_rows must be >= 0, got {}", keep_rows));
  }
  std::string contents = metrics_csv_header() + "\n";
  std::vector<MetricsRow> kept;
  if (keep_rows > 0) {
    const std::string text = core::read_file(csv_path_);
    CsvContents csv = parse_csv(csv_path_, text, keep_rows);
    if (int64_t(csv.rows.size()) < keep_rows) {
      throw DataError(fmt::format(
          "{}: holds {} rows, the checkpoint being resumed expects {}",
          csv_path_, csv.rows.size(), keep_rows));
    }
    for (std::string_view line : csv.lines) {
      contents.append(line);
      contents.push_back('\n');
    }
    kept = std::move(csv.rows);
  }
  // The CSV is replaced atomically, then appended to; metrics.h5 is rebuilt
  // from the same rows, so the two always agree after a resume even when the
  // crash left a torn HDF5 file behind.
  core::write_file_atomic(csv_path_, contents);
  csv_ = std::fopen(csv_path_.c_str(), "a");
  if (csv_ == nullptr) {
    throw IoError(csv_path_ +
                  ": cannot open for appending: " + std::strerror(errno));
  }
  create_h5(kept);
  rows_ = int64_t(kept.size());
}

MetricsLog::~MetricsLog() {
  if (csv_ != nullptr) std::fclose(csv_);
  if (h5_file_ == nullptr) return;
  // Closing rewrites HDF5's metadata, so the sidecar written after the
  // last flush no longer matches: refresh it from the closed file.
  h5_rows_ = h5::RowDataset();
  h5_file_.reset();
  try {
    core::write_checksum_sidecar(h5_path_);
  } catch (const Error& e) {
    log::warn("{}", e.what());
  }
}

void MetricsLog::create_h5(const std::vector<MetricsRow>& rows) {
  h5_file_ = std::make_unique<h5::File>(h5_path_, h5::File::Mode::kCreate);
  h5_rows_ = core::create_row_dataset<MetricsRow>(*h5_file_, kDataset, 64);
  h5_rows_.write_attribute("format_version", kMetricsFormatVersion);
  core::append_rows(h5_rows_, rows);
  h5_file_->flush();
  core::write_checksum_sidecar(h5_path_);
}

void MetricsLog::append(const MetricsRow& row) {
  validate(row);
  const std::string line = csv_record(row);
  if (std::fputs(line.c_str(), csv_) < 0 || std::fflush(csv_) != 0) {
    throw IoError(csv_path_ + ": write failed: " + std::strerror(errno));
  }
  core::append_rows(h5_rows_, std::vector<MetricsRow>{row});
  h5_file_->flush();
  // After every row, as the file changes in place: a reader then finds a
  // file damaged since, or a row cut off by a crash mid-write.
  core::write_checksum_sidecar(h5_path_);
  ++rows_;
}

std::vector<MetricsRow> read_metrics_csv(const std::string& path) {
  const std::string text = core::read_file(path);
  CsvContents csv = parse_csv(path, text, INT64_MAX);
  return std::move(csv.rows);
}

std::vector<MetricsRow> read_metrics_h5(const std::string& path) {
  if (core::verify_checksum_sidecar(path) == core::SidecarCheck::kAbsent &&
      std::filesystem::exists(path)) {
    log::warn(
        "{}: no checksum file beside it (written by an older build); "
        "its integrity cannot be verified",
        path);
  }
  h5::File file(path, h5::File::Mode::kReadOnly);
  h5::RowDataset table = core::open_row_dataset<MetricsRow>(file, kDataset);
  const int64_t version = table.read_attribute("format_version");
  if (version != kMetricsFormatVersion) {
    throw DataError(fmt::format("{}: format_version {}, expected {}", path,
                                version, kMetricsFormatVersion));
  }
  return core::read_rows<MetricsRow>(table);
}

}  // namespace adascale::training
