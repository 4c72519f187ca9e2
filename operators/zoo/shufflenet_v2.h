#pragma once
/// ShuffleNetV2 (Ma et al., "ShuffleNet V2: Practical Guidelines for
/// Efficient CNN Architecture Design", ECCV 2018) as torchvision's
/// shufflenet_v2_x*_*, adapted to CIFAR: a 3×3 stride-1 stem and no
/// max-pool. Its units are the `shuffle` operator. `width` picks
/// torchvision's channel table: 0.5, 1.0 (the default), 1.5 or 2.0.

#include <torch/torch.h>

#include "core/model_spec.h"
#include "operators/conv_bn_act.h"

namespace adascale::operators::zoo {

class ShuffleNetV2Impl : public torch::nn::Cloneable<ShuffleNetV2Impl> {
 public:
  explicit ShuffleNetV2Impl(const core::ModelSpec& options);
  void reset() override;
  /// N×in_channels×H×W → N×classes logits.
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Fields used: in_channels, classes, width, dropout (before the linear).
  core::ModelSpec options;
  ConvBnAct stem{nullptr};
  /// ShuffleUnits of stages 2–4 (4, 8, 4 units).
  torch::nn::Sequential stages{nullptr};
  ConvBnAct conv5{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ShuffleNetV2);

}  // namespace adascale::operators::zoo
