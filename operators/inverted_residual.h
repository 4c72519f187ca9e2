#pragma once
/// `mbconv`: the inverted residual block of MobileNetV2 (Sandler et al.,
/// CVPR 2018) with MobileNetV3's optional squeeze-and-excitation and
/// h-swish (Howard et al., "Searching for MobileNetV3", ICCV 2019):
/// 1×1 expand → depthwise k×k (stride) → [SE] → 1×1 linear projection,
/// plus the input when the shapes agree. Laid out as torchvision's
/// MobileNetV2/V3 InvertedResidual, so the zoo MobileNets are built from it.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"
#include "operators/squeeze_excite.h"

namespace adascale::operators {

class InvertedResidualImpl : public torch::nn::Cloneable<InvertedResidualImpl> {
 public:
  explicit InvertedResidualImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// True when the input is added to the output (stride 1 and in == out).
  bool residual() const { return residual_; }
  /// Channels of the depthwise convolution.
  int64_t hidden() const { return hidden_; }

  /// Spec fields used: channels, stride, kernel, expand_ratio (hidden =
  /// in × expand_ratio × width, made divisible by 8; expand_ratio 1 means no
  /// expansion conv and hidden = in, as in MobileNetV2, and then width has
  /// nothing to scale), se (squeeze = hidden / 4 made divisible by 8, hard
  /// sigmoid gate), act (relu6 for V2, relu / hswish for V3).
  core::OperatorSpec options;
  /// Null when expand_ratio == 1.
  ConvBnAct expand{nullptr};
  ConvBnAct depthwise{nullptr};
  /// Null unless options.se.
  SqueezeExcite se{nullptr};
  ConvBnAct project{nullptr};

 private:
  int64_t hidden_ = 0;
  bool residual_ = false;
};
TORCH_MODULE(InvertedResidual);

/// Registry traits of `mbconv`.
OperatorTraits inverted_residual_traits();

}  // namespace adascale::operators
