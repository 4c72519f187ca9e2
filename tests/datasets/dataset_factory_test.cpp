#include "datasets/dataset_factory.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "core/error.h"
#include "datasets/dataset_summary.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

core::RunConfig synthetic_run(std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"dataset.synthetic.classes=4",
                                   "dataset.synthetic.image_size=8",
                                   "dataset.synthetic.train_per_class=20",
                                   "dataset.synthetic.test_per_class=5",
                                   "loader.batch_size=16",
                                   "dataset.validation_fraction=0.25"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return core::load_run_config(std::nullopt, sets);
}

TEST(DatasetFactory, SyntheticPipelineHasThreeLoaders) {
  auto p = make_pipeline(synthetic_run());
  EXPECT_EQ(p->train->num_samples(), 60);
  EXPECT_EQ(p->validation->num_samples(), 20);
  EXPECT_EQ(p->test->num_samples(), 20);
  EXPECT_EQ(p->train->batches_per_epoch(), 3);       // drop_last
  EXPECT_EQ(p->validation->batches_per_epoch(), 2);  // keeps the rest
  ASSERT_EQ(p->normalization.mean.size(), 3u);       // computed from train
  EXPECT_GT(p->normalization.std[0], 0.0);
}

// The loaders deliver batches on the run's device, the one the model is
// moved to. Only the CPU runs here; the meta device, which every build
// has, stands in for a GPU to show the batches move.
TEST(DatasetFactory, LoadersDeliverBatchesOnTheRunsDevice) {
  auto p = make_pipeline(synthetic_run({"device=cpu"}));
  for (DataLoader* loader :
       {p->train.get(), p->validation.get(), p->test.get()})
    EXPECT_TRUE(loader->device().is_cpu());
  p->test->set_device(c10::kMeta);
  p->test->start_epoch(0);
  auto batch = p->test->next();
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->images.device().is_meta());
  EXPECT_TRUE(batch->labels.device().is_meta());
  EXPECT_EQ(batch->images.sizes(), (std::vector<int64_t>{16, 3, 8, 8}));
  EXPECT_THROW_WITH(p->test->set_device(torch::kCPU), InternalError,
                    "set_device() after start_epoch()");
  // device=cuda: the GPU where there is one, else refused by name.
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(make_pipeline(synthetic_run({"device=cuda"}))
                    ->train->device()
                    .is_cuda());
  } else {
    EXPECT_THROW_WITH(
        make_pipeline(synthetic_run({"device=cuda"})), ConfigError,
        "device: 'cuda' requested but this LibTorch sees no CUDA");
  }
}

TEST(DatasetFactory, ConfiguredNormalisationIsUsed) {
  auto p = make_pipeline(synthetic_run(
      {"dataset.mean=[0.1, 0.2, 0.3]", "dataset.std=[0.5, 0.5, 0.5]"}));
  EXPECT_DOUBLE_EQ(p->normalization.mean[1], 0.2);
}

TEST(DatasetFactory, NormalisationChannelMismatchIsAnError) {
  EXPECT_THROW_WITH(
      make_pipeline(synthetic_run({"dataset.mean=[0.1]", "dataset.std=[0.5]"})),
      ConfigError, "expected 3 values");
}

TEST(DatasetFactory, MissingDirectoryNamesIt) {
  testing::TempDir dir;
  core::DatasetConfig c;
  c.format = "cifar10";
  c.root = dir.file("nowhere");
  EXPECT_THROW_WITH(load_dataset(c), DataError,
                    "nowhere: dataset directory not found");
}

TEST(DatasetSummary, CountsAndThroughput) {
  auto config = synthetic_run();
  auto p = make_pipeline(config);
  DatasetSummary s = summarize(config.dataset, *p);
  ASSERT_EQ(s.splits.size(), 4u);
  EXPECT_EQ(s.splits[0].images, 80);
  EXPECT_EQ(s.splits[1].per_class, (std::vector<int64_t>{15, 15, 15, 15}));
  EXPECT_EQ(s.splits[2].per_class, (std::vector<int64_t>{5, 5, 5, 5}));
  EXPECT_EQ(s.splits[3].images, 20);
  LoaderThroughput t = measure_throughput(*p->train, 2);
  EXPECT_EQ(t.batches, 2);
  EXPECT_EQ(t.images, 32);
  EXPECT_GT(t.images_per_second, 0.0);
}

}  // namespace
}  // namespace adascale::datasets
