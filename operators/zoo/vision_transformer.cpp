#include "operators/zoo/vision_transformer.h"

#include <fmt/format.h>

#include <cmath>

#include "operators/zoo/vit_encoder_block.h"
#include "operators/zoo/zoo_util.h"

namespace adascale::operators::zoo {

VisionTransformerImpl::VisionTransformerImpl(const core::ModelSpec& options_)
    : options(options_) {
  reset();
}

void VisionTransformerImpl::reset() {
  require_common(options, /*has_width=*/false);
  const auto& v = options.vit;
  require(v.patch > 0 && options.resolution % v.patch == 0, options,
          fmt::format("resolution {} must be divisible by vit.patch {}",
                      options.resolution, v.patch));
  require(v.heads > 0 && v.dim % v.heads == 0, options,
          fmt::format("vit.dim {} must be divisible by vit.heads {}", v.dim,
                      v.heads));
  require(v.depth > 0 && v.mlp_dim > 0, options,
          "vit.depth and vit.mlp_dim must be > 0");
  const int64_t side = options.resolution / v.patch;
  const int64_t tokens = side * side + 1;

  patch_embedding =
      register_module("patch_embedding",
                      torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                            options.in_channels, v.dim, v.patch)
                                            .stride(v.patch)));
  class_token = register_parameter("class_token", torch::zeros({1, 1, v.dim}));
  position_embedding = register_parameter(
      "position_embedding", torch::empty({1, tokens, v.dim}).normal_(0, 0.02));
  embedding_dropout =
      register_module("embedding_dropout", torch::nn::Dropout(v.dropout));
  encoder = register_module("encoder", torch::nn::Sequential());
  for (int i = 0; i < v.depth; ++i) {
    encoder->push_back(VitEncoderBlock(
        VitEncoderBlockOptions(v.dim, v.heads, v.mlp_dim).dropout(v.dropout)));
  }
  ln = register_module(
      "ln",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({v.dim}).eps(1e-6)));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  head = register_module("head", torch::nn::Linear(v.dim, options.classes));

  // torchvision's init: a truncated normal patch embedding (its ±2 bounds
  // are absolute, far outside this std, so a plain normal), a zero head.
  torch::NoGradGuard no_grad;
  const double fan_in = double(options.in_channels) * v.patch * v.patch;
  torch::nn::init::normal_(patch_embedding->weight, 0.0,
                           std::sqrt(1.0 / fan_in));
  torch::nn::init::zeros_(patch_embedding->bias);
  torch::nn::init::zeros_(head->weight);
  torch::nn::init::zeros_(head->bias);
}

torch::Tensor VisionTransformerImpl::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(2) != options.resolution ||
      x.size(3) != options.resolution) {
    require(false, options,
            fmt::format("expected input N×C×{0}×{0}, got {1}",
                        options.resolution, fmt::join(x.sizes(), "×")));
  }
  const int64_t n = x.size(0);
  // N×dim×h×w → L×N×dim: sequence first, as MultiheadAttention wants it.
  x = patch_embedding(x).flatten(2).permute({2, 0, 1});
  x = torch::cat({class_token.transpose(0, 1).expand({1, n, -1}), x}, 0);
  x = embedding_dropout(x + position_embedding.transpose(0, 1));
  x = ln(encoder->forward(x));
  return head(dropout(x[0]));
}

void VisionTransformerImpl::pretty_print(std::ostream& stream) const {
  const auto& v = options.vit;
  stream << "VisionTransformer(patch=" << v.patch << ", dim=" << v.dim
         << ", depth=" << v.depth << ", heads=" << v.heads
         << ", mlp_dim=" << v.mlp_dim << ", classes=" << options.classes << ")";
}

}  // namespace adascale::operators::zoo
