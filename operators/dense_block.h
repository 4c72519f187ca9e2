#pragma once
/// `dense`: a DenseNet-BC dense block (Huang et al., "Densely Connected
/// Convolutional Networks", CVPR 2017): `layers` pre-activation bottleneck
/// layers, BN → act → 1×1 (4·growth) → BN → act → k×k (growth), each
/// concatenated onto the features it read, then a transition to
/// out_channels: average pool (stride s, ceil mode) → 1×1 conv → BN → act.
/// The concatenation is its own identity path, so there is no shortcut.

#include <torch/torch.h>

#include "core/operator_spec.h"
#include "operators/activation.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"

namespace adascale::operators {

struct DenseLayerOptions {
  DenseLayerOptions(int64_t in_channels, int64_t growth_rate)
      : in_channels_(in_channels), growth_rate_(growth_rate) {}
  /// Channels of the features the layer reads.
  TORCH_ARG(int64_t, in_channels);
  /// Channels it adds (its output).
  TORCH_ARG(int64_t, growth_rate);
  /// Bottleneck channels = bottleneck_factor × growth_rate (DenseNet-B: 4).
  TORCH_ARG(int64_t, bottleneck_factor) = 4;
  /// Kernel of the second convolution (odd).
  TORCH_ARG(int64_t, kernel) = 3;
  TORCH_ARG(Activation, act) = Activation::kReLU;
};

/// One pre-activation bottleneck layer: N×in×H×W → N×growth×H×W (its input
/// is concatenated by the block, not here).
class DenseLayerImpl : public torch::nn::Cloneable<DenseLayerImpl> {
 public:
  explicit DenseLayerImpl(const DenseLayerOptions& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);

  DenseLayerOptions options;
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr};
  torch::nn::Conv2d conv2{nullptr};
};
TORCH_MODULE(DenseLayer);

/// Growth rate of a dense spec: growth_rate (or out_channels / 4 when 0)
/// times width, at least 1.
int64_t dense_growth_rate(const core::OperatorSpec& spec);

class DenseBlockImpl : public torch::nn::Cloneable<DenseBlockImpl> {
 public:
  explicit DenseBlockImpl(const core::OperatorSpec& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Spec fields used: channels, stride, kernel, layers, growth_rate and
  /// width (dense_growth_rate()), act.
  core::OperatorSpec options;
  torch::nn::ModuleList dense_layers{nullptr};
  /// Average pool applied first when stride > 1 (it commutes with the
  /// linear 1×1 conv and is s² times cheaper there).
  torch::nn::AvgPool2d pool{nullptr};
  ConvBnAct transition{nullptr};
};
TORCH_MODULE(DenseBlock);

OperatorTraits dense_block_traits();

}  // namespace adascale::operators
