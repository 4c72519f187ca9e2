#include "datasets/dataset_summary.h"

#include <chrono>

#include "datasets/channel_stats.h"

namespace adascale::datasets {
namespace {

SplitCounts count(const std::string& name, const ImageDataset& data,
                  const std::vector<int64_t>& indices) {
  SplitCounts s;
  s.name = name;
  s.per_class.assign(static_cast<size_t>(data.num_classes()), 0);
  for (int64_t i : indices) {
    ++s.per_class[static_cast<size_t>(data.labels[static_cast<size_t>(i)])];
  }
  s.images = static_cast<int64_t>(indices.size());
  return s;
}

}  // namespace

DatasetSummary summarize(const core::DatasetConfig& config,
                         const DataPipeline& pipeline) {
  const DatasetSplits& sp = pipeline.splits;
  DatasetSummary s;
  s.format = config.format;
  s.channels = sp.train.channels;
  s.height = sp.train.height;
  s.width = sp.train.width;
  s.class_names = sp.train.class_names;
  std::vector<int64_t> test(static_cast<size_t>(sp.test.size()));
  for (size_t i = 0; i < test.size(); ++i) test[i] = static_cast<int64_t>(i);
  std::vector<int64_t> official(static_cast<size_t>(sp.train.size()));
  for (size_t i = 0; i < official.size(); ++i) {
    official[i] = static_cast<int64_t>(i);
  }
  s.splits.push_back(count("official_train", sp.train, official));
  s.splits.push_back(count("train", sp.train, sp.train_indices));
  s.splits.push_back(count("validation", sp.train, sp.validation_indices));
  s.splits.push_back(count("test", sp.test, test));
  ChannelStats stats = channel_stats(sp.train);
  s.mean_255 = stats.mean;
  s.std_255 = stats.std;
  return s;
}

LoaderThroughput measure_throughput(DataLoader& loader, int64_t max_batches) {
  LoaderThroughput t;
  auto start = std::chrono::steady_clock::now();
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    t.images += batch->labels.size(0);
    if (++t.batches == max_batches) break;
  }
  t.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  t.images_per_second = t.seconds > 0 ? t.images / t.seconds : 0.0;
  return t;
}

}  // namespace adascale::datasets
