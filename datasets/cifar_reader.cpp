#include "datasets/cifar_reader.h"

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/logging.h"
#include "datasets/reader_util.h"

namespace adascale::datasets {

namespace {

constexpr int kCifarSide = 32;
constexpr int kCifarChannels = 3;

// One label byte of a record: what it is called in messages and how many
// classes it may take.
struct LabelField {
  const char* what;  // "label", "coarse label", "fine label"
  int classes;
};

// The layout of one CIFAR variant's records: the label bytes come first,
// then kCifarImageBytes pixel bytes.
struct RecordFormat {
  std::vector<LabelField> labels;
  size_t kept_label = 0;  // which label byte becomes the dataset's label

  int64_t record_bytes() const {
    return static_cast<int64_t>(labels.size()) + kCifarImageBytes;
  }
};

std::string join(const std::string& root, const std::string& name) {
  return (std::filesystem::path(root) / name).string();
}

void require_positive(int64_t count, const char* field) {
  if (count <= 0) {
    throw InternalError(std::string("CifarLayout.") + field +
                        " must be positive, got " + std::to_string(count));
  }
}

std::vector<std::string> read_class_names(const std::string& path,
                                          size_t expected,
                                          const std::string& what) {
  require_file(path, what);
  std::vector<std::string> names = read_text_lines(path);
  if (names.size() != expected) {
    throw DataError(path + ": expected " + std::to_string(expected) +
                    " class names (one per line), found " +
                    std::to_string(names.size()));
  }
  return names;
}

// Appends every record of `path` to `out` after checking that the file holds
// exactly `expected_records` whole records with labels in range.
// Checks from the file's size alone, before a byte is read, that `path`
// holds exactly `expected_records` whole records: an oversized file is
// refused without being loaded whole.
void check_record_file(const std::string& path, const RecordFormat& format,
                       int64_t expected_records, const std::string& what) {
  require_file(path, what);
  std::error_code ec;
  const auto on_disk = std::filesystem::file_size(path, ec);
  if (ec) throw DataError(path + ": cannot determine the file size");
  const int64_t size = static_cast<int64_t>(on_disk);
  const int64_t record = format.record_bytes();
  const int64_t records = size / record;
  if (size % record != 0) {
    throw DataError(path + ": size " + std::to_string(size) +
                    " bytes is not a multiple of the " +
                    std::to_string(record) + "-byte record; record " +
                    std::to_string(records) +
                    " is truncated, starting at byte offset " +
                    std::to_string(records * record));
  }
  if (records != expected_records) {
    throw DataError(path + ": expected " + std::to_string(expected_records) +
                    " records, found " + std::to_string(records));
  }
}

void append_records(const std::string& path, const RecordFormat& format,
                    int64_t expected_records, const std::string& what,
                    ImageDataset& out) {
  check_record_file(path, format, expected_records, what);
  std::vector<unsigned char> bytes = read_binary_file(path);
  const int64_t size = static_cast<int64_t>(bytes.size());
  const int64_t record = format.record_bytes();
  const int64_t records = size / record;
  if (records != expected_records || size % record != 0) {
    throw DataError(path + ": changed size while being read");
  }

  const size_t first_pixel = out.pixels.size();
  out.pixels.resize(first_pixel + static_cast<size_t>(records) *
                                      static_cast<size_t>(kCifarImageBytes));
  out.labels.reserve(out.labels.size() + static_cast<size_t>(records));
  for (int64_t r = 0; r < records; ++r) {
    const unsigned char* rec = bytes.data() + r * record;
    for (size_t k = 0; k < format.labels.size(); ++k) {
      const LabelField& field = format.labels[k];
      if (rec[k] >= field.classes) {
        throw DataError(
            path + ": record " + std::to_string(r) + " (byte offset " +
            std::to_string(r * record + static_cast<int64_t>(k)) +
            "): " + field.what + " " + std::to_string(rec[k]) +
            " out of range [0, " + std::to_string(field.classes) + ")");
      }
    }
    out.labels.push_back(rec[format.kept_label]);
    std::copy(rec + format.labels.size(), rec + record,
              out.pixels.begin() +
                  static_cast<std::ptrdiff_t>(
                      first_pixel + static_cast<size_t>(r) * kCifarImageBytes));
  }
}

ImageDataset empty_dataset(std::string name, std::vector<std::string> names) {
  ImageDataset out;
  out.name = std::move(name);
  out.channels = kCifarChannels;
  out.height = kCifarSide;
  out.width = kCifarSide;
  out.class_names = std::move(names);
  return out;
}

}  // namespace

ImageDataset read_cifar10(const std::string& root, bool train,
                          const CifarLayout& layout) {
  require_positive(layout.cifar10_records_per_file, "cifar10_records_per_file");
  require_directory(root, "CIFAR-10 dataset directory");
  ImageDataset out =
      empty_dataset(train ? "cifar10/train" : "cifar10/test",
                    read_class_names(join(root, "batches.meta.txt"), 10,
                                     "CIFAR-10 class-name file"));

  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) {
      files.push_back("data_batch_" + std::to_string(i) + ".bin");
    }
  } else {
    files.push_back("test_batch.bin");
  }
  const RecordFormat format{{{"label", 10}}, 0};
  const int64_t total =
      static_cast<int64_t>(files.size()) * layout.cifar10_records_per_file;
  // Every file's size first: the reservation below trusts the layout.
  for (const std::string& file : files) {
    check_record_file(join(root, file), format, layout.cifar10_records_per_file,
                      "CIFAR-10 batch file");
  }
  out.pixels.reserve(static_cast<size_t>(total * kCifarImageBytes));
  out.labels.reserve(static_cast<size_t>(total));
  for (const std::string& file : files) {
    append_records(join(root, file), format, layout.cifar10_records_per_file,
                   "CIFAR-10 batch file", out);
  }
  log::debug("read {}: {} images from {}", out.name, out.size(), root);
  return out;
}

ImageDataset read_cifar100(const std::string& root, bool train, bool coarse,
                           const CifarLayout& layout) {
  const int64_t records =
      train ? layout.cifar100_train_records : layout.cifar100_test_records;
  require_positive(records,
                   train ? "cifar100_train_records" : "cifar100_test_records");
  require_directory(root, "CIFAR-100 dataset directory");
  ImageDataset out = empty_dataset(
      train ? "cifar100/train" : "cifar100/test",
      coarse ? read_class_names(join(root, "coarse_label_names.txt"), 20,
                                "CIFAR-100 coarse class-name file")
             : read_class_names(join(root, "fine_label_names.txt"), 100,
                                "CIFAR-100 fine class-name file"));
  const RecordFormat format{{{"coarse label", 20}, {"fine label", 100}},
                            coarse ? size_t{0} : size_t{1}};
  append_records(join(root, train ? "train.bin" : "test.bin"), format, records,
                 "CIFAR-100 data file", out);
  log::debug("read {}: {} images from {}", out.name, out.size(), root);
  return out;
}

}  // namespace adascale::datasets
