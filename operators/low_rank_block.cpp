#include "operators/low_rank_block.h"

#include "operators/operator_util.h"

namespace adascale::operators {

LowRankBlockImpl::LowRankBlockImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void LowRankBlockImpl::reset() {
  require_common(options);
  require(options.rank >= 0, options, "rank must be >= 0 (0: use rank_ratio)");
  require(options.rank_ratio > 0.0 && options.rank_ratio <= 1.0, options,
          "rank_ratio must be in (0, 1]");
  act_ = parse_activation(options.act);
  int64_t in = options.in_channels;
  int64_t out = options.out_channels;
  int64_t mid = hidden_channels(options, out);
  int64_t k = options.kernel;
  auto low_rank = [&](int64_t from, int64_t to, int64_t stride) {
    return LowRankConv2d(
        LowRankConv2dOptions(from, to, low_rank_for(options, from, to, k), k)
            .stride(stride)
            .padding(k / 2)
            .bias(false));
  };
  conv1 = register_module("conv1", low_rank(in, mid, options.stride));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(mid));
  conv2 = register_module("conv2", low_rank(mid, out, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
  shortcut = register_module("shortcut", Shortcut(in, out, options.stride));
}

torch::Tensor LowRankBlockImpl::forward(torch::Tensor x) {
  auto h = apply_activation(bn1(conv1(x)), act_, /*inplace=*/true);
  auto out = bn2(conv2(h));
  return apply_activation(out + shortcut(x), act_, /*inplace=*/true);
}

void LowRankBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "LowRankBlock(" << options.in_channels << "→"
         << options.out_channels << ", k=" << options.kernel
         << ", rank=" << conv1->options.rank() << "/" << conv2->options.rank()
         << ", stride=" << options.stride << ")";
}

OperatorTraits low_rank_block_traits() {
  OperatorTraits t;
  t.family = "decomposition";
  t.summary =
      "basic block with each k×k conv as a rank-r k×k + 1×1 pair (truncated "
      "SVD), shortcut";
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
