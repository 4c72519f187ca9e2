#pragma once
/// A decoded image dataset held in memory as 8-bit pixels.

#include <cstdint>
#include <string>
#include <vector>

namespace adascale::datasets {

/// N images of C×H×W 8-bit pixels (planar: all of channel 0, then 1, ...,
/// each row-major, as in the CIFAR records) with one label each.
struct ImageDataset {
  std::string name;  ///< e.g. "cifar10/train"
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;           ///< size() × image_bytes()
  std::vector<int32_t> labels;           ///< in [0, class_names.size())
  std::vector<std::string> class_names;  ///< label → readable name

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  int64_t image_bytes() const {
    return static_cast<int64_t>(channels) * height * width;
  }
  const uint8_t* image(int64_t i) const {
    return pixels.data() + i * image_bytes();
  }
  uint8_t* image(int64_t i) { return pixels.data() + i * image_bytes(); }
};

/// The splits of a dataset. `validation` is carved from the official
/// training set (never from `test`), so tables never select on the test set.
struct DatasetSplits {
  ImageDataset train;                       ///< official training set
  ImageDataset test;                        ///< official test set
  std::vector<int64_t> train_indices;       ///< into `train`, for training
  std::vector<int64_t> validation_indices;  ///< into `train`, held out
};

}  // namespace adascale::datasets
