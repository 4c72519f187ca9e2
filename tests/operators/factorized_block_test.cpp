#include "operators/factorized_block.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/operators/operator_test_util.h"

namespace adascale::operators {
namespace {

using testing::spec_for;

namespace F = torch::nn::functional;

/// conv → eval BN → optional ReLU from the unit's own tensors, with an
/// explicit stride and padding.
torch::Tensor reference_unit(const ConvBnAct& u, const torch::Tensor& x,
                             std::vector<int64_t> stride,
                             std::vector<int64_t> padding, bool relu) {
  auto y = F::conv2d(x, u->conv->weight,
                     F::Conv2dFuncOptions().stride(stride).padding(padding));
  y = F::batch_norm(y, u->bn->running_mean, u->bn->running_var,
                    F::BatchNormFuncOptions()
                        .weight(u->bn->weight)
                        .bias(u->bn->bias)
                        .eps(u->bn->options.eps()));
  return relu ? torch::relu(y) : y;
}

TEST(FactorizedBlock, KernelsAreKx1Then1xKWithTheStrideOnTheFirst) {
  auto s = spec_for("factorized", 16, 32, 2);
  s.kernel = 5;
  FactorizedBlock block(s);
  auto shape = [](const ConvBnAct& u) {
    return u->conv->weight.sizes().slice(2).vec();
  };
  EXPECT_EQ(shape(block->conv1_v), (std::vector<int64_t>{5, 1}));
  EXPECT_EQ(shape(block->conv1_h), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(shape(block->conv2_v), (std::vector<int64_t>{5, 1}));
  EXPECT_EQ(shape(block->conv2_h), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(*block->conv1_v->conv->options.stride(),
            (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(*block->conv1_h->conv->options.stride(),
            (std::array<int64_t, 2>{1, 1}));
}

TEST(FactorizedBlock, EvalOutputEqualsAPlainComposition) {
  torch::manual_seed(9);
  for (int stride : {1, 2}) {
    FactorizedBlock block(spec_for("factorized", 8, 16, stride));
    {
      // Non-trivial running statistics.
      torch::NoGradGuard no_grad;
      for (int i = 0; i < 3; ++i) block->forward(torch::randn({4, 8, 6, 6}));
    }
    block->eval();
    auto x = torch::randn({2, 8, 7, 9});
    int64_t s = stride;
    auto h = reference_unit(block->conv1_v, x, {s, s}, {1, 0}, true);
    h = reference_unit(block->conv1_h, h, {1, 1}, {0, 1}, true);
    h = reference_unit(block->conv2_v, h, {1, 1}, {1, 0}, true);
    h = reference_unit(block->conv2_h, h, {1, 1}, {0, 1}, false);
    auto expected = torch::relu(h + block->shortcut(x));
    auto y = block->forward(x);
    EXPECT_EQ(y.sizes().vec(),
              (std::vector<int64_t>{2, 16, (7 + s - 1) / s, (9 + s - 1) / s}));
    EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-6)) << "stride " << s;
  }
}

// Jaderberg et al.'s premise: a k×1 then 1×k pair is a k×k conv whose kernel
// is the outer product of the two (rank 1 per channel pair).
TEST(FactorizedBlock, AVerticalThenHorizontalPairIsARankOneKxKConv) {
  torch::manual_seed(1);
  auto v = torch::randn({1, 1, 3, 1});
  auto h = torch::randn({1, 1, 1, 3});
  auto x = torch::randn({1, 1, 7, 9});
  auto pair = F::conv2d(
      F::conv2d(x, v, F::Conv2dFuncOptions().padding(torch::IntArrayRef{1, 0})),
      h, F::Conv2dFuncOptions().padding(torch::IntArrayRef{0, 1}));
  auto full = F::conv2d(x, v * h, F::Conv2dFuncOptions().padding(1));
  EXPECT_TRUE(torch::allclose(pair, full, 1e-5, 1e-6));
}

TEST(FactorizedBlock, HasFewerParametersThanTheBasicBlockItReplaces) {
  auto count = [](const torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return n;
  };
  // 64→64, k=3: four (64·64·3) convs and four BNs.
  FactorizedBlock block(spec_for("factorized", 64, 64, 1));
  EXPECT_EQ(count(*block), 4 * 64 * 64 * 3 + 4 * 128);
}

}  // namespace
}  // namespace adascale::operators
