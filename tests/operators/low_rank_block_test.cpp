#include "operators/low_rank_block.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "operators/basic_block.h"
#include "tests/operators/operator_test_util.h"

namespace adascale::operators {
namespace {

using testing::parameter_count;
using testing::spec_for;

TEST(LowRankBlock, RanksFollowTheSpecPerConv) {
  LowRankBlock block(spec_for("lowrank", 64, 64, 1));
  EXPECT_EQ(block->conv1->options.rank(), 16);
  EXPECT_EQ(block->conv2->options.rank(), 16);
  // Two (64·9·16 + 16·64) pairs without bias, two BNs, identity shortcut.
  EXPECT_EQ(parameter_count(*block), 2 * (64 * 9 * 16 + 16 * 64) + 2 * 128);

  auto s = spec_for("lowrank", 2, 64, 2);
  s.rank_ratio = 0.5;
  LowRankBlock narrow_input(s);
  EXPECT_EQ(narrow_input->conv1->options.rank(), 9);   // 0.5 × min(64, 18)
  EXPECT_EQ(narrow_input->conv2->options.rank(), 32);  // 0.5 × 64
  s.rank = 12;
  LowRankBlock fixed(s);
  EXPECT_EQ(fixed->conv1->options.rank(), 12);
  EXPECT_EQ(fixed->conv2->options.rank(), 12);
}

TEST(LowRankBlock, StrideIsOnTheFirstPair) {
  LowRankBlock block(spec_for("lowrank", 16, 32, 2));
  EXPECT_EQ((*block->conv1->first->options.stride())[0], 2);
  EXPECT_EQ((*block->conv2->first->options.stride())[0], 1);
  auto y = block->forward(torch::randn({2, 16, 7, 9}));
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 32, 4, 5}));
}

// The AdaScale authors' SVD-decomposed ResNet blocks: a trained basic block
// becomes a low-rank block by decomposing its convs; at full rank the block
// is unchanged.
TEST(LowRankBlock, FullRankDecompositionOfABasicBlockReproducesIt) {
  torch::manual_seed(13);
  for (int stride : {1, 2}) {
    BasicBlock basic(spec_for("basic", 8, 16, stride));
    {
      torch::NoGradGuard no_grad;
      for (int i = 0; i < 3; ++i) basic->forward(torch::randn({4, 8, 6, 6}));
    }
    basic->eval();
    auto s = spec_for("lowrank", 8, 16, stride);
    s.rank = 1000;  // clamped to each conv's full rank
    LowRankBlock block(s);
    block->eval();
    torch::NoGradGuard no_grad;
    auto copy_pair = [](LowRankConv2d& to, const torch::nn::Conv2d& from) {
      auto low = low_rank_from_conv(from, RankChoice::fixed(1000));
      ASSERT_EQ(low->options.rank(), to->options.rank());
      to->first->weight.copy_(low->first->weight);
      to->second->weight.copy_(low->second->weight);
    };
    auto copy_bn = [](torch::nn::BatchNorm2d& to,
                      const torch::nn::BatchNorm2d& from) {
      to->weight.copy_(from->weight);
      to->bias.copy_(from->bias);
      to->running_mean.copy_(from->running_mean);
      to->running_var.copy_(from->running_var);
    };
    copy_pair(block->conv1, basic->conv1->conv);
    copy_pair(block->conv2, basic->conv2->conv);
    copy_bn(block->bn1, basic->conv1->bn);
    copy_bn(block->bn2, basic->conv2->bn);
    block->shortcut->conv->weight.copy_(basic->shortcut->conv->weight);
    copy_bn(block->shortcut->bn, basic->shortcut->bn);

    auto x = torch::randn({2, 8, 7, 9});
    EXPECT_TRUE(
        torch::allclose(block->forward(x), basic->forward(x), 1e-4, 1e-4))
        << "stride " << stride;
  }
}

}  // namespace
}  // namespace adascale::operators
