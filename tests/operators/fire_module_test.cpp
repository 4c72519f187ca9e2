#include "operators/fire_module.h"

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
using FireModuleTest = testing::SeededTest;

TEST_F(FireModuleTest, MapsToCeilOfHalfResolutionOnOddSizes) {
  for (int stride : {1, 2}) {
    for (auto [in, out] :
         std::vector<std::pair<int, int>>{{16, 16}, {16, 32}, {24, 9}}) {
      auto op = make_operator(spec_for("fire", in, out, stride));
      auto y = op.forward(torch::randn({2, in, 9, 7}));
      EXPECT_EQ(shape(y), (std::vector<int64_t>{2, out, stride == 1 ? 9 : 5,
                                                stride == 1 ? 7 : 4}))
          << in << "→" << out << " stride " << stride;
    }
  }
}

TEST_F(FireModuleTest, MatchesTorchvisionFire) {
  // python3 -c "from torchvision.models.squeezenet import Fire as F;
  //   print(sum(p.numel() for p in F(96, 16, 64, 64).parameters()))"
  //   → 11920; F(384, 64, 256, 256) → 188992.
  EXPECT_EQ(parameter_count(*FireModule(spec_for("fire", 96, 128, 1))), 11920);
  EXPECT_EQ(parameter_count(*FireModule(spec_for("fire", 384, 512, 1))),
            188992);
}

TEST_F(FireModuleTest, ConcatenatesTheTwoExpandsAfterTheActivation) {
  FireModule fire(spec_for("fire", 8, 16, 1));
  auto x = torch::randn({2, 8, 5, 5});
  auto s = torch::relu(fire->squeeze(x));
  auto expected = torch::cat(
      {torch::relu(fire->expand1x1(s)), torch::relu(fire->expandkxk(s))}, 1);
  EXPECT_TRUE(torch::allclose(fire(x), expected));
}

TEST_F(FireModuleTest, WidthAndSqueezeRatioSetTheSqueezeChannels) {
  auto spec = spec_for("fire", 64, 128, 1);
  EXPECT_EQ(FireModule(spec)->squeeze->options.out_channels(), 16);
  spec.width = 2.0;
  EXPECT_EQ(FireModule(spec)->squeeze->options.out_channels(), 32);
  spec.width = 1.0;
  spec.squeeze_ratio = 0.25;
  EXPECT_EQ(FireModule(spec)->squeeze->options.out_channels(), 32);
}

TEST_F(FireModuleTest, RejectsASingleOutputChannel) {
  EXPECT_THROW_WITH(FireModule(spec_for("fire", 8, 1, 1)), ConfigError,
                    "out_channels must be >= 2");
}

}  // namespace
}  // namespace adascale::operators
