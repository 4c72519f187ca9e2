#pragma once
/// `ghost`: the Ghost bottleneck of GhostNet (Han et al., "GhostNet: More
/// Features from Cheap Operations", CVPR 2020): Ghost module (expand, act)
/// → depthwise k×k-BN when strided → [SE] → Ghost module (project, no act),
/// plus a shortcut: identity when shapes agree, else depthwise k×k (stride)
/// -BN → 1×1-BN, as in the authors' code. No activation after the sum.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/ghost_module.h"
#include "operators/operator_registry.h"
#include "operators/squeeze_excite.h"

namespace adascale::operators {

class GhostBottleneckImpl : public torch::nn::Cloneable<GhostBottleneckImpl> {
 public:
  explicit GhostBottleneckImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Channels between the two Ghost modules.
  int64_t hidden() const { return hidden_; }

  /// Spec fields used: channels, stride, kernel (depthwise convs),
  /// expand_ratio and width (hidden = in × expand_ratio × width, made
  /// divisible by 8, so at least 8; GhostNet's blocks use ratios 1 to 6, e.g.
  /// 16→48→24 is expand_ratio 3), se (squeeze = hidden / 4 made divisible by
  /// 4, hard sigmoid gate, as GhostNet), act (the first module's).
  core::OperatorSpec options;
  GhostModule ghost1{nullptr};
  /// Null when stride == 1.
  ConvBnAct depthwise{nullptr};
  /// Null unless options.se.
  SqueezeExcite se{nullptr};
  GhostModule ghost2{nullptr};
  /// Null for the identity shortcut.
  torch::nn::Sequential shortcut{nullptr};

 private:
  int64_t hidden_ = 0;
};
TORCH_MODULE(GhostBottleneck);

/// Registry traits of `ghost`.
OperatorTraits ghost_bottleneck_traits();

}  // namespace adascale::operators
