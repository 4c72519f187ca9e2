#include "operators/bottleneck_block.h"

#include "operators/operator_util.h"

namespace adascale::operators {

BottleneckBlockImpl::BottleneckBlockImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void BottleneckBlockImpl::reset() {
  require_common(options);
  act_ = parse_activation(options.act);
  // ResNet's expansion 4: the block's output is 4× its middle width.
  int64_t mid = hidden_channels(options, options.out_channels / 4.0);
  reduce = register_module(
      "reduce",
      ConvBnAct(ConvBnActOptions(options.in_channels, mid, 1).act(act_)));
  conv = register_module("conv",
                         ConvBnAct(ConvBnActOptions(mid, mid, options.kernel)
                                       .stride(options.stride)
                                       .act(act_)));
  expand = register_module(
      "expand", ConvBnAct(ConvBnActOptions(mid, options.out_channels, 1)
                              .act(Activation::kIdentity)));
  shortcut = register_module(
      "shortcut",
      Shortcut(options.in_channels, options.out_channels, options.stride));
}

torch::Tensor BottleneckBlockImpl::forward(torch::Tensor x) {
  auto out = expand(conv(reduce(x)));
  return apply_activation(out + shortcut(x), act_, /*inplace=*/true);
}

void BottleneckBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "BottleneckBlock(" << options.in_channels << "→"
         << options.out_channels << ", k=" << options.kernel
         << ", stride=" << options.stride << ")";
}

OperatorTraits bottleneck_block_traits() {
  OperatorTraits t;
  t.family = "reference";
  t.summary =
      "ResNet bottleneck: 1×1 reduce, k×k (stride), 1×1 expand (×4), "
      "identity/projection shortcut";
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
