#pragma once
/// The images the demo classifies: a dataset's test split, normalised as the
/// bundle's net expects, held in memory as one tensor.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/bundle_manifest.h"
#include "core/dataset_config.h"

namespace adascale::demo {

struct TestImages {
  torch::Tensor images;         ///< N×C×H×W float, normalised
  std::vector<int64_t> labels;  ///< N
  int64_t size() const { return int64_t(labels.size()); }
};

/// Reads the test split of `dataset` (at most `limit` images; 0 = all) and
/// normalises it with `normalization`. Throws DataError naming the dataset
/// when its images do not fit `channels` × `resolution`².
TestImages load_test_images(const core::DatasetConfig& dataset,
                            const core::InputNormalization& normalization,
                            int channels, int resolution, int64_t limit);

}  // namespace adascale::demo
