#pragma once
/// `factorized`: a basic block whose k×k convolutions are each factorized
/// into k×1 then 1×k (Jaderberg et al., "Speeding up Convolutional Neural
/// Networks with Low Rank Expansions", BMVC 2014; Szegedy et al.,
/// "Rethinking the Inception Architecture for Computer Vision", CVPR 2016,
/// §3.2): k×1 (stride s) → BN → act → 1×k → BN → act → k×1 → BN → act →
/// 1×k → BN, plus a shortcut and act after the sum. 2k instead of k² taps
/// per channel pair.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"
#include "operators/shortcut.h"

namespace adascale::operators {

class FactorizedBlockImpl : public torch::nn::Cloneable<FactorizedBlockImpl> {
 public:
  explicit FactorizedBlockImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels, stride, kernel, width (middle channels =
  /// out × width), act.
  core::OperatorSpec options;
  /// The first k×k conv as k×1 (in→mid, stride s) and 1×k (mid→mid).
  ConvBnAct conv1_v{nullptr};
  ConvBnAct conv1_h{nullptr};
  /// The second as k×1 (mid→mid) and 1×k (mid→out, no activation).
  ConvBnAct conv2_v{nullptr};
  ConvBnAct conv2_h{nullptr};
  Shortcut shortcut{nullptr};

 private:
  Activation act_ = Activation::kReLU;
};
TORCH_MODULE(FactorizedBlock);

OperatorTraits factorized_block_traits();

}  // namespace adascale::operators
