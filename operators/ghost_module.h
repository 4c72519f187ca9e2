#pragma once
/// The Ghost module of GhostNet (Han et al., "GhostNet: More Features from
/// Cheap Operations", CVPR 2020) with ratio 2: a primary 1×1 conv makes
/// ⌈out/2⌉ intrinsic maps, a cheap depthwise 3×3 conv makes as many "ghost"
/// maps from them, and the concatenation is cut to `out` channels.

#include <torch/torch.h>

#include "operators/conv_bn_act.h"

namespace adascale::operators {

struct GhostModuleOptions {
  GhostModuleOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  /// Input channels.
  TORCH_ARG(int64_t, in_channels);
  /// Output channels (intrinsic + ghost maps).
  TORCH_ARG(int64_t, out_channels);
  /// Kernel of the cheap depthwise convolution (GhostNet: 3).
  TORCH_ARG(int64_t, cheap_kernel) = 3;
  /// Activation after both convolutions (identity in a block's second
  /// module).
  TORCH_ARG(Activation, act) = Activation::kReLU;
};

class GhostModuleImpl : public torch::nn::Cloneable<GhostModuleImpl> {
 public:
  explicit GhostModuleImpl(const GhostModuleOptions& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  GhostModuleOptions options;
  ConvBnAct primary{nullptr};
  ConvBnAct cheap{nullptr};
};
TORCH_MODULE(GhostModule);

}  // namespace adascale::operators
