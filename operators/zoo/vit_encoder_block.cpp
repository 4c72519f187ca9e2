#include "operators/zoo/vit_encoder_block.h"

#include "core/error.h"

namespace adascale::operators::zoo {

VitEncoderBlockImpl::VitEncoderBlockImpl(const VitEncoderBlockOptions& options_)
    : options(options_) {
  reset();
}

void VitEncoderBlockImpl::reset() {
  const auto& o = options;
  if (o.dim() <= 0 || o.heads() <= 0 || o.mlp_dim() <= 0 ||
      o.dim() % o.heads() != 0) {
    throw ConfigError("ViT encoder block: dim " + std::to_string(o.dim()) +
                      " must be positive and divisible by heads " +
                      std::to_string(o.heads()));
  }
  auto ln = [&] {
    return torch::nn::LayerNorm(
        torch::nn::LayerNormOptions({o.dim()}).eps(1e-6));
  };
  ln1 = register_module("ln1", ln());
  attention = register_module(
      "attention",
      torch::nn::MultiheadAttention(
          torch::nn::MultiheadAttentionOptions(o.dim(), o.heads())));
  ln2 = register_module("ln2", ln());
  fc1 = register_module("fc1", torch::nn::Linear(o.dim(), o.mlp_dim()));
  fc2 = register_module("fc2", torch::nn::Linear(o.mlp_dim(), o.dim()));
  dropout = register_module("dropout", torch::nn::Dropout(o.dropout()));
  // torchvision's MLPBlock init.
  torch::NoGradGuard no_grad;
  for (auto& fc : {fc1, fc2}) {
    torch::nn::init::xavier_uniform_(fc->weight);
    torch::nn::init::normal_(fc->bias, 0.0, 1e-6);
  }
}

torch::Tensor VitEncoderBlockImpl::forward(torch::Tensor x) {
  auto h = ln1(x);
  h = std::get<0>(attention->forward(h, h, h, /*key_padding_mask=*/{},
                                     /*need_weights=*/false));
  x = x + dropout(h);
  auto y = dropout(torch::gelu(fc1(ln2(x))));
  return x + dropout(fc2(y));
}

}  // namespace adascale::operators::zoo
