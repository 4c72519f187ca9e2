#pragma once
/// A small Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16
/// Words: Transformers for Image Recognition at Scale", ICLR 2021) with
/// torchvision's VisionTransformer semantics: conv patch embedding, class
/// token, learned position embedding, pre-LN encoder blocks, final
/// LayerNorm, linear head on the class token. Shape from ModelSpec::vit
/// (CIFAR default: patch 4, dim 256, depth 6, 8 heads, MLP 512).

#include <torch/torch.h>

#include "core/model_spec.h"

namespace adascale::operators::zoo {

class VisionTransformerImpl
    : public torch::nn::Cloneable<VisionTransformerImpl> {
 public:
  explicit VisionTransformerImpl(const core::ModelSpec& options);
  void reset() override;
  /// N×in_channels×resolution×resolution → N×classes logits. Throws
  /// ConfigError for another input size (the position embedding is fixed).
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  /// Fields used: in_channels, resolution (divisible by vit.patch), classes,
  /// vit (vit.dropout inside the encoder, as torchvision's `dropout`),
  /// dropout (before the head; torchvision has none, so the config sets 0).
  core::ModelSpec options;
  torch::nn::Conv2d patch_embedding{nullptr};
  /// 1×1×dim.
  torch::Tensor class_token;
  /// 1×(patches + 1)×dim.
  torch::Tensor position_embedding;
  torch::nn::Dropout embedding_dropout{nullptr};
  /// VitEncoderBlocks.
  torch::nn::Sequential encoder{nullptr};
  torch::nn::LayerNorm ln{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(VisionTransformer);

}  // namespace adascale::operators::zoo
