#pragma once
/// `lowrank`: a basic block whose two k×k convolutions are rank-r
/// LowRankConv2d pairs (Denton et al., NeurIPS 2014; Jaderberg et al., BMVC
/// 2014): low-rank k×k (stride s) → BN → act → low-rank k×k → BN, plus a
/// shortcut and act after the sum. The SVD-decomposed ResNet18 blocks of the
/// AdaScale authors' profiling code; low_rank_from_conv() initialises each
/// pair from a trained basic block's conv.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/activation.h"
#include "operators/low_rank_conv.h"
#include "operators/operator_registry.h"
#include "operators/shortcut.h"

namespace adascale::operators {

class LowRankBlockImpl : public torch::nn::Cloneable<LowRankBlockImpl> {
 public:
  explicit LowRankBlockImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels, stride, kernel, width (middle channels =
  /// out × width), rank / rank_ratio (low_rank_for(), per conv), act.
  core::OperatorSpec options;
  LowRankConv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  LowRankConv2d conv2{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr};
  Shortcut shortcut{nullptr};

 private:
  Activation act_ = Activation::kReLU;
};
TORCH_MODULE(LowRankBlock);

OperatorTraits low_rank_block_traits();

}  // namespace adascale::operators
