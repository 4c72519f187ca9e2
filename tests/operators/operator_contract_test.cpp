// The contract every registered operator keeps (DESIGN §3.1), run over
// every name in the registry, so an operator added later is covered without
// touching this file (Caffe's layer-factory test). Channel counts are even
// and divisible by 8 (16, 32) so operators that split channels are served.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "operators/bn_folding.h"
#include "operators/operator_registry.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

const std::set<std::string> kFamilies = {"structural", "nas", "connectivity",
                                         "decomposition", "reference"};

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

int64_t parameter_count(const torch::nn::AnyModule& op) {
  int64_t n = 0;
  for (const auto& p : op.ptr()->parameters()) n += p.numel();
  return n;
}

/// True when the module tree holds a layer that behaves differently in
/// training (batch statistics, dropout).
bool has_mode_dependent_layers(const torch::nn::AnyModule& op) {
  for (const auto& m : op.ptr()->modules()) {
    auto name = m->name();
    if (name.find("BatchNorm") != std::string::npos ||
        name.find("Dropout") != std::string::npos) {
      return true;
    }
  }
  return false;
}

class OperatorContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { torch::manual_seed(7); }

  core::OperatorSpec spec(int in, int out, int stride) const {
    core::OperatorSpec s;
    s.type = GetParam();
    s.in_channels = in;
    s.out_channels = out;
    s.stride = stride;
    return s;
  }
  const OperatorTraits& traits() const {
    return operator_registry().traits(GetParam());
  }
  /// Output shape of `s` for an N×in×h×w input.
  static std::vector<int64_t> expected(const core::OperatorSpec& s, int64_t n,
                                       int64_t h, int64_t w) {
    return {n, s.out_channels, ceil_div(h, s.stride), ceil_div(w, s.stride)};
  }
  /// Runs a few training batches so BN has non-trivial running statistics,
  /// randomises BN affine parameters, then switches to eval.
  static void settle(torch::nn::AnyModule& op, int64_t in) {
    torch::NoGradGuard no_grad;
    for (const auto& m : op.ptr()->modules()) {
      if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) {
        if (bn->options.affine()) {
          bn->weight.uniform_(0.5, 1.5);
          bn->bias.uniform_(-0.5, 0.5);
        }
      }
    }
    op.ptr()->train();
    for (int i = 0; i < 3; ++i) {
      op.forward(torch::randn({4, in, 8, 8}) * 2.0 + 0.5);
    }
    op.ptr()->eval();
  }
};

TEST_P(OperatorContract, TraitsAreFilled) {
  const auto& t = traits();
  EXPECT_TRUE(kFamilies.count(t.family)) << "family '" << t.family << "'";
  EXPECT_FALSE(t.summary.empty());
}

TEST_P(OperatorContract, OutputShapeIsCeilOfInputOverStride) {
  struct Case {
    int in, out;
  };
  for (auto [in, out] : {Case{16, 32}, Case{32, 32}, Case{32, 16}}) {
    for (int stride : {1, 2}) {
      auto s = spec(in, out, stride);
      auto op = make_operator(s);
      for (auto [h, w] : {std::pair<int64_t, int64_t>{7, 9}, {8, 8}, {1, 3}}) {
        SCOPED_TRACE(::testing::Message() << in << "→" << out << " stride "
                                          << stride << " " << h << "×" << w);
        auto y = op.forward(torch::randn({2, in, h, w}));
        EXPECT_EQ(y.sizes().vec(), expected(s, 2, h, w));
      }
    }
  }
}

