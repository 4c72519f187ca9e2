#include "training/metrics_log.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstddef>
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
constexpr size_t kColumns = 13;
constexpr std::array<const char*, 4> kKinds = {"train", "validation", "test",
                                               "stage"};

// The row as stored in metrics.h5.
struct H5Row {
  char kind[kMetricsStringBytes];
  int32_t stage;
  int32_t epoch;
  char variant[kMetricsStringBytes];
  int32_t exit;
  double loss, top1, top5, lr, epoch_seconds, images_per_second;
  int64_t peak_rss_bytes;
  double wall_seconds;
};

const h5::RowLayout& h5_layout() {
  using h5::FieldType;
  static const h5::RowLayout layout{
      sizeof(H5Row),
      {
          {"kind", offsetof(H5Row, kind), FieldType::kString,
           kMetricsStringBytes},
          {"stage", offsetof(H5Row, stage), FieldType::kInt32},
          {"epoch", offsetof(H5Row, epoch), FieldType::kInt32},
          {"variant", offsetof(H5Row, variant), FieldType::kString,
           kMetricsStringBytes},
          {"exit", offsetof(H5Row, exit), FieldType::kInt32},
          {"loss", offsetof(H5Row, loss), FieldType::kFloat64},
          {"top1", offsetof(H5Row, top1), FieldType::kFloat64},
          {"top5", offsetof(H5Row, top5), FieldType::kFloat64},
          {"lr", offsetof(H5Row, lr), FieldType::kFloat64},
          {"epoch_seconds", offsetof(H5Row, epoch_seconds),
           FieldType::kFloat64},
          {"images_per_second", offsetof(H5Row, images_per_second),
           FieldType::kFloat64},
          {"peak_rss_bytes", offsetof(H5Row, peak_rss_bytes),
           FieldType::kInt64},
          {"wall_seconds", offsetof(H5Row, wall_seconds), FieldType::kFloat64},
      }};
  return layout;
}

H5Row to_h5(const MetricsRow& r) {
  H5Row h{};
  h5::copy_fixed_string(h.kind, sizeof h.kind, r.kind);
  h.stage = r.stage;
  h.epoch = r.epoch;
  h5::copy_fixed_string(h.variant, sizeof h.variant, r.variant);
  h.exit = r.exit;
  h.loss = r.loss;
  h.top1 = r.top1;
  h.top5 = r.top5;
  h.lr = r.lr;
  h.epoch_seconds = r.epoch_seconds;
  h.images_per_second = r.images_per_second;
  h.peak_rss_bytes = r.peak_rss_bytes;
  h.wall_seconds = r.wall_seconds;
  return h;
}

MetricsRow from_h5(const H5Row& h) {
  MetricsRow r;
  r.kind = h5::read_fixed_string(h.kind, sizeof h.kind);
  r.stage = h.stage;
  r.epoch = h.epoch;
  r.variant = h5::read_fixed_string(h.variant, sizeof h.variant);
  r.exit = h.exit;
  r.loss = h.loss;
  r.top1 = h.top1;
  r.top5 = h.top5;
  r.lr = h.lr;
  r.epoch_seconds = h.epoch_seconds;
  r.images_per_second = h.images_per_second;
  r.peak_rss_bytes = h.peak_rss_bytes;
  r.wall_seconds = h.wall_seconds;
  return r;
}

bool known_kind(std::string_view kind) {
  for (const char* k : kKinds) {
    if (kind == k) return true;
  }
  return false;
}

