#pragma once
/// MobileNetV3-Large and -Small (Howard et al., "Searching for MobileNetV3",
/// ICCV 2019) as torchvision's mobilenet_v3_large / mobilenet_v3_small,
/// adapted to CIFAR by a stride-1 first convolution. The bneck blocks are
/// the `mbconv` operator (SE with hard-sigmoid gate, ReLU or h-swish);
/// `width` is torchvision's width_mult; BatchNorm eps 1e-3 and momentum 0.01
/// as torchvision. options.architecture picks the size.

#include <torch/torch.h>

#include "core/model_spec.h"

namespace adascale::operators::zoo {

class MobileNetV3Impl : public torch::nn::Cloneable<MobileNetV3Impl> {
 public:
  /// options.architecture: mobilenet_v3_large | mobilenet_v3_small.
  explicit MobileNetV3Impl(const core::ModelSpec& options);
  void reset() override;
  /// N×in_channels×H×W → N×classes logits.
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Fields used: architecture, in_channels, classes, width, dropout
  /// (between the two linear layers, as torchvision).
  core::ModelSpec options;
  /// Stem, InvertedResiduals, last 1×1 conv.
  torch::nn::Sequential features{nullptr};
  torch::nn::Linear fc1{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(MobileNetV3);

}  // namespace adascale::operators::zoo
