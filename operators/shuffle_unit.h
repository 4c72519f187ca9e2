#pragma once
/// `shuffle`: the ShuffleNetV2 unit (Ma et al., "ShuffleNet V2: Practical
/// Guidelines for Efficient CNN Architecture Design", ECCV 2018), laid out
/// exactly as torchvision's shufflenetv2.InvertedResidual:
///  - stride 1, in == out: split the channels in half, keep the first half,
///    run branch2 (1×1-BN-act, depthwise k×k-BN, 1×1-BN-act) on the second;
///  - stride 2: branch1 (depthwise k×k-BN, 1×1-BN-act) and branch2 both read
///    the whole input;
/// then concatenate and shuffle the channels in 2 groups.
/// Stride 1 with in != out (not in the paper; the elastic net needs it when
/// a stage changes width without downsampling) uses the two-branch form
/// with stride 1, so the unit still maps in → out channels.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"

namespace adascale::operators {

/// ShuffleNet's channel shuffle: N×(g·c)×H×W viewed as N×g×c×H×W, the two
/// channel axes swapped, flattened back. Throws ConfigError unless the
/// channels divide by `groups`.
torch::Tensor shuffle_channels(const torch::Tensor& x, int64_t groups);

class ShuffleUnitImpl : public torch::nn::Cloneable<ShuffleUnitImpl> {
 public:
  explicit ShuffleUnitImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// True for the split form (stride 1, in == out): no branch1.
  bool splits() const { return !branch1; }

  /// Spec fields used: channels (out even; in == out for the split form),
  /// stride, kernel (depthwise), width (branch2's hidden channels =
  /// out / 2 × width), act.
  core::OperatorSpec options;
  /// Null in the split form.
  torch::nn::Sequential branch1{nullptr};
  torch::nn::Sequential branch2{nullptr};
};
TORCH_MODULE(ShuffleUnit);

/// Registry traits of `shuffle`.
OperatorTraits shuffle_unit_traits();

}  // namespace adascale::operators
