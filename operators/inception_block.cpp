#include "operators/inception_block.h"

#include "operators/operator_util.h"

namespace adascale::operators {

std::array<int64_t, 4> inception_branch_channels(int64_t out_channels) {
  int64_t quarter = out_channels / 4;
  return {out_channels - 3 * quarter, quarter, quarter, quarter};
}

InceptionBlockImpl::InceptionBlockImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void InceptionBlockImpl::reset() {
  require_common(options);
  require(options.out_channels >= 4, options,
          "out_channels must be >= 4 (one or more per branch)");
  act_ = parse_activation(options.act);
  int64_t in = options.in_channels;
  int64_t k = options.kernel;
  int64_t s = options.stride;
  auto c = inception_branch_channels(options.out_channels);
  int64_t reduce = hidden_channels(options, options.out_channels / 2.0);
  auto unit = [&](int64_t from, int64_t to, int64_t kernel, int64_t stride,
                  Activation act) {
    return ConvBnAct(
        ConvBnActOptions(from, to, kernel).stride(stride).act(act));
  };
  const auto linear = Activation::kIdentity;

  branch1 = register_module("branch1", unit(in, c[0], 1, s, linear));
  branch2 = register_module(
      "branch2", torch::nn::Sequential(unit(in, reduce, 1, 1, act_),
                                       unit(reduce, c[1], k, s, linear)));
  branch3 = register_module(
      "branch3", torch::nn::Sequential(unit(in, reduce, 1, 1, act_),
                                       unit(reduce, reduce, k, 1, act_),
                                       unit(reduce, c[2], k, s, linear)));
  // Padding 1 keeps ⌈H/s⌉ for a 3×3 window: ⌊(H − 1)/s⌋ + 1.
  pool = register_module(
      "pool", torch::nn::MaxPool2d(
                  torch::nn::MaxPool2dOptions(3).stride(s).padding(1)));
  pool_proj = register_module("pool_proj", unit(in, c[3], 1, 1, linear));
  shortcut = register_module("shortcut", Shortcut(in, options.out_channels, s));
}

torch::Tensor InceptionBlockImpl::forward(torch::Tensor x) {
  auto out = torch::cat({branch1(x), branch2->forward(x), branch3->forward(x),
                         pool_proj(pool(x))},
                        /*dim=*/1);
  return apply_activation(out + shortcut(x), act_, /*inplace=*/true);
}

void InceptionBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "InceptionBlock(" << options.in_channels << "→"
         << options.out_channels << ", k=" << options.kernel
         << ", stride=" << options.stride << ")";
}

OperatorTraits inception_block_traits() {
  OperatorTraits t;
  t.family = "structural";
  t.summary =
      "Inception module: parallel 1×1 / 1×1→k×k / 1×1→k×k→k×k / pool→1×1 "
      "branches concatenated, shortcut";
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
