#include "runtime/int8_quantizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/fixtures/int8_support.h"

namespace adascale::runtime {
namespace {

// A flat block as trace_module makes them: every tensor an attribute of one
// module. conv → BN → ReLU → conv → BN → add → ReLU → pool → linear.
torch::jit::Module flat_block() {
  torch::manual_seed(0);
  torch::jit::Module m(c10::QualifiedName("__torch__.adascale.test_block"));
  auto norm = [&](const std::string& n) {
    m.register_parameter(n + "_weight", torch::rand({16}) + 0.5, false);
    m.register_parameter(n + "_bias", torch::randn({16}) * 0.1, false);
    m.register_buffer(n + "_mean", torch::randn({16}) * 0.1);
    m.register_buffer(n + "_var", torch::rand({16}) + 0.5);
  };
  m.register_parameter("c1_weight", torch::randn({16, 16, 3, 3}) * 0.1, false);
  norm("b1");
  m.register_parameter("c2_weight", torch::randn({16, 16, 3, 3}) * 0.1, false);
  norm("b2");
  m.register_parameter("fc_weight", torch::randn({5, 16}) * 0.3, false);
  m.register_parameter("fc_bias", torch::randn({5}) * 0.1, false);
  m.define(R"JIT(
def forward(self, x: Tensor) -> Tensor:
    y = torch.conv2d(x, self.c1_weight, None, [1, 1], [1, 1], [1, 1], 1)
    y = torch.batch_norm(y, self.b1_weight, self.b1_bias, self.b1_mean,
                         self.b1_var, False, 0.1, 1e-5, False)
    y = torch.relu(y)
    y = torch.conv2d(y, self.c2_weight, None, [1, 1], [1, 1], [1, 1], 1)
    y = torch.batch_norm(y, self.b2_weight, self.b2_bias, self.b2_mean,
                         self.b2_var, False, 0.1, 1e-5, False)
    y = torch.relu(y + x)
    y = torch.adaptive_avg_pool2d(y, [1, 1]).flatten(1)
    return torch.linear(y, self.fc_weight, self.fc_bias)
)JIT");
  m.eval();
  return m;
}

std::vector<torch::Tensor> images(int batches) {
  std::vector<torch::Tensor> out;
  for (int i = 0; i < batches; ++i) out.push_back(torch::randn({8, 16, 8, 8}));
  return out;
}

int count(const torch::jit::Module& m, const std::string& kind) {
  int n = 0;
  const auto symbol = c10::Symbol::fromQualString(kind);
  for (const auto* node : m.get_method("forward").graph()->nodes()) {
    n += node->kind() == symbol;
  }
  return n;
}

double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  return ((got - want).norm() / want.norm()).item<double>();
}

TEST(Int8Quantizer, FoldsFusesAndStaysCloseToTheFloatBlock) {
  ADASCALE_REQUIRE_INT8();
  torch::jit::Module block = flat_block();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({4, 16, 8, 8});
  torch::Tensor before = block.forward({x}).toTensor();

  torch::jit::Module q = quantize_int8(block, images(4), "test");
  // BN folded away, both convolutions int8, the first fused with its ReLU,
  // the residual add fused with its ReLU, the linear int8.
  EXPECT_EQ(count(q, "aten::batch_norm"), 0);
  EXPECT_EQ(count(q, "quantized::conv2d_relu"), 1);
  EXPECT_EQ(count(q, "quantized::conv2d"), 1);
  EXPECT_EQ(count(q, "quantized::add_relu"), 1);
  EXPECT_EQ(count(q, "quantized::linear"), 1);
  EXPECT_EQ(count(q, "aten::relu"), 0);

  torch::Tensor got = q.forward({x}).toTensor();
  EXPECT_EQ(got.scalar_type(), torch::kFloat);
  EXPECT_LT(relative_error(got, before), 0.05);
  EXPECT_GT(relative_error(got, before), 0);  // it really is int8
  // The float block is left as it was.
  EXPECT_EQ(count(block, "aten::batch_norm"), 2);
  EXPECT_TRUE(torch::equal(block.forward({x}).toTensor(), before));
}

TEST(Int8Quantizer, HoldsAboutAQuarterOfTheFloatWeightBytes) {
  ADASCALE_REQUIRE_INT8();
  torch::jit::Module q = quantize_int8(flat_block(), images(2), "test");
  // int8 weights (2 × 2304 + 80) plus float biases (16 + 16 + 5).
  EXPECT_EQ(packed_weight_bytes(q), 2 * 2304 + 80 + 4 * (16 + 16 + 5));
}

TEST(Int8Quantizer, RefusesMissingCalibration) {
  EXPECT_THROW(quantize_int8(flat_block(), {}, "test"), UsageError);
}

TEST(Int8Quantizer, NamesTheBlockWhenThePassesFail) {
  ADASCALE_REQUIRE_INT8();
  // Calibration images of the wrong shape make the observed run fail.
  try {
    quantize_int8(flat_block(), {torch::randn({1, 3, 8, 8})}, "stage9/odd");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("stage9/odd"), std::string::npos);
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;  // one line
  }
}

}  // namespace
}  // namespace adascale::runtime
