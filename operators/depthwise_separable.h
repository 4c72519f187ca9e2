#pragma once
/// `dws`: two depthwise-separable convolutions (Howard et al., "MobileNets:
/// Efficient Convolutional Neural Networks for Mobile Vision Applications",
/// 2017) in place of a basic block's two k×k convolutions: depthwise k×k
/// (stride s) → BN → act → pointwise 1×1 → BN → act, then depthwise k×k →
/// BN → act → pointwise 1×1 → BN, plus a shortcut and act after the sum.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"
#include "operators/shortcut.h"

namespace adascale::operators {

class DepthwiseSeparableImpl
    : public torch::nn::Cloneable<DepthwiseSeparableImpl> {
 public:
  explicit DepthwiseSeparableImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels, stride, kernel, width (middle channels =
  /// out × width), act.
  core::OperatorSpec options;
  ConvBnAct dw1{nullptr};
  ConvBnAct pw1{nullptr};
  ConvBnAct dw2{nullptr};
  ConvBnAct pw2{nullptr};
  Shortcut shortcut{nullptr};

 private:
  Activation act_ = Activation::kReLU;
};
TORCH_MODULE(DepthwiseSeparable);

OperatorTraits depthwise_separable_traits();

}  // namespace adascale::operators
