#include "datasets/image_folder_reader.h"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/logging.h"
#include "datasets/image_decode.h"
#include "datasets/reader_util.h"

namespace adascale::datasets {

namespace {

namespace fs = std::filesystem;

constexpr int kChannels = 3;

// One image to decode and its label.
struct Sample {
  std::string path;
  int32_t label = 0;
};

std::string join(const std::string& a, const std::string& b) {
  return (fs::path(a) / b).string();
}

// Brings `image` to side×side: by scaling its shorter side to `side` and
// keeping the centre square (crop), or by scaling each side (stretch).
// Area averaging when shrinking (no aliasing), bilinear when enlarging.
cv::Mat fit_square(const cv::Mat& image, int side, bool crop) {
  if (image.cols == side && image.rows == side) return image;
  int width = side, height = side;
  if (crop) {
    const double scale = double(side) / std::min(image.cols, image.rows);
    width = std::max(side, int(std::lround(image.cols * scale)));
    height = std::max(side, int(std::lround(image.rows * scale)));
  }
  const bool shrink = width <= image.cols && height <= image.rows;
  cv::Mat scaled;
  cv::resize(image, scaled, cv::Size(width, height), 0, 0,
             shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (width == side && height == side) return scaled;
  return scaled(cv::Rect((width - side) / 2, (height - side) / 2, side, side));
}

// Decodes `path` into `out` (3×side×side planar RGB); returns the error
// message naming the file, or an empty string on success.
std::string decode_fitted(const std::string& path, int side, bool crop,
                          uint8_t* out) {
  std::string error;
  cv::Mat image =
      decode_image_bgr(path, ImageEncodings::kJpegOrPng, error, {0, 0});
  if (image.empty()) return error;
  try {
    store_planar_rgb(fit_square(image, side, crop), out);
  } catch (const std::exception& e) {
    return path + ": cannot resize image: " + e.what();
  }
  return {};
}

// The images of a dataset too large to hold decoded: decoded on demand.
class FolderImageSource : public ImageSource {
 public:
  FolderImageSource(std::vector<std::string> paths, int side, bool crop)
      : paths_(std::move(paths)), side_(side), crop_(crop) {}

  void read(int64_t i, uint8_t* out) const override {
    if (i < 0 || i >= int64_t(paths_.size())) {
      throw InternalError("image folder: image " + std::to_string(i) + " of " +
                          std::to_string(paths_.size()));
    }
    std::string error = decode_fitted(paths_[size_t(i)], side_, crop_, out);
    if (!error.empty()) throw DataError(error);
  }

 private:
  std::vector<std::string> paths_;
  int side_;
  bool crop_;
};

// The sub-folders of `dir` (following links), hidden ones skipped, sorted
// by name; its other entries go to `skipped`.
std::vector<std::string> list_class_folders(const std::string& dir,
                                            std::vector<std::string>& skipped) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec)) {
      names.push_back(name);
    } else {
      skipped.push_back(it->path().string());
    }
  }
  if (ec) throw DataError(dir + ": cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

// The samples of one split folder, class by class, each class's files
// sorted by name.
std::vector<Sample> split_samples(const std::string& split_dir,
                                  const std::vector<std::string>& classes,
                                  std::vector<std::string>& skipped) {
  std::vector<Sample> samples;
  for (size_t label = 0; label < classes.size(); ++label) {
    const std::string dir = join(split_dir, classes[label]);
    const std::vector<std::string> files = list_image_files(
        dir, "class folder", {".jpg", ".jpeg", ".png"}, &skipped);
    if (files.empty()) {
      throw DataError(dir + ": class '" + classes[label] +
                      "' has no images (.jpg, .jpeg, .png)");
    }
    for (const std::string& file : files) {
      samples.push_back({join(dir, file), static_cast<int32_t>(label)});
    }
  }
  return samples;
}

// Throws unless `split_dir` has exactly the class folders of train/.
void require_same_classes(const std::string& split_dir,
                          const std::vector<std::string>& found,
                          const std::vector<std::string>& classes) {
  for (const std::string& c : classes) {
    if (!std::binary_search(found.begin(), found.end(), c)) {
      throw DataError(split_dir + ": no folder for class '" + c +
                      "' (every split needs the class folders of train/)");
    }
  }
  for (const std::string& c : found) {
    if (!std::binary_search(classes.begin(), classes.end(), c)) {
      throw DataError(join(split_dir, c) + ": class '" + c +
                      "' has no folder in train/");
    }
  }
}

// Whether `path` is a directory; a path that exists but is something else
// is an error (it is not silently skipped).
bool optional_directory(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  require_directory(path, what);
  return true;
}

ImageDataset make_dataset(const std::string& name,
                          const std::vector<Sample>& samples,
                          const std::vector<std::string>& classes, int side) {
  ImageDataset out;
  out.name = name;
  out.channels = kChannels;
  out.height = side;
  out.width = side;
  out.class_names = classes;
  out.labels.reserve(samples.size());
  for (const Sample& s : samples) out.labels.push_back(s.label);
  return out;
}

// Decodes every image of `samples` into `out`. Every worker writes only its
// own slots, so the pixels do not depend on the thread count; errors are
// kept per slot and the first in file order is reported, so the message
// does not depend on it either.
void decode_all(const std::vector<Sample>& samples, bool crop,
                ImageDataset& out) {
  out.pixels.resize(samples.size() * static_cast<size_t>(out.image_bytes()));
  std::vector<std::string> errors(samples.size());
  tbb::parallel_for(tbb::blocked_range<size_t>(0, samples.size()),
                    [&](const tbb::blocked_range<size_t>& range) {
                      for (size_t i = range.begin(); i != range.end(); ++i) {
                        errors[i] =
                            decode_fitted(samples[i].path, out.height, crop,
                                          out.image(static_cast<int64_t>(i)));
                      }
                    });
  for (const std::string& error : errors) {
    if (!error.empty()) throw DataError(error);
  }
}

void attach_source(const std::vector<Sample>& samples, bool crop,
                   ImageDataset& out) {
  std::vector<std::string> paths;
  paths.reserve(samples.size());
  for (const Sample& s : samples) paths.push_back(s.path);
  out.source =
      std::make_shared<FolderImageSource>(std::move(paths), out.height, crop);
}

}  // namespace

