#pragma once
/// A generated dataset whose classes are learnable, for tests and quick
/// runs: no files, fully determined by its config.

#include "core/dataset_config.h"
#include "datasets/image_dataset.h"

namespace adascale::datasets {

/// Each class owns a fixed pattern (a few coloured Gaussian blobs and an
/// oriented stripe field, drawn from the generator seed); a sample is its
/// class pattern shifted by up to ±2 pixels, scaled in contrast, plus
/// Gaussian noise of `noise` × 64 grey levels. Train and test share the
/// patterns but draw different samples. Throws ConfigError naming the key
/// when the split would hold more than 4 GiB of pixels or the class
/// patterns more than 1 GiB.
ImageDataset make_synthetic(const core::SyntheticConfig& config, bool train);

}  // namespace adascale::datasets
