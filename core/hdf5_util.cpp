#include "core/hdf5_util.h"

#include <hdf5.h>

#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.h"

namespace adascale::core::hdf5 {

static_assert(std::is_same_v<hid_t, int64_t>,
              "Handle stores hid_t as int64_t (HDF5 >= 1.10)");
static_assert(std::is_same_v<herr_t, int>);

namespace {

// HDF5 prints its error stack to stderr by default; library code never
// prints, so switch that off once and fold the stack into our messages.
void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

herr_t keep_description(unsigned /*n*/, const H5E_error2_t* err, void* out) {
  if (err->desc != nullptr && err->desc[0] != '\0') {
    *static_cast<std::string*>(out) = err->desc;
  }
  return 0;
}

// The deepest description on HDF5's error stack (the most specific one),
// then clears the stack.
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_description, &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason.empty() ? std::string() : " (HDF5: " + reason + ")";
}

[[noreturn]] void fail_io(const std::string& where, const std::string& what) {
  throw IoError(where + ": " + what + hdf5_reason());
}

hid_t field_type(const Field& f) {
  switch (f.type) {
    case FieldType::kInt32:
      return H5Tcopy(H5T_NATIVE_INT32);
    case FieldType::kInt64:
      return H5Tcopy(H5T_NATIVE_INT64);
    case FieldType::kFloat64:
      return H5Tcopy(H5T_NATIVE_DOUBLE);
    case FieldType::kString: {
      hid_t t = H5Tcopy(H5T_C_S1);
      if (t < 0) return t;
      if (H5Tset_size(t, f.size) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
        H5Tclose(t);
        return -1;
      }
      return t;
    }
  }
  return -1;
}

Handle memory_type(const RowLayout& layout, const std::string& where) {
  Handle type(H5Tcreate(H5T_COMPOUND, layout.row_size), H5Tclose);
  if (!type.valid()) fail_io(where, "cannot create compound type");
  for (const Field& f : layout.fields) {
    if (f.type == FieldType::kString && f.size == 0) {
      throw InternalError(where + ": string field '" + f.name + "' has size 0");
    }
    Handle member(field_type(f), H5Tclose);
    if (!member.valid() ||
        H5Tinsert(type.get(), f.name.c_str(), f.offset, member.get()) < 0) {
      fail_io(where, "cannot add field '" + f.name + "' to compound type");
    }
  }
  return type;
}

/// The file and memory dataspaces that address rows [first, first + count)
/// of `dataset`; both invalid when HDF5 refuses the selection.
struct RowSelection {
  Handle file_space;
  Handle mem_space;
  bool valid() const { return file_space.valid() && mem_space.valid(); }
};

RowSelection select_rows(hid_t dataset, int64_t first, int64_t count) {
  RowSelection selection{Handle(H5Dget_space(dataset), H5Sclose), Handle()};
  hsize_t start[1] = {static_cast<hsize_t>(first)};
  hsize_t n[1] = {static_cast<hsize_t>(count)};
  selection.mem_space = Handle(H5Screate_simple(1, n, nullptr), H5Sclose);
  if (!selection.valid() ||
      H5Sselect_hyperslab(selection.file_space.get(), H5S_SELECT_SET, start,
                          nullptr, n, nullptr) < 0) {
    return {};
  }
  return selection;
}

}  // namespace

Handle::Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) {
  other.id_ = -1;
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = -1;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_ != nullptr) close_(id_);
  id_ = -1;
}

File::File(const std::string& path, Mode mode) : path_(path) {
  silence_hdf5();
  if (mode == Mode::kCreate) {
    handle_ =
        Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
               H5Fclose);
    if (!handle_.valid()) fail_io(path, "cannot create HDF5 file");
    return;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw IoError(path + ": cannot open: no such file");
  }
  unsigned flags = mode == Mode::kReadWrite ? H5F_ACC_RDWR : H5F_ACC_RDONLY;
  handle_ = Handle(H5Fopen(path.c_str(), flags, H5P_DEFAULT), H5Fclose);
  if (!handle_.valid()) fail_io(path, "cannot open as HDF5");
}

