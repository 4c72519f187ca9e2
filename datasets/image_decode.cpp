#include "datasets/image_decode.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "datasets/reader_util.h"

namespace adascale::datasets {

namespace {

namespace fs = std::filesystem;

bool is_jpeg(const std::vector<unsigned char>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 &&
         bytes[2] == 0xFF;
}

bool is_png(const std::vector<unsigned char>& bytes) {
  static const unsigned char kSignature[] = {0x89, 'P',  'N',  'G',
                                             0x0D, 0x0A, 0x1A, 0x0A};
  return bytes.size() >= sizeof(kSignature) &&
         std::equal(std::begin(kSignature), std::end(kSignature),
                    bytes.begin());
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

// A PNG ends with an IEND chunk (length 0, type, CRC); without one the file
// was cut short. Trailing bytes after it are tolerated, as for JPEG.
bool is_truncated_png(const std::vector<unsigned char>& bytes) {
  static const char kIend[] = {'I', 'E', 'N', 'D'};
  return std::search(bytes.begin() + 8, bytes.end(), std::begin(kIend),
                     std::end(kIend)) == bytes.end();
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

// Width and height from a PNG's IHDR chunk, which must come first (PNG
// spec §5.6); {0, 0} when it does not. Values over 2^31 come out negative
// and are refused like zero.
std::pair<int, int> png_header_size(const std::vector<unsigned char>& bytes) {
  if (bytes.size() < 24 || bytes[12] != 'I' || bytes[13] != 'H' ||
      bytes[14] != 'D' || bytes[15] != 'R') {
    return {0, 0};
  }
  auto be32 = [&](size_t at) {
    return static_cast<int>((uint32_t(bytes[at]) << 24) |
                            (uint32_t(bytes[at + 1]) << 16) |
                            (uint32_t(bytes[at + 2]) << 8) | bytes[at + 3]);
  };
  return {be32(16), be32(20)};
}

const char* other_format(const std::vector<unsigned char>& bytes) {
  auto starts = [&](std::initializer_list<unsigned char> magic) {
    return bytes.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), bytes.begin());
  };
  if (starts({0x89, 'P', 'N', 'G'})) return "PNG";
  if (starts({0xFF, 0xD8, 0xFF})) return "JPEG";
  if (starts({'G', 'I', 'F', '8'})) return "GIF";
  if (starts({'B', 'M'})) return "BMP";
  if (starts({'R', 'I', 'F', 'F'})) return "RIFF/WebP";
  return "unknown";
}

}  // namespace

bool has_image_extension(const std::string& name,
                         std::initializer_list<const char*> extensions) {
  if (name.empty() || name[0] == '.') return false;
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return std::any_of(extensions.begin(), extensions.end(),
                     [&](const char* e) { return ext == e; });
}

std::vector<std::string> list_image_files(
    const std::string& dir, const std::string& what,
    std::initializer_list<const char*> extensions,
    std::vector<std::string>* others) {
  require_directory(dir, what);
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!has_image_extension(name, extensions)) {
      if (others != nullptr && !name.empty() && name[0] != '.') {
        others->push_back(it->path().string());
      }
      continue;
    }
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) {
      throw DataError(it->path().string() +
                      ": named like an image but not a regular file");
    }
    names.push_back(name);
  }
  if (ec) throw DataError(dir + ": cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  if (others != nullptr) std::sort(others->begin(), others->end());
  return names;
}

cv::Mat decode_image_bgr(const std::string& path, ImageEncodings encodings,
                         std::string& error, std::pair<int, int> expected) {
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
    const bool png = encodings == ImageEncodings::kJpegOrPng && is_png(bytes);
    if (!png && !is_jpeg(bytes)) {
      error = path + ": cannot decode image: not a " +
              (encodings == ImageEncodings::kJpeg ? "JPEG" : "JPEG or PNG") +
              " file (" + other_format(bytes) + " data) despite its name";
      return {};
    }
    const char* kind = png ? "PNG" : "JPEG";
    const auto [width, height] =
        png ? png_header_size(bytes) : jpeg_frame_size(bytes);
    if (width <= 0 || height <= 0) {
      error = path + ": cannot decode image: no " + kind +
              (png ? " IHDR header" : " frame header");
      return {};
    }
    if (width > kMaxImageSide || height > kMaxImageSide) {
      error = path + ": cannot decode image: " + kind + " header declares " +
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
    if (png ? is_truncated_png(bytes) : is_truncated_jpeg(bytes)) {
      error = path + ": cannot decode image: " +
              (png ? "truncated PNG (no IEND chunk)"
                   : "truncated JPEG (no end-of-image marker after the last "
                     "scan)");
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

}  // namespace adascale::datasets
