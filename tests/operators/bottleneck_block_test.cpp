#include "operators/bottleneck_block.h"

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
using BottleneckBlockTest = testing::SeededTest;

TEST_F(BottleneckBlockTest, MapsToCeilOfHalfResolutionOnOddSizes) {
  for (int stride : {1, 2}) {
    for (auto [in, out] :
         std::vector<std::pair<int, int>>{{16, 16}, {16, 32}, {24, 8}}) {
      auto op = make_operator(spec_for("bottleneck", in, out, stride));
      auto y = op.forward(torch::randn({2, in, 9, 7}));
      EXPECT_EQ(shape(y), (std::vector<int64_t>{2, out, stride == 1 ? 9 : 5,
                                                stride == 1 ? 7 : 4}))
          << in << "→" << out << " stride " << stride;
    }
  }
}

TEST_F(BottleneckBlockTest, MatchesTorchvisionBottleneckParameters) {
  // python3 -c "from torchvision.models.resnet import Bottleneck as B;
  //   print(sum(p.numel() for p in B(256, 64).parameters()))"  → 70400
  BottleneckBlock same(spec_for("bottleneck", 256, 256, 1));
  EXPECT_EQ(parameter_count(*same), 70400);
  EXPECT_TRUE(same->shortcut->identity());
  // B(64, 64, 2, Sequential(Conv2d(64, 256, 1, 2, bias=False),
  //   BatchNorm2d(256)))  → 75008
  BottleneckBlock down(spec_for("bottleneck", 64, 256, 2));
  EXPECT_EQ(parameter_count(*down), 75008);
  EXPECT_FALSE(down->shortcut->identity());
}

TEST_F(BottleneckBlockTest, WidthScalesTheMiddleChannels) {
  auto spec = spec_for("bottleneck", 64, 64, 1);
  EXPECT_EQ(BottleneckBlock(spec)->conv->options.in_channels(), 16);
  spec.width = 2.0;
  EXPECT_EQ(BottleneckBlock(spec)->conv->options.in_channels(), 32);
}

TEST_F(BottleneckBlockTest, RejectsAnEvenKernel) {
  auto spec = spec_for("bottleneck", 8, 8, 1);
  spec.kernel = 2;
  EXPECT_THROW_WITH(
      BottleneckBlock{spec}, ConfigError,
      "operator 'bottleneck' (8→8, stride 1): kernel must be odd");
}

}  // namespace
}  // namespace adascale::operators
