#pragma once
/// An image dataset as 8-bit pixels: held in memory, or (for image folders
/// too large for that) decoded on demand.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace adascale::datasets {

/// Decodes the images of a dataset too large to hold decoded in memory, one
/// at a time, from any thread.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  /// Writes image `i` (C×H×W planar, as in ImageDataset::pixels) to `out`.
  /// Throws DataError naming the file when it cannot be decoded.
  virtual void read(int64_t i, uint8_t* out) const = 0;
};

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
  /// Set when the images are decoded on demand instead of held: `pixels`
  /// is then empty and only read_image() reaches them.
  std::shared_ptr<const ImageSource> source;

  bool in_memory() const { return source == nullptr; }
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  int64_t image_bytes() const {
    return static_cast<int64_t>(channels) * height * width;
  }
  /// Image `i` of an in-memory dataset (see read_image()).
  const uint8_t* image(int64_t i) const {
    return pixels.data() + i * image_bytes();
  }
  uint8_t* image(int64_t i) { return pixels.data() + i * image_bytes(); }
  /// Image `i` wherever it is: in `pixels`, or decoded into `scratch`
  /// (image_bytes() long) when the dataset is not in memory.
  const uint8_t* read_image(int64_t i, uint8_t* scratch) const {
    if (in_memory()) return image(i);
    source->read(i, scratch);
    return scratch;
  }
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
