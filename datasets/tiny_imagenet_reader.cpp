#include "datasets/tiny_imagenet_reader.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/logging.h"
#include "datasets/reader_util.h"

namespace adascale::datasets {

namespace {

namespace fs = std::filesystem;

// Tiny ImageNet's images are 64x64; this leaves room for any image dataset
// in the same layout while a header claiming 30000x30000 (2.7 GB decoded)
// is refused before decoding.
constexpr int kMaxImageSide = 4096;
// A JPEG of kMaxImageSide squared at the highest quality is well below it.
constexpr uintmax_t kMaxImageFileBytes = uintmax_t(64) << 20;

// One image to decode and its label.
struct Sample {
  std::string path;
  int32_t label = 0;
};

// A non-empty line of a text file and its 1-based line number.
struct NumberedLine {
  int number = 0;
  std::string text;
};

std::string join(const std::string& a, const std::string& b) {
  return (fs::path(a) / b).string();
}

std::string line_ref(const std::string& path, int line) {
  return path + ":" + std::to_string(line);
}

// Like read_text_lines, but keeps line numbers for error messages.
std::vector<NumberedLine> read_numbered_lines(const std::string& path) {
  require_file(path, "text file");
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open");
  std::vector<NumberedLine> lines;
  std::string text;
  for (int number = 1; std::getline(in, text); ++number) {
    while (!text.empty() &&
           (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
      text.pop_back();
    }
    if (!text.empty()) lines.push_back({number, text});
  }
  if (in.bad()) throw DataError(path + ": read failed");
  return lines;
}

std::vector<std::string> split_tabs(const std::string& text) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    const size_t tab = text.find('\t', start);
    fields.push_back(text.substr(start, tab - start));
    if (tab == std::string::npos) return fields;
    start = tab + 1;
  }
}

// Like a shell glob, hidden files (e.g. macOS "._x.JPEG") are skipped.
bool is_jpeg_name(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name.empty() || name[0] == '.') return false;
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return ext == ".jpeg" || ext == ".jpg";
}

// File names (not paths) of the JPEGs in `dir`, sorted. Something named
// like an image that is not a file (a directory, a dangling link) is an
// error rather than a silently smaller dataset.
std::vector<std::string> list_jpegs(const std::string& dir,
                                    const std::string& what) {
  require_directory(dir, what);
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!is_jpeg_name(it->path())) continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) {
      throw DataError(it->path().string() +
                      ": named like an image but not a regular file");
    }
    names.push_back(it->path().filename().string());
  }
  if (ec) throw DataError(dir + ": cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

// wnid → readable name from words.txt, for the wnids we use; absent entries
// (or an absent words.txt) fall back to the wnid.
std::vector<std::string> class_names_for(
    const std::string& root, const std::vector<std::string>& wnids,
    const std::unordered_map<std::string, int32_t>& label_of) {
  std::vector<std::string> names = wnids;
  const std::string path = join(root, "words.txt");
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    log::debug("{} not found; Tiny ImageNet class names are the wnids", path);
    return names;
  }
  std::vector<bool> named(wnids.size(), false);
  for (const NumberedLine& line : read_numbered_lines(path)) {
    const size_t tab = line.text.find('\t');
    if (tab == std::string::npos) continue;  // a wnid without a name
    auto it = label_of.find(line.text.substr(0, tab));
    if (it == label_of.end() || named[it->second]) continue;
    std::string name = line.text.substr(tab + 1);
    if (name.empty()) continue;
    names[it->second] = std::move(name);
    named[it->second] = true;
  }
  return names;
}

std::vector<Sample> train_samples(const std::string& root,
                                  const std::vector<std::string>& wnids) {
  const std::string train_dir = join(root, "train");
  require_directory(train_dir, "Tiny ImageNet train directory");
  std::vector<Sample> samples;
  for (size_t label = 0; label < wnids.size(); ++label) {
    const std::string dir = join(join(train_dir, wnids[label]), "images");
    const std::vector<std::string> files =
        list_jpegs(dir, "image directory of class " + wnids[label]);
    if (files.empty()) {
      throw DataError(dir + ": no .JPEG images for class " + wnids[label]);
    }
    for (const std::string& file : files) {
      samples.push_back({join(dir, file), static_cast<int32_t>(label)});
    }
  }
  return samples;
}

