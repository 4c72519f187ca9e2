#pragma once
/// SqueezeNet 1.0 and 1.1 (Iandola et al., "SqueezeNet: AlexNet-level
/// accuracy with 50x fewer parameters and <0.5MB model size", 2016) as
/// torchvision's squeezenet1_0 / squeezenet1_1, adapted to CIFAR: a 3×3
/// stride-1 first convolution (same output channels) and no max-pool right
/// after it; the later max-pools stay (32 → 16 → 8 for CIFAR). The Fire
/// modules are the `fire` operator. Like torchvision, no BatchNorm, and the
/// classifier is dropout → 1×1 conv → ReLU → global average pool.

#include <torch/torch.h>

#include "core/model_spec.h"

namespace adascale::operators::zoo {

class SqueezeNetImpl : public torch::nn::Cloneable<SqueezeNetImpl> {
 public:
  /// options.architecture: squeezenet1_0 | squeezenet1_1.
  explicit SqueezeNetImpl(const core::ModelSpec& options);
  void reset() override;
  /// N×in_channels×H×W → N×classes logits (non-negative: torchvision's
  /// classifier ends in a ReLU).
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Fields used: architecture, in_channels, classes, dropout (before the
  /// classifier conv; torchvision uses 0.5). No width multiplier.
  core::ModelSpec options;
  /// Stem conv, Fire modules and max-pools.
  torch::nn::Sequential features{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Conv2d classifier{nullptr};
};
TORCH_MODULE(SqueezeNet);

}  // namespace adascale::operators::zoo
