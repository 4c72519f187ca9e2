#pragma once
/// Builds a run's data from its config: reads the dataset named by
/// `dataset.format`, carves the validation split, settles normalisation and
/// makes the train, validation and test loaders, which deliver their
/// batches on the run's device (`device`).

#include <memory>

#include "core/run_config.h"
#include "datasets/data_loader.h"
#include "datasets/image_dataset.h"
#include "datasets/image_transform.h"

namespace adascale::datasets {

/// Reads the official train and test sets and carves the validation split.
/// Throws DataError naming the directory or file at fault.
DatasetSplits load_dataset(const core::DatasetConfig& config);

/// The configured mean/std, or (when the config gives none) the training
/// split's own statistics.
Normalization resolve_normalization(const core::DatasetConfig& config,
                                    const DatasetSplits& splits);

/// A run's data and its three loaders. The loaders refer to `splits`, so a
/// pipeline is neither copied nor moved once built (held by unique_ptr).
struct DataPipeline {
  DatasetSplits splits;
  Normalization normalization;
  std::unique_ptr<DataLoader> train;       ///< augmented, shuffled
  std::unique_ptr<DataLoader> validation;  ///< in order, no augmentation
  std::unique_ptr<DataLoader> test;        ///< in order, no augmentation
};

/// Loads the data of `config` and builds its loaders.
std::unique_ptr<DataPipeline> make_pipeline(const core::RunConfig& config);

}  // namespace adascale::datasets
