#include "training/metrics_log.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checksum.h"
#include "core/hdf5_util.h"
#include "tests/test_util.h"

namespace adascale::training {
namespace {

using adascale::testing::TempDir;

MetricsRow row(int i) {
  MetricsRow r;
  r.kind = i % 2 ? "validation" : "train";
  r.stage = 1 + i / 3;
  r.epoch = 1 + i;
  r.variant = "e2:basic.dws";
  r.exit = 2;
  r.loss = 2.302585092994046 / (1 + i);  // needs all 17 digits
  r.top1 = 1.0 / 3.0 + 0.01 * i;
  r.top5 = 0.9;
  r.lr = 0.1 * std::pow(0.1, i);
  r.epoch_seconds = 12.5 + i;
  r.images_per_second = 4000.25;
  r.peak_rss_bytes = (int64_t(3) << 32) + i;  // beyond 32 bits
  r.wall_seconds = 1e6 + 0.125 * i;
  return r;
}

std::vector<MetricsRow> rows(int n) {
  std::vector<MetricsRow> out;
  for (int i = 0; i < n; ++i) out.push_back(row(i));
  return out;
}

void expect_rows(const std::vector<MetricsRow>& got,
                 const std::vector<MetricsRow>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(got[i] == want[i]) << "row " << i;
  }
}

void expect_both_files(const TempDir& dir,
                       const std::vector<MetricsRow>& want) {
  expect_rows(read_metrics_csv(dir.file("metrics.csv")), want);
  expect_rows(read_metrics_h5(dir.file("metrics.h5")), want);
}

TEST(MetricsLog, RowsReadBackEqualFromBothFiles) {
  TempDir dir;
  auto want = rows(4);
  {
    MetricsLog log(dir.path(), 0);
    for (const auto& r : want) log.append(r);
    EXPECT_EQ(log.rows(), 4);
    // Flushed as written: readable while the log is still open.
    expect_both_files(dir, want);
  }
  expect_both_files(dir, want);
  std::string text = core::read_file(dir.file("metrics.csv"));
  EXPECT_EQ(text.substr(0, text.find('\n')), metrics_csv_header());
  EXPECT_NE(text.find("\ntrain,1,1,e2:basic.dws,2,2.302585092994046,"),
            std::string::npos)
      << text;
}

TEST(MetricsLog, NonFiniteValuesRoundTrip) {
  TempDir dir;
  MetricsRow r = row(0);
  r.loss = std::nan("");
  r.images_per_second = INFINITY;
  {
    MetricsLog log(dir.path(), 0);
    log.append(r);
  }
  for (const auto& got : {read_metrics_csv(dir.file("metrics.csv")),
                          read_metrics_h5(dir.file("metrics.h5"))}) {
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(std::isnan(got[0].loss));
    EXPECT_EQ(got[0].images_per_second, INFINITY);
  }
}

TEST(MetricsLog, ResumeKeepsTheCheckpointedRowsThenAppends) {
  TempDir dir;
  auto all = rows(6);
  {
    MetricsLog log(dir.path(), 0);
    for (int i = 0; i < 5; ++i) log.append(all[size_t(i)]);
  }
  MetricsLog log(dir.path(), 2);
  EXPECT_EQ(log.rows(), 2);
  expect_both_files(dir, {all[0], all[1]});
  log.append(all[5]);
  EXPECT_EQ(log.rows(), 3);
  expect_both_files(dir, {all[0], all[1], all[5]});
}

TEST(MetricsLog, ResumeSurvivesATornCsvLineAndABrokenH5) {
  TempDir dir;
  auto want = rows(3);
  {
    MetricsLog log(dir.path(), 0);
    for (const auto& r : want) log.append(r);
  }
  {
    std::ofstream csv(dir.file("metrics.csv"), std::ios::app);
    csv << "train,1,4,e2:basic.d";  // a crash mid-write
  }
  dir.write("metrics.h5", "not an HDF5 file");
  MetricsLog log(dir.path(), 3);
  EXPECT_EQ(log.rows(), 3);
  expect_both_files(dir, want);
}

TEST(MetricsLog, FreshRunReplacesExistingFiles) {
  TempDir dir;
  {
    MetricsLog log(dir.path(), 0);
    for (const auto& r : rows(3)) log.append(r);
  }
  MetricsLog log(dir.path(), 0);
  EXPECT_EQ(log.rows(), 0);
  expect_both_files(dir, {});
}

TEST(MetricsLog, ResumeNeedsTheCheckpointedRows) {
  TempDir dir;
  {
    MetricsLog log(dir.path(), 0);
    for (const auto& r : rows(3)) log.append(r);
  }
  EXPECT_THROW_WITH(MetricsLog(dir.path(), 4), DataError,
                    "metrics.csv: holds 3 rows, the checkpoint being resumed "
                    "expects 4");
  TempDir empty;
  EXPECT_THROW_WITH(MetricsLog(empty.path(), 1), IoError,
                    "metrics.csv: cannot open");
}

TEST(MetricsLog, RejectsRowsItCannotStore) {
  TempDir dir;
  MetricsLog log(dir.path(), 0);
  MetricsRow r = row(0);
  r.variant = "a,b";
  EXPECT_THROW_WITH(log.append(r), ConfigError, "'a,b' contains a comma");
  r.variant = "say \"hi\"";
  EXPECT_THROW_WITH(log.append(r), ConfigError, "quote");
  r.variant = std::string(65, 'x');
  EXPECT_THROW_WITH(log.append(r), ConfigError, "is 65 bytes");
  r.variant = std::string(64, 'x');
  log.append(r);  // exactly fills the fixed-length field
  r.kind = "training";
  EXPECT_THROW_WITH(log.append(r), InternalError, "'training'");
  EXPECT_EQ(log.rows(), 1);
  EXPECT_EQ(read_metrics_h5(dir.file("metrics.h5"))[0].variant,
            std::string(64, 'x'));
  EXPECT_EQ(read_metrics_csv(dir.file("metrics.csv")).size(), 1u);
}

TEST(MetricsLog, MalformedCsvErrorsNameFileAndLine) {
  TempDir dir;
  const std::string header = metrics_csv_header() + "\n";
  const std::string good =
      "train,1,1,e1:basic,1,2.3,0.1,0.5,0.1,10,1000,123456,10\n";
  auto path =
      dir.write("bad_number.csv", header + good +
                                      "train,1,2,e1:basic,1,abc,0.1,0.5,"
                                      "0.1,10,1000,123456,10\n");
  EXPECT_THROW_WITH(read_metrics_csv(path), DataError,
                    "bad_number.csv:3: loss: expected a number, got 'abc'");
  path = dir.write("short.csv", header + "train,1,2\n");
  EXPECT_THROW_WITH(read_metrics_csv(path), DataError,
                    "short.csv:2: expected 13 comma-separated fields, got 3");
  path = dir.write("kind.csv", header + good + good +
                                   "eval,1,1,e1:basic,1,2.3,0.1,0.5,0.1,10,"
                                   "1000,123456,10\n");
  EXPECT_THROW_WITH(read_metrics_csv(path), DataError,
                    "kind.csv:4: kind: expected train|validation|test|stage, "
                    "got 'eval'");
  path = dir.write("int.csv", header +
                                  "train,1.5,1,e1:basic,1,2.3,0.1,0.5,"
                                  "0.1,10,1000,123456,10\n");
  EXPECT_THROW_WITH(read_metrics_csv(path), DataError,
                    "int.csv:2: stage: expected a number, got '1.5'");
  path = dir.write("header.csv", "kind,stage\n" + good);
  EXPECT_THROW_WITH(read_metrics_csv(path), DataError,
                    "header.csv:1: expected the header");
  path = dir.write("blank.csv", header + "\n" + good);
  EXPECT_THROW_WITH(read_metrics_csv(path), DataError, "blank.csv:2: empty");
  path = dir.write("empty.csv", "");
  EXPECT_THROW_WITH(read_metrics_csv(path), DataError, "empty.csv: empty");
  EXPECT_THROW_WITH(read_metrics_csv(dir.file("missing.csv")), IoError,
                    "missing.csv: cannot open");
  // CRLF line ends are accepted.
  path = dir.write("crlf.csv", metrics_csv_header() + "\r\n" + good);
  EXPECT_EQ(read_metrics_csv(path).size(), 1u);
}

TEST(MetricsLog, H5ChecksFormatVersionAndFile) {
  TempDir dir;
  {
    MetricsLog log(dir.path(), 0);
    log.append(row(0));
  }
  const std::string path = dir.file("metrics.h5");
  {
    core::hdf5::File file(path, core::hdf5::File::Mode::kReadWrite);
    // A layout of one field reads just that column.
    core::hdf5::RowLayout loss_only{
        sizeof(double), {{"loss", 0, core::hdf5::FieldType::kFloat64}}};
    auto table = core::hdf5::RowDataset::open(file, "metrics", loss_only);
    EXPECT_EQ(table.read_rows<double>(), std::vector<double>{row(0).loss});
    EXPECT_EQ(table.read_attribute("format_version"), 1);
    EXPECT_EQ(table.rows(), 1);
    table.write_attribute("format_version", 2);
  }
  // Changed behind the log's back: its checksum sidecar finds that first.
  EXPECT_THROW_WITH(read_metrics_h5(path), DataError,
                    "metrics.h5: checksum mismatch with metrics.h5.sha256");
  core::write_checksum_sidecar(path);
  EXPECT_THROW_WITH(read_metrics_h5(path), DataError,
                    "metrics.h5: format_version 2, expected 1");
  EXPECT_THROW_WITH(read_metrics_h5(dir.file("missing.h5")), IoError,
                    "missing.h5: cannot open: no such file");
  auto junk = dir.write("junk.h5", "junk");
  EXPECT_THROW_WITH(read_metrics_h5(junk), IoError,
                    "junk.h5: cannot open as HDF5");
  {
    core::hdf5::File other(dir.file("other.h5"),
                           core::hdf5::File::Mode::kCreate);
  }
  EXPECT_THROW_WITH(read_metrics_h5(dir.file("other.h5")), DataError,
                    "other.h5:/metrics: no such dataset");
}

// metrics.h5 format version 1, as runs already on disk hold it: a change
// here is a new format version.
TEST(MetricsLog, ColumnsAreFormatVersion1) {
  using core::hdf5::FieldType;
  struct Want {
    const char* name;
    FieldType type;
    size_t bytes;
  };
  const std::vector<Want> want = {
      {"kind", FieldType::kString, 64},
      {"stage", FieldType::kInt32, 4},
      {"epoch", FieldType::kInt32, 4},
      {"variant", FieldType::kString, 64},
      {"exit", FieldType::kInt32, 4},
      {"loss", FieldType::kFloat64, 8},
      {"top1", FieldType::kFloat64, 8},
      {"top5", FieldType::kFloat64, 8},
      {"lr", FieldType::kFloat64, 8},
      {"epoch_seconds", FieldType::kFloat64, 8},
      {"images_per_second", FieldType::kFloat64, 8},
      {"peak_rss_bytes", FieldType::kInt64, 8},
      {"wall_seconds", FieldType::kFloat64, 8},
  };
  const auto& columns = core::row_schema<MetricsRow>().columns();
  ASSERT_EQ(columns.size(), want.size());
  std::string header;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(columns[i].name, want[i].name);
    EXPECT_EQ(columns[i].type, want[i].type) << want[i].name;
    EXPECT_EQ(columns[i].bytes, want[i].bytes) << want[i].name;
    header += (i ? "," : "") + std::string(want[i].name);
  }
  EXPECT_EQ(core::row_schema<MetricsRow>().row_bytes(), 204u);
  EXPECT_EQ(metrics_csv_header(), header);
}

TEST(MetricsLog, AHeaderOfOtherColumnsNamesTheColumn) {
  TempDir dir;
  std::string header = metrics_csv_header();
  header.replace(header.find("wall_seconds"), 12, "wall_s");
  auto path = dir.write("metrics.csv", header + "\n");
  EXPECT_THROW_WITH(read_metrics_csv(path), DataError,
                    "column 13 is 'wall_s', expected 'wall_seconds'");
  EXPECT_THROW_WITH(MetricsLog(dir.path(), 1), DataError,
                    "metrics.csv:1: expected the header");
}

}  // namespace
}  // namespace adascale::training
