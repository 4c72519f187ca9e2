#pragma once
/// Reader for the IDX files of MNIST (LeCun et al., "Gradient-based learning
/// applied to document recognition", 1998) and Fashion-MNIST (Xiao et al.,
/// "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
/// Algorithms", 2017), plain or gzip-compressed.

#include <string>
#include <vector>

#include "datasets/image_dataset.h"

namespace adascale::datasets {

/// Reads one IDX image file and its IDX label file into a 1-channel dataset
/// named `name` with the given class names. Either file may be gzip'd; that
/// is decided by its first two bytes (0x1f 0x8b), not by its name.
/// Images: magic 0x00000803, big-endian int32 count, rows, cols, then
/// count×rows×cols pixel bytes. Labels: magic 0x00000801, count, then count
/// label bytes, each < class_names.size(). Throws DataError naming the file
/// for a missing file, a bad magic (shown in hex), a size that does not
/// match the header (expected and actual bytes), an image/label count
/// mismatch, a label out of range (with its index) or a corrupt gzip stream.
ImageDataset read_idx(const std::string& images_path,
                      const std::string& labels_path,
                      std::vector<std::string> class_names, std::string name);

/// Reads MNIST (`fashion` false) or Fashion-MNIST (`fashion` true) from
/// `root`, which holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each with or
/// without a `.gz` suffix (the plain file wins when both exist). The result
/// is named "mnist/train", "mnist/test", "fashion_mnist/train" or
/// "fashion_mnist/test"; class names are "0".."9" for MNIST and
/// fashion_mnist_class_names() for Fashion-MNIST. Throws DataError listing the
/// paths tried when a file is missing, and as read_idx does otherwise.
ImageDataset read_mnist_like(const std::string& root, bool train, bool fashion);

/// The ten Fashion-MNIST class names, in label order ("T-shirt/top", ...,
/// "Ankle boot").
const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace adascale::datasets
