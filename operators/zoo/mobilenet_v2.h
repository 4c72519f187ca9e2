#pragma once
/// MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear
/// Bottlenecks", CVPR 2018) as torchvision's mobilenet_v2, adapted to CIFAR
/// by a stride-1 first convolution. Its 17 blocks are the `mbconv` operator;
/// `width` is torchvision's width_mult.

#include <torch/torch.h>

#include "core/model_spec.h"

namespace adascale::operators::zoo {

class MobileNetV2Impl : public torch::nn::Cloneable<MobileNetV2Impl> {
 public:
  explicit MobileNetV2Impl(const core::ModelSpec& options);
  void reset() override;
  /// N×in_channels×H×W → N×classes logits.
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Fields used: in_channels, classes, width, dropout (before the linear).
  core::ModelSpec options;
  /// Stem, InvertedResiduals, last 1×1 conv.
  torch::nn::Sequential features{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(MobileNetV2);

}  // namespace adascale::operators::zoo
