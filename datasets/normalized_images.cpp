#include "datasets/normalized_images.h"

#include <fmt/format.h>

#include <numeric>

#include "core/error.h"
#include "datasets/dataset_factory.h"

namespace adascale::datasets {

NormalizedImages load_normalized_images(
    const core::DatasetConfig& dataset,
    const core::InputNormalization& normalization, int channels, int resolution,
    ImageSplit split, int64_t limit) {
  core::DatasetConfig config = dataset;
  if (config.image_folder.image_size == 0) {
    config.image_folder.image_size = resolution;
  }
  DatasetSplits splits = load_dataset(config);
  const bool test = split == ImageSplit::kTest;
  const ImageDataset& source = test ? splits.test : splits.train;
  if (source.channels != channels || source.height != resolution ||
      source.width != resolution) {
    throw DataError(
        fmt::format("{}: images are {}×{}×{}, the bundle's net takes {}×{}×{}",
                    source.name, source.channels, source.height, source.width,
                    channels, resolution, resolution));
  }
  if (normalization.mean.size() != size_t(channels) ||
      normalization.std.size() != size_t(channels)) {
    throw DataError(fmt::format(
        "normalisation has {} means and {} stds for {} channels",
        normalization.mean.size(), normalization.std.size(), channels));
  }
  std::vector<int64_t> rows;
  if (test) {
    rows.resize(size_t(source.size()));
    std::iota(rows.begin(), rows.end(), 0);
  } else {
    rows = splits.validation_indices.empty() ? splits.train_indices
                                             : splits.validation_indices;
  }
  if (limit > 0 && int64_t(rows.size()) > limit) rows.resize(size_t(limit));
  const int64_t n = int64_t(rows.size());
  torch::Tensor pixels;
  if (source.in_memory()) {
    torch::Tensor all = torch::from_blob(
        const_cast<uint8_t*>(source.pixels.data()),
        {source.size(), channels, resolution, resolution}, torch::kUInt8);
    pixels = all.index_select(0, torch::tensor(rows));
  } else {
    pixels = torch::empty({n, channels, resolution, resolution}, torch::kUInt8);
    uint8_t* out = pixels.data_ptr<uint8_t>();
    for (int64_t k = 0; k < n; ++k) {
      source.source->read(rows[size_t(k)], out + k * source.image_bytes());
    }
  }
  auto as_tensor = [&](const std::vector<double>& v) {
    return torch::tensor(std::vector<float>(v.begin(), v.end()))
        .view({1, channels, 1, 1});
  };
  NormalizedImages out;
  out.images =
      (pixels.to(torch::kFloat) / 255.0 - as_tensor(normalization.mean)) /
      as_tensor(normalization.std);
  out.labels.reserve(size_t(n));
  for (int64_t r : rows) out.labels.push_back(source.labels[size_t(r)]);
  return out;
}

}  // namespace adascale::datasets