void File::flush() {
  if (H5Fflush(handle_.get(), H5F_SCOPE_LOCAL) < 0) {
    fail_io(path_, "cannot flush");
  }
}

RowDataset RowDataset::create(const File& file, const std::string& name,
                              const RowLayout& layout, int64_t chunk_rows) {
  RowDataset ds;
  ds.where_ = file.path() + ":/" + name;
  ds.row_size_ = layout.row_size;
  ds.fields_ = layout.fields;
  ds.memory_type_ = memory_type(layout, ds.where_);

  Handle stored(H5Tcopy(ds.memory_type_.get()), H5Tclose);
  if (!stored.valid() || H5Tpack(stored.get()) < 0) {
    ds.fail("cannot build the stored type");
  }
  hsize_t dims[1] = {0};
  hsize_t max_dims[1] = {H5S_UNLIMITED};
  Handle space(H5Screate_simple(1, dims, max_dims), H5Sclose);
  Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  hsize_t chunk[1] = {static_cast<hsize_t>(chunk_rows > 0 ? chunk_rows : 1)};
  if (!space.valid() || !props.valid() ||
      H5Pset_chunk(props.get(), 1, chunk) < 0) {
    ds.fail("cannot set up a chunked dataspace");
  }
  ds.dataset_ =
      Handle(H5Dcreate2(file.id(), name.c_str(), stored.get(), space.get(),
                        H5P_DEFAULT, props.get(), H5P_DEFAULT),
             H5Dclose);
  if (!ds.dataset_.valid()) ds.fail("cannot create dataset");
  return ds;
}

