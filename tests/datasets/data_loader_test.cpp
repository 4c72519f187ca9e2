#include "datasets/data_loader.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "core/error.h"
#include "core/execution.h"
#include "datasets/synthetic_dataset.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

ImageDataset small_data(int per_class = 10) {
  core::SyntheticConfig c;
  c.classes = 5;
  c.image_size = 8;
  c.train_per_class = per_class;
  return make_synthetic(c, true);
}

std::vector<int64_t> all_indices(const ImageDataset& d) {
  std::vector<int64_t> v(static_cast<size_t>(d.size()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i);
  return v;
}

ImageTransform augmenting(const ImageDataset& d) {
  core::AugmentConfig a;
  a.crop_padding = 2;
  a.horizontal_flip = true;
  return ImageTransform(a, {{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}}, d.channels,
                        d.height, d.width, true);
}

core::LoaderConfig options(int batch, bool drop_last, int prefetch) {
  core::LoaderConfig o;
  o.batch_size = batch;
  o.drop_last = drop_last;
  o.prefetch = prefetch;
  return o;
}

/// Identifies each sample by its (unaugmented) label and batch position:
/// we check coverage through a loader over an identity transform instead.
std::vector<torch::Tensor> epoch_batches(DataLoader& l, int64_t epoch,
                                         int64_t first = 0) {
  std::vector<torch::Tensor> out;
  l.start_epoch(epoch, first);
  while (auto b = l.next()) out.push_back(b->images.contiguous());
  return out;
}

TEST(DataLoader, EverySampleExactlyOncePerEpoch) {
  // Encode the sample index in the pixels so batches can be traced back.
  ImageDataset d;
  d.channels = 1;
  d.height = 1;
  d.width = 2;
  d.class_names = {"a", "b", "c"};
  for (int i = 0; i < 103; ++i) {
    d.pixels.push_back(static_cast<uint8_t>(i % 256));
    d.pixels.push_back(static_cast<uint8_t>(i / 256));
    d.labels.push_back(i % 3);
  }
  ImageTransform t(core::AugmentConfig{}, {{0.0}, {1.0 / 255.0}}, 1, 1, 2,
                   true);
  for (bool drop_last : {false, true}) {
    DataLoader l(d, all_indices(d), t, options(10, drop_last, 2), 42);
    EXPECT_EQ(l.batches_per_epoch(), drop_last ? 10 : 11);
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      std::multiset<int> seen;
      l.start_epoch(epoch);
      while (auto b = l.next()) {
        auto img = b->images.reshape({-1, 2});
        for (int64_t i = 0; i < img.size(0); ++i) {
          int idx = static_cast<int>(std::lround(
              img[i][0].item<float>() + 256 * img[i][1].item<float>()));
          EXPECT_EQ(b->labels[i].item<int64_t>(), idx % 3);
          seen.insert(idx);
        }
      }
      std::set<int> unique(seen.begin(), seen.end());
      EXPECT_EQ(unique.size(), seen.size()) << "a sample came twice";
      EXPECT_EQ(seen.size(), drop_last ? 100u : 103u);
    }
  }
}

TEST(DataLoader, ShuffleDiffersPerEpochAndIsSeeded) {
  ImageDataset d = small_data();
  DataLoader a(d, all_indices(d), augmenting(d), options(8, true, 1), 1);
  DataLoader b(d, all_indices(d), augmenting(d), options(8, true, 1), 1);
  DataLoader c(d, all_indices(d), augmenting(d), options(8, true, 1), 2);
  EXPECT_EQ(a.epoch_order(0), b.epoch_order(0));
  EXPECT_NE(a.epoch_order(0), a.epoch_order(1));
  EXPECT_NE(a.epoch_order(0), c.epoch_order(0));
  core::LoaderConfig ordered = options(8, true, 1);
  ordered.shuffle = false;
  DataLoader in_order(d, all_indices(d), augmenting(d), ordered, 1);
  EXPECT_EQ(in_order.epoch_order(3), all_indices(d));
}

TEST(DataLoader, OutputIndependentOfThreadsAndPrefetch) {
  ImageDataset d = small_data(20);
  core::setup_execution("1", "cpu", 0);
  DataLoader sync(d, all_indices(d), augmenting(d), options(16, false, 0), 9);
  auto reference = epoch_batches(sync, 2);
  core::setup_execution("2", "cpu", 0);
  DataLoader fetched(d, all_indices(d), augmenting(d), options(16, false, 3),
                     9);
  auto other = epoch_batches(fetched, 2);
  ASSERT_EQ(reference.size(), other.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_TRUE(torch::equal(reference[i], other[i])) << "batch " << i;
  }
}

TEST(DataLoader, ResumeMidEpochGivesTheSameBatches) {
  ImageDataset d = small_data(20);
  DataLoader l(d, all_indices(d), augmenting(d), options(16, true, 2), 5);
  auto full = epoch_batches(l, 4);
  auto resumed = epoch_batches(l, 4, 3);
  ASSERT_EQ(resumed.size() + 3, full.size());
  for (size_t i = 0; i < resumed.size(); ++i) {
    EXPECT_TRUE(torch::equal(full[i + 3], resumed[i]));
  }
}

TEST(DataLoader, ChannelsLastHasSameValuesAndNhwcMemory) {
  ImageDataset d = small_data();
  DataLoader nchw(d, all_indices(d), augmenting(d), options(8, true, 0), 3);
  core::LoaderConfig o = options(8, true, 0);
  o.channels_last = true;
  DataLoader nhwc(d, all_indices(d), augmenting(d), o, 3);
  nchw.start_epoch(0);
  nhwc.start_epoch(0);
  auto a = nchw.next();
  auto b = nhwc.next();
  EXPECT_TRUE(b->images.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_FALSE(b->images.is_contiguous());
  EXPECT_TRUE(torch::equal(a->images, b->images));
  EXPECT_EQ(a->images.sizes(), (std::vector<int64_t>{8, 3, 8, 8}));
  EXPECT_EQ(a->labels.dtype(), torch::kInt64);
}

TEST(DataLoader, AbandonedEpochRestartsCleanly) {
  ImageDataset d = small_data(20);
  DataLoader l(d, all_indices(d), augmenting(d), options(4, true, 4), 5);
  l.start_epoch(0);
  l.next();
  auto full = epoch_batches(l, 0);
  EXPECT_EQ(static_cast<int64_t>(full.size()), l.batches_per_epoch());
  EXPECT_THROW_WITH(l.start_epoch(0, 1000), InternalError, "outside epoch");
  DataLoader fresh(d, all_indices(d), augmenting(d), options(4, true, 4), 5);
  EXPECT_THROW_WITH(fresh.next(), InternalError, "before start_epoch");
}

}  // namespace
}  // namespace adascale::datasets
