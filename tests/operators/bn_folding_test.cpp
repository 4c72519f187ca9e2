#include "operators/bn_folding.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

/// A BN with non-trivial running statistics and affine parameters.
torch::nn::BatchNorm2d trained_bn(int64_t channels, bool affine = true) {
  torch::nn::BatchNorm2d bn(
      torch::nn::BatchNorm2dOptions(channels).affine(affine).eps(1e-3));
  torch::NoGradGuard no_grad;
  bn->running_mean.uniform_(-1.0, 1.0);
  bn->running_var.uniform_(0.2, 3.0);
  if (affine) {
    bn->weight.uniform_(-2.0, 2.0);
    bn->bias.uniform_(-1.0, 1.0);
  }
  bn->eval();
  return bn;
}

TEST(FoldBatchNorm, EqualsConvThenEvalBn) {
  torch::manual_seed(31);
  struct Case {
    int64_t in, out, kernel, stride, groups;
    bool bias, affine;
  };
  for (auto c :
       {Case{8, 16, 3, 1, 1, false, true}, Case{8, 16, 3, 2, 1, true, true},
        Case{8, 16, 3, 1, 4, false, true},    // grouped
        Case{16, 16, 5, 2, 16, false, true},  // depthwise
        Case{16, 16, 3, 1, 16, true, false},  // depthwise, no affine
        Case{8, 4, 1, 1, 1, true, false}}) {
    SCOPED_TRACE(::testing::Message()
                 << c.in << "→" << c.out << " k" << c.kernel << " groups "
                 << c.groups << " bias " << c.bias << " affine " << c.affine);
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(c.in, c.out, c.kernel)
                               .stride(c.stride)
                               .padding(c.kernel / 2)
                               .groups(c.groups)
                               .bias(c.bias));
    auto bn = trained_bn(c.out, c.affine);
    auto folded = fold_batch_norm(conv, bn);
    EXPECT_TRUE(folded->options.bias());
    EXPECT_EQ(folded->options.groups(), c.groups);
    EXPECT_EQ(*folded->options.stride(), *conv->options.stride());
    auto x = torch::randn({2, c.in, 7, 9});
    auto expected = bn->forward(conv->forward(x));
    auto y = folded->forward(x);
    EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-5))
        << (y - expected).abs().max().item<double>();
  }
}

TEST(FoldBatchNorm, RefusesBnWithoutRunningStatsOrWithOtherFeatures) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(4, 8, 3));
  torch::nn::BatchNorm2d batch_only(
      torch::nn::BatchNorm2dOptions(8).track_running_stats(false));
  EXPECT_THROW_WITH(fold_batch_norm(conv, batch_only), ConfigError,
                    "no running statistics");
  EXPECT_THROW_WITH(fold_batch_norm(conv, torch::nn::BatchNorm2d(6)),
                    ConfigError, "6 features but the conv has 8");
}

TEST(ConvBnActFold, KeepsTheEvalOutputAndDropsTheBn) {
  torch::manual_seed(32);
  ConvBnAct unit(ConvBnActOptions(8, 16, 3).stride(2).groups(2).act(
      Activation::kHardSwish));
  unit->bn = unit->replace_module("bn", trained_bn(16));
  unit->eval();
  auto x = torch::randn({2, 8, 7, 9});
  auto before = unit->forward(x);
  EXPECT_FALSE(unit->folded());
  unit->fold();
  EXPECT_TRUE(unit->folded());
  EXPECT_TRUE(unit->bn.is_empty());
  EXPECT_EQ(unit->named_children().size(), 1u);
  EXPECT_EQ(unit->parameters().size(), 2u);  // weight and bias
  EXPECT_TRUE(unit->buffers().empty());
  EXPECT_TRUE(torch::allclose(unit->forward(x), before, 1e-5, 1e-5));
  unit->fold();  // idempotent
  EXPECT_TRUE(torch::allclose(unit->forward(x), before, 1e-5, 1e-5));

  // A folded unit still clones (reset() rebuilds it folded).
  auto copy = std::dynamic_pointer_cast<ConvBnActImpl>(unit->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(copy->folded());
  EXPECT_TRUE(torch::equal(copy->forward(x), unit->forward(x)));
}

TEST(FoldBatchNorms, AnEvalModelOfOperatorsGivesTheSameOutput) {
  torch::manual_seed(33);
  torch::nn::Sequential model;
  int in = 8;
  int count_units = 0;
  for (const std::string& type : operator_registry().names()) {
    core::OperatorSpec s;
    s.type = type;
    s.in_channels = in;
    s.out_channels = 16;
    s.stride = in == 8 ? 2 : 1;
    model->push_back(make_operator(s));
    in = 16;
  }
  for (const auto& m : model->modules()) {
    if (dynamic_cast<ConvBnActImpl*>(m.get())) ++count_units;
  }
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) model->forward(torch::randn({4, 8, 8, 8}));
  }
  model->eval();
  auto x = torch::randn({2, 8, 9, 7});
  auto before = model->forward(x);
  EXPECT_EQ(fold_batch_norms(*model), count_units);
  EXPECT_EQ(fold_batch_norms(*model), 0);  // already folded
  auto after = model->forward(x);
  EXPECT_TRUE(torch::allclose(after, before, 1e-4, 1e-5))
      << (after - before).abs().max().item<double>();
}

}  // namespace
}  // namespace adascale::operators
