#include "operators/low_rank_conv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

torch::nn::Conv2d random_conv(torch::nn::Conv2dOptions options) {
  torch::nn::Conv2d conv(options);
  torch::NoGradGuard no_grad;
  if (options.bias()) conv->bias.uniform_(-1.0, 1.0);
  return conv;
}

TEST(LowRankConv2d, ShapesAndParameterCount) {
  LowRankConv2d conv(
      LowRankConv2dOptions(16, 32, 4, 3).stride(2).padding(1).bias(true));
  EXPECT_EQ(conv->first->weight.sizes().vec(),
            (std::vector<int64_t>{4, 16, 3, 3}));
  EXPECT_EQ(conv->second->weight.sizes().vec(),
            (std::vector<int64_t>{32, 4, 1, 1}));
  EXPECT_FALSE(conv->first->bias.defined());
  EXPECT_TRUE(conv->second->bias.defined());
  int64_t n = 0;
  for (const auto& p : conv->parameters()) n += p.numel();
  EXPECT_EQ(n, 16 * 9 * 4 + 4 * 32 + 32);
  auto y = conv->forward(torch::randn({2, 16, 7, 9}));
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 32, 4, 5}));
  EXPECT_THROW_WITH(LowRankConv2d(LowRankConv2dOptions(16, 32, 0, 3)),
                    ConfigError, "rank 0 must be > 0");
}

TEST(LowRankConv2d, RankOfASpecIsARatioOfTheFullRankOrAnAbsoluteOverride) {
  core::OperatorSpec s;
  EXPECT_EQ(full_conv_rank(64, 64, 3, 3), 64);
  EXPECT_EQ(full_conv_rank(2, 64, 3, 3), 18);
  EXPECT_EQ(low_rank_for(s, 64, 64, 3), 16);  // 0.25 × 64
  EXPECT_EQ(low_rank_for(s, 2, 64, 3), 5);    // round(0.25 × 18)
  s.rank_ratio = 0.01;
  EXPECT_EQ(low_rank_for(s, 8, 8, 1), 1);  // never 0
  s.rank = 10;
  EXPECT_EQ(low_rank_for(s, 64, 64, 3), 10);
  s.rank = 1000;
  EXPECT_EQ(low_rank_for(s, 64, 32, 3), 32);  // clamped to full
}

TEST(LowRankConv2d, FullRankSvdReproducesTheConv) {
  torch::manual_seed(21);
  struct Case {
    int64_t in, out, kernel, stride, padding, dilation;
    bool bias;
  };
  for (auto c : {Case{8, 16, 3, 1, 1, 1, true}, Case{8, 16, 3, 2, 1, 1, false},
                 Case{16, 8, 5, 2, 2, 1, true}, Case{4, 12, 3, 1, 2, 2, true},
                 Case{12, 12, 1, 2, 0, 1, true}}) {
    SCOPED_TRACE(::testing::Message()
                 << c.in << "→" << c.out << " k" << c.kernel << " s" << c.stride
                 << " bias " << c.bias);
    auto conv = random_conv(torch::nn::Conv2dOptions(c.in, c.out, c.kernel)
                                .stride(c.stride)
                                .padding(c.padding)
                                .dilation(c.dilation)
                                .bias(c.bias));
    int64_t full = full_conv_rank(c.in, c.out, c.kernel, c.kernel);
    auto low = low_rank_from_conv(conv, RankChoice::fixed(1000));
    EXPECT_EQ(low->options.rank(), full);
    EXPECT_EQ(low->second->bias.defined(), c.bias);
    auto x = torch::randn({2, c.in, 9, 7});
    auto expected = conv->forward(x);
    auto y = low->forward(x);
    ASSERT_EQ(y.sizes(), expected.sizes());
    EXPECT_TRUE(torch::allclose(y, expected, 1e-4, 1e-4))
        << (y - expected).abs().max().item<double>();
    // And the full-rank energy choice picks the full rank, too.
    auto by_energy = low_rank_from_conv(conv, RankChoice::energy(1.0));
    EXPECT_TRUE(torch::allclose(by_energy->forward(x), expected, 1e-4, 1e-4));
  }
}

TEST(LowRankConv2d, TruncationErrorShrinksWithRank) {
  torch::manual_seed(22);
  auto conv = random_conv(torch::nn::Conv2dOptions(8, 16, 3).padding(1));
  auto x = torch::randn({2, 8, 6, 6});
  auto expected = conv->forward(x);
  double previous = 1e30;
  for (int64_t r : {1, 4, 8, 12, 16}) {
    auto low = low_rank_from_conv(conv, RankChoice::fixed(r));
    EXPECT_EQ(low->first->weight.size(0), r);
    double error = (low->forward(x) - expected).norm().item<double>();
    EXPECT_LT(error, previous) << "rank " << r;
    previous = error;
  }
}

TEST(LowRankConv2d, EnergyPicksTheSmallestSufficientRank) {
  // Squared singular values 16, 4, 1, 0.25: total 21.25.
  auto s = torch::tensor({4.0, 2.0, 1.0, 0.5});
  EXPECT_EQ(choose_rank(s, RankChoice::energy(0.5)), 1);   // 16 / 21.25
  EXPECT_EQ(choose_rank(s, RankChoice::energy(0.76)), 2);  // 20 / 21.25
  EXPECT_EQ(choose_rank(s, RankChoice::energy(0.95)), 3);  // 21 / 21.25
  EXPECT_EQ(choose_rank(s, RankChoice::energy(1.0)), 4);
  EXPECT_EQ(choose_rank(s, RankChoice::fixed(3)), 3);
  EXPECT_EQ(choose_rank(s, RankChoice::fixed(9)), 4);
  EXPECT_EQ(choose_rank(torch::zeros({3}), RankChoice::energy(0.9)), 1);
  EXPECT_THROW_WITH(choose_rank(s, RankChoice::energy(1.5)), ConfigError,
                    "energy fraction in (0, 1]");
  EXPECT_THROW_WITH(choose_rank(s, RankChoice::fixed(0)), ConfigError,
                    "rank >= 1");

  // A conv built from a known spectrum: 2 dominant directions.
  torch::manual_seed(23);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(4, 6, 3).bias(false));
  auto u = std::get<0>(torch::linalg::qr(torch::randn({6, 6}), "reduced"));
  auto v = std::get<0>(torch::linalg::qr(torch::randn({36, 6}), "reduced"));
  auto spectrum =
      torch::tensor({10.0, 8.0, 0.1, 0.1, 0.05, 0.01}, torch::kFloat32);
  {
    torch::NoGradGuard no_grad;
    conv->weight.copy_((u * spectrum).matmul(v.t()).reshape({6, 4, 3, 3}));
  }
  auto low = low_rank_from_conv(conv, RankChoice::energy(0.99));
  EXPECT_EQ(low->options.rank(), 2);
}

TEST(LowRankConv2d, RefusesGroupedConvolutions) {
  torch::nn::Conv2d grouped(torch::nn::Conv2dOptions(8, 8, 3).groups(4));
  EXPECT_THROW_WITH(low_rank_from_conv(grouped, RankChoice::fixed(2)),
                    ConfigError, "grouped convolution (groups=4)");
}

}  // namespace
}  // namespace adascale::operators
