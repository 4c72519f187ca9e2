#include "operators/mixed_conv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/operators/operator_test_util.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

using testing::spec_for;

TEST(MixedConv, SplitsChannelsEquallyWithTheRemainderFirst) {
  EXPECT_EQ(split_channels(32, 3), (std::vector<int64_t>{12, 10, 10}));
  EXPECT_EQ(split_channels(16, 2), (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(split_channels(5, 1), (std::vector<int64_t>{5}));
}

TEST(MixedConv, GroupsHaveTheirKernelsAndTheStride) {
  auto s = spec_for("mixconv", 16, 24, 2);
  s.expand_ratio = 2.0;  // hidden 32
  MixedConv block(s);
  ASSERT_EQ(block->mixed->size(), 3u);
  std::vector<int64_t> channels, kernels;
  for (const auto& m : *block->mixed) {
    const auto& conv = m->as<ConvBnAct>()->conv;
    channels.push_back(conv->options.in_channels());
    kernels.push_back((*conv->options.kernel_size())[0]);
    EXPECT_EQ(conv->options.groups(), conv->options.in_channels());
    EXPECT_EQ((*conv->options.stride())[0], 2);
  }
  EXPECT_EQ(channels, (std::vector<int64_t>{12, 10, 10}));
  EXPECT_EQ(kernels, (std::vector<int64_t>{3, 5, 7}));
  auto y = block->forward(torch::randn({2, 16, 7, 9}));
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 24, 4, 5}));
}

// MixConv paper, §3: a mixed depthwise conv equals one depthwise conv with
// the largest kernel whose smaller kernels are zero-padded to it.
TEST(MixedConv, MixedDepthwiseEqualsOneZeroPaddedDepthwiseConv) {
  torch::manual_seed(5);
  for (int stride : {1, 2}) {
    auto s = spec_for("mixconv", 16, 16, stride);
    s.kernels = {3, 5, 7};
    MixedConv block(s);
    auto h = torch::randn({2, 16, 9, 7});
    auto splits = split_channels(16, 3);
    auto parts = h.split_with_sizes(splits, 1);
    std::vector<torch::Tensor> outs, weights;
    for (size_t i = 0; i < parts.size(); ++i) {
      auto conv = block->mixed[i]->as<ConvBnAct>()->conv;
      outs.push_back(conv->forward(parts[i]));
      int64_t pad = (7 - s.kernels[i]) / 2;
      weights.push_back(
          torch::constant_pad_nd(conv->weight.detach(), {pad, pad, pad, pad}));
    }
    namespace F = torch::nn::functional;
    auto reference =
        F::conv2d(h, torch::cat(weights, 0),
                  F::Conv2dFuncOptions().stride(stride).padding(3).groups(16));
    EXPECT_TRUE(torch::allclose(torch::cat(outs, 1), reference, 1e-5, 1e-6))
        << "stride " << stride;
  }
}

TEST(MixedConv, SqueezeExciteIsOptional) {
  auto s = spec_for("mixconv", 16, 16, 1);
  EXPECT_TRUE(MixedConv(s)->se.is_empty());
  s.se = true;
  MixedConv with_se(s);
  ASSERT_FALSE(with_se->se.is_empty());
  EXPECT_EQ(with_se->se->options.channels(), 16);
}

TEST(MixedConv, RefusesBadKernelLists) {
  auto s = spec_for("mixconv", 16, 16, 1);
  s.kernels = {3, 4};
  EXPECT_THROW_WITH(MixedConv{s}, ConfigError, "kernels must be odd, got 4");
  s.kernels = {};
  EXPECT_THROW_WITH(MixedConv{s}, ConfigError, "kernels must not be empty");
  s.kernels = std::vector<int>(9, 3);  // hidden = 8 channels
  s.in_channels = 8;
  EXPECT_THROW_WITH(MixedConv{s}, ConfigError,
                    "8 hidden channels cannot be split over 9 kernels");
}

}  // namespace
}  // namespace adascale::operators
