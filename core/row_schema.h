#pragma once
/// A table row described once, as config structs are (core/config/schema.h):
/// the row struct lists its columns in a member template
///
///     struct Sample {
///       std::string name;
///       int count = 0;
///       double seconds = 0;
///       template <typename V>
///       void visit(V& v) {
///         v("name", name, Column::text(32), "who");
///         v("count", count, "images");
///         v("ms", seconds, Column::scaled(1e3), "stored in ms");
///       }
///     };
///
/// and everything else is derived from that one list (RowSchema): the HDF5
/// compound layout (the columns in the order listed, packed), the encoding
/// of rows into it and back, the CSV header, CSV lines and their parser, and
/// field-by-field equality. Member types: int (stored int32), int64_t,
/// uint64_t (stored as int64, bit for bit), double and std::string (a
/// fixed-length, null-padded field of Column::text bytes). A visit() must
/// list the same columns for every row; names may be computed
/// (`"scale_" + name`).
///
/// Readers name the file and the column at fault: a CSV header that differs
/// from the schema, a field that does not parse, an HDF5 table that lacks a
/// column or stores it as another kind (core/hdf5_util.h).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/hdf5_util.h"

namespace adascale::core {

/// How one column is stored, beyond what its member's type says (the
/// optional third argument of a visit() call).
struct Column {
  /// std::string members: bytes of the fixed-length field (required).
  size_t text_bytes = 0;
  /// double members: the file holds member × scale (a unit change).
  double scale = 1;
  /// false: HDF5 only, left out of CSV files (a packed key, say).
  bool in_csv = true;
  /// std::string members: the values readers accept, '|'-separated
  /// ("train|test"); empty = any.
  const char* one_of = "";

  static Column text(size_t bytes) {
    Column c;
    c.text_bytes = bytes;
    return c;
  }
  static Column scaled(double scale) {
    Column c;
    c.scale = scale;
    return c;
  }
  static Column hdf5_only() {
    Column c;
    c.in_csv = false;
    return c;
  }
  /// This column, accepting only `alternatives` ("a|b|c") when read.
  Column choices(const char* alternatives) const {
    Column c = *this;
    c.one_of = alternatives;
    return c;
  }
};

/// How CSV files spell numbers.
enum class CsvNumbers {
  /// The shortest text that reads back as the same double; NaN as "nan".
  kExact,
  /// Six significant digits, for people; NaN as an empty field.
  kReadable,
};

/// One column as a RowSchema derived it.
struct ColumnInfo {
  std::string name;
  hdf5::FieldType type = hdf5::FieldType::kFloat64;  ///< as stored
  size_t bytes = 0;                                  ///< stored size
  size_t offset = 0;                                 ///< in the packed record
  double scale = 1;
  bool in_csv = true;
  std::string one_of;  ///< '|'-separated accepted values; empty = any
  std::string doc;     ///< unit or description, from visit()

  /// Whether a text value is one this column accepts.
  bool accepts(std::string_view text) const;
};

namespace row_detail {

/// The C++ type of a bound member.
enum class Member { kInt32, kInt64, kUInt64, kFloat64, kString };

template <typename T>
constexpr Member member_kind() {
  if constexpr (std::is_same_v<T, int32_t>) {
    return Member::kInt32;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return Member::kInt64;
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    return Member::kUInt64;
  } else if constexpr (std::is_same_v<T, double>) {
    return Member::kFloat64;
  } else {
    static_assert(std::is_same_v<T, std::string>,
                  "a row column is int, int64_t, uint64_t, double or "
                  "std::string");
    return Member::kString;
  }
}

/// One member of one row, as visit() handed it over.
struct Binding {
  Member kind;
  void* value;
};

/// One column as visit() declared it.
struct Declared {
  std::string name;
  Member kind;
  Column column;
  std::string doc;
};

/// The visitor every operation runs: it collects the members of one row
/// (and, building the schema, their declarations).
class Binder {
 public:
  explicit Binder(std::vector<Declared>* declared = nullptr)
      : declared_(declared) {}

  template <typename T>
  void operator()(std::string_view name, T& value, const Column& column = {},
                  const char* doc = "") {
    constexpr Member kind = member_kind<T>();
    bindings_.push_back({kind, &value});
    if (declared_ != nullptr) {
      declared_->push_back({std::string(name), kind, column, doc});
    }
  }
  template <typename T>
  void operator()(std::string_view name, T& value, const char* doc) {
    (*this)(name, value, Column{}, doc);
  }

  const std::vector<Binding>& bindings() const { return bindings_; }

 private:
  std::vector<Declared>* declared_;
  std::vector<Binding> bindings_;
};

/// The members of `row` (a copy: visit() takes non-const references).
template <typename Row>
struct Bound {
  explicit Bound(Row r) : row(std::move(r)) { row.visit(binder); }
  Bound(const Bound&) = delete;  // the bindings point into `row`
  Bound& operator=(const Bound&) = delete;
  Row row;
  Binder binder;
};

}  // namespace row_detail

/// The columns of a row type, derived once from its visit().
class RowSchema {
 public:
  /// Throws InternalError for a declaration that cannot be stored (a
  /// string without text bytes, a scale on a non-double, a name twice).
  explicit RowSchema(std::vector<row_detail::Declared> declared);

