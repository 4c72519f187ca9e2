#include "operators/dense_block.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/operators/operator_test_util.h"

namespace adascale::operators {
namespace {

using testing::spec_for;

TEST(DenseBlock, GrowthRateDefaultsToAQuarterOfOutAndScalesWithWidth) {
  auto s = spec_for("dense", 16, 32, 1);
  EXPECT_EQ(dense_growth_rate(s), 8);
  s.width = 0.5;
  EXPECT_EQ(dense_growth_rate(s), 4);
  s.growth_rate = 12;
  s.width = 1.0;
  EXPECT_EQ(dense_growth_rate(s), 12);
  s.width = 0.01;
  EXPECT_EQ(dense_growth_rate(s), 1);
}

TEST(DenseBlock, EachLayerReadsEverythingBeforeIt) {
  auto s = spec_for("dense", 16, 24, 1);
  s.layers = 3;
  s.growth_rate = 12;
  DenseBlock block(s);
  ASSERT_EQ(block->dense_layers->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    auto layer = block->dense_layers[i]->as<DenseLayer>();
    EXPECT_EQ(layer->conv1->options.in_channels(), int64_t(16 + 12 * i));
    EXPECT_EQ(layer->conv1->options.out_channels(), 48);  // 4 × growth
    EXPECT_EQ(layer->conv2->options.out_channels(), 12);
  }
  EXPECT_EQ(block->transition->conv->options.in_channels(), 16 + 3 * 12);
  EXPECT_EQ(block->transition->conv->options.out_channels(), 24);
}

TEST(DenseBlock, FeaturesAreTheInputFollowedByEveryLayersOutput) {
  torch::manual_seed(4);
  auto s = spec_for("dense", 8, 16, 1);
  s.layers = 2;
  s.growth_rate = 4;
  DenseBlock block(s);
  block->eval();
  auto x = torch::randn({2, 8, 5, 7});
  auto l0 = block->dense_layers[0]->as<DenseLayer>();
  auto l1 = block->dense_layers[1]->as<DenseLayer>();
  auto y0 = l0->forward(x);
  auto y1 = l1->forward(torch::cat({x, y0}, 1));
  EXPECT_EQ(y0.size(1), 4);
  auto features = torch::cat({x, y0, y1}, 1);
  EXPECT_EQ(features.size(1), 8 + 2 * 4);
  EXPECT_TRUE(
      torch::allclose(block->forward(x), block->transition->forward(features)));
}

TEST(DenseBlock, StrideAveragesCeilWindowsOverOddSizes) {
  for (int stride : {2, 3}) {
    DenseBlock block(spec_for("dense", 8, 16, stride));
    ASSERT_FALSE(block->pool.is_empty());
    auto y = block->forward(torch::randn({2, 8, 7, 9}));
    EXPECT_EQ(y.sizes().vec(),
              (std::vector<int64_t>{2, 16, (7 + stride - 1) / stride,
                                    (9 + stride - 1) / stride}));
  }
  // The last, partial window averages only the pixels it covers.
  DenseBlock block(spec_for("dense", 8, 16, 2));
  auto ones = torch::ones({1, 1, 3, 3});
  auto pooled = block->pool(ones);
  EXPECT_TRUE(torch::allclose(pooled, torch::ones({1, 1, 2, 2})));
  EXPECT_TRUE(DenseBlock(spec_for("dense", 8, 16, 1))->pool.is_empty());
}

}  // namespace
}  // namespace adascale::operators
