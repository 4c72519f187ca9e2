#pragma once
/// A split of a dataset as one in-memory tensor, normalised as a trained
/// net expects: the images the demo classifies, the images a benchmark
/// scores, the images int8 calibration observes.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/bundle_manifest.h"
#include "core/dataset_config.h"

namespace adascale::datasets {

struct NormalizedImages {
  torch::Tensor images;         ///< N×C×H×W float, normalised
  std::vector<int64_t> labels;  ///< N
  int64_t size() const { return int64_t(labels.size()); }
};

enum class ImageSplit {
  kTest,         ///< the official test split
  kCalibration,  ///< held-out validation images where the config carves
                 ///< them, else training images; never test images
};

/// Reads `split` of `dataset` (at most `limit` images, in order; 0 = all)
/// and normalises it with `normalization`. Throws DataError naming the
/// dataset when its images do not fit `channels` × `resolution`², or when
/// the normalisation does not have one mean and std per channel.
NormalizedImages load_normalized_images(
    const core::DatasetConfig& dataset,
    const core::InputNormalization& normalization, int channels, int resolution,
    ImageSplit split, int64_t limit);

}  // namespace adascale::datasets
