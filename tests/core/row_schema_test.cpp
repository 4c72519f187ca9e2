#include "core/row_schema.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;

struct Sample {
  uint64_t key = 0;
  std::string kind;
  int count = 0;
  int64_t bytes = 0;
  double seconds = 0;
  double ratio = 0;

  template <typename V>
  void visit(V& v) {
    v("key", key, Column::hdf5_only(), "packed");
    v("kind", kind, Column::text(8).choices("a|bb"), "a or bb");
    v("count", count, "images");
    v("bytes", bytes);
    v("ms", seconds, Column::scaled(1e3), "stored in ms");
    v("ratio", ratio);
  }
};

Sample sample(int i) {
  Sample s;
  s.key = 0xF000000000000000ULL + uint64_t(i);  // above int64's range
  s.kind = i % 2 ? "bb" : "a";
  s.count = -i;
  s.bytes = (int64_t(5) << 40) + i;
  s.seconds = 0.125 * i;
  s.ratio = 1.0 / 3.0 + i;
  return s;
}

// The same table as the file would hold it without some of Sample's
// columns, or with `count` as text.
struct Shorter {
  uint64_t key = 0;
  std::string kind;
  template <typename V>
  void visit(V& v) {
    v("key", key);
    v("kind", kind, Column::text(8));
  }
};
struct TextCount {
  std::string kind, count;
  int64_t bytes = 0;
  double ms = 0, ratio = 0;
  template <typename V>
  void visit(V& v) {
    v("kind", kind, Column::text(8));
    v("count", count, Column::text(8));
    v("bytes", bytes);
    v("ms", ms);
    v("ratio", ratio);
  }
};

TEST(RowSchema, ColumnsLayoutAndHeaderComeFromOneList) {
  const RowSchema& schema = row_schema<Sample>();
  EXPECT_EQ(&schema, &row_schema<Sample>());  // built once
  ASSERT_EQ(schema.columns().size(), 6u);
  const std::vector<std::string> names = {"key",   "kind", "count",
                                          "bytes", "ms",   "ratio"};
  const std::vector<size_t> bytes = {8, 8, 4, 8, 8, 8};
  size_t offset = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const ColumnInfo& c = schema.columns()[i];
    EXPECT_EQ(c.name, names[i]);
    EXPECT_EQ(c.bytes, bytes[i]) << c.name;
    EXPECT_EQ(c.offset, offset) << c.name;  // packed, in the order listed
    EXPECT_EQ(schema.layout().fields[i].name, names[i]);
    EXPECT_EQ(schema.layout().fields[i].offset, offset);
    offset += bytes[i];
  }
  EXPECT_EQ(schema.row_bytes(), offset);
  EXPECT_EQ(schema.column("key").type, hdf5::FieldType::kInt64);
  EXPECT_EQ(schema.column("kind").type, hdf5::FieldType::kString);
  EXPECT_EQ(schema.layout().fields[1].size, 8u);
  EXPECT_EQ(schema.column("count").type, hdf5::FieldType::kInt32);
  EXPECT_EQ(schema.column("ms").doc, "stored in ms");
  EXPECT_EQ(schema.csv_header(), "kind,count,bytes,ms,ratio");
  EXPECT_TRUE(schema.column("kind").accepts("bb"));
  EXPECT_FALSE(schema.column("kind").accepts("b"));
  EXPECT_THROW_WITH(schema.column("nope"), InternalError, "no column 'nope'");
}

TEST(RowSchema, RowsRoundTripThroughHdf5) {
  TempDir dir;
  const std::string path = dir.file("t.h5");
  std::vector<Sample> rows = {sample(0), sample(1), sample(2)};
  rows[2].ratio = std::nan("");
  rows[1].kind = "12345678";  // fills the field
  {
    hdf5::File file(path, hdf5::File::Mode::kCreate);
    auto table = create_row_dataset<Sample>(file, "rows", 2);
    append_rows(table, rows);
  }
  hdf5::File file(path, hdf5::File::Mode::kReadOnly);
  auto back = read_rows<Sample>(open_row_dataset<Sample>(file, "rows"));
  ASSERT_EQ(back.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(rows_equal(back[i], rows[i])) << i;
  }
  EXPECT_EQ(back[2].key, rows[2].key);
  EXPECT_TRUE(std::isnan(back[2].ratio));
  EXPECT_FALSE(rows_equal(back[2], rows[2]));  // NaN never equals itself
  // The file holds the scaled value.
  struct Ms {
    double ms;
  };
  hdf5::RowLayout ms_only{sizeof(Ms), {{"ms", 0, hdf5::FieldType::kFloat64}}};
  auto ms = hdf5::RowDataset::open(file, "rows", ms_only).read_rows<Ms>();
  EXPECT_DOUBLE_EQ(ms[2].ms, 250.0);
}

