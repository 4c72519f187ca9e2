#pragma once
/// The early-exit head after every stage (paper §III-A2, DESIGN §3.2):
/// conv 3×3 stride 2 → BN → ReLU → adaptive average pool 1×1 → dropout →
/// linear; or, without the convolution, the paper's streamlined branch
/// (pool → dropout → linear), whose only weights are the classifier's.

#include <torch/torch.h>

namespace adascale::operators {

struct ExitHeadOptions {
  ExitHeadOptions(int64_t in_channels, int64_t channels, int64_t classes)
      : in_channels_(in_channels), channels_(channels), classes_(classes) {}
  /// Channels of the stage output it reads.
  TORCH_ARG(int64_t, in_channels);
  /// Channels of its 3×3 stride-2 convolution (must equal in_channels
  /// without one).
  TORCH_ARG(int64_t, channels);
  /// Number of classes (logits).
  TORCH_ARG(int64_t, classes);
  /// Dropout before the linear layer (training only).
  TORCH_ARG(double, dropout) = 0.2;
  /// With the 3×3 stride-2 convolution (false: pool → linear only).
  TORCH_ARG(bool, conv) = true;
};

class ExitHeadImpl : public torch::nn::Cloneable<ExitHeadImpl> {
 public:
  explicit ExitHeadImpl(const ExitHeadOptions& options);
  void reset() override;
  /// Stage features N×C×H×W → logits N×classes.
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  ExitHeadOptions options;
  /// Null in a pool head.
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ExitHead);

}  // namespace adascale::operators
