#pragma once
/// `basic`: the ResNet basic block (He et al., "Deep Residual Learning for
/// Image Recognition", CVPR 2016): two k×k conv-BN pairs and a shortcut.
/// The reference operator of the elastic net's backbone.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"
#include "operators/shortcut.h"

namespace adascale::operators {

class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  explicit BasicBlockImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels, stride, kernel, width (middle channels =
  /// out × width), act.
  core::OperatorSpec options;
  ConvBnAct conv1{nullptr};
  ConvBnAct conv2{nullptr};
  Shortcut shortcut{nullptr};

 private:
  Activation act_ = Activation::kReLU;
};
TORCH_MODULE(BasicBlock);

OperatorTraits basic_block_traits();

}  // namespace adascale::operators