void validate(const MetricsRow& r) {
  if (!known_kind(r.kind)) {
    throw InternalError(
        "metrics row: kind must be train|validation|test|"
        "stage, got '" +
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

// Shortest text that reads back as the same double (fmt's default).
std::string csv_line(const MetricsRow& r) {
  return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.kind,
                     r.stage, r.epoch, r.variant, r.exit, r.loss, r.top1,
                     r.top5, r.lr, r.epoch_seconds, r.images_per_second,
                     r.peak_rss_bytes, r.wall_seconds);
}

// Parses one CSV field, naming the file, line and column on failure.
class FieldParser {
 public:
  FieldParser(const std::string& path, size_t line)
      : path_(path), line_(line) {}

  template <typename T>
  T number(std::string_view text, const char* column) const {
    T value{};
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
      fail(column, "expected a number", text);
    }
    return value;
  }

  [[noreturn]] void fail(const char* column, const char* what,
                         std::string_view text) const {
    throw DataError(fmt::format("{}:{}: {}: {}, got '{}'", path_, line_, column,
                                what, text));
  }

 private:
  const std::string& path_;
  size_t line_;
};

MetricsRow parse_line(const std::string& path, size_t line_no,
                      std::string_view line) {
  std::vector<std::string_view> f;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    f.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (f.size() != kColumns) {
    throw DataError(
        fmt::format("{}:{}: expected {} comma-separated fields, "
                    "got {}",
                    path, line_no, kColumns, f.size()));
  }
  FieldParser p(path, line_no);
  MetricsRow r;
  if (!known_kind(f[0])) {
    p.fail("kind", "expected train|validation|test|stage", f[0]);
  }
  r.kind = std::string(f[0]);
  r.stage = p.number<int>(f[1], "stage");
  r.epoch = p.number<int>(f[2], "epoch");
  r.variant = std::string(f[3]);
  r.exit = p.number<int>(f[4], "exit");
  r.loss = p.number<double>(f[5], "loss");
  r.top1 = p.number<double>(f[6], "top1");
  r.top5 = p.number<double>(f[7], "top5");
  r.lr = p.number<double>(f[8], "lr");
  r.epoch_seconds = p.number<double>(f[9], "epoch_seconds");
  r.images_per_second = p.number<double>(f[10], "images_per_second");
  r.peak_rss_bytes = p.number<int64_t>(f[11], "peak_rss_bytes");
  r.wall_seconds = p.number<double>(f[12], "wall_seconds");
  return r;
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
      if (line != metrics_csv_header()) {
        throw DataError(fmt::format("{}:1: expected the header '{}', got '{}'",
                                    path, metrics_csv_header(), line));
      }
      continue;
    }
    if (line.empty()) {
      throw DataError(fmt::format("{}:{}: empty line", path, line_no));
    }
    out.rows.push_back(parse_line(path, line_no, line));
    out.lines.push_back(line);
  }
  if (line_no == 0) {
    throw DataError(path + ": empty, expected the header line");
  }
  return out;
}

}  // namespace

bool operator==(const MetricsRow& a, const MetricsRow& b) {
  return a.kind == b.kind && a.stage == b.stage && a.epoch == b.epoch &&
         a.variant == b.variant && a.exit == b.exit && a.loss == b.loss &&
         a.top1 == b.top1 && a.top5 == b.top5 && a.lr == b.lr &&
         a.epoch_seconds == b.epoch_seconds &&
         a.images_per_second == b.images_per_second &&
         a.peak_rss_bytes == b.peak_rss_bytes &&
         a.wall_seconds == b.wall_seconds;
}

const std::string& metrics_csv_header() {
  static const std::string header =
      "kind,stage,epoch,variant,exit,loss,top1,top5,lr,epoch_seconds,"
      "images_per_second,peak_rss_bytes,wall_seconds";
  return header;
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
  h5_rows_ = h5::RowDataset::create(*h5_file_, kDataset, h5_layout(), 64);
  h5_rows_.write_attribute("format_version", kMetricsFormatVersion);
  std::vector<H5Row> stored;
  stored.reserve(rows.size());
  for (const MetricsRow& r : rows) stored.push_back(to_h5(r));
  h5_rows_.append_rows(stored);
  h5_file_->flush();
  core::write_checksum_sidecar(h5_path_);
}

void MetricsLog::append(const MetricsRow& row) {
  validate(row);
  const std::string line = csv_line(row);
  if (std::fputs(line.c_str(), csv_) < 0 || std::fflush(csv_) != 0) {
    throw IoError(csv_path_ + ": write failed: " + std::strerror(errno));
  }
  h5_rows_.append_rows(std::vector<H5Row>{to_h5(row)});
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
  h5::RowDataset table = h5::RowDataset::open(file, kDataset, h5_layout());
  const int64_t version = table.read_attribute("format_version");
  if (version != kMetricsFormatVersion) {
    throw DataError(fmt::format("{}: format_version {}, expected {}", path,
                                version, kMetricsFormatVersion));
  }
  std::vector<MetricsRow> rows;
  for (const H5Row& h : table.read_rows<H5Row>()) rows.push_back(from_h5(h));
  return rows;
}

}  // namespace adascale::training
