#include "datasets/synthetic_dataset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "datasets/channel_stats.h"
#include "datasets/data_loader.h"
#include "datasets/validation_split.h"

namespace adascale::datasets {
namespace {

core::SyntheticConfig config() {
  core::SyntheticConfig c;
  c.classes = 6;
  c.image_size = 12;
  c.train_per_class = 60;
  c.test_per_class = 20;
  return c;
}

TEST(SyntheticDataset, ShapesLabelsAndDeterminism) {
  ImageDataset a = make_synthetic(config(), true);
  ImageDataset b = make_synthetic(config(), true);
  ImageDataset t = make_synthetic(config(), false);
  EXPECT_EQ(a.size(), 360);
  EXPECT_EQ(t.size(), 120);
  EXPECT_EQ(a.num_classes(), 6);
  EXPECT_EQ(a.pixels.size(), 360u * 3 * 12 * 12);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(std::vector<uint8_t>(a.pixels.begin(), a.pixels.begin() + 400),
            std::vector<uint8_t>(t.pixels.begin(), t.pixels.begin() + 400));
  auto other = config();
  other.seed = 2;
  EXPECT_NE(make_synthetic(other, true).pixels, a.pixels);
}

TEST(SyntheticDataset, ALinearModelLearnsIt) {
  core::SyntheticConfig c = config();
  ImageDataset train = make_synthetic(c, true);
  ImageDataset test = make_synthetic(c, false);
  torch::manual_seed(0);
  auto to_tensor = [](const ImageDataset& d) {
    return torch::from_blob(const_cast<uint8_t*>(d.pixels.data()),
                            {d.size(), d.image_bytes()}, torch::kUInt8)
        .to(torch::kFloat32)
        .div(255.0)
        .sub(0.5);
  };
  auto x = to_tensor(train), xt = to_tensor(test);
  auto y = torch::tensor(
      std::vector<int64_t>(train.labels.begin(), train.labels.end()));
  auto yt = torch::tensor(
      std::vector<int64_t>(test.labels.begin(), test.labels.end()));
  torch::nn::Linear model(x.size(1), c.classes);
  torch::optim::SGD opt(model->parameters(),
                        torch::optim::SGDOptions(0.1).momentum(0.9));
  auto accuracy = [&] {
    torch::NoGradGuard g;
    return model->forward(xt)
        .argmax(1)
        .eq(yt)
        .to(torch::kFloat32)
        .mean()
        .item<float>();
  };
  float before = accuracy();
  for (int step = 0; step < 60; ++step) {
    opt.zero_grad();
    auto loss = torch::cross_entropy_loss(model->forward(x), y);
    loss.backward();
    opt.step();
  }
  float after = accuracy();
  EXPECT_LT(before, 0.5f);
  EXPECT_GT(after, 0.9f) << "synthetic classes should be learnable";
}

TEST(ValidationSplit, StratifiedSeededDisjoint) {
  DatasetSplits s;
  s.train = make_synthetic(config(), true);
  split_train_validation(s, 0.25, 3);
  EXPECT_EQ(s.validation_indices.size(), 90u);
  EXPECT_EQ(s.train_indices.size(), 270u);
  std::vector<int> per_class(6, 0);
  for (int64_t i : s.validation_indices) ++per_class[s.train.labels[i]];
  for (int n : per_class) EXPECT_EQ(n, 15);
  std::vector<int64_t> all = s.train_indices;
  all.insert(all.end(), s.validation_indices.begin(),
             s.validation_indices.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::unique(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), 360u);
  auto first = s.validation_indices;
  split_train_validation(s, 0.25, 3);
  EXPECT_EQ(first, s.validation_indices);
  split_train_validation(s, 0.25, 4);
  EXPECT_NE(first, s.validation_indices);
}

TEST(ValidationSplit, TrainLimitKeepsABalancedSubset) {
  DatasetSplits s;
  s.train = make_synthetic(config(), true);
  split_train_validation(s, 0.1, 0, 60);
  EXPECT_EQ(s.train_indices.size(), 60u);
  std::vector<int> per_class(6, 0);
  for (int64_t i : s.train_indices) ++per_class[s.train.labels[i]];
  for (int n : per_class) EXPECT_EQ(n, 10);
  for (int64_t v : s.validation_indices) {
    EXPECT_FALSE(
        std::binary_search(s.train_indices.begin(), s.train_indices.end(), v));
  }
}

TEST(ChannelStats, MatchesDirectComputation) {
  ImageDataset d = make_synthetic(config(), true);
  ChannelStats s = channel_stats(d);
  auto t =
      torch::from_blob(d.pixels.data(), {d.size(), 3, 12, 12}, torch::kUInt8)
          .to(torch::kFloat64);
  for (int c = 0; c < 3; ++c) {
    auto ch = t.select(1, c);
    EXPECT_NEAR(s.mean[c], ch.mean().item<double>(), 1e-9);
    EXPECT_NEAR(s.std[c], ch.std(/*unbiased=*/false).item<double>(), 1e-6);
  }
  ChannelStats sub = channel_stats(d, {0, 1});
  EXPECT_NEAR(sub.mean[0], t.slice(0, 0, 2).select(1, 0).mean().item<double>(),
              1e-9);
}

}  // namespace
}  // namespace adascale::datasets
