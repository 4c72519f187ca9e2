#pragma once
/// One pre-LayerNorm Transformer encoder block of the Vision Transformer
/// (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021), as
/// torchvision's vision_transformer.EncoderBlock:
/// x + dropout(MHSA(LN(x))), then y + MLP(LN(y)) with MLP = linear → GELU →
/// dropout → linear → dropout. LayerNorm eps 1e-6.

#include <torch/torch.h>

namespace adascale::operators::zoo {

struct VitEncoderBlockOptions {
  VitEncoderBlockOptions(int64_t dim, int64_t heads, int64_t mlp_dim)
      : dim_(dim), heads_(heads), mlp_dim_(mlp_dim) {}
  /// Token width (divisible by heads).
  TORCH_ARG(int64_t, dim);
  /// Attention heads.
  TORCH_ARG(int64_t, heads);
  /// Hidden width of the MLP.
  TORCH_ARG(int64_t, mlp_dim);
  /// Dropout after attention and in the MLP (training only).
  TORCH_ARG(double, dropout) = 0.0;
};

class VitEncoderBlockImpl : public torch::nn::Cloneable<VitEncoderBlockImpl> {
 public:
  explicit VitEncoderBlockImpl(const VitEncoderBlockOptions& options);
  void reset() override;
  /// Tokens L×N×dim (sequence first, as LibTorch's MultiheadAttention) →
  /// L×N×dim.
  torch::Tensor forward(torch::Tensor x);

  VitEncoderBlockOptions options;
  torch::nn::LayerNorm ln1{nullptr};
  torch::nn::MultiheadAttention attention{nullptr};
  torch::nn::LayerNorm ln2{nullptr};
  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(VitEncoderBlock);

}  // namespace adascale::operators::zoo
