#include "operators/shuffle_unit.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "operators/operator_registry.h"
#include "tests/operators/operator_test_util.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

using testing::parameter_count;
using testing::shape;
using testing::spec_for;
using ShuffleUnitTest = testing::SeededTest;

TEST_F(ShuffleUnitTest, MapsToCeilOfHalfResolutionOnOddSizes) {
  for (int stride : {1, 2}) {
    // 16→16 at stride 1 is the split form; the rest use two branches.
    for (auto [in, out] :
         std::vector<std::pair<int, int>>{{16, 16}, {16, 32}, {24, 8}}) {
      auto op = make_operator(spec_for("shuffle", in, out, stride));
      auto y = op.forward(torch::randn({2, in, 9, 7}));
      EXPECT_EQ(shape(y), (std::vector<int64_t>{2, out, stride == 1 ? 9 : 5,
                                                stride == 1 ? 7 : 4}))
          << in << "→" << out << " stride " << stride;
    }
  }
}

TEST_F(ShuffleUnitTest, ChannelShuffleMatchesAPlainReference) {
  auto x = torch::randn({2, 12, 3, 5});
  for (int64_t g : {2, 3, 4}) {
    auto y = shuffle_channels(x, g);
    // Output channel i·g + j is input channel j·(C/g) + i.
    const int64_t per = 12 / g;
    auto expected = torch::empty_like(x);
    for (int64_t j = 0; j < g; ++j) {
      for (int64_t i = 0; i < per; ++i) {
        expected.select(1, i * g + j).copy_(x.select(1, j * per + i));
      }
    }
    EXPECT_TRUE(torch::equal(y, expected)) << "groups " << g;
  }
  EXPECT_THROW_WITH(shuffle_channels(x, 5), ConfigError,
                    "12 channels do not split into 5 groups");
}

TEST_F(ShuffleUnitTest, SplitFormPassesTheFirstHalfThroughToEvenChannels) {
  ShuffleUnit unit(spec_for("shuffle", 16, 16, 1));
  ASSERT_TRUE(unit->splits());
  unit->eval();
  auto x = torch::randn({2, 16, 5, 5});
  auto y = unit(x);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::equal(y.index({Slice(), Slice(0, 16, 2)}),
                           x.index({Slice(), Slice(0, 8)})));
  auto b2 = unit->branch2->forward(x.index({Slice(), Slice(8, 16)}));
  EXPECT_TRUE(torch::equal(y.index({Slice(), Slice(1, 16, 2)}), b2));
}

TEST_F(ShuffleUnitTest, MatchesTorchvisionShuffleNetV2Units) {
  // python3 -c "from torchvision.models.shufflenetv2 import InvertedResidual
  //   as I; print(sum(p.numel() for p in I(116, 116, 1).parameters()))"
  //   → 7598; I(24, 116, 2) → 7398.
  EXPECT_EQ(parameter_count(*ShuffleUnit(spec_for("shuffle", 116, 116, 1))),
            7598);
  EXPECT_EQ(parameter_count(*ShuffleUnit(spec_for("shuffle", 24, 116, 2))),
            7398);
}

TEST_F(ShuffleUnitTest, StrideOneWithNewWidthUsesTwoBranches) {
  ShuffleUnit unit(spec_for("shuffle", 24, 48, 1));
  EXPECT_FALSE(unit->splits());
  EXPECT_EQ(shape(unit(torch::randn({1, 24, 7, 7}))),
            (std::vector<int64_t>{1, 48, 7, 7}));
}

TEST_F(ShuffleUnitTest, WidthScalesBranchTwoHiddenChannels) {
  auto spec = spec_for("shuffle", 58, 58, 1);
  auto hidden = [](const ShuffleUnit& u) {
    return u->branch2->ptr<ConvBnActImpl>(0)->options.out_channels();
  };
  EXPECT_EQ(hidden(ShuffleUnit(spec)), 29);
  spec.width = 2.0;
  EXPECT_EQ(hidden(ShuffleUnit(spec)), 58);
}

TEST_F(ShuffleUnitTest, RejectsOddOutputChannels) {
  EXPECT_THROW_WITH(ShuffleUnit(spec_for("shuffle", 16, 15, 2)), ConfigError,
                    "out_channels must be even");
}

}  // namespace
}  // namespace adascale::operators
