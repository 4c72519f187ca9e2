#include "operators/depthwise_separable.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/operators/operator_test_util.h"

namespace adascale::operators {
namespace {

using testing::parameter_count;
using testing::spec_for;

TEST(DepthwiseSeparable, ParameterCountMatchesAHandCount) {
  // 16→32, stride 2, k=3, mid = 32: each conv without bias, BN has γ and β.
  int64_t in = 16, out = 32, mid = 32, k = 3;
  int64_t dw1 = in * k * k + 2 * in;
  int64_t pw1 = in * mid + 2 * mid;
  int64_t dw2 = mid * k * k + 2 * mid;
  int64_t pw2 = mid * out + 2 * out;
  int64_t projection = in * out + 2 * out;
  DepthwiseSeparable block(spec_for("dws", 16, 32, 2));
  EXPECT_EQ(parameter_count(*block), dw1 + pw1 + dw2 + pw2 + projection);

  // 64→64 stride 1: identity shortcut, mid = 64.
  DepthwiseSeparable same(spec_for("dws", 64, 64, 1));
  EXPECT_TRUE(same->shortcut->identity());
  EXPECT_EQ(parameter_count(*same), 2 * (64 * 9 + 128) + 2 * (64 * 64 + 128));
}

TEST(DepthwiseSeparable, DepthwiseConvsAreGroupedPerChannelAndCarryTheStride) {
  auto s = spec_for("dws", 16, 32, 2);
  s.kernel = 5;
  s.width = 0.5;
  DepthwiseSeparable block(s);
  EXPECT_EQ(block->dw1->conv->options.groups(), 16);
  EXPECT_EQ((*block->dw1->conv->options.stride())[0], 2);
  EXPECT_EQ((*block->dw1->conv->options.kernel_size())[0], 5);
  EXPECT_EQ(block->pw1->conv->options.out_channels(), 16);  // 32 × 0.5
  EXPECT_EQ(block->dw2->conv->options.groups(), 16);
  EXPECT_EQ((*block->dw2->conv->options.stride())[0], 1);
  auto y = block->forward(torch::randn({2, 16, 9, 7}));
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 32, 5, 4}));
}

TEST(DepthwiseSeparable, EvalOutputEqualsAPlainComposition) {
  torch::manual_seed(3);
  DepthwiseSeparable block(spec_for("dws", 8, 8, 1));
  block->eval();
  auto x = torch::randn({2, 8, 6, 5});
  namespace F = torch::nn::functional;
  auto unit = [](const ConvBnAct& u, const torch::Tensor& t, bool relu) {
    auto o = u->conv->options;
    auto k = *o.kernel_size();
    auto y = F::conv2d(t, u->conv->weight,
                       F::Conv2dFuncOptions()
                           .padding(torch::IntArrayRef{k[0] / 2, k[1] / 2})
                           .groups(o.groups()));
    y = F::batch_norm(y, u->bn->running_mean, u->bn->running_var,
                      F::BatchNormFuncOptions()
                          .weight(u->bn->weight)
                          .bias(u->bn->bias)
                          .eps(u->bn->options.eps()));
    return relu ? torch::relu(y) : y;
  };
  auto h = unit(block->dw1, x, true);
  h = unit(block->pw1, h, true);
  h = unit(block->dw2, h, true);
  h = unit(block->pw2, h, false);
  auto expected = torch::relu(h + x);
  EXPECT_TRUE(torch::allclose(block->forward(x), expected, 1e-5, 1e-6));
}

}  // namespace
}  // namespace adascale::operators
