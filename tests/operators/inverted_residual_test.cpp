#include "operators/inverted_residual.h"

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
using InvertedResidualTest = testing::SeededTest;

TEST_F(InvertedResidualTest, MapsToCeilOfHalfResolutionOnOddSizes) {
  for (bool se : {false, true}) {
    for (int stride : {1, 2}) {
      for (auto [in, out] :
           std::vector<std::pair<int, int>>{{16, 16}, {16, 24}, {20, 12}}) {
        auto spec = spec_for("mbconv", in, out, stride);
        spec.expand_ratio = 6;
        spec.se = se;
        spec.act = "hswish";
        auto y = make_operator(spec).forward(torch::randn({2, in, 9, 7}));
        EXPECT_EQ(shape(y), (std::vector<int64_t>{2, out, stride == 1 ? 9 : 5,
                                                  stride == 1 ? 7 : 4}))
            << in << "→" << out << " stride " << stride << " se " << se;
      }
    }
  }
}

TEST_F(InvertedResidualTest, AddsTheInputOnlyWhenStrideOneAndShapesAgree) {
  auto spec = spec_for("mbconv", 16, 16, 1);
  spec.expand_ratio = 4;
  InvertedResidual same(spec);
  EXPECT_TRUE(same->residual());
  same->eval();
  auto x = torch::randn({2, 16, 7, 7});
  auto branch = same->project(same->depthwise(same->expand(x)));
  EXPECT_TRUE(torch::allclose(same(x), branch + x, 1e-5, 1e-6));

  EXPECT_FALSE(InvertedResidual(spec_for("mbconv", 16, 24, 1))->residual());
  EXPECT_FALSE(InvertedResidual(spec_for("mbconv", 16, 16, 2))->residual());
}

TEST_F(InvertedResidualTest, MatchesTorchvisionMobileNetV2Blocks) {
  // python3 -c "from torchvision.models.mobilenetv2 import InvertedResidual
  //   as I; print(sum(p.numel() for p in I(24, 24, 1, 6).parameters()))"
  //   → 8832; I(32, 64, 2, 6) → 21056; I(32, 16, 1, 1) → 896.
  auto spec = spec_for("mbconv", 24, 24, 1);
  spec.expand_ratio = 6;
  spec.act = "relu6";
  EXPECT_EQ(parameter_count(*InvertedResidual(spec)), 8832);
  spec = spec_for("mbconv", 32, 64, 2);
  spec.expand_ratio = 6;
  EXPECT_EQ(parameter_count(*InvertedResidual(spec)), 21056);
  // expand_ratio 1: no expansion conv, the depthwise runs on the input.
  InvertedResidual no_expand(spec_for("mbconv", 32, 16, 1));
  EXPECT_FALSE(no_expand->expand);
  EXPECT_EQ(no_expand->hidden(), 32);
  EXPECT_EQ(parameter_count(*no_expand), 896);
}

TEST_F(InvertedResidualTest, MatchesTorchvisionMobileNetV3Blocks) {
  // from torchvision.models.mobilenetv3 import InvertedResidual as I,
  //   InvertedResidualConfig as C; n(I(C(40, 5, 120, 40, True, "RE", 1, 1,
  //   1.0), BatchNorm2d)) → 20992 (SE squeeze 32);
  //   n(I(C(40, 3, 240, 80, False, "HS", 2, 1, 1.0), BatchNorm2d)) → 32080.
  auto spec = spec_for("mbconv", 40, 40, 1);
  spec.kernel = 5;
  spec.expand_ratio = 3;
  spec.se = true;
  InvertedResidual with_se(spec);
  ASSERT_TRUE(with_se->se);
  EXPECT_EQ(with_se->se->options.squeeze_channels(), 32);
  EXPECT_EQ(parameter_count(*with_se), 20992);
  spec = spec_for("mbconv", 40, 80, 2);
  spec.expand_ratio = 6;
  spec.act = "hswish";
  EXPECT_EQ(parameter_count(*InvertedResidual(spec)), 32080);
}

TEST_F(InvertedResidualTest, WidthScalesTheHiddenChannels) {
  auto spec = spec_for("mbconv", 16, 16, 1);
  spec.expand_ratio = 6;
  EXPECT_EQ(InvertedResidual(spec)->hidden(), 96);
  spec.width = 0.5;
  EXPECT_EQ(InvertedResidual(spec)->hidden(), 48);
}

TEST_F(InvertedResidualTest, RejectsAnUnknownActivation) {
  auto spec = spec_for("mbconv", 8, 8, 1);
  spec.act = "tanh";
  EXPECT_THROW_WITH(InvertedResidual{spec}, ConfigError, "activation 'tanh'");
}

}  // namespace
}  // namespace adascale::operators