ImageFolderSplits read_image_folder(const std::string& root,
                                    const core::ImageFolderConfig& options) {
  const int side = options.image_size;
  if (side <= 0 || side > kMaxImageSide) {
    throw ConfigError(
        "dataset.image_folder.image_size: expected a side in "
        "[1, " +
        std::to_string(kMaxImageSide) + "], got " + std::to_string(side));
  }
  const bool crop = options.fit != "stretch";
  require_directory(root, "image folder dataset directory");
  const std::string train_dir = join(root, "train");
  require_directory(train_dir,
                    "image folder train directory (root/train/<class>/)");
  const std::string val_dir = join(root, "val");
  const std::string test_dir = join(root, "test");
  const bool has_val = optional_directory(val_dir, "image folder val/");
  const bool has_test = optional_directory(test_dir, "image folder test/");
  if (!has_val && !has_test) {
    throw DataError(root +
                    ": image folder has train/ but neither val/ nor test/ "
                    "(one of them is the test split)");
  }

  std::vector<std::string> skipped;
  const std::vector<std::string> classes =
      list_class_folders(train_dir, skipped);
  if (classes.empty()) {
    throw DataError(train_dir + ": no class folders (root/train/<class>/)");
  }
  if (classes.size() < 2) {
    throw DataError(train_dir + ": only one class folder ('" + classes[0] +
                    "'); a classifier needs at least two");
  }
  auto read_split = [&](const std::string& dir) {
    std::vector<std::string> found = list_class_folders(dir, skipped);
    if (dir != train_dir) require_same_classes(dir, found, classes);
    return split_samples(dir, classes, skipped);
  };
  std::vector<Sample> train = read_split(train_dir);
  const size_t train_count = train.size();
  std::vector<Sample> test = read_split(has_test ? test_dir : val_dir);
  if (has_val && has_test) {
    std::vector<Sample> val = read_split(val_dir);
    train.insert(train.end(), val.begin(), val.end());
  }
  if (!skipped.empty()) {
    log::warn(
        "{}: skipped {} entries that are neither class folders nor "
        ".jpg/.jpeg/.png files (first: {})",
        root, skipped.size(), skipped.front());
  }

  ImageFolderSplits out;
  out.train = make_dataset("image_folder/train", train, classes, side);
  out.train_images = static_cast<int64_t>(train_count);
  out.test = make_dataset(has_test ? "image_folder/test" : "image_folder/val",
                          test, classes, side);
  const double bytes =
      double(train.size() + test.size()) * double(out.train.image_bytes());
  const bool in_memory = bytes <= double(options.cache_mb) * (1 << 20);
  if (in_memory) {
    decode_all(train, crop, out.train);
    decode_all(test, crop, out.test);
  } else {
    attach_source(train, crop, out.train);
    attach_source(test, crop, out.test);
  }
  log::info(
      "read image folder {}: {} classes, {} + {} images at {}x{} ({}), {}",
      root, classes.size(), train.size(), test.size(), side, side,
      crop ? "centre crop" : "stretched",
      in_memory ? "held in memory"
                : fmt::format("{:.1f} MiB decoded is over dataset.image_folder"
                              ".cache_mb, so decoded by the loader's workers",
                              bytes / (1 << 20)));
  return out;
}

}  // namespace adascale::datasets
