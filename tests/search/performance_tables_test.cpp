#include "search/performance_tables.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/file_checksum.h"
#include "core/hdf5_util.h"
#include "tests/test_util.h"

namespace adascale::search {
namespace {

using adascale::testing::TempDir;

PerformanceTables sample() {
  PerformanceTables t;
  t.index.push_back({0x1000000000000000ULL, "e1:basic", 1, 100, 400, 5000, 2000,
                     7, 0.5, 200});
  t.index.push_back({0x2040000000000000ULL, "e2:basic.ghost", 2, 300, 1200,
                     9000, 4000, 12, 0.75, 200});
  t.predictive.push_back({t.index[0].key, "board", 1, 2, 1.25, 3.5, 0.9, 1.3});
  t.predictive.push_back(
      {t.index[1].key, "board", 1, 2, 2.5, 7.0, 0.8, std::nan("")});
  LatencyModelEntry m;
  m.device = "board";
  m.batch = 1;
  m.threads = 2;
  m.model.class_scale = {1, 2, 3, 4, 5, 6};
  m.model.per_layer_s = {15e-6, 1e-6, 0, 0, 2e-6, 3e-6};
  m.model.load_per_layer_s = 30e-6;
  m.model.load_slope = 1.5;
  m.model.fitted_on = 2;
  m.within_10pct = 0.95;
  m.fit_load = 0.02;
  m.load_within_10pct = std::nan("");
  t.models.push_back(m);
  return t;
}

TEST(PerformanceTables, RoundTripThroughHdf5AndCsv) {
  TempDir dir;
  auto t = sample();
  write_tables(t, dir.file("tables.h5"), dir.file("tables.csv"));
  auto back = read_tables(dir.file("tables.h5"));
  ASSERT_EQ(back.index.size(), 2u);
  EXPECT_EQ(back.index[1].key, t.index[1].key);
  EXPECT_EQ(back.index[1].variant, "e2:basic.ghost");
  EXPECT_EQ(back.index[1].macs, 9000);
  EXPECT_DOUBLE_EQ(back.index[1].validation_top1, 0.75);
  ASSERT_EQ(back.predictive.size(), 2u);
  EXPECT_EQ(back.predictive[0].device, "board");
  EXPECT_DOUBLE_EQ(back.predictive[0].measured_latency_ms, 1.3);
  EXPECT_TRUE(std::isnan(back.predictive[1].measured_latency_ms));
  const LatencyModelEntry* m = back.model("board", 1);
  ASSERT_NE(m, nullptr);
  EXPECT_DOUBLE_EQ(m->model.class_scale[5], 6.0);
  EXPECT_NEAR(m->model.per_layer_s[0], 15e-6, 1e-15);
  EXPECT_NEAR(m->model.per_layer_s[5], 3e-6, 1e-15);
  EXPECT_NEAR(m->model.load_per_layer_s, 30e-6, 1e-15);
  EXPECT_EQ(back.index[1].layers, 12);
  EXPECT_DOUBLE_EQ(m->model.load_slope, 1.5);
  EXPECT_EQ(back.model("board", 8), nullptr);

  std::ifstream csv(dir.file("tables.csv"));
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(header.rfind("variant,exit,params", 0), 0u);
  EXPECT_EQ(
      row.rfind("e1:basic,1,100,400,5000,2000,7,0.5,200,board,1,2,1.25", 0), 0u)
      << row;
}

TEST(PerformanceTables, ForeignMissingAndWrongVersionFilesAreRefused) {
  TempDir dir;
  EXPECT_THROW_WITH(read_tables(dir.file("none.h5")), IoError, "no such file");
  std::string junk = dir.write("junk.h5", "not hdf5 at all");
  EXPECT_THROW(read_tables(junk), IoError);

  // A valid HDF5 file without our datasets.
  {
    core::hdf5::File f(dir.file("foreign.h5"), core::hdf5::File::Mode::kCreate);
  }
  EXPECT_THROW_WITH(read_tables(dir.file("foreign.h5")), DataError,
                    "not an AdaScale tables file");

  // Our file with a bumped schema version.
  write_tables(sample(), dir.file("t.h5"), dir.file("t.csv"));
  {
    struct Key {
      int64_t key;
    };
    core::hdf5::File f(dir.file("t.h5"), core::hdf5::File::Mode::kReadWrite);
    core::hdf5::RowLayout layout{
        sizeof(Key), {{"key", 0, core::hdf5::FieldType::kInt64, 0}}};
    auto d = core::hdf5::RowDataset::open(f, "performance_index", layout);
    d.write_attribute("schema_version", kTablesSchemaVersion + 1);
  }
  // A newer build's file passes its checksum: the version is what refuses it.
  core::write_checksum_sidecar(dir.file("t.h5"));
  EXPECT_THROW_WITH(read_tables(dir.file("t.h5")), DataError,
                    "schema version 3");
}

TEST(PerformanceTables, OverlongNamesAreRefusedAndTheOldFileKept) {
  TempDir dir;
  write_tables(sample(), dir.file("t.h5"), dir.file("t.csv"));
  auto t = sample();
  t.predictive[0].device = std::string(40, 'x');
  EXPECT_THROW_WITH(write_tables(t, dir.file("t.h5"), dir.file("t.csv")),
                    UsageError, "longer than 31");
  EXPECT_EQ(read_tables(dir.file("t.h5")).predictive[0].device, "board");
}

// tables.h5 schema version 2, as tables and bundles already on disk hold
// it: a change here is a new schema version.
TEST(PerformanceTables, ColumnsAreSchemaVersion2) {
  auto names = [](const core::RowSchema& schema) {
    std::string out;
    for (const auto& c : schema.columns()) {
      out += (out.empty() ? "" : ",") + c.name + ":" + std::to_string(c.bytes);
    }
    return out;
  };
  EXPECT_EQ(names(core::row_schema<IndexEntry>()),
            "key:8,variant:64,exit:4,params:8,storage_bytes:8,macs:8,"
            "memory_access_bytes:8,layers:4,validation_top1:8,"
            "validation_images:8");
  EXPECT_EQ(names(core::row_schema<PredictiveEntry>()),
            "key:8,device:32,batch:4,threads:4,predicted_latency_ms:8,"
            "predicted_energy_mj:8,hit_rate:8,measured_latency_ms:8");
  EXPECT_EQ(names(core::row_schema<LatencyModelEntry>()),
            "device:32,batch:4,threads:4,fitted_on:4,scale_conv:8,"
            "scale_thin_conv:8,scale_linear:8,scale_normalize:8,scale_pool:8,"
            "scale_elementwise:8,per_layer_us_conv:8,per_layer_us_thin_conv:8,"
            "per_layer_us_linear:8,per_layer_us_normalize:8,"
            "per_layer_us_pool:8,per_layer_us_elementwise:8,load_slope:8,"
            "load_per_layer_us:8,within_10pct:8,fit_load:8,"
            "load_within_10pct:8,load_probe_load:8");
  EXPECT_EQ(core::row_schema<IndexEntry>().row_bytes(), 128u);
  EXPECT_EQ(core::row_schema<PredictiveEntry>().row_bytes(), 80u);
  EXPECT_EQ(core::row_schema<LatencyModelEntry>().row_bytes(), 188u);
}

}  // namespace
}  // namespace adascale::search
