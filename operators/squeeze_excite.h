#pragma once
/// Squeeze-and-excitation (Hu et al., CVPR 2018), as MobileNetV3 uses it:
/// global pool → 1×1 reduce → ReLU → 1×1 expand → gate → rescale.

#include <torch/torch.h>

#include "operators/activation.h"

namespace adascale::operators {

struct SqueezeExciteOptions {
  SqueezeExciteOptions(int64_t channels, int64_t squeeze_channels)
      : channels_(channels), squeeze_channels_(squeeze_channels) {}
  /// Channels of the features being rescaled.
  TORCH_ARG(int64_t, channels);
  /// Channels of the bottleneck.
  TORCH_ARG(int64_t, squeeze_channels);
  /// Gate: hard sigmoid (MobileNetV3) or sigmoid.
  TORCH_ARG(bool, hard_gate) = true;
};

class SqueezeExciteImpl : public torch::nn::Cloneable<SqueezeExciteImpl> {
 public:
  explicit SqueezeExciteImpl(const SqueezeExciteOptions& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);

  SqueezeExciteOptions options;
  torch::nn::Conv2d reduce{nullptr};
  torch::nn::Conv2d expand{nullptr};
};
TORCH_MODULE(SqueezeExcite);

}  // namespace adascale::operators
