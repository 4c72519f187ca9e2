#pragma once
/// Decoding untrusted image files with OpenCV, shared by the folder readers
/// (Tiny ImageNet, image_folder): the header is checked before any pixel is
/// allocated, reads are bounded, and every error names the file.

#include <cstdint>
#include <initializer_list>
#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

namespace adascale::datasets {

/// Largest image side the readers decode. Tiny ImageNet's images are 64×64;
/// this leaves room for photos while a header claiming 30000×30000 (2.7 GB
/// decoded) is refused before decoding.
inline constexpr int kMaxImageSide = 4096;
/// Largest image file the readers read; a JPEG of kMaxImageSide squared at
/// the highest quality is well below it.
inline constexpr uintmax_t kMaxImageFileBytes = uintmax_t(64) << 20;

/// The encodings decode_image_bgr accepts.
enum class ImageEncodings {
  kJpeg,       ///< JPEG only (a PNG named .JPEG is refused)
  kJpegOrPng,  ///< either, whatever the file's extension says
};

/// Whether `name` (a file name, not a path) has one of `extensions`
/// (lower-case, with the dot), compared case-insensitively. Hidden files
/// (e.g. macOS "._x.jpg") never match, as in a shell glob.
bool has_image_extension(const std::string& name,
                         std::initializer_list<const char*> extensions);

/// The names (not paths) of the files in `dir` with one of `extensions`,
/// sorted. `what` names `dir` in the error when it is missing. Something
/// named like an image that is not a regular file (a directory, a dangling
/// link) is a DataError rather than a silently smaller dataset. The other
/// entries' paths (hidden ones excepted) go to `others` when given.
std::vector<std::string> list_image_files(
    const std::string& dir, const std::string& what,
    std::initializer_list<const char*> extensions,
    std::vector<std::string>* others = nullptr);

/// Decodes `path` to 8-bit BGR (IMREAD_COLOR: grey images become 3
/// channels, an alpha channel is dropped). Returns an empty Mat and sets
/// `error` (a whole message naming the file) instead of throwing, so that
/// parallel workers can report in file order. Refused before decoding: a
/// file over kMaxImageFileBytes, an empty file, another encoding, a header
/// without a size or declaring a side over kMaxImageSide, a size other than
/// `expected` (cols, rows) when that is given, and a truncated file (a JPEG
/// without an end-of-image marker after its last scan, a PNG without IEND).
cv::Mat decode_image_bgr(const std::string& path, ImageEncodings encodings,
                         std::string& error,
                         std::pair<int, int> expected = {0, 0});

/// OpenCV's interleaved BGR → planar RGB (3 × rows × cols bytes at `out`).
void store_planar_rgb(const cv::Mat& bgr, uint8_t* out);

}  // namespace adascale::datasets
