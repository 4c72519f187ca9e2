#pragma once
/// Helpers shared by the operator and zoo tests.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/operator_spec.h"

namespace adascale::operators::testing {

/// A spec with the fields a network sets, the rest at their defaults.
inline core::OperatorSpec spec_for(const std::string& type, int in, int out,
                                   int stride) {
  core::OperatorSpec s;
  s.type = type;
  s.in_channels = in;
  s.out_channels = out;
  s.stride = stride;
  return s;
}

/// Trainable and frozen parameters, as torchvision counts them
/// (sum(p.numel() for p in m.parameters())).
inline int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) {
    if (p.defined()) n += p.numel();
  }
  return n;
}

/// Shape of a tensor as a vector, for EXPECT_EQ.
inline std::vector<int64_t> shape(const torch::Tensor& t) {
  return t.sizes().vec();
}

/// Seeds LibTorch before every test, so random inputs are reproducible.
class SeededTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

}  // namespace adascale::operators::testing
