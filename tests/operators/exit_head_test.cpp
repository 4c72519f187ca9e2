#include "operators/exit_head.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

TEST(ExitHead, MapsStageFeaturesToLogits) {
  ExitHead head(ExitHeadOptions(32, 64, 10));
  for (auto [h, w] : {std::pair<int64_t, int64_t>{8, 8}, {7, 9}, {1, 1}}) {
    auto y = head->forward(torch::randn({3, 32, h, w}));
    EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{3, 10})) << h << "×" << w;
  }
}

// DESIGN §3.2: conv 3×3 stride 2 → BN → ReLU → adaptive avg-pool 1×1 →
// dropout → linear.
TEST(ExitHead, FollowsTheDesignLayerByLayer) {
  torch::manual_seed(41);
  ExitHead head(ExitHeadOptions(16, 24, 5).dropout(0.3));
  const auto& conv = head->conv->options;
  EXPECT_EQ(*conv.kernel_size(), (std::array<int64_t, 2>{3, 3}));
  EXPECT_EQ(*conv.stride(), (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(conv.in_channels(), 16);
  EXPECT_EQ(conv.out_channels(), 24);
  EXPECT_EQ(head->bn->options.num_features(), 24);
  EXPECT_DOUBLE_EQ(head->dropout->options.p(), 0.3);
  EXPECT_EQ(head->fc->options.in_features(), 24);
  EXPECT_EQ(head->fc->options.out_features(), 5);

  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) head->forward(torch::randn({4, 16, 8, 8}));
  }
  head->eval();
  auto x = torch::randn({2, 16, 7, 9});
  auto features = torch::relu(head->bn(head->conv(x)));
  EXPECT_EQ(features.sizes().vec(), (std::vector<int64_t>{2, 24, 4, 5}));
  auto expected = head->fc(features.mean({2, 3}));
  auto y = head->forward(x);
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(y, head->forward(x)));  // eval: no dropout
}

TEST(ExitHead, DropoutActsOnlyInTraining) {
  torch::manual_seed(42);
  ExitHead head(ExitHeadOptions(8, 16, 4).dropout(0.5));
  auto x = torch::randn({2, 8, 6, 6});
  torch::NoGradGuard no_grad;
  head->train();
  auto a = head->forward(x);
  auto b = head->forward(x);
  EXPECT_FALSE(torch::equal(a, b));
  head->eval();
  EXPECT_TRUE(torch::equal(head->forward(x), head->forward(x)));
}

// Paper §III-A2's streamlined branch: pool → dropout → linear, nothing
// else to store.
TEST(ExitHead, PoolHeadIsPoolAndLinearOnly) {
  torch::manual_seed(43);
  ExitHead head(ExitHeadOptions(12, 12, 5).conv(false));
  EXPECT_TRUE(head->conv.is_empty());
  EXPECT_TRUE(head->bn.is_empty());
  EXPECT_EQ(head->parameters().size(), 2u);  // fc weight and bias
  head->eval();
  auto x = torch::randn({2, 12, 3, 5});
  EXPECT_TRUE(
      torch::allclose(head->forward(x), head->fc(x.mean({2, 3})), 1e-5, 1e-6));
  EXPECT_THROW_WITH(ExitHead(ExitHeadOptions(12, 16, 5).conv(false)),
                    ConfigError, "a pool head keeps its 12 input channels");
}

TEST(ExitHead, RefusesNonPositiveSizes) {
  EXPECT_THROW_WITH(ExitHead(ExitHeadOptions(8, 16, 0)), ConfigError,
                    "classes must be > 0");
}

}  // namespace
}  // namespace adascale::operators