std::vector<Sample> val_samples(
    const std::string& root,
    const std::unordered_map<std::string, int32_t>& label_of) {
  const std::string val_dir = join(root, "val");
  require_directory(val_dir, "Tiny ImageNet val directory");
  const std::string image_dir = join(val_dir, "images");
  const std::vector<std::string> files =
      list_jpegs(image_dir, "Tiny ImageNet val image directory");
  if (files.empty()) throw DataError(image_dir + ": no .JPEG images");
  const std::unordered_set<std::string> present(files.begin(), files.end());

  const std::string annotations = join(val_dir, "val_annotations.txt");
  require_file(annotations, "Tiny ImageNet val annotation file");
  struct Annotation {
    int32_t label;
    int line;
  };
  std::unordered_map<std::string, Annotation> annotation_of;
  for (const NumberedLine& line : read_numbered_lines(annotations)) {
    const std::vector<std::string> fields = split_tabs(line.text);
    if (fields.size() < 2 || fields[0].empty() || fields[1].empty()) {
      throw DataError(line_ref(annotations, line.number) +
                      ": expected 'file<TAB>wnid<TAB>x<TAB>y<TAB>w<TAB>h'");
    }
    const std::string& file = fields[0];
    const std::string& wnid = fields[1];
    auto label = label_of.find(wnid);
    if (label == label_of.end()) {
      throw DataError(line_ref(annotations, line.number) + ": unknown wnid '" +
                      wnid + "' (not in wnids.txt)");
    }
    if (present.count(file) == 0) {
      throw DataError(line_ref(annotations, line.number) +
                      ": annotated image " + join(image_dir, file) +
                      " not found");
    }
    auto [it, inserted] =
        annotation_of.emplace(file, Annotation{label->second, line.number});
    if (!inserted) {
      throw DataError(line_ref(annotations, line.number) +
                      ": second annotation of " + file + " (first on line " +
                      std::to_string(it->second.line) + ")");
    }
  }

  std::vector<Sample> samples;
  samples.reserve(files.size());
  for (const std::string& file : files) {
    auto it = annotation_of.find(file);
    if (it == annotation_of.end()) {
      throw DataError(join(image_dir, file) + ": no annotation in " +
                      annotations);
    }
    samples.push_back({join(image_dir, file), it->second.label});
  }
  return samples;
}

// OpenCV's BGR, interleaved → our planar RGB.
void store_planar_rgb(const cv::Mat& bgr, uint8_t* out) {
  const size_t plane = static_cast<size_t>(bgr.rows) * bgr.cols;
  for (int y = 0; y < bgr.rows; ++y) {
    const uint8_t* row = bgr.ptr<uint8_t>(y);
    const size_t base = static_cast<size_t>(y) * bgr.cols;
    for (int x = 0; x < bgr.cols; ++x) {
      out[base + x] = row[3 * x + 2];
      out[plane + base + x] = row[3 * x + 1];
      out[2 * plane + base + x] = row[3 * x];
    }
  }
}

// libjpeg decodes a JPEG cut short inside its scan data into a partly grey
// image with no more than a warning, so such a file is caught here: in a
// whole JPEG an end-of-image marker (FF D9) follows the last start-of-scan
// marker (FF DA). Neither can occur inside entropy-coded data (FF is stuffed
// there), and trailing bytes after the marker are tolerated.
bool is_truncated_jpeg(const std::vector<unsigned char>& bytes) {
  const size_t n = bytes.size();
  if (n < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return false;
  size_t last_scan = n;
  for (size_t i = n - 1; i-- > 2;) {
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xDA) {
      last_scan = i;
      break;
    }
  }
  if (last_scan == n) return false;  // no scan at all: the decoder refuses it
  for (size_t i = last_scan + 2; i + 1 < n; ++i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xD9) return false;
  }
  return true;
}

