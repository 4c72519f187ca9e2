#include "core/hdf5_util.h"

#include <gtest/gtest.h>

#include <cstddef>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core::hdf5 {
namespace {

using adascale::testing::TempDir;

struct Row {
  char name[8];
  int64_t key;
  double value;
};

RowLayout layout() {
  return {sizeof(Row),
          {{"name", offsetof(Row, name), FieldType::kString, 8},
           {"key", offsetof(Row, key), FieldType::kInt64},
           {"value", offsetof(Row, value), FieldType::kFloat64}}};
}

Row row(const std::string& name, int64_t key, double value) {
  Row r{};
  copy_fixed_string(r.name, sizeof r.name, name);
  r.key = key;
  r.value = value;
  return r;
}

TEST(Hdf5Util, AppendsResizesAndReadsRows) {
  TempDir dir;
  const std::string path = dir.file("t.h5");
  {
    File file(path, File::Mode::kCreate);
    auto table = RowDataset::create(file, "rows", layout(), 2);
    table.write_attribute("version", 7);
    table.append_rows(std::vector<Row>{row("a", 1, 0.5), row("bb", 2, 1.5)});
    table.append_rows(std::vector<Row>{row("12345678", 3, -2)});
    EXPECT_EQ(table.rows(), 3);
    file.flush();
  }
  File file(path, File::Mode::kReadWrite);
  auto table = RowDataset::open(file, "rows", layout());
  EXPECT_EQ(table.read_attribute("version"), 7);
  auto rows = table.read_rows<Row>();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(read_fixed_string(rows[1].name, 8), "bb");
  EXPECT_EQ(read_fixed_string(rows[2].name, 8), "12345678");  // fills it
  EXPECT_EQ(rows[2].key, 3);
  EXPECT_EQ(rows[2].value, -2);
  table.resize(1);
  EXPECT_EQ(table.rows(), 1);
  table.append_rows(std::vector<Row>{row("c", 4, 9)});
  rows = table.read_rows<Row>();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(read_fixed_string(rows[0].name, 8), "a");
  EXPECT_EQ(rows[1].key, 4);
}

TEST(Hdf5Util, ErrorsNameTheFile) {
  TempDir dir;
  EXPECT_THROW_WITH(File(dir.file("none.h5"), File::Mode::kReadOnly), IoError,
                    "none.h5: cannot open: no such file");
  EXPECT_THROW_WITH(File(dir.write("x.h5", "text"), File::Mode::kReadOnly),
                    IoError, "x.h5: cannot open as HDF5");
  EXPECT_THROW_WITH(File(dir.file("no/dir/y.h5"), File::Mode::kCreate), IoError,
                    "y.h5: cannot create HDF5 file");
  File file(dir.file("z.h5"), File::Mode::kCreate);
  EXPECT_THROW_WITH(RowDataset::open(file, "rows", layout()), DataError,
                    "z.h5:/rows: no such dataset");
  auto table = RowDataset::create(file, "rows", layout());
  EXPECT_THROW_WITH(table.read_attribute("version"), DataError,
                    "missing attribute 'version'");
  EXPECT_THROW_WITH(RowDataset::create(file, "rows", layout()), IoError,
                    "z.h5:/rows: cannot create dataset");
  Row r{};
  EXPECT_THROW_WITH(copy_fixed_string(r.name, 8, "123456789"), InternalError,
                    "does not fit");
}

}  // namespace
}  // namespace adascale::core::hdf5
