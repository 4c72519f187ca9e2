#pragma once
/// `mixconv`: a MixNet block (Tan & Le, "MixConv: Mixed Depthwise
/// Convolutional Kernels", BMVC 2019): 1×1 expand → BN → act, depthwise
/// convolutions of several kernel sizes over equal channel groups (stride s)
/// → BN → act, optional squeeze-and-excitation, 1×1 project → BN, plus a
/// shortcut (linear bottleneck: no activation after the sum).

#include <torch/torch.h>

#include <vector>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"
#include "operators/shortcut.h"
#include "operators/squeeze_excite.h"

namespace adascale::operators {

/// MixConv's channel split: `channels` over `groups` groups, equal sizes
/// with the remainder on the first group. Throws InternalError unless
/// 1 <= groups <= channels.
std::vector<int64_t> split_channels(int64_t channels, int64_t groups);

class MixedConvImpl : public torch::nn::Cloneable<MixedConvImpl> {
 public:
  explicit MixedConvImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels, stride, kernels (one depthwise group per
  /// entry, odd sizes), expand_ratio and width (hidden channels = in ×
  /// expand_ratio × width), se, act. `kernel` is not used.
  core::OperatorSpec options;
  ConvBnAct expand{nullptr};
  /// One depthwise conv → BN → act per kernel; BN is per channel, so this
  /// equals one BN over the concatenated groups (and folds like any
  /// ConvBnAct).
  torch::nn::ModuleList mixed{nullptr};
  SqueezeExcite se{nullptr};
  ConvBnAct project{nullptr};
  Shortcut shortcut{nullptr};

 private:
  std::vector<int64_t> splits_;
};
TORCH_MODULE(MixedConv);

OperatorTraits mixed_conv_traits();

}  // namespace adascale::operators
