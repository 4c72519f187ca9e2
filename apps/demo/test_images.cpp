#include "apps/demo/test_images.h"

#include <fmt/format.h>

#include "core/error.h"
#include "datasets/dataset_factory.h"

namespace adascale::demo {

TestImages load_test_images(const core::DatasetConfig& dataset,
                            const core::InputNormalization& normalization,
                            int channels, int resolution, int64_t limit) {
  datasets::DatasetSplits splits = datasets::load_dataset(dataset);
  const datasets::ImageDataset& test = splits.test;
  if (test.channels != channels || test.height != resolution ||
      test.width != resolution) {
    throw DataError(
        fmt::format("{}: images are {}×{}×{}, the bundle's net takes {}×{}×{}",
                    test.name, test.channels, test.height, test.width, channels,
                    resolution, resolution));
  }
  if (normalization.mean.size() != size_t(channels) ||
      normalization.std.size() != size_t(channels)) {
    throw DataError(fmt::format(
        "normalisation has {} means and {} stds for {} channels",
        normalization.mean.size(), normalization.std.size(), channels));
  }
  const int64_t n = limit > 0 ? std::min(limit, test.size()) : test.size();
  TestImages out;
  torch::Tensor pixels =
      torch::from_blob(const_cast<uint8_t*>(test.pixels.data()),
                       {n, channels, resolution, resolution}, torch::kUInt8);
  auto as_tensor = [&](const std::vector<double>& v) {
    return torch::tensor(std::vector<float>(v.begin(), v.end()))
        .view({1, channels, 1, 1});
  };
  out.images =
      (pixels.to(torch::kFloat) / 255.0 - as_tensor(normalization.mean)) /
      as_tensor(normalization.std);
  out.labels.assign(test.labels.begin(), test.labels.begin() + n);
  return out;
}

}  // namespace adascale::demo
