#include "operators/ghost_bottleneck.h"

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
using GhostBottleneckTest = testing::SeededTest;

TEST_F(GhostBottleneckTest, MapsToCeilOfHalfResolutionOnOddSizes) {
  for (bool se : {false, true}) {
    for (int stride : {1, 2}) {
      for (auto [in, out] :
           std::vector<std::pair<int, int>>{{16, 16}, {16, 24}, {20, 13}}) {
        auto spec = spec_for("ghost", in, out, stride);
        spec.expand_ratio = 3;
        spec.se = se;
        auto y = make_operator(spec).forward(torch::randn({2, in, 9, 7}));
        EXPECT_EQ(shape(y), (std::vector<int64_t>{2, out, stride == 1 ? 9 : 5,
                                                  stride == 1 ? 7 : 4}))
            << in << "→" << out << " stride " << stride << " se " << se;
      }
    }
  }
}

TEST_F(GhostBottleneckTest, MatchesTheGhostNetReference) {
  // Counted with the GhostNet authors' GhostBottleneck(in, mid, out,
  // dw_kernel_size, stride, se_ratio) (huawei-noah/ghostnet, ghostnet.py)
  // in torch 1.13: (16, 48, 24, 3, 2) → 2564; (40, 120, 40, 5, 1, 0.25)
  // → 13672; (80, 480, 112, 3, 1, 0.25) → 175792.
  auto spec = spec_for("ghost", 16, 24, 2);
  spec.expand_ratio = 3;
  EXPECT_EQ(parameter_count(*GhostBottleneck(spec)), 2564);
  spec = spec_for("ghost", 40, 40, 1);
  spec.kernel = 5;
  spec.expand_ratio = 3;
  spec.se = true;
  GhostBottleneck same(spec);
  EXPECT_FALSE(same->shortcut);
  EXPECT_FALSE(same->depthwise);
  EXPECT_EQ(parameter_count(*same), 13672);
  spec = spec_for("ghost", 80, 112, 1);
  spec.expand_ratio = 6;
  spec.se = true;
  EXPECT_EQ(parameter_count(*GhostBottleneck(spec)), 175792);
}

TEST_F(GhostBottleneckTest, GhostModuleConcatenatesIntrinsicAndCheapMaps) {
  GhostModule m(GhostModuleOptions(8, 13));
  m->eval();
  auto x = torch::randn({2, 8, 5, 5});
  auto intrinsic = m->primary(x);
  EXPECT_EQ(intrinsic.size(1), 7);
  auto expected =
      torch::cat({intrinsic, m->cheap(intrinsic)}, 1).narrow(1, 0, 13);
  EXPECT_TRUE(torch::allclose(m(x), expected));
}

TEST_F(GhostBottleneckTest, IdentityShortcutAddsTheInput) {
  auto spec = spec_for("ghost", 16, 16, 1);
  GhostBottleneck block(spec);
  block->eval();
  auto x = torch::randn({2, 16, 5, 5});
  EXPECT_TRUE(torch::allclose(block(x), block->ghost2(block->ghost1(x)) + x,
                              1e-5, 1e-6));
}

TEST_F(GhostBottleneckTest, HiddenFollowsExpandRatioAndWidthAndIsAtLeastEight) {
  auto spec = spec_for("ghost", 4, 4, 1);
  EXPECT_EQ(GhostBottleneck(spec)->hidden(), 8);
  spec = spec_for("ghost", 16, 16, 1);
  spec.expand_ratio = 6;
  EXPECT_EQ(GhostBottleneck(spec)->hidden(), 96);
  spec.width = 0.5;
  EXPECT_EQ(GhostBottleneck(spec)->hidden(), 48);
}

}  // namespace
}  // namespace adascale::operators
