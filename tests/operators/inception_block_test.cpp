#include "operators/inception_block.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <numeric>

#include "core/error.h"
#include "tests/operators/operator_test_util.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

using testing::spec_for;

TEST(InceptionBlock, BranchesSplitOutputChannelsWithTheRemainderFirst) {
  EXPECT_EQ(inception_branch_channels(32),
            (std::array<int64_t, 4>{8, 8, 8, 8}));
  EXPECT_EQ(inception_branch_channels(30),
            (std::array<int64_t, 4>{9, 7, 7, 7}));
  EXPECT_EQ(inception_branch_channels(4), (std::array<int64_t, 4>{1, 1, 1, 1}));
}

TEST(InceptionBlock, ConcatenatesExactlyOutChannels) {
  for (int out : {4, 7, 24, 30, 33}) {
    for (int stride : {1, 2}) {
      SCOPED_TRACE(::testing::Message()
                   << "out " << out << " stride " << stride);
      InceptionBlock block(spec_for("inception", 16, out, stride));
      block->eval();
      auto x = torch::randn({2, 16, 7, 9});
      auto c = inception_branch_channels(out);
      std::vector<int64_t> spatial = {(7 + stride - 1) / stride,
                                      (9 + stride - 1) / stride};
      auto branch_shape = [&](int64_t channels) {
        return std::vector<int64_t>{2, channels, spatial[0], spatial[1]};
      };
      EXPECT_EQ(block->branch1(x).sizes().vec(), branch_shape(c[0]));
      EXPECT_EQ(block->branch2->forward(x).sizes().vec(), branch_shape(c[1]));
      EXPECT_EQ(block->branch3->forward(x).sizes().vec(), branch_shape(c[2]));
      EXPECT_EQ(block->pool_proj(block->pool(x)).sizes().vec(),
                branch_shape(c[3]));
      EXPECT_EQ(block->forward(x).sizes().vec(), branch_shape(out));
    }
  }
}

TEST(InceptionBlock, EvalOutputIsTheSumOfConcatenatedBranchesAndShortcut) {
  torch::manual_seed(2);
  InceptionBlock block(spec_for("inception", 16, 24, 2));
  block->eval();
  auto x = torch::randn({2, 16, 7, 9});
  auto branches =
      torch::cat({block->branch1(x), block->branch2->forward(x),
                  block->branch3->forward(x), block->pool_proj(block->pool(x))},
                 1);
  auto expected = torch::relu(branches + block->shortcut(x));
  EXPECT_TRUE(torch::allclose(block->forward(x), expected));
}

TEST(InceptionBlock, WidthScalesTheReductionsAndKernelTheConvs) {
  auto s = spec_for("inception", 16, 32, 1);
  s.width = 2.0;
  s.kernel = 5;
  InceptionBlock block(s);
  auto reduce = block->branch2->ptr(0)->as<ConvBnAct>()->conv;
  EXPECT_EQ(reduce->options.out_channels(), 32);  // 32 / 2 × 2
  auto conv = block->branch3->ptr(2)->as<ConvBnAct>()->conv;
  EXPECT_EQ((*conv->options.kernel_size())[0], 5);
}

TEST(InceptionBlock, NeedsFourOutputChannels) {
  EXPECT_THROW_WITH(InceptionBlock{spec_for("inception", 16, 3, 1)},
                    ConfigError, "out_channels must be >= 4");
}

}  // namespace
}  // namespace adascale::operators
