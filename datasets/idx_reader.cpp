#include "datasets/idx_reader.h"

#include <zlib.h>

#include <algorithm>
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

// Far above MNIST-like data (Fashion-MNIST's images are 47 MB) and below
// what a reader should ever hold: a header declaring more is refused
// before anything is allocated.
constexpr uint64_t kMaxIdxBytes = uint64_t(2) << 30;
// Deflate cannot expand data more than 1032:1; a gzip'd file whose header
// declares more than that is lying about its size.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint32_t big_endian_u32(const unsigned char* p);
std::string hex32(uint32_t value);

// Bytes after the header that the header declares: count × item, where
// count is at `count_offset` and item is the product of the 32-bit sizes
// from `dims_offset` to `header` (1 for labels).
uint64_t declared_payload(const unsigned char* head, uint64_t header) {
  uint64_t total = big_endian_u32(head + 4);
  for (uint64_t off = 8; off + 4 <= header; off += 4) {
    const uint64_t dim = big_endian_u32(head + off);
    if (dim != 0 && total > kMaxIdxBytes / dim) return kMaxIdxBytes + 1;
    total *= dim;
  }
  return total;
}

// Reads an IDX file, plain or gzip'd, never more than its header
// declares: the header is read first, the declared size checked against
// the file (or, gzip'd, against what deflate can hold and kMaxIdxBytes),
// then exactly that many bytes are read or inflated. A short file or
// stream stops at what is there; anything after the declared data is
// refused. Checks the magic too; returns header + payload.
FileBytes read_idx_file(const std::string& path, uint32_t magic,
                        uint64_t header, const char* kind) {
  require_file(path, "IDX file");
  FileBytes file;
  file.gzipped = has_gzip_magic(path);
  std::error_code ec;
  const uint64_t on_disk = std::filesystem::file_size(path, ec);
  if (ec) throw DataError(path + ": cannot determine the file size");
  const std::string note = file.gzipped ? " (after gunzip)" : "";

  gzFile gz = nullptr;
  std::ifstream plain;
  if (file.gzipped) {
    gz = gzopen(path.c_str(), "rb");
    if (gz == nullptr) {
      throw DataError(path + ": cannot open: " + std::strerror(errno));
    }
    gzbuffer(gz, 1u << 17);
  } else {
    plain.open(path, std::ios::binary);
    if (!plain)
      throw DataError(path + ": cannot open: " + std::strerror(errno));
  }
  struct Closer {
    gzFile file;
    ~Closer() {
      if (file != nullptr) gzclose(file);
    }
  } closer{gz};
  // Reads up to `n` bytes at `out`; returns how many arrived.
  auto read_some = [&](unsigned char* out, uint64_t n) -> uint64_t {
    uint64_t done = 0;
    while (done < n) {
      const unsigned chunk = unsigned(std::min<uint64_t>(n - done, 1u << 24));
      if (file.gzipped) {
        const int got = gzread(gz, out + done, chunk);
        if (got <= 0) break;
        done += uint64_t(got);
      } else {
        plain.read(reinterpret_cast<char*>(out + done), chunk);
        const auto got = plain.gcount();
        if (got <= 0) break;
        done += uint64_t(got);
      }
    }
    if (file.gzipped) {
      // gzread reports a stream cut short as a short read; only gzerror
      // tells it apart from a clean end of file.
      int code = Z_OK;
      const char* message = gzerror(gz, &code);
      if (code != Z_OK) {
        throw DataError(path + ": corrupt gzip stream: " +
                        (code == Z_BUF_ERROR ? "input ends in the middle of "
                                               "the compressed stream"
                                             : std::string(message)));
      }
    } else if (plain.bad()) {
      throw DataError(path + ": read failed");
    }
    return done;
  };

  file.bytes.resize(header);
  const uint64_t head = read_some(file.bytes.data(), header);
  if (head < 4) {
    throw DataError(path + ": too short for an IDX file: " +
                    std::to_string(head) + " bytes" + note);
  }
  const uint32_t found = big_endian_u32(file.bytes.data());
  if (found != magic) {
    throw DataError(path + ": bad IDX magic " + hex32(found) + ", expected " +
                    hex32(magic) + " (" + kind + ")");
  }
  if (head < header) {
    throw DataError(path + ": truncated IDX header: expected " +
                    std::to_string(header) + " bytes, found " +
                    std::to_string(head) + note);
  }
  const uint64_t payload = declared_payload(file.bytes.data(), header);
  if (payload > kMaxIdxBytes) {
    throw DataError(path + ": IDX header declares more than " +
                    std::to_string(kMaxIdxBytes >> 30) +
                    " GiB of data; refusing to read it");
  }
  const uint64_t expected = header + payload;
  if (!file.gzipped && on_disk != expected) {
    throw DataError(path + ": " +
                    (on_disk < expected ? "truncated IDX data"
                                        : "trailing bytes after IDX data") +
                    ": expected " + std::to_string(expected) +
                    " bytes, found " + std::to_string(on_disk));
  }
  if (file.gzipped && expected > kMaxDeflateRatio * on_disk + 1024) {
    throw DataError(path + ": IDX header declares " + std::to_string(expected) +
                    " bytes, more than a " + std::to_string(on_disk) +
                    "-byte gzip file can hold");
  }
  try {
    file.bytes.resize(expected);
  } catch (const std::bad_alloc&) {
    throw DataError(path + ": not enough memory for the " +
                    std::to_string(expected) + " bytes its header declares");
  }
  const uint64_t got = read_some(file.bytes.data() + header, payload);
  if (got < payload) {
    throw DataError(path + ": truncated IDX data: expected " +
                    std::to_string(expected) + " bytes, found " +
                    std::to_string(header + got) + note);
  }
  unsigned char extra = 0;
  if (read_some(&extra, 1) != 0) {
    throw DataError(path + ": trailing bytes after IDX data: expected " +
                    std::to_string(expected) + " bytes" + note);
  }
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

  FileBytes images = read_idx_file(images_path, kImagesMagic, kImagesHeader,
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

  FileBytes labels = read_idx_file(labels_path, kLabelsMagic, kLabelsHeader,
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
