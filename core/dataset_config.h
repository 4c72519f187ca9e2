#pragma once
/// Which dataset a run uses and how its splits are made (pure data).

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/checks.h"

namespace adascale::core {

/// The generated, learnable dataset used by tests and quick runs: each class
/// is a fixed random pattern (low-frequency blobs and stripes); a sample is
/// its class pattern, randomly shifted, plus Gaussian noise.
struct SyntheticConfig {
  int classes = 10;
  int channels = 3;
  int image_size = 32;
  int train_per_class = 100;
  int test_per_class = 20;
  double noise = 0.3;  ///< noise std relative to the pattern's range
  int64_t seed = 1;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("classes", classes, check::in_range(2, 100000), "number of classes");
    v("channels", channels, check::in_range(1, 4), "image channels");
    v("image_size", image_size, check::in_range(4, 1024), "image side");
    v("train_per_class", train_per_class, check::positive<int>());
    v("test_per_class", test_per_class, check::positive<int>());
    v("noise", noise, check::in_range(0.0, 10.0), "noise level");
    v("seed", seed, "generator seed");
  }
};

/// `dataset.image_folder:` your own images in the torchvision ImageFolder
/// layout, `root/<split>/<class>/*.jpg|*.png` (docs/configs.md).
struct ImageFolderConfig {
  /// Side every image is brought to; 0 = the model's `model.resolution`
  /// (resolved when the config loads).
  int image_size = 0;
  /// crop: shorter side to image_size, then the centre square; stretch:
  /// both sides to image_size (the aspect ratio is not kept).
  std::string fit = "crop";
  /// The decoded images of every split are held in memory when they take at
  /// most this many MiB; a larger set is decoded by the loader's workers
  /// batch by batch (0 = always).
  int64_t cache_mb = 2048;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("image_size", image_size, check::in_range(0, 4096),
      "image side (0 = model.resolution)");
    v("fit", fit, check::one_of({"crop", "stretch"}));
    v("cache_mb", cache_mb, check::in_range<int64_t>(0, int64_t(1) << 30),
      "in-memory bound for the decoded images");
  }
};

/// `dataset:` section.
struct DatasetConfig {
  /// cifar10 | cifar100 | tiny_imagenet | mnist | fashion_mnist | synthetic |
  /// image_folder
  std::string format = "synthetic";
  /// Directory holding the files in the format's official layout.
  std::string root;
  /// CIFAR-100 only: fine (100 classes) or coarse (20 superclasses).
  std::string label_kind = "fine";
  /// Share of the training set held out (stratified) for validation.
  double validation_fraction = 0.1;
  /// Seed of the validation split.
  int64_t split_seed = 0;
  /// Per-channel normalisation on the 0..1 scale; empty = computed from the
  /// training split when the dataset loads.
  std::vector<double> mean;
  std::vector<double> std;
  /// Keep only the first N training images (0 = all): for quick runs.
  int64_t train_limit = 0;
  SyntheticConfig synthetic;
  ImageFolderConfig image_folder;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("format", format,
      check::one_of({"cifar10", "cifar100", "tiny_imagenet", "mnist",
                     "fashion_mnist", "synthetic", "image_folder"}));
    v("root", root, "dataset directory");
    v("label_kind", label_kind, check::one_of({"fine", "coarse"}));
    v("validation_fraction", validation_fraction, check::in_range(0.0, 0.9));
    v("split_seed", split_seed);
    v("mean", mean, check::each(check::in_range(0.0, 1.0)));
    v("std", std, check::each(check::in_range(1e-6, 1.0)));
    v("train_limit", train_limit, check::at_least<int64_t>(0));
    v("synthetic", synthetic);
    v("image_folder", image_folder);
  }
};

}  // namespace adascale::core
