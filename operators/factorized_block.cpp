#include "operators/factorized_block.h"

#include "operators/operator_util.h"

namespace adascale::operators {

FactorizedBlockImpl::FactorizedBlockImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void FactorizedBlockImpl::reset() {
  require_common(options);
  act_ = parse_activation(options.act);
  int64_t in = options.in_channels;
  int64_t out = options.out_channels;
  int64_t mid = hidden_channels(options, out);
  int64_t k = options.kernel;
  auto vertical = [k](int64_t from, int64_t to) {
    return ConvBnActOptions(from, to, torch::ExpandingArray<2>({k, 1}));
  };
  auto horizontal = [k](int64_t from, int64_t to) {
    return ConvBnActOptions(from, to, torch::ExpandingArray<2>({1, k}));
  };
  // A k×1 kernel with padding (k/2, 0) and stride (s, s) already gives
  // ⌈H/s⌉ × ⌈W/s⌉, so the stride goes on the first, cheapest conv.
  conv1_v = register_module(
      "conv1_v", ConvBnAct(vertical(in, mid).stride(options.stride).act(act_)));
  conv1_h =
      register_module("conv1_h", ConvBnAct(horizontal(mid, mid).act(act_)));
  conv2_v = register_module("conv2_v", ConvBnAct(vertical(mid, mid).act(act_)));
  conv2_h = register_module(
      "conv2_h", ConvBnAct(horizontal(mid, out).act(Activation::kIdentity)));
  shortcut = register_module("shortcut", Shortcut(in, out, options.stride));
}

torch::Tensor FactorizedBlockImpl::forward(torch::Tensor x) {
  auto out = conv2_h(conv2_v(conv1_h(conv1_v(x))));
  return apply_activation(out + shortcut(x), act_, /*inplace=*/true);
}

void FactorizedBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "FactorizedBlock(" << options.in_channels << "→"
         << options.out_channels << ", k=" << options.kernel << "x1+1x"
         << options.kernel << ", stride=" << options.stride << ")";
}

OperatorTraits factorized_block_traits() {
  OperatorTraits t;
  t.family = "decomposition";
  t.summary =
      "basic block with each k×k conv factorized into k×1 then 1×k "
      "(BN-act between), shortcut";
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
