// DataLoader::set_shard: DistributedSampler semantics for data-parallel
// training (every sample once per epoch across ranks, shards disjoint).

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "datasets/data_loader.h"
#include "datasets/synthetic_dataset.h"

namespace adascale::datasets {
namespace {

constexpr int kSamples = 103;

// Sample i's two pixels encode i, so every image traces back to its index.
ImageDataset indexed_data() {
  ImageDataset d;
  d.channels = 1;
  d.height = 1;
  d.width = 2;
  d.class_names = {"a", "b", "c"};
  for (int i = 0; i < kSamples; ++i) {
    d.pixels.push_back(static_cast<uint8_t>(i % 256));
    d.pixels.push_back(static_cast<uint8_t>(i / 256));
    d.labels.push_back(i % 3);
  }
  return d;
}

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i);
  return v;
}

core::LoaderConfig options(int batch, bool drop_last) {
  core::LoaderConfig o;
  o.batch_size = batch;
  o.drop_last = drop_last;
  o.prefetch = 1;
  return o;
}

/// Sample indices of one epoch of `l`, in order.
std::vector<int> epoch_samples(DataLoader& l, int64_t epoch) {
  std::vector<int> out;
  l.start_epoch(epoch);
  while (auto b = l.next()) {
    auto img = b->images.reshape({-1, 2});
    for (int64_t i = 0; i < img.size(0); ++i) {
      out.push_back(static_cast<int>(std::lround(
          img[i][0].item<float>() + 256 * img[i][1].item<float>())));
    }
  }
  return out;
}

TEST(DataLoaderShard, EverySampleOncePerEpochAcrossRanks) {
  const ImageDataset d = indexed_data();
  const ImageTransform t(core::AugmentConfig{}, {{0.0}, {1.0 / 255.0}}, 1, 1, 2,
                         true);
  for (int ranks : {2, 3, 4}) {
    // Per-rank batch 1: drop_last then concerns only the shard lengths.
    for (bool drop_last : {false, true}) {
      for (bool even : {true, false}) {
        SCOPED_TRACE(::testing::Message() << ranks << " ranks, drop_last "
                                          << drop_last << ", even " << even);
        std::vector<std::unique_ptr<DataLoader>> shards;
        for (int r = 0; r < ranks; ++r) {
          shards.push_back(std::make_unique<DataLoader>(
              d, all_indices(kSamples), t, options(1, drop_last), 7));
          shards.back()->set_shard(r, ranks, even);
        }
        for (int64_t epoch = 0; epoch < 2; ++epoch) {
          std::map<int, int> seen;
          std::vector<size_t> lengths;
          for (auto& s : shards) {
            const auto samples = epoch_samples(*s, epoch);
            lengths.push_back(samples.size());
            EXPECT_EQ(int64_t(samples.size()), s->shard_samples());
            for (int i : samples) seen[i] += 1;
          }
          const int rest = kSamples % ranks;
          int twice = 0;
          for (const auto& [sample, times] : seen) {
            EXPECT_LE(times, 2);
            twice += times - 1;
          }
          if (!even) {
            // Evaluation shards: an exact partition.
            EXPECT_EQ(int(seen.size()), kSamples);
            EXPECT_EQ(twice, 0);
          } else if (drop_last) {
            // Cut to a multiple of the ranks: disjoint, rest unused.
            EXPECT_EQ(int(seen.size()), kSamples - rest);
            EXPECT_EQ(twice, 0);
          } else {
            // Padded: all seen, ranks − rest samples twice.
            EXPECT_EQ(int(seen.size()), kSamples);
            EXPECT_EQ(twice, rest == 0 ? 0 : ranks - rest);
          }
          if (even) {
            for (size_t r = 1; r < lengths.size(); ++r) {
              EXPECT_EQ(lengths[r], lengths[0]) << "ranks take unequal steps";
            }
          }
        }
      }
    }
  }
}

TEST(DataLoaderShard, DivisibleEpochIsSplitDisjointly) {
  const ImageDataset d = indexed_data();
  const ImageTransform t(core::AugmentConfig{}, {{0.0}, {1.0 / 255.0}}, 1, 1, 2,
                         true);
  // 100 samples (the first 100 indices), 2 ranks × batch 5: every sample
  // exactly once per epoch, no padding, no drop.
  DataLoader a(d, all_indices(100), t, options(5, true), 3);
  DataLoader b(d, all_indices(100), t, options(5, true), 3);
  a.set_shard(0, 2, true);
  b.set_shard(1, 2, true);
  EXPECT_EQ(a.batches_per_epoch(), 10);
  EXPECT_EQ(b.batches_per_epoch(), 10);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const auto x = epoch_samples(a, epoch);
    const auto y = epoch_samples(b, epoch);
    std::set<int> all(x.begin(), x.end());
    for (int i : y) {
      EXPECT_EQ(all.count(i), 0u) << "sample " << i << " in both shards";
      all.insert(i);
    }
    EXPECT_EQ(all.size(), 100u);
    EXPECT_NE(a.epoch_order(epoch), a.epoch_order(epoch + 1));
  }
}

TEST(DataLoaderShard, ShardBatchesMakeTheWholeBatchAugmentedAlike) {
  core::SyntheticConfig c;
  c.classes = 4;
  c.image_size = 8;
  c.train_per_class = 12;
  const ImageDataset d = make_synthetic(c, true);
  core::AugmentConfig aug;
  aug.crop_padding = 2;
  aug.horizontal_flip = true;
  const ImageTransform t(aug, {{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}}, d.channels,
                         d.height, d.width, true);
  // One loader with batch 8 against two shards with batch 4 each: row
  // r + 2i of the whole batch k is row i of rank r's batch k, same crop and
  // flip (augmentation is seeded by the position in the whole epoch).
  DataLoader whole(d, all_indices(d.size()), t, options(8, true), 9);
  std::vector<std::unique_ptr<DataLoader>> shards;
  for (int r = 0; r < 2; ++r) {
    shards.push_back(std::make_unique<DataLoader>(d, all_indices(d.size()), t,
                                                  options(4, true), 9));
    shards.back()->set_shard(r, 2, true);
  }
  for (int64_t epoch : {0, 5}) {
    whole.start_epoch(epoch);
    for (auto& s : shards) s->start_epoch(epoch);
    int64_t batches = 0;
    while (auto w = whole.next()) {
      for (int64_t r = 0; r < 2; ++r) {
        auto part = shards[size_t(r)]->next();
        ASSERT_TRUE(part.has_value());
        for (int64_t i = 0; i < 4; ++i) {
          EXPECT_TRUE(torch::equal(part->images[i], w->images[r + 2 * i]));
          EXPECT_EQ(part->labels[i].item<int64_t>(),
                    w->labels[r + 2 * i].item<int64_t>());
        }
      }
      ++batches;
    }
    EXPECT_EQ(batches, whole.batches_per_epoch());
    for (auto& s : shards) EXPECT_FALSE(s->next().has_value());
  }
}

}  // namespace
}  // namespace adascale::datasets
