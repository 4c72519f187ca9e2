#pragma once
/// `fire`: the Fire module of SqueezeNet (Iandola et al., "SqueezeNet:
/// AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size",
/// 2016): a 1×1 squeeze convolution, then 1×1 and k×k expand convolutions
/// side by side, concatenated. As in the paper (and torchvision), the
/// convolutions have biases, no BatchNorm, and each is followed by the
/// activation; this is the zoo SqueezeNet's building block, so it keeps that
/// form. The paper's optional bypass (residual) is not added. The stride
/// (not in the paper, where max-pools downsample) is applied by both expand
/// convolutions, so the squeeze runs at full resolution.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/activation.h"
#include "operators/operator_registry.h"

namespace adascale::operators {

class FireModuleImpl : public torch::nn::Cloneable<FireModuleImpl> {
 public:
  explicit FireModuleImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels, stride, kernel (the larger expand),
  /// squeeze_ratio and width (squeeze channels = out × squeeze_ratio × width,
  /// made divisible by 8), act. The 1×1 expand gets out / 2 channels, the
  /// k×k expand the rest.
  core::OperatorSpec options;
  torch::nn::Conv2d squeeze{nullptr};
  torch::nn::Conv2d expand1x1{nullptr};
  torch::nn::Conv2d expandkxk{nullptr};

 private:
  Activation act_ = Activation::kReLU;
};
TORCH_MODULE(FireModule);

/// Registry traits of `fire`.
OperatorTraits fire_module_traits();

}  // namespace adascale::operators