// Width and height from a JPEG's frame header (SOFn), read without
// decoding anything; {0, 0} when there is none before the first scan.
std::pair<int, int> jpeg_frame_size(const std::vector<unsigned char>& bytes) {
  const size_t n = bytes.size();
  size_t i = 2;  // after SOI
  while (i + 1 < n) {
    if (bytes[i] != 0xFF) return {0, 0};
    while (i + 1 < n && bytes[i + 1] == 0xFF) ++i;  // fill bytes
    if (i + 1 >= n) break;
    const unsigned char marker = bytes[i + 1];
    i += 2;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;
    if (marker == 0xD9 || marker == 0xDA || i + 1 >= n) break;
    const size_t length = (size_t(bytes[i]) << 8) | bytes[i + 1];
    const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
                       marker != 0xC8 && marker != 0xCC;
    if (frame && length >= 7 && i + 6 < n) {
      const int height = (int(bytes[i + 3]) << 8) | bytes[i + 4];
      const int width = (int(bytes[i + 5]) << 8) | bytes[i + 6];
      return {width, height};
    }
    if (length < 2) break;
    i += length;
  }
  return {0, 0};
}

const char* other_format(const std::vector<unsigned char>& bytes) {
  auto starts = [&](std::initializer_list<unsigned char> magic) {
    return bytes.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), bytes.begin());
  };
  if (starts({0x89, 'P', 'N', 'G'})) return "PNG";
  if (starts({'G', 'I', 'F', '8'})) return "GIF";
  if (starts({'B', 'M'})) return "BMP";
  if (starts({'R', 'I', 'F', 'F'})) return "RIFF/WebP";
  return "unknown";
}

// Decodes `path` to 8-bit BGR. Returns an empty Mat and sets `error` (a full
// message naming the file) instead of throwing, so that parallel workers can
// report in file order. The frame header is checked before decoding:
// against kMaxImageSide, and against `expected` (cols, rows) when given,
// so a small file declaring a huge image is refused without allocating it.
cv::Mat decode_bgr(const std::string& path, std::string& error,
                   std::pair<int, int> expected = {0, 0}) {
  try {
    std::error_code ec;
    const auto file_bytes = fs::file_size(path, ec);
    if (!ec && file_bytes > kMaxImageFileBytes) {
      error = path + ": cannot decode image: " + std::to_string(file_bytes) +
              " bytes, more than an image this reader takes";
      return {};
    }
    std::vector<unsigned char> bytes = read_binary_file(path);
    if (bytes.empty()) {
      error = path + ": cannot decode image: the file is empty";
      return {};
    }
    if (bytes.size() < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8 ||
        bytes[2] != 0xFF) {
      error = path + ": cannot decode image: not a JPEG file (" +
              other_format(bytes) + " data) despite its name";
      return {};
    }
    const auto [width, height] = jpeg_frame_size(bytes);
    if (width <= 0 || height <= 0) {
      error = path + ": cannot decode image: no JPEG frame header";
      return {};
    }
    if (width > kMaxImageSide || height > kMaxImageSide) {
      error = path + ": cannot decode image: JPEG header declares " +
              std::to_string(width) + "x" + std::to_string(height) +
              " pixels, more than the " + std::to_string(kMaxImageSide) +
              "-pixel side this reader takes";
      return {};
    }
    if (expected.first > 0 &&
        (width != expected.first || height != expected.second)) {
      error = path + ": image is " + std::to_string(width) + "x" +
              std::to_string(height) + " (width x height), expected " +
              std::to_string(expected.first) + "x" +
              std::to_string(expected.second) + " like the first image";
      return {};
    }
    if (is_truncated_jpeg(bytes)) {
      error = path +
              ": cannot decode image: truncated JPEG (no end-of-image marker "
              "after the last scan)";
      return {};
    }
    cv::Mat image = cv::imdecode(
        cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, bytes.data()),
        cv::IMREAD_COLOR);
    if (image.empty()) {
      error = path + ": cannot decode image (unreadable or corrupt)";
      return {};
    }
    if (image.type() != CV_8UC3) {
      error = path + ": cannot decode image: unexpected pixel type";
      return {};
    }
    return image;
  } catch (const DataError& e) {
    error = e.what();
  } catch (const std::exception& e) {
    error = path + ": cannot decode image: " + e.what();
  }
  return {};
}

