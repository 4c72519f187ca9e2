#pragma once
/// The residual path of a block: identity when shapes agree, else a 1×1
/// convolution with the block's stride and a BatchNorm (ResNet option B).

#include <torch/torch.h>

namespace adascale::operators {

class ShortcutImpl : public torch::nn::Cloneable<ShortcutImpl> {
 public:
  ShortcutImpl(int64_t in_channels, int64_t out_channels, int64_t stride);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  /// True when the shortcut is the identity (no parameters).
  bool identity() const { return !conv; }

  int64_t in_channels, out_channels, stride;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(Shortcut);

}  // namespace adascale::operators
