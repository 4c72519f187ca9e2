#include "operators/depthwise_separable.h"

#include "operators/operator_util.h"

namespace adascale::operators {

DepthwiseSeparableImpl::DepthwiseSeparableImpl(
    const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void DepthwiseSeparableImpl::reset() {
  require_common(options);
  act_ = parse_activation(options.act);
  int64_t in = options.in_channels;
  int64_t mid = hidden_channels(options, options.out_channels);
  int64_t k = options.kernel;
  dw1 = register_module("dw1", ConvBnAct(ConvBnActOptions(in, in, k)
                                             .stride(options.stride)
                                             .groups(in)
                                             .act(act_)));
  pw1 =
      register_module("pw1", ConvBnAct(ConvBnActOptions(in, mid, 1).act(act_)));
  dw2 = register_module(
      "dw2", ConvBnAct(ConvBnActOptions(mid, mid, k).groups(mid).act(act_)));
  pw2 = register_module("pw2",
                        ConvBnAct(ConvBnActOptions(mid, options.out_channels, 1)
                                      .act(Activation::kIdentity)));
  shortcut = register_module(
      "shortcut",
      Shortcut(options.in_channels, options.out_channels, options.stride));
}

torch::Tensor DepthwiseSeparableImpl::forward(torch::Tensor x) {
  auto out = pw2(dw2(pw1(dw1(x))));
  return apply_activation(out + shortcut(x), act_, /*inplace=*/true);
}

void DepthwiseSeparableImpl::pretty_print(std::ostream& stream) const {
  stream << "DepthwiseSeparable(" << options.in_channels << "→"
         << options.out_channels << ", k=" << options.kernel
         << ", stride=" << options.stride << ")";
}

OperatorTraits depthwise_separable_traits() {
  OperatorTraits t;
  t.family = "structural";
  t.summary =
      "MobileNet depthwise-separable pair: two (depthwise k×k, pointwise "
      "1×1) convs with BN, shortcut";
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
