#pragma once
/// What `adascale data` reports: sizes per split and class, channel
/// statistics, and how fast the training loader delivers images.

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset_factory.h"

namespace adascale::datasets {

/// Counts of one split.
struct SplitCounts {
  std::string name;  ///< train | validation | test
  int64_t images = 0;
  std::vector<int64_t> per_class;  ///< indexed by label
};

/// Loader throughput over some batches of the training loader.
struct LoaderThroughput {
  int64_t batches = 0;
  int64_t images = 0;
  double seconds = 0.0;
  double images_per_second = 0.0;
};

/// The summary of a pipeline.
struct DatasetSummary {
  std::string format;
  int channels = 0, height = 0, width = 0;
  std::vector<std::string> class_names;
  std::vector<SplitCounts> splits;  ///< official_train, train, validation, test
  std::vector<double> mean_255;     ///< official training set, 0..255 scale
  std::vector<double> std_255;
  LoaderThroughput loader;
};

/// Counts and statistics of `pipeline` (no loader timing).
DatasetSummary summarize(const core::DatasetConfig& config,
                         const DataPipeline& pipeline);

/// Times `loader` over up to `max_batches` batches of epoch 0 (all when 0).
LoaderThroughput measure_throughput(DataLoader& loader, int64_t max_batches);

}  // namespace adascale::datasets