TEST(RowSchema, RowsRoundTripThroughCsv) {
  Sample s = sample(3);
  const std::string exact = csv_line(s, CsvNumbers::kExact);
  EXPECT_EQ(exact, "bb,-3,5497558138883,375,3.3333333333333335");
  Sample back = parse_csv_line<Sample>(exact, CsvNumbers::kExact, "x.csv:2");
  s.key = 0;  // not in the CSV
  EXPECT_TRUE(rows_equal(back, s));

  s.ratio = std::nan("");
  const std::string readable = csv_line(s, CsvNumbers::kReadable);
  EXPECT_EQ(readable, "bb,-3,5497558138883,375,");
  back = parse_csv_line<Sample>(readable, CsvNumbers::kReadable, "x.csv:2");
  EXPECT_TRUE(std::isnan(back.ratio));
  EXPECT_EQ(csv_line(s, CsvNumbers::kExact), "bb,-3,5497558138883,375,nan");
}

TEST(RowSchema, CsvErrorsNameTheFileLineAndColumn) {
  const RowSchema& schema = row_schema<Sample>();
  schema.check_csv_header("kind,count,bytes,ms,ratio", "x.csv");
  EXPECT_THROW_WITH(schema.check_csv_header("kind,cnt,bytes,ms,ratio", "x.csv"),
                    DataError,
                    "x.csv:1: expected the header 'kind,count,bytes,ms,ratio',"
                    " got 'kind,cnt,bytes,ms,ratio': column 2 is 'cnt', "
                    "expected 'count'");
  EXPECT_THROW_WITH(schema.check_csv_header("kind,count,bytes", "x.csv"),
                    DataError, "column 4 'ms' is missing");
  EXPECT_THROW_WITH(
      schema.check_csv_header("kind,count,bytes,ms,ratio,extra", "x.csv"),
      DataError, "column 6 'extra' is not one of this file's");

  auto parse = [](const std::string& line) {
    return parse_csv_line<Sample>(line, CsvNumbers::kExact, "x.csv:7");
  };
  EXPECT_THROW_WITH(parse("a,1,2,3"), DataError,
                    "x.csv:7: expected 5 comma-separated fields, got 4");
  EXPECT_THROW_WITH(parse("a,1.5,2,3,4"), DataError,
                    "x.csv:7: count: expected a number, got '1.5'");
  EXPECT_THROW_WITH(parse("a,1,2,,4"), DataError,
                    "x.csv:7: ms: expected a number, got ''");
  EXPECT_THROW_WITH(parse("c,1,2,3,4"), DataError,
                    "x.csv:7: kind: expected a|bb, got 'c'");
  EXPECT_THROW_WITH(
      parse_csv_line<Shorter>("1,123456789", CsvNumbers::kExact, "y.csv:2"),
      DataError, "y.csv:2: kind: longer than 8 bytes");
}

TEST(RowSchema, Hdf5ColumnMismatchNamesTheFileAndColumn) {
  TempDir dir;
  {
    hdf5::File file(dir.file("short.h5"), hdf5::File::Mode::kCreate);
    auto table = create_row_dataset<Shorter>(file, "rows");
    append_rows(table, std::vector<Shorter>{{1, "a"}});
  }
  hdf5::File file(dir.file("short.h5"), hdf5::File::Mode::kReadOnly);
  auto table = open_row_dataset<Sample>(file, "rows");
  EXPECT_THROW_WITH(read_rows<Sample>(table), DataError,
                    "short.h5:/rows: no column 'count' (the file has: key, "
                    "kind)");
  {
    hdf5::File text(dir.file("text.h5"), hdf5::File::Mode::kCreate);
    auto rows = create_row_dataset<TextCount>(text, "rows");
    append_rows(rows, std::vector<TextCount>{{"a", "3", 1, 2, 3}});
  }
  hdf5::File text(dir.file("text.h5"), hdf5::File::Mode::kReadOnly);
  struct Count {
    int32_t count;
  };
  hdf5::RowLayout count_only{sizeof(Count),
                             {{"count", 0, hdf5::FieldType::kInt32}}};
  EXPECT_THROW_WITH(
      hdf5::RowDataset::open(text, "rows", count_only).read_rows<Count>(),
      DataError,
      "text.h5:/rows: column 'count' holds text, expected an integer");
}

struct NoTextSize {
  std::string name;
  template <typename V>
  void visit(V& v) {
    v("name", name);
  }
};
struct Twice {
  int a = 0, b = 0;
  template <typename V>
  void visit(V& v) {
    v("a", a);
    v("a", b);
  }
};
struct ScaledInt {
  int a = 0;
  template <typename V>
  void visit(V& v) {
    v("a", a, Column::scaled(2));
  }
};
// A visit() whose columns depend on the row: not a schema.
struct Varying {
  int n = 0;
  int extra = 0;
  template <typename V>
  void visit(V& v) {
    v("n", n);
    if (n > 0) v("extra", extra);
  }
};

TEST(RowSchema, DeclarationsThatCannotBeStoredAreInternalErrors) {
  EXPECT_THROW_WITH(row_schema<NoTextSize>(), InternalError,
                    "text column 'name' needs Column::text(bytes)");
  EXPECT_THROW_WITH(row_schema<Twice>(), InternalError,
                    "column 'a' listed twice");
  EXPECT_THROW_WITH(row_schema<ScaledInt>(), InternalError,
                    "column 'a' is not a double but has a scale");
  Varying v;
  v.n = 1;
  EXPECT_THROW_WITH(csv_line(v, CsvNumbers::kExact), InternalError,
                    "visit() listed 2 columns, the schema has 1");
}

}  // namespace
}  // namespace adascale::core