TEST_P(OperatorContract, GradientsReachEveryParameter) {
  for (int stride : {1, 2}) {
    SCOPED_TRACE(::testing::Message() << "stride " << stride);
    auto op = make_operator(spec(16, 32, stride));
    op.ptr()->train();
    auto x = torch::randn({2, 16, 7, 9}, torch::requires_grad());
    auto y = op.forward(x);
    // A random projection, not a plain sum: the sum of a train-mode BN
    // output does not depend on its input, which would hide missing grads.
    auto loss = (y * torch::randn_like(y)).sum();
    loss.backward();
    ASSERT_TRUE(x.grad().defined());
    EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
    int nonzero = 0, total = 0;
    for (const auto& item : op.ptr()->named_parameters()) {
      const auto& g = item.value().grad();
      ASSERT_TRUE(g.defined()) << item.key() << " has no gradient";
      EXPECT_TRUE(torch::isfinite(g).all().item<bool>()) << item.key();
      ++total;
      if (g.abs().sum().item<double>() > 0.0) {
        ++nonzero;
      } else {
        ADD_FAILURE() << item.key() << " has an all-zero gradient";
      }
    }
    EXPECT_GT(total, 0);
    EXPECT_EQ(nonzero, total);
  }
}

TEST_P(OperatorContract, ForwardLeavesItsInputAlone) {
  auto op = make_operator(spec(32, 32, 1));
  auto x = torch::randn({2, 32, 7, 9});
  auto before = x.clone();
  op.forward(x);
  op.ptr()->eval();
  op.forward(x);
  EXPECT_TRUE(torch::equal(x, before));
}

TEST_P(OperatorContract, EvalIsDeterministicAndDiffersFromTrainOnlyByBn) {
  auto op = make_operator(spec(16, 32, 2));
  auto x = torch::randn({4, 16, 7, 9});
  op.ptr()->eval();
  auto a = op.forward(x);
  auto b = op.forward(x);
  EXPECT_TRUE(torch::equal(a, b));

  op.ptr()->train();
  torch::Tensor t;
  {
    torch::NoGradGuard no_grad;
    t = op.forward(x);
  }
  EXPECT_EQ(t.sizes(), a.sizes());
  if (has_mode_dependent_layers(op)) {
    EXPECT_FALSE(torch::allclose(t, a));
  } else {
    EXPECT_TRUE(torch::allclose(t, a));
  }
}

TEST_P(OperatorContract, SameSeedSameParametersAndOutputs) {
  auto build = [&](uint64_t seed) {
    torch::manual_seed(seed);
    auto op = make_operator(spec(16, 32, 1));
    op.ptr()->eval();
    auto y = op.forward(torch::randn({2, 16, 7, 9}));
    std::vector<torch::Tensor> params;
    for (const auto& p : op.ptr()->parameters()) params.push_back(p.detach());
    return std::make_pair(params, y);
  };
  auto [p1, y1] = build(11);
  auto [p2, y2] = build(11);
  auto [p3, y3] = build(12);
  ASSERT_EQ(p1.size(), p2.size());
  bool any_differs = false;
  for (size_t i = 0; i < p1.size(); ++i) {
    EXPECT_TRUE(torch::equal(p1[i], p2[i])) << "parameter " << i;
    any_differs = any_differs || !torch::equal(p1[i], p3[i]);
  }
  EXPECT_TRUE(torch::equal(y1, y2));
  EXPECT_TRUE(any_differs) << "a different seed gave the same parameters";
}

TEST_P(OperatorContract, CloneIsEqualAndIndependent) {
  auto op = make_operator(spec(16, 32, 2));
  settle(op, 16);
  auto copy = op.clone();
  auto x = torch::randn({2, 16, 7, 9});
  EXPECT_TRUE(torch::equal(op.forward(x), copy.forward(x)));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : copy.ptr()->parameters()) p.add_(1.0);
  }
  EXPECT_FALSE(torch::equal(op.forward(x), copy.forward(x)));
}

TEST_P(OperatorContract, WidthScalesHiddenChannelsOnlyWhenUsed) {
  // Wide enough that rounding to multiples of 8 cannot hide the multiplier,
  // and expanding so inverted residuals have a hidden layer to scale.
  auto narrow = spec(64, 128, 2);
  narrow.expand_ratio = 4.0;
  narrow.width = 0.5;
  auto wide = narrow;
  wide.width = 2.0;
  auto a = make_operator(narrow);
  auto b = make_operator(wide);
  auto x = torch::randn({2, 64, 7, 9});
  EXPECT_EQ(a.forward(x).sizes().vec(), expected(narrow, 2, 7, 9));
  EXPECT_EQ(b.forward(x).sizes().vec(), expected(wide, 2, 7, 9));
  if (traits().uses_width) {
    EXPECT_LT(parameter_count(a), parameter_count(b));
  } else {
    EXPECT_EQ(parameter_count(a), parameter_count(b));
  }
}

