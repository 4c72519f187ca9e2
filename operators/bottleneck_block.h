#pragma once
/// `bottleneck`: the ResNet bottleneck block (He et al., "Deep Residual
/// Learning for Image Recognition", CVPR 2016), stride on the k×k
/// convolution as in torchvision's ResNet v1.5: 1×1 reduce → k×k → 1×1
/// expand, each with BN, plus a shortcut.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"
#include "operators/shortcut.h"

namespace adascale::operators {

class BottleneckBlockImpl : public torch::nn::Cloneable<BottleneckBlockImpl> {
 public:
  explicit BottleneckBlockImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels, stride, kernel, width (middle channels =
  /// out / 4 × width, the expansion-4 convention), act.
  core::OperatorSpec options;
  ConvBnAct reduce{nullptr};
  ConvBnAct conv{nullptr};
  ConvBnAct expand{nullptr};
  Shortcut shortcut{nullptr};

 private:
  Activation act_ = Activation::kReLU;
};
TORCH_MODULE(BottleneckBlock);

/// Registry traits of `bottleneck`.
OperatorTraits bottleneck_block_traits();

}  // namespace adascale::operators
