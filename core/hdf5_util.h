#pragma once
/// A small RAII layer over the HDF5 C API for what AdaScale stores in HDF5:
/// tables of rows (metrics.h5, tables.h5), each a chunked, extendible 1-D
/// dataset of a compound type mirroring a plain C++ struct, plus integer
/// attributes such as a format version. Identifiers close themselves, HDF5's
/// own stderr error printing is switched off, and every failure is an
/// IoError (DataError for a missing dataset or attribute) naming the file.
/// hdf5.h stays out of this header. Tables of AdaScale rows get their
/// layout from the row's one column list (core/row_schema.h).

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace adascale::core::hdf5 {

/// An HDF5 identifier (hid_t) that closes itself with its H5*close function.
class Handle {
 public:
  using CloseFn = int (*)(int64_t);
  Handle() = default;
  /// Takes ownership of `id` (negative = none).
  Handle(int64_t id, CloseFn close) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  int64_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes the identifier now (errors while closing are ignored).
  void reset();

 private:
  int64_t id_ = -1;
  CloseFn close_ = nullptr;
};

/// The type of one compound field.
enum class FieldType {
  kInt32,
  kInt64,
  kFloat64,
  kString,  ///< fixed-length, null-padded char array of Field::size bytes
};

/// One field of a row struct: its name in the file, where it sits in the
/// struct (`offsetof`) and its type.
struct Field {
  std::string name;
  size_t offset = 0;
  FieldType type = FieldType::kFloat64;
  size_t size = 0;  ///< kString only: bytes of the char array
};

/// A row struct (trivially copyable) as HDF5 sees it.
struct RowLayout {
  size_t row_size = 0;  ///< sizeof(Row)
  std::vector<Field> fields;
};

/// An open HDF5 file.
class File {
 public:
  enum class Mode {
    kCreate,     ///< create, replacing any existing file
    kReadWrite,  ///< open an existing file for writing
    kReadOnly,   ///< open an existing file for reading
  };
  /// Throws IoError naming `path` when it cannot be created or opened.
  File(const std::string& path, Mode mode);

  const std::string& path() const { return path_; }
  int64_t id() const { return handle_.get(); }
  /// Pushes everything written so far to the operating system (H5Fflush).
  void flush();

 private:
  std::string path_;
  Handle handle_;
};

/// A 1-D, chunked, extendible dataset of compound rows.
class RowDataset {
 public:
  RowDataset() = default;

  /// Creates the empty dataset `name` in `file`; the stored type is `layout`
  /// packed (no padding). Throws IoError.
  static RowDataset create(const File& file, const std::string& name,
                           const RowLayout& layout, int64_t chunk_rows = 256);
  /// Opens the existing dataset `name`; fields are converted to `layout` by
  /// name when read (the stored rows may hold more columns). Throws
  /// DataError when it is missing.
  static RowDataset open(const File& file, const std::string& name,
                         const RowLayout& layout);

  /// Number of rows stored.
  int64_t rows() const;
  /// Appends `count` rows laid out as `layout` from `data`.
  void append(const void* data, int64_t count);
  /// Grows (zero-filled) or shrinks the dataset to `rows` rows.
  void resize(int64_t rows);
  /// Reads rows [first, first + count) into `out` (laid out as `layout`).
  /// Throws DataError naming the file and the column when the stored rows
  /// lack a column of `layout` or hold it as another kind (text for a
  /// number).
  void read(void* out, int64_t first, int64_t count) const;

  /// Writes (or overwrites) a scalar 64-bit integer attribute.
  void write_attribute(const std::string& name, int64_t value);
  /// Reads a scalar integer attribute; throws DataError when missing.
  int64_t read_attribute(const std::string& name) const;

  /// Typed conveniences for a trivially copyable `Row` matching `layout`.
  template <typename Row>
  void append_rows(const std::vector<Row>& rows) {
    static_assert(std::is_trivially_copyable_v<Row>);
    check_row_size(sizeof(Row));
    append(rows.data(), static_cast<int64_t>(rows.size()));
  }
  template <typename Row>
  std::vector<Row> read_rows() const {
    static_assert(std::is_trivially_copyable_v<Row>);
    check_row_size(sizeof(Row));
    std::vector<Row> out(static_cast<size_t>(rows()));
    read(out.data(), 0, static_cast<int64_t>(out.size()));
    return out;
  }

  /// Throws InternalError when `size` is not the layout's row size.
  void check_row_size(size_t size) const;

 private:
  [[noreturn]] void fail(const std::string& what) const;
  /// The check read() makes of the stored columns against fields_.
  void check_stored_columns() const;

  std::string where_;  ///< "file.h5:/name", for messages
  size_t row_size_ = 0;
  std::vector<Field> fields_;
  Handle dataset_;
  Handle memory_type_;
};

/// Copies `text` into a fixed-length, null-padded field of `size` bytes;
/// throws InternalError when it does not fit (callers validate first).
void copy_fixed_string(char* field, size_t size, const std::string& text);

/// Reads a fixed-length, null-padded field back into a string.
std::string read_fixed_string(const char* field, size_t size);

}  // namespace adascale::core::hdf5