TEST_P(OperatorContract, KernelMattersOnlyWhenUsed) {
  auto small = spec(16, 32, 2);
  auto large = small;
  large.kernel = 5;
  auto a = make_operator(small);
  auto b = make_operator(large);
  auto x = torch::randn({2, 16, 7, 9});
  EXPECT_EQ(b.forward(x).sizes().vec(), expected(large, 2, 7, 9));
  if (traits().uses_kernel) {
    EXPECT_LT(parameter_count(a), parameter_count(b));
  } else {
    EXPECT_EQ(parameter_count(a), parameter_count(b));
  }
}

TEST_P(OperatorContract, SqueezeExciteAndExpandRatioMatterOnlyWhenUsed) {
  auto base = spec(16, 32, 2);
  auto with_se = base;
  with_se.se = true;
  auto expanded = base;
  expanded.expand_ratio = 4.0;
  auto x = torch::randn({2, 16, 7, 9});
  auto plain = make_operator(base);
  auto se = make_operator(with_se);
  auto ex = make_operator(expanded);
  EXPECT_EQ(se.forward(x).sizes().vec(), expected(base, 2, 7, 9));
  EXPECT_EQ(ex.forward(x).sizes().vec(), expected(base, 2, 7, 9));
  if (traits().uses_se) {
    EXPECT_GT(parameter_count(se), parameter_count(plain));
  } else {
    EXPECT_EQ(parameter_count(se), parameter_count(plain));
  }
  if (traits().uses_expand_ratio) {
    EXPECT_GT(parameter_count(ex), parameter_count(plain));
  } else {
    EXPECT_EQ(parameter_count(ex), parameter_count(plain));
  }
}

TEST_P(OperatorContract, EveryActivationRuns) {
  for (const char* act : {"relu", "relu6", "hswish", "silu", "gelu"}) {
    auto s = spec(16, 32, 2);
    s.act = act;
    auto y = make_operator(s).forward(torch::randn({2, 16, 7, 9}));
    EXPECT_EQ(y.sizes().vec(), expected(s, 2, 7, 9)) << act;
  }
}

TEST_P(OperatorContract, BadSpecsThrowConfigErrorNamingTheOperator) {
  const std::string name = "operator '" + GetParam() + "'";
  EXPECT_THROW_WITH(make_operator(spec(0, 32, 1)), ConfigError, name);
  EXPECT_THROW_WITH(make_operator(spec(16, 0, 1)), ConfigError, name);
  EXPECT_THROW_WITH(make_operator(spec(16, 32, 0)), ConfigError, name);
  if (traits().uses_kernel) {
    auto even = spec(16, 32, 1);
    even.kernel = 4;
    EXPECT_THROW_WITH(make_operator(even), ConfigError, name);
  }
  if (traits().uses_act) {
    auto act = spec(16, 32, 1);
    act.act = "tanh";
    EXPECT_THROW_WITH(make_operator(act), ConfigError, "tanh");
  }
}

TEST_P(OperatorContract, BatchNormFoldingKeepsTheEvalOutput) {
  for (int stride : {1, 2}) {
    auto op = make_operator(spec(16, 32, stride));
    settle(op, 16);
    auto x = torch::randn({2, 16, 7, 9});
    auto before = op.forward(x);
    fold_batch_norms(*op.ptr());
    auto after = op.forward(x);
    EXPECT_TRUE(torch::allclose(after, before, /*rtol=*/1e-4, /*atol=*/1e-5))
        << "stride " << stride << ": max difference "
        << (after - before).abs().max().item<double>();
  }
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string out;
  for (char c : info.param) out += std::isalnum((unsigned char)c) ? c : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllOperators, OperatorContract,
                         ::testing::ValuesIn(operator_registry().names()),
                         test_name);

}  // namespace
}  // namespace adascale::operators