RowDataset RowDataset::open(const File& file, const std::string& name,
                            const RowLayout& layout) {
  RowDataset ds;
  ds.where_ = file.path() + ":/" + name;
  ds.row_size_ = layout.row_size;
  if (H5Lexists(file.id(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw DataError(ds.where_ + ": no such dataset");
  }
  ds.dataset_ =
      Handle(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.dataset_.valid()) ds.fail("cannot open dataset");
  ds.memory_type_ = memory_type(layout, ds.where_);
  ds.fields_ = layout.fields;
  return ds;
}

int64_t RowDataset::rows() const {
  Handle space(H5Dget_space(dataset_.get()), H5Sclose);
  if (!space.valid()) fail("cannot read the dataspace");
  if (H5Sget_simple_extent_ndims(space.get()) != 1) {
    throw DataError(where_ + ": expected a 1-D dataset");
  }
  hsize_t dims[1] = {0};
  if (H5Sget_simple_extent_dims(space.get(), dims, nullptr) < 0) {
    fail("cannot read the dataset size");
  }
  return static_cast<int64_t>(dims[0]);
}

void RowDataset::resize(int64_t rows) {
  if (rows < 0) throw InternalError(where_ + ": negative row count");
  hsize_t dims[1] = {static_cast<hsize_t>(rows)};
  if (H5Dset_extent(dataset_.get(), dims) < 0) {
    fail("cannot resize to " + std::to_string(rows) + " rows");
  }
}

void RowDataset::append(const void* data, int64_t count) {
  if (count <= 0) return;
  int64_t first = rows();
  resize(first + count);
  const RowSelection rows = select_rows(dataset_.get(), first, count);
  if (!rows.valid() ||
      H5Dwrite(dataset_.get(), memory_type_.get(), rows.mem_space.get(),
               rows.file_space.get(), H5P_DEFAULT, data) < 0) {
    fail("cannot write rows " + std::to_string(first) + ".." +
         std::to_string(first + count - 1));
  }
}

void RowDataset::read(void* out, int64_t first, int64_t count) const {
  if (count <= 0) return;
  if (first < 0 || first + count > rows()) {
    throw InternalError(where_ + ": read past the end");
  }
  check_stored_columns();
  const RowSelection rows = select_rows(dataset_.get(), first, count);
  if (!rows.valid() ||
      H5Dread(dataset_.get(), memory_type_.get(), rows.mem_space.get(),
              rows.file_space.get(), H5P_DEFAULT, out) < 0) {
    throw DataError(where_ + ": cannot read rows" + hdf5_reason());
  }
}

void RowDataset::write_attribute(const std::string& name, int64_t value) {
  htri_t exists = H5Aexists(dataset_.get(), name.c_str());
  if (exists < 0) fail("cannot query attribute '" + name + "'");
  Handle attr;
  if (exists > 0) {
    attr = Handle(H5Aopen(dataset_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  } else {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    attr = Handle(H5Acreate2(dataset_.get(), name.c_str(), H5T_STD_I64LE,
                             space.get(), H5P_DEFAULT, H5P_DEFAULT),
                  H5Aclose);
  }
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
    fail("cannot write attribute '" + name + "'");
  }
}

int64_t RowDataset::read_attribute(const std::string& name) const {
  if (H5Aexists(dataset_.get(), name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw DataError(where_ + ": missing attribute '" + name + "'");
  }
  Handle attr(H5Aopen(dataset_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  int64_t value = 0;
  if (!attr.valid() || H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
    throw DataError(where_ + ": cannot read attribute '" + name + "'" +
                    hdf5_reason());
  }
  return value;
}

void RowDataset::check_stored_columns() const {
  Handle stored(H5Dget_type(dataset_.get()), H5Tclose);
  if (!stored.valid()) fail("cannot read the stored type");
  if (H5Tget_class(stored.get()) != H5T_COMPOUND) {
    throw DataError(where_ + ": not a table of rows (no compound type)");
  }
  for (const Field& f : fields_) {
    const int index = H5Tget_member_index(stored.get(), f.name.c_str());
    if (index < 0) {
      H5Eclear2(H5E_DEFAULT);
      std::string names;
      const int members = H5Tget_nmembers(stored.get());
      for (int i = 0; i < members; ++i) {
        char* name = H5Tget_member_name(stored.get(), unsigned(i));
        if (name == nullptr) continue;
        names += (names.empty() ? "" : ", ") + std::string(name);
        H5free_memory(name);
      }
      throw DataError(where_ + ": no column '" + f.name +
                      "' (the file has: " + names + ")");
    }
    const H5T_class_t want = f.type == FieldType::kString    ? H5T_STRING
                             : f.type == FieldType::kFloat64 ? H5T_FLOAT
                                                             : H5T_INTEGER;
    const H5T_class_t got = H5Tget_member_class(stored.get(), unsigned(index));
    if (got != want) {
      auto kind = [](H5T_class_t c) {
        return c == H5T_STRING    ? "text"
               : c == H5T_FLOAT   ? "a floating-point number"
               : c == H5T_INTEGER ? "an integer"
                                  : "another type";
      };
      throw DataError(where_ + ": column '" + f.name + "' holds " + kind(got) +
                      ", expected " + kind(want));
    }
  }
}

void RowDataset::check_row_size(size_t size) const {
  if (size != row_size_) {
    throw InternalError(where_ + ": row type of " + std::to_string(size) +
                        " bytes, layout says " + std::to_string(row_size_));
  }
}

void RowDataset::fail(const std::string& what) const {
  fail_io(where_, what);
}

void copy_fixed_string(char* field, size_t size, const std::string& text) {
  if (text.size() > size) {
    throw InternalError("'" + text + "' does not fit a " +
                        std::to_string(size) + "-byte field");
  }
  std::memset(field, 0, size);
  std::memcpy(field, text.data(), text.size());
}

std::string read_fixed_string(const char* field, size_t size) {
  return std::string(field, strnlen(field, size));
}

}  // namespace adascale::core::hdf5
