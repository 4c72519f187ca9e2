#pragma once
/// A k×k convolution decomposed into a rank-r pair (Denton et al.,
/// "Exploiting Linear Structure Within Convolutional Networks for Efficient
/// Evaluation", NeurIPS 2014; Zhang et al., "Accelerating Very Deep
/// Convolutional Networks for Classification and Detection", TPAMI 2016):
/// k×k conv in → r, then 1×1 conv r → out. Viewing the weight as an
/// out × (in·k·k) matrix, the pair is its rank-r factorization, so a trained
/// conv initialises it by truncated SVD (low_rank_from_conv).

#include <torch/torch.h>

#include "core/operator_spec.h"

namespace adascale::operators {

struct LowRankConv2dOptions {
  LowRankConv2dOptions(int64_t in_channels, int64_t out_channels, int64_t rank,
                       torch::ExpandingArray<2> kernel_size)
      : in_channels_(in_channels),
        out_channels_(out_channels),
        rank_(rank),
        kernel_size_(kernel_size) {}
  /// Input channels.
  TORCH_ARG(int64_t, in_channels);
  /// Output channels.
  TORCH_ARG(int64_t, out_channels);
  /// Channels between the two convolutions (the factorization's rank).
  TORCH_ARG(int64_t, rank);
  /// Kernel (h, w) of the first convolution.
  TORCH_ARG(torch::ExpandingArray<2>, kernel_size);
  /// Stride, padding, padding mode and dilation of the first convolution
  /// (as torch::nn::Conv2dOptions; padding 0 by default).
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  TORCH_ARG(torch::nn::Conv2dOptions::padding_t, padding) = 0;
  TORCH_ARG(torch::nn::Conv2dOptions::padding_mode_t,
            padding_mode) = torch::kZeros;
  TORCH_ARG(torch::ExpandingArray<2>, dilation) = 1;
  /// Bias on the second (1×1) convolution.
  TORCH_ARG(bool, bias) = true;
};

/// k×k conv (in → rank, no bias) → 1×1 conv (rank → out, optional bias).
class LowRankConv2dImpl : public torch::nn::Cloneable<LowRankConv2dImpl> {
 public:
  explicit LowRankConv2dImpl(const LowRankConv2dOptions& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  void pretty_print(std::ostream& stream) const override;

  LowRankConv2dOptions options;
  torch::nn::Conv2d first{nullptr};
  torch::nn::Conv2d second{nullptr};
};
TORCH_MODULE(LowRankConv2d);

/// The full rank of a conv's weight as a matrix: min(out, in·kh·kw).
int64_t full_conv_rank(int64_t in_channels, int64_t out_channels,
                       int64_t kernel_h, int64_t kernel_w);

/// The rank a spec asks for, for a conv of this shape: spec.rank when > 0,
/// else max(1, round(rank_ratio × full rank)); never above the full rank (a
/// larger rank adds parameters and no expressiveness).
int64_t low_rank_for(const core::OperatorSpec& spec, int64_t in_channels,
                     int64_t out_channels, int64_t kernel);

/// How low_rank_from_conv() picks the rank.
struct RankChoice {
  /// Exactly `rank` (clamped to the full rank); must be >= 1.
  static RankChoice fixed(int64_t rank);
  /// The smallest r whose squared singular values sum to at least
  /// `fraction` (in (0, 1]) of the total.
  static RankChoice energy(double fraction);

  int64_t rank = 0;
  double energy_fraction = 0.0;
};

/// The rank `choice` picks for descending singular values `s`; throws
/// ConfigError for an invalid choice.
int64_t choose_rank(const torch::Tensor& singular_values, RankChoice choice);

/// A LowRankConv2d initialised from `conv` by truncated SVD of its weight W
/// (out × in·kh·kw) = U S Vᵀ: first = √S_r V_rᵀ (r × in × kh × kw, with
/// conv's stride, padding, padding mode and dilation), second = U_r √S_r
/// (out × r × 1 × 1), the bias copied to the second. At full rank it
/// reproduces `conv`. Throws ConfigError for grouped convolutions.
LowRankConv2d low_rank_from_conv(const torch::nn::Conv2d& conv,
                                 RankChoice choice);

}  // namespace adascale::operators
