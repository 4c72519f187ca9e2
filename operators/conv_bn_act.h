#pragma once
/// Convolution → BatchNorm → activation: the unit most operators are made of.

#include <torch/torch.h>

#include "operators/activation.h"

namespace adascale::operators {

struct ConvBnActOptions {
  ConvBnActOptions(int64_t in_channels, int64_t out_channels,
                   torch::ExpandingArray<2> kernel)
      : in_channels_(in_channels),
        out_channels_(out_channels),
        kernel_(kernel) {}
  /// Input channels.
  TORCH_ARG(int64_t, in_channels);
  /// Output channels.
  TORCH_ARG(int64_t, out_channels);
  /// Kernel (h, w); padding is kernel / 2 so odd kernels keep ⌈H/stride⌉.
  TORCH_ARG(torch::ExpandingArray<2>, kernel);
  /// Stride (h, w).
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  /// Convolution groups (in_channels for depthwise).
  TORCH_ARG(int64_t, groups) = 1;
  /// Activation after the BatchNorm (identity for a linear projection).
  TORCH_ARG(Activation, act) = Activation::kReLU;
};

/// conv (no bias) → BN → act. Holds `conv` and `bn` as named submodules so
/// BN folding and the profiler can find them.
class ConvBnActImpl : public torch::nn::Cloneable<ConvBnActImpl> {
 public:
  explicit ConvBnActImpl(const ConvBnActOptions& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Folds `bn` into `conv` for inference (bn_folding.h): `conv` becomes a
  /// biased convolution equal to the eval-mode conv → BN, `bn` is removed
  /// (nullptr, no longer a submodule) and forward() is conv → act. Uses the
  /// running statistics, so call it on a trained model; the result is meant
  /// for inference, not for further training. Idempotent.
  void fold();
  /// True once fold() ran.
  bool folded() const { return folded_; }

  ConvBnActOptions options;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};

 private:
  bool folded_ = false;
};
TORCH_MODULE(ConvBnAct);

}  // namespace adascale::operators
