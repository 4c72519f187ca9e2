#include "core/row_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>

#include "core/error.h"

namespace adascale::core {

using row_detail::Binding;
using row_detail::Member;

namespace {

size_t stored_bytes(Member kind, const Column& column) {
  switch (kind) {
    case Member::kInt32:
      return sizeof(int32_t);
    case Member::kInt64:
    case Member::kUInt64:
      return sizeof(int64_t);
    case Member::kFloat64:
      return sizeof(double);
    case Member::kString:
      return column.text_bytes;
  }
  return 0;
}

hdf5::FieldType stored_type(Member kind) {
  switch (kind) {
    case Member::kInt32:
      return hdf5::FieldType::kInt32;
    case Member::kInt64:
    case Member::kUInt64:
      return hdf5::FieldType::kInt64;
    case Member::kFloat64:
      return hdf5::FieldType::kFloat64;
    case Member::kString:
      return hdf5::FieldType::kString;
  }
  return hdf5::FieldType::kFloat64;
}

template <typename T>
const T& get(const Binding& b) {
  return *static_cast<const T*>(b.value);
}

template <typename T>
void put(const Binding& b, T value) {
  *static_cast<T*>(b.value) = value;
}

template <typename T>
void store(char* at, T value) {
  std::memcpy(at, &value, sizeof value);
}

template <typename T>
T load(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

// The value the file holds for a double member.
double stored_double(const ColumnInfo& c, const Binding& b) {
  const double v = get<double>(b);
  return c.scale == 1 ? v : v * c.scale;
}

// Back from the file's unit: multiplying by 1/scale (1e-6 for 1e6) gives
// the same doubles as the hand-written readers before the schema did.
double member_double(const ColumnInfo& c, double stored) {
  return c.scale == 1 ? stored : stored * (1.0 / c.scale);
}

std::vector<std::string_view> split(std::string_view line, char sep = ',') {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(sep, start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

template <typename T>
T parse_number(std::string_view text, const std::string& where,
               const ColumnInfo& c) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw DataError(fmt::format("{}: {}: expected a number, got '{}'", where,
                                c.name, text));
  }
  return value;
}

}  // namespace

bool ColumnInfo::accepts(std::string_view text) const {
  if (one_of.empty()) return true;
  for (std::string_view choice : split(one_of, '|')) {
    if (text == choice) return true;
  }
  return false;
}

RowSchema::RowSchema(std::vector<row_detail::Declared> declared) {
  std::set<std::string> names;
  size_t offset = 0;
  for (auto& d : declared) {
    if (!names.insert(d.name).second) {
      throw InternalError("row schema: column '" + d.name + "' listed twice");
    }
    if (d.kind == Member::kString && d.column.text_bytes == 0) {
      throw InternalError("row schema: text column '" + d.name +
                          "' needs Column::text(bytes)");
    }
    if (d.kind != Member::kString && d.column.text_bytes != 0) {
      throw InternalError("row schema: column '" + d.name +
                          "' is not text but has text bytes");
    }
    if (d.kind != Member::kFloat64 && d.column.scale != 1) {
      throw InternalError("row schema: column '" + d.name +
                          "' is not a double but has a scale");
    }
    if (d.kind == Member::kFloat64 && !(d.column.scale > 0)) {
      throw InternalError("row schema: column '" + d.name +
                          "' has a scale that is not > 0");
    }
    ColumnInfo c;
    c.name = d.name;
    c.type = stored_type(d.kind);
    c.bytes = stored_bytes(d.kind, d.column);
    c.offset = offset;
    c.scale = d.column.scale;
    c.in_csv = d.column.in_csv;
    c.one_of = d.column.one_of;
    c.doc = d.doc;
    offset += c.bytes;
    layout_.fields.push_back(
        {c.name, c.offset, c.type,
         c.type == hdf5::FieldType::kString ? c.bytes : 0});
    if (c.in_csv) {
      csv_header_ += (csv_columns_++ == 0 ? "" : ",") + c.name;
    }
    columns_.push_back(std::move(c));
    members_.push_back(d.kind);
  }
  layout_.row_size = offset;
}

const ColumnInfo& RowSchema::column(std::string_view name) const {
  for (const ColumnInfo& c : columns_) {
    if (c.name == name) return c;
  }
  throw InternalError(fmt::format("row schema: no column '{}'", name));
}

void RowSchema::check_csv_header(std::string_view line,
                                 const std::string& path) const {
  if (line == csv_header_) return;
  const std::vector<std::string_view> got = split(line);
  const std::vector<std::string_view> want = split(csv_header_);
  std::string detail;
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    if (i >= got.size()) {
      detail = fmt::format("column {} '{}' is missing", i + 1, want[i]);
    } else if (i >= want.size()) {
      detail = fmt::format("column {} '{}' is not one of this file's", i + 1,
                           got[i]);
    } else if (got[i] != want[i]) {
      detail = fmt::format("column {} is '{}', expected '{}'", i + 1, got[i],
                           want[i]);
    } else {
      continue;
    }
    break;
  }
  throw DataError(fmt::format("{}:1: expected the header '{}', got '{}': {}",
                              path, csv_header_, line, detail));
}

void RowSchema::check_bound(const std::vector<Binding>& row) const {
  if (row.size() != columns_.size()) {
    throw InternalError(fmt::format(
        "row schema: visit() listed {} columns, the schema has {}: a visit() "
        "must list the same columns for every row",
        row.size(), columns_.size()));
  }
}

void RowSchema::encode(const std::vector<Binding>& row, char* record) const {
  check_bound(row);
  for (size_t i = 0; i < row.size(); ++i) {
    const ColumnInfo& c = columns_[i];
    char* at = record + c.offset;
    switch (members_[i]) {
      case Member::kInt32:
        store(at, get<int32_t>(row[i]));
        break;
      case Member::kInt64:
        store(at, get<int64_t>(row[i]));
        break;
      case Member::kUInt64:
        store(at, static_cast<int64_t>(get<uint64_t>(row[i])));
        break;
      case Member::kFloat64:
        store(at, stored_double(c, row[i]));
        break;
      case Member::kString:
        hdf5::copy_fixed_string(at, c.bytes, get<std::string>(row[i]));
        break;
    }
  }
}

void RowSchema::decode(const char* record,
                       const std::vector<Binding>& row) const {
  check_bound(row);
  for (size_t i = 0; i < row.size(); ++i) {
    const ColumnInfo& c = columns_[i];
    const char* at = record + c.offset;
    switch (members_[i]) {
      case Member::kInt32:
        put(row[i], load<int32_t>(at));
        break;
      case Member::kInt64:
        put(row[i], load<int64_t>(at));
        break;
      case Member::kUInt64:
        put(row[i], static_cast<uint64_t>(load<int64_t>(at)));
        break;
      case Member::kFloat64:
        put(row[i], member_double(c, load<double>(at)));
        break;
      case Member::kString:
        put(row[i], hdf5::read_fixed_string(at, c.bytes));
        break;
    }
  }
}

void RowSchema::format_csv(const std::vector<Binding>& row, CsvNumbers numbers,
                           std::string& out) const {
  check_bound(row);
  bool first = true;
  for (size_t i = 0; i < row.size(); ++i) {
    const ColumnInfo& c = columns_[i];
    if (!c.in_csv) continue;
    if (!first) out.push_back(',');
    first = false;
    switch (members_[i]) {
      case Member::kInt32:
        out += fmt::format("{}", get<int32_t>(row[i]));
        break;
      case Member::kInt64:
        out += fmt::format("{}", get<int64_t>(row[i]));
        break;
      case Member::kUInt64:  // as stored, so CSV and HDF5 agree
        out += fmt::format("{}", static_cast<int64_t>(get<uint64_t>(row[i])));
        break;
      case Member::kFloat64: {
        const double v = stored_double(c, row[i]);
        if (numbers == CsvNumbers::kExact) {
          out += fmt::format("{}", v);
        } else if (!std::isnan(v)) {
          out += fmt::format("{:.6g}", v);
        }
        break;
      }
      case Member::kString:
        out += get<std::string>(row[i]);
        break;
    }
  }
}

void RowSchema::parse_csv(std::string_view line, CsvNumbers numbers,
                          const std::string& where,
                          const std::vector<Binding>& row) const {
  check_bound(row);
  const std::vector<std::string_view> fields = split(line);
  if (fields.size() != csv_columns_) {
    throw DataError(
        fmt::format("{}: expected {} comma-separated fields, got {}", where,
                    csv_columns_, fields.size()));
  }
  size_t f = 0;
  for (size_t i = 0; i < row.size(); ++i) {
    const ColumnInfo& c = columns_[i];
    if (!c.in_csv) continue;
    const std::string_view text = fields[f++];
    switch (members_[i]) {
      case Member::kInt32:
        put(row[i], parse_number<int32_t>(text, where, c));
        break;
      case Member::kInt64:
        put(row[i], parse_number<int64_t>(text, where, c));
        break;
      case Member::kUInt64:
        put(row[i],
            static_cast<uint64_t>(parse_number<int64_t>(text, where, c)));
        break;
      case Member::kFloat64: {
        const double v = numbers == CsvNumbers::kReadable && text.empty()
                             ? std::nan("")
                             : parse_number<double>(text, where, c);
        put(row[i], member_double(c, v));
        break;
      }
      case Member::kString:
        if (!c.accepts(text)) {
          throw DataError(fmt::format("{}: {}: expected {}, got '{}'", where,
                                      c.name, c.one_of, text));
        }
        if (text.size() > c.bytes) {
          throw DataError(fmt::format("{}: {}: longer than {} bytes, got '{}'",
                                      where, c.name, c.bytes, text));
        }
        put(row[i], std::string(text));
        break;
    }
  }
}

bool RowSchema::equal(const std::vector<Binding>& a,
                      const std::vector<Binding>& b) const {
  check_bound(a);
  check_bound(b);
  for (size_t i = 0; i < a.size(); ++i) {
    bool same = false;
    switch (members_[i]) {
      case Member::kInt32:
        same = get<int32_t>(a[i]) == get<int32_t>(b[i]);
        break;
      case Member::kInt64:
        same = get<int64_t>(a[i]) == get<int64_t>(b[i]);
        break;
      case Member::kUInt64:
        same = get<uint64_t>(a[i]) == get<uint64_t>(b[i]);
        break;
      case Member::kFloat64:
        same = get<double>(a[i]) == get<double>(b[i]);
        break;
      case Member::kString:
        same = get<std::string>(a[i]) == get<std::string>(b[i]);
        break;
    }
    if (!same) return false;
  }
  return true;
}

}  // namespace adascale::core