// Decodes `path` into `out` (3×rows×cols planar RGB); returns the error
// message, or an empty string on success.
std::string decode_into(const std::string& path, int rows, int cols,
                        uint8_t* out) {
  std::string error;
  cv::Mat image = decode_bgr(path, error, {cols, rows});
  if (image.empty()) return error;
  if (image.rows != rows || image.cols != cols) {
    return path + ": image is " + std::to_string(image.cols) + "x" +
           std::to_string(image.rows) + " (width x height), expected " +
           std::to_string(cols) + "x" + std::to_string(rows) +
           " like the first image";
  }
  store_planar_rgb(image, out);
  return {};
}

}  // namespace

ImageDataset read_tiny_imagenet(const std::string& root, bool train) {
  require_directory(root, "Tiny ImageNet dataset directory");
  const std::string wnids_path = join(root, "wnids.txt");
  require_file(wnids_path, "Tiny ImageNet class list");
  const std::vector<NumberedLine> wnid_lines = read_numbered_lines(wnids_path);
  if (wnid_lines.empty()) throw DataError(wnids_path + ": lists no wnids");
  std::vector<std::string> wnids;
  std::unordered_map<std::string, int32_t> label_of;
  for (const NumberedLine& line : wnid_lines) {
    // A wnid becomes a directory name under train/: anything but a plain
    // name ("../../x") would read outside the dataset root.
    const bool plain =
        std::all_of(line.text.begin(), line.text.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '_' || c == '-';
        });
    if (!plain) {
      throw DataError(line_ref(wnids_path, line.number) + ": wnid '" +
                      line.text +
                      "' is not a plain name (letters, digits, '_', '-')");
    }
    auto [it, inserted] =
        label_of.emplace(line.text, static_cast<int32_t>(wnids.size()));
    if (!inserted) {
      throw DataError(line_ref(wnids_path, line.number) + ": duplicate wnid '" +
                      line.text + "'");
    }
    wnids.push_back(line.text);
  }

  const std::vector<Sample> samples =
      train ? train_samples(root, wnids) : val_samples(root, label_of);

  ImageDataset out;
  out.name = train ? "tiny_imagenet/train" : "tiny_imagenet/test";
  out.class_names = class_names_for(root, wnids, label_of);
  out.channels = 3;

  // The first image fixes the size every other one must have.
  std::string error;
  cv::Mat first = decode_bgr(samples[0].path, error);
  if (first.empty()) throw DataError(error);
  out.height = first.rows;
  out.width = first.cols;
  out.pixels.resize(samples.size() * static_cast<size_t>(out.image_bytes()));
  out.labels.resize(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) out.labels[i] = samples[i].label;
  store_planar_rgb(first, out.image(0));
  first.release();

  // Every worker writes only its own slots, so the pixels do not depend on
  // the thread count; errors are collected per slot and the first one in
  // file order is reported, so the message does not depend on it either.
  std::vector<std::string> errors(samples.size());
  tbb::parallel_for(tbb::blocked_range<size_t>(1, samples.size()),
                    [&](const tbb::blocked_range<size_t>& range) {
                      for (size_t i = range.begin(); i != range.end(); ++i) {
                        errors[i] =
                            decode_into(samples[i].path, out.height, out.width,
                                        out.image(static_cast<int64_t>(i)));
                      }
                    });
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!errors[i].empty()) throw DataError(errors[i]);
  }
  log::debug("read {}: {} images of {}x{} from {}", out.name, out.size(),
             out.height, out.width, root);
  return out;
}

}  // namespace adascale::datasets
