#include "datasets/idx_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/logging.h"
#include "datasets/reader_util.h"

namespace adascale::datasets {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dims
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dim
constexpr uint64_t kImagesHeader = 16;
constexpr uint64_t kLabelsHeader = 8;

// A file's decompressed contents and whether it was gzip'd (for messages).
struct FileBytes {
  std::vector<unsigned char> bytes;
  bool gzipped = false;
};

bool has_gzip_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  return in.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

std::vector<unsigned char> read_gzip_file(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw DataError(path + ": cannot open: " + std::strerror(errno));
  }
  struct Closer {
    gzFile file;
    ~Closer() { gzclose(file); }
  } closer{file};
  gzbuffer(file, 1u << 17);

  constexpr unsigned kChunk = 1u << 20;
  std::vector<unsigned char> out;
  for (;;) {
    const size_t done = out.size();
    out.resize(done + kChunk);
    const int got = gzread(file, out.data() + done, kChunk);
    out.resize(done + static_cast<size_t>(got < 0 ? 0 : got));
    if (got < static_cast<int>(kChunk)) break;
  }
  // gzread reports a stream cut short as a short read; only gzerror tells
  // it apart from a clean end of file.
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  if (code != Z_OK) {
    throw DataError(path + ": corrupt gzip stream after " +
                    std::to_string(out.size()) + " decompressed bytes: " +
                    (code == Z_BUF_ERROR ? "input ends in the middle of the "
                                           "compressed stream"
                                         : message));
  }
  return out;
}

FileBytes read_maybe_gzipped(const std::string& path) {
  require_file(path, "IDX file");
  FileBytes file;
  file.gzipped = has_gzip_magic(path);
  file.bytes = file.gzipped ? read_gzip_file(path) : read_binary_file(path);
  return file;
}

uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string hex32(uint32_t value) {
  char text[11];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

std::string size_note(const FileBytes& file) {
  return file.gzipped ? " (after gunzip)" : "";
}

// Checks the magic and that the file is at least `header` bytes long.
void check_header(const std::string& path, const FileBytes& file,
                  uint32_t magic, uint64_t header, const char* kind) {
  const uint64_t size = file.bytes.size();
  if (size < 4) {
    throw DataError(path + ": too short for an IDX file: " +
                    std::to_string(size) + " bytes" + size_note(file));
  }
  const uint32_t found = big_endian_u32(file.bytes.data());
  if (found != magic) {
    throw DataError(path + ": bad IDX magic " + hex32(found) + ", expected " +
                    hex32(magic) + " (" + kind + ")");
  }
  if (size < header) {
    throw DataError(path + ": truncated IDX header: expected " +
                    std::to_string(header) + " bytes, found " +
                    std::to_string(size) + size_note(file));
  }
}

// Checks that the file is exactly `header` + `count` × `item` bytes long.
void check_size(const std::string& path, const FileBytes& file, uint64_t header,
                uint64_t count, uint64_t item) {
  const uint64_t size = file.bytes.size();
  if (count != 0 &&
      item > (std::numeric_limits<uint64_t>::max() - header) / count) {
    throw DataError(path + ": IDX header claims an impossible size (" +
                    std::to_string(count) + " items of " +
                    std::to_string(item) + " bytes)");
  }
  const uint64_t expected = header + count * item;
  if (size != expected) {
    throw DataError(path + ": " +
                    (size < expected ? "truncated IDX data"
                                     : "trailing bytes after IDX data") +
                    ": expected " + std::to_string(expected) +
                    " bytes, found " + std::to_string(size) + size_note(file));
  }
}

std::string find_idx_file(const std::string& root, const std::string& base,
                          const std::string& what) {
  const std::string plain = (std::filesystem::path(root) / base).string();
  const std::string gzipped = plain + ".gz";
  for (const std::string& candidate : {plain, gzipped}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  throw DataError(root + ": " + what + " not found; looked for " + plain +
                  " and " + gzipped);
}

}  // namespace

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

ImageDataset read_idx(const std::string& images_path,
                      const std::string& labels_path,
                      std::vector<std::string> class_names, std::string name) {
  if (class_names.empty()) {
    throw DataError(name + ": no class names given for " + labels_path);
  }

  FileBytes images = read_maybe_gzipped(images_path);
  check_header(images_path, images, kImagesMagic, kImagesHeader,
               "IDX unsigned-byte images");
  const uint32_t count = big_endian_u32(images.bytes.data() + 4);
  const uint32_t rows = big_endian_u32(images.bytes.data() + 8);
  const uint32_t cols = big_endian_u32(images.bytes.data() + 12);
  constexpr uint32_t kMaxSide = 1u << 15;
  if (rows == 0 || cols == 0 || rows > kMaxSide || cols > kMaxSide) {
    throw DataError(images_path + ": bad IDX image size " +
                    std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (count == 0) throw DataError(images_path + ": holds no images");
  check_size(images_path, images, kImagesHeader, count, uint64_t{rows} * cols);

  FileBytes labels = read_maybe_gzipped(labels_path);
  check_header(labels_path, labels, kLabelsMagic, kLabelsHeader,
               "IDX unsigned-byte labels");
  const uint32_t label_count = big_endian_u32(labels.bytes.data() + 4);
  check_size(labels_path, labels, kLabelsHeader, label_count, 1);
  if (label_count != count) {
    throw DataError(images_path + " holds " + std::to_string(count) +
                    " images but " + labels_path + " holds " +
                    std::to_string(label_count) + " labels");
  }

  ImageDataset out;
  out.name = std::move(name);
  out.channels = 1;
  out.height = static_cast<int>(rows);
  out.width = static_cast<int>(cols);
  out.labels.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    const unsigned char label = labels.bytes[kLabelsHeader + i];
    if (label >= class_names.size()) {
      throw DataError(labels_path + ": label " + std::to_string(i) +
                      " (byte offset " + std::to_string(kLabelsHeader + i) +
                      size_note(labels) + ") is " + std::to_string(label) +
                      ", out of range [0, " +
                      std::to_string(class_names.size()) + ")");
    }
    out.labels[i] = label;
  }
  out.class_names = std::move(class_names);
  // Drop the header in place rather than copying tens of megabytes.
  images.bytes.erase(images.bytes.begin(),
                     images.bytes.begin() + kImagesHeader);
  out.pixels = std::move(images.bytes);
  log::debug("read {}: {} images of {}x{} from {}", out.name, out.size(),
             out.height, out.width, images_path);
  return out;
}

ImageDataset read_mnist_like(const std::string& root, bool train,
                             bool fashion) {
  const std::string dataset = fashion ? "Fashion-MNIST" : "MNIST";
  require_directory(root, dataset + " dataset directory");
  const std::string prefix = train ? "train" : "t10k";
  const std::string split = train ? "train" : "test";
  const std::string images = find_idx_file(root, prefix + "-images-idx3-ubyte",
                                           dataset + " " + split + " images");
  const std::string labels = find_idx_file(root, prefix + "-labels-idx1-ubyte",
                                           dataset + " " + split + " labels");
  std::vector<std::string> names;
  if (fashion) {
    names = fashion_mnist_class_names();
  } else {
    for (int digit = 0; digit < 10; ++digit) {
      names.push_back(std::to_string(digit));
    }
  }
  return read_idx(images, labels, std::move(names),
                  (fashion ? "fashion_mnist/" : "mnist/") + split);
}

}  // namespace adascale::datasets
