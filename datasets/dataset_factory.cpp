#include "datasets/dataset_factory.h"

#include <filesystem>

#include "core/compute_device.h"
#include "core/error.h"
#include "core/logging.h"
#include "datasets/channel_stats.h"
#include "datasets/cifar_reader.h"
#include "datasets/idx_reader.h"
#include "datasets/image_folder_reader.h"
#include "datasets/synthetic_dataset.h"
#include "datasets/tiny_imagenet_reader.h"
#include "datasets/validation_split.h"

namespace adascale::datasets {

namespace {

ImageDataset read_split(const core::DatasetConfig& c, bool train) {
  const std::string& f = c.format;
  if (f == "synthetic") return make_synthetic(c.synthetic, train);
  if (f == "cifar10") return read_cifar10(c.root, train);
  if (f == "cifar100")
    return read_cifar100(c.root, train, c.label_kind == "coarse");
  if (f == "mnist") return read_mnist_like(c.root, train, false);
  if (f == "fashion_mnist") return read_mnist_like(c.root, train, true);
  if (f == "tiny_imagenet") return read_tiny_imagenet(c.root, train);
  throw ConfigError("dataset.format: unknown format '" + f + "'");
}

// Own images: val/, when the folder has it besides test/, is the
// validation split instead of a share carved from train/.
DatasetSplits load_image_folder(const core::DatasetConfig& config) {
  ImageFolderSplits folder =
      read_image_folder(config.root, config.image_folder);
  const bool val_folder = folder.has_validation_folder();
  DatasetSplits splits;
  splits.train = std::move(folder.train);
  splits.test = std::move(folder.test);
  if (!val_folder) {
    split_train_validation(splits, config.validation_fraction,
                           static_cast<uint64_t>(config.split_seed),
                           config.train_limit);
    return splits;
  }
  // train_limit applies to train/'s images alone: split those (labels
  // suffice), then the rest of `train` is val/.
  DatasetSplits head;
  head.train.class_names = splits.train.class_names;
  head.train.labels.assign(splits.train.labels.begin(),
                           splits.train.labels.begin() + folder.train_images);
  split_train_validation(head, 0.0, static_cast<uint64_t>(config.split_seed),
                         config.train_limit);
  splits.train_indices = std::move(head.train_indices);
  for (int64_t i = folder.train_images; i < splits.train.size(); ++i) {
    splits.validation_indices.push_back(i);
  }
  log::info(
      "{}: val/ is the validation split (dataset.validation_fraction "
      "unused), test/ the test split",
      config.root);
  return splits;
}

}  // namespace

DatasetSplits load_dataset(const core::DatasetConfig& config) {
  if (config.format != "synthetic" &&
      !std::filesystem::is_directory(config.root)) {
    throw DataError(config.root + ": dataset directory not found (format " +
                    config.format +
                    (config.format == "image_folder"
                         ? "; expected root/train/<class>/*.jpg|png)"
                         : "; scripts/get_data.sh fetches CIFAR)"));
  }
  DatasetSplits splits;
  if (config.format == "image_folder") {
    splits = load_image_folder(config);
  } else {
    splits.train = read_split(config, true);
    splits.test = read_split(config, false);
  }
  if (splits.train.channels != splits.test.channels ||
      splits.train.height != splits.test.height ||
      splits.train.width != splits.test.width ||
      splits.train.class_names != splits.test.class_names) {
    throw DataError(config.root +
                    ": train and test splits differ in shape or classes");
  }
  if (config.format != "image_folder") {
    split_train_validation(splits, config.validation_fraction,
                           static_cast<uint64_t>(config.split_seed),
                           config.train_limit);
  }
  log::info("{}: {} train, {} validation, {} test images, {} classes, {}x{}x{}",
            config.format, splits.train_indices.size(),
            splits.validation_indices.size(), splits.test.size(),
            splits.train.num_classes(), splits.train.channels,
            splits.train.height, splits.train.width);
  return splits;
}

Normalization resolve_normalization(const core::DatasetConfig& config,
                                    const DatasetSplits& splits) {
  if (!config.mean.empty()) return {config.mean, config.std};
  ChannelStats s = channel_stats(splits.train, splits.train_indices);
  Normalization n;
  for (size_t c = 0; c < s.mean.size(); ++c) {
    n.mean.push_back(s.mean[c] / 255.0);
    n.std.push_back(std::max(s.std[c] / 255.0, 1e-3));
  }
  log::info(
      "normalisation computed from the training split: mean {:.4f} std {:.4f}",
      fmt::join(n.mean, " "), fmt::join(n.std, " "));
  return n;
}

std::unique_ptr<DataPipeline> make_pipeline(const core::RunConfig& config) {
  auto p = std::make_unique<DataPipeline>();
  p->splits = load_dataset(config.dataset);
  p->normalization = resolve_normalization(config.dataset, p->splits);
  const ImageDataset& train = p->splits.train;
  auto transform = [&](bool augment) {
    return ImageTransform(config.augment, p->normalization, train.channels,
                          train.height, train.width, augment);
  };
  core::LoaderConfig eval = config.loader;
  eval.shuffle = false;
  eval.drop_last = false;
  const auto seed = static_cast<uint64_t>(config.seed);
  p->train = std::make_unique<DataLoader>(train, p->splits.train_indices,
                                          transform(true), config.loader, seed);
  p->validation = std::make_unique<DataLoader>(
      train, p->splits.validation_indices, transform(false), eval, seed);
  std::vector<int64_t> all(static_cast<size_t>(p->splits.test.size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  p->test = std::make_unique<DataLoader>(p->splits.test, std::move(all),
                                         transform(false), eval, seed);
  const c10::Device device = core::compute_device(config.device);
  for (DataLoader* loader :
       {p->train.get(), p->validation.get(), p->test.get()})
    loader->set_device(device);
  return p;
}

}  // namespace adascale::datasets