  const std::vector<ColumnInfo>& columns() const { return columns_; }
  /// The column called `name`; throws InternalError when there is none.
  const ColumnInfo& column(std::string_view name) const;
  /// The packed HDF5 record: every column, in the order listed.
  const hdf5::RowLayout& layout() const { return layout_; }
  size_t row_bytes() const { return layout_.row_size; }

  /// The names of the CSV columns, comma-separated (no newline).
  const std::string& csv_header() const { return csv_header_; }
  /// Throws DataError "<path>:1: expected the header '...', got '...':
  /// column 3 is 'x', expected 'epoch'" when `line` is not csv_header().
  void check_csv_header(std::string_view line, const std::string& path) const;

  // The operations on one row's bound members (row_detail::Binder); the
  // typed functions below are what callers use.
  void encode(const std::vector<row_detail::Binding>& row, char* record) const;
  void decode(const char* record,
              const std::vector<row_detail::Binding>& row) const;
  void format_csv(const std::vector<row_detail::Binding>& row,
                  CsvNumbers numbers, std::string& out) const;
  /// `where` ("file.csv:12") prefixes errors.
  void parse_csv(std::string_view line, CsvNumbers numbers,
                 const std::string& where,
                 const std::vector<row_detail::Binding>& row) const;
  bool equal(const std::vector<row_detail::Binding>& a,
             const std::vector<row_detail::Binding>& b) const;

 private:
  void check_bound(const std::vector<row_detail::Binding>& row) const;

  std::vector<ColumnInfo> columns_;
  std::vector<row_detail::Member> members_;
  hdf5::RowLayout layout_;
  std::string csv_header_;
  size_t csv_columns_ = 0;
};

/// The schema of `Row`, built on first use from a default `Row{}`.
template <typename Row>
const RowSchema& row_schema() {
  static const RowSchema schema = [] {
    std::vector<row_detail::Declared> declared;
    row_detail::Binder binder(&declared);
    Row row{};
    row.visit(binder);
    return RowSchema(std::move(declared));
  }();
  return schema;
}

/// Field-by-field equality over the listed columns (NaN never equals
/// itself).
template <typename Row>
bool rows_equal(const Row& a, const Row& b) {
  row_detail::Bound<Row> x(a), y(b);
  return row_schema<Row>().equal(x.binder.bindings(), y.binder.bindings());
}

/// The CSV fields of `row`, comma-separated (no newline).
template <typename Row>
std::string csv_line(const Row& row, CsvNumbers numbers) {
  row_detail::Bound<Row> bound(row);
  std::string out;
  row_schema<Row>().format_csv(bound.binder.bindings(), numbers, out);
  return out;
}

/// Parses one CSV line (no newline). Throws DataError "<where>: loss:
/// expected a number, got 'abc'" (or a wrong field count, a value outside
/// the column's choices, a text longer than its field).
template <typename Row>
Row parse_csv_line(std::string_view line, CsvNumbers numbers,
                   const std::string& where) {
  row_detail::Bound<Row> bound(Row{});
  row_schema<Row>().parse_csv(line, numbers, where, bound.binder.bindings());
  return std::move(bound.row);
}

/// Creates the empty dataset `name` of `Row`s in `file`.
template <typename Row>
hdf5::RowDataset create_row_dataset(const hdf5::File& file,
                                    const std::string& name,
                                    int64_t chunk_rows = 256) {
  return hdf5::RowDataset::create(file, name, row_schema<Row>().layout(),
                                  chunk_rows);
}

/// Opens the dataset `name` of `Row`s; throws DataError when it is missing.
template <typename Row>
hdf5::RowDataset open_row_dataset(const hdf5::File& file,
                                  const std::string& name) {
  return hdf5::RowDataset::open(file, name, row_schema<Row>().layout());
}

/// Appends `rows` to a dataset made by create_row_dataset<Row>().
template <typename Row>
void append_rows(hdf5::RowDataset& dataset, const std::vector<Row>& rows) {
  const RowSchema& schema = row_schema<Row>();
  dataset.check_row_size(schema.row_bytes());
  std::vector<char> records(rows.size() * schema.row_bytes());
  for (size_t i = 0; i < rows.size(); ++i) {
    row_detail::Bound<Row> bound(rows[i]);
    schema.encode(bound.binder.bindings(),
                  records.data() + i * schema.row_bytes());
  }
  dataset.append(records.data(), static_cast<int64_t>(rows.size()));
}

/// Reads every row of a dataset opened by open_row_dataset<Row>(). Throws
/// DataError naming the file and column when the stored rows lack one.
template <typename Row>
std::vector<Row> read_rows(const hdf5::RowDataset& dataset) {
  const RowSchema& schema = row_schema<Row>();
  dataset.check_row_size(schema.row_bytes());
  const int64_t count = dataset.rows();
  std::vector<char> records(static_cast<size_t>(count) * schema.row_bytes());
  dataset.read(records.data(), 0, count);
  std::vector<Row> rows;
  rows.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    row_detail::Bound<Row> bound(Row{});
    schema.decode(records.data() + size_t(i) * schema.row_bytes(),
                  bound.binder.bindings());
    rows.push_back(std::move(bound.row));
  }
  return rows;
}

}  // namespace adascale::core
