#pragma once
/// Reader for your own images in the torchvision ImageFolder layout
/// (`dataset.format: image_folder`): `root/<split>/<class>/*.jpg|*.png`.

#include <cstdint>
#include <string>

#include "core/dataset_config.h"
#include "datasets/image_dataset.h"

namespace adascale::datasets {

/// The splits of an image folder, as read_image_folder finds them.
struct ImageFolderSplits {
  /// train/'s images, then (when the folder has both val/ and test/) val/'s.
  ImageDataset train;
  /// How many of `train`'s images, from the start, come from train/; the
  /// rest come from val/ and are the validation split.
  int64_t train_images = 0;
  /// test/, or val/ when there is no test/.
  ImageDataset test;

  bool has_validation_folder() const { return train.size() > train_images; }
};

/// Reads the image folder at `root`. `train/` is required, and one of
/// `val/` and `test/`: test/ is the test split, or val/ when test/ is
/// absent; when both exist val/ is the validation split. Classes are the
/// sub-folders of train/ (hidden ones skipped), sorted by name (byte
/// order, as torchvision sorts them); label k is the k-th. Every other split
/// must have the same class folders. A class folder's images are its files
/// ending .jpg, .jpeg or .png (any case), sorted by name, decoded whatever
/// of JPEG or PNG they hold (grey and alpha become RGB) and brought to
/// `options.image_size` square by `options.fit`. Its other entries (files
/// of other types, sub-folders) are skipped, and their number logged with
/// the first one's path. When every split's decoded images (3 × side² bytes
/// each) fit in `options.cache_mb` MiB they are decoded here, in parallel,
/// and held; otherwise each dataset gets an ImageSource and the loader's
/// workers decode the images batch by batch. Throws DataError naming the
/// directory or file for a missing root or train/, neither val/ nor test/,
/// no class folders, a class folder without images, class folders that
/// differ between splits, and (when decoded here) an image that cannot be
/// decoded (see decode_image_bgr); ConfigError for image_size 0.
ImageFolderSplits read_image_folder(const std::string& root,
                                    const core::ImageFolderConfig& options);

}  // namespace adascale::datasets
