#pragma once
/// The metrics of a run (DESIGN §3.6): one row per head per epoch (train,
/// validation, test) and per stage, appended to `<run_dir>/metrics.csv` (for
/// people and spreadsheets) and `<run_dir>/metrics.h5` (a compound HDF5
/// table, `format_version` 1) as they happen, flushed row by row so a crash
/// loses nothing already written, and trimmed back to a checkpoint's row
/// count when a run resumes.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/hdf5_util.h"
#include "core/row_schema.h"

namespace adascale::training {

/// Longest `kind` / `variant` in bytes (the HDF5 fields are fixed-length).
inline constexpr size_t kMetricsStringBytes = 64;
/// Version of the metrics.h5 layout, stored as attribute `format_version`.
inline constexpr int64_t kMetricsFormatVersion = 1;

/// One line of the metrics log.
struct MetricsRow {
  std::string kind;     ///< "train" | "validation" | "test" | "stage"
  int stage = 0;        ///< 1-based stage (1 for zoo models)
  int epoch = 0;        ///< 1-based epoch within the stage
  std::string variant;  ///< variant id ("e2:basic.dws") or model name
  int exit = 0;         ///< 1-based exit
  double loss = 0, top1 = 0, top5 = 0;  ///< top1/top5 as fractions 0..1
  double lr = 0;
  double epoch_seconds = 0, images_per_second = 0;
  int64_t peak_rss_bytes = 0;
  double wall_seconds = 0;  ///< since the run started, across resumes

  /// The columns of metrics.csv and metrics.h5, in file order (format
  /// version 1: changing them changes both files' layout).
  template <typename V>
  void visit(V& v) {
    using core::Column;
    v("kind", kind,
      Column::text(kMetricsStringBytes).choices("train|validation|test|stage"));
    v("stage", stage, "1-based");
    v("epoch", epoch, "1-based, within the stage");
    v("variant", variant, Column::text(kMetricsStringBytes), "variant id");
    v("exit", exit, "1-based");
    v("loss", loss);
    v("top1", top1, "fraction 0..1");
    v("top5", top5, "fraction 0..1");
    v("lr", lr);
    v("epoch_seconds", epoch_seconds, "s");
    v("images_per_second", images_per_second, "images/s");
    v("peak_rss_bytes", peak_rss_bytes, "bytes");
    v("wall_seconds", wall_seconds, "s since the run started");
  }
};

/// Field-by-field equality (NaN never equals itself).
bool operator==(const MetricsRow& a, const MetricsRow& b);
inline bool operator!=(const MetricsRow& a, const MetricsRow& b) {
  return !(a == b);
}

/// Appends rows to a run's metrics.csv and metrics.h5.
class MetricsLog {
 public:
  /// Opens or creates both files in `run_dir` (which must exist).
  /// `keep_rows` = 0 starts fresh, replacing existing files. A resumed run
  /// passes the row count stored in its checkpoint: those rows are kept and
  /// later ones (written after that checkpoint) dropped from both files.
  /// metrics.csv is the reference: a metrics.h5 that is missing, unreadable
  /// or short is rebuilt from it. Throws IoError / DataError naming the file
  /// (e.g. fewer than `keep_rows` rows in metrics.csv).
  MetricsLog(const std::string& run_dir, int64_t keep_rows);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  /// Appends `row` to both files and flushes them. Throws ConfigError for a
  /// row that cannot be stored (unknown kind, a variant with ',', '"' or a
  /// line break, or longer than kMetricsStringBytes), IoError on a write
  /// failure.
  void append(const MetricsRow& row);
  /// Rows in the log (kept plus appended).
  int64_t rows() const { return rows_; }

  const std::string& csv_path() const { return csv_path_; }
  const std::string& h5_path() const { return h5_path_; }

 private:
  void create_h5(const std::vector<MetricsRow>& rows);

  std::string csv_path_, h5_path_;
  std::FILE* csv_ = nullptr;
  std::unique_ptr<core::hdf5::File> h5_file_;
  core::hdf5::RowDataset h5_rows_;
  int64_t rows_ = 0;
};

/// The CSV header line (without the newline), from MetricsRow::visit().
const std::string& metrics_csv_header();

/// Reads every row of a metrics.csv. Throws IoError when it cannot be read,
/// DataError naming the file and line for malformed content.
std::vector<MetricsRow> read_metrics_csv(const std::string& path);

/// Reads every row of a metrics.h5 after checking it against the checksum
/// sidecar (`metrics.h5.sha256`) MetricsLog rewrites after every row; a
/// file without one (an older build's) is read with a warning. Throws
/// IoError when it cannot be opened, DataError for a checksum mismatch, a
/// missing table or an unknown format version.
std::vector<MetricsRow> read_metrics_h5(const std::string& path);

}  // namespace adascale::training
