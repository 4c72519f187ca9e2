#pragma once
/// `inception`: an Inception module (Szegedy et al., "Going Deeper with
/// Convolutions", CVPR 2015) with the 5×5 branch factorized into two k×k
/// convolutions ("Rethinking the Inception Architecture for Computer
/// Vision", CVPR 2016), used as a residual block (Inception-ResNet): four
/// parallel branches, each applying the stride s,
///   1×1 | 1×1 → k×k | 1×1 → k×k → k×k | 3×3 max pool → 1×1,
/// concatenated to exactly out_channels, plus a shortcut and act after the
/// sum. Each branch ends in BN without activation (a linear residual).

#include <torch/torch.h>

#include <array>

#include "core/operator_spec.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"
#include "operators/shortcut.h"

namespace adascale::operators {

/// Output channels of the four branches: out / 4 each, the remainder on the
/// first (1×1) branch.
std::array<int64_t, 4> inception_branch_channels(int64_t out_channels);

class InceptionBlockImpl : public torch::nn::Cloneable<InceptionBlockImpl> {
 public:
  explicit InceptionBlockImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels (out ≥ 4), stride, kernel (of the k×k
  /// convs), width (reduction channels of branches 2 and 3 = out / 2 ×
  /// width), act.
  core::OperatorSpec options;
  /// Branch 1: 1×1 (stride s).
  ConvBnAct branch1{nullptr};
  /// Branch 2: 1×1 reduce → k×k (stride s).
  torch::nn::Sequential branch2{nullptr};
  /// Branch 3: 1×1 reduce → k×k → k×k (stride s).
  torch::nn::Sequential branch3{nullptr};
  /// Branch 4: 3×3 max pool (stride s, padding 1) → 1×1.
  torch::nn::MaxPool2d pool{nullptr};
  ConvBnAct pool_proj{nullptr};
  Shortcut shortcut{nullptr};

 private:
  Activation act_ = Activation::kReLU;
};
TORCH_MODULE(InceptionBlock);

OperatorTraits inception_block_traits();

}  // namespace adascale::operators
