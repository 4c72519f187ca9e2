#pragma once
/// ResNet-18 (He et al., "Deep Residual Learning for Image Recognition",
/// CVPR 2016) as torchvision's resnet18, adapted to CIFAR: a 3×3 stride-1
/// stem and no max-pool. Its eight blocks are the `basic` operator.
/// `width` scales every stage's channels (made divisible by 8).

#include <torch/torch.h>

#include "core/model_spec.h"
#include "operators/conv_bn_act.h"

namespace adascale::operators::zoo {

class ResNet18Impl : public torch::nn::Cloneable<ResNet18Impl> {
 public:
  explicit ResNet18Impl(const core::ModelSpec& options);
  void reset() override;
  /// N×in_channels×H×W → N×classes logits.
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Fields used: in_channels, classes, width, dropout (before the linear).
  core::ModelSpec options;
  ConvBnAct stem{nullptr};
  /// The BasicBlocks, two per stage.
  torch::nn::Sequential blocks{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet18);

}  // namespace adascale::operators::zoo
