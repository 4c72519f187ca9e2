#pragma once
/// Per-channel mean and standard deviation of a set of images.

#include <cstdint>
#include <vector>

#include "datasets/image_dataset.h"

namespace adascale::datasets {

/// Mean and std per channel on the 0..255 scale.
struct ChannelStats {
  std::vector<double> mean;
  std::vector<double> std;
};

/// Statistics over `indices` of `data` (all images when `indices` is empty),
/// computed in parallel with exact integer sums.
ChannelStats channel_stats(const ImageDataset& data,
                           const std::vector<int64_t>& indices = {});

}  // namespace adascale::datasets
