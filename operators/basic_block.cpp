#include "operators/basic_block.h"

#include "operators/operator_util.h"

namespace adascale::operators {

BasicBlockImpl::BasicBlockImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void BasicBlockImpl::reset() {
  require_common(options);
  act_ = parse_activation(options.act);
  int64_t mid = hidden_channels(options, options.out_channels);
  int64_t k = options.kernel;
  conv1 = register_module(
      "conv1", ConvBnAct(ConvBnActOptions(options.in_channels, mid, k)
                             .stride(options.stride)
                             .act(act_)));
  conv2 = register_module(
      "conv2", ConvBnAct(ConvBnActOptions(mid, options.out_channels, k)
                             .act(Activation::kIdentity)));
  shortcut = register_module(
      "shortcut",
      Shortcut(options.in_channels, options.out_channels, options.stride));
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto out = conv2(conv1(x));
  return apply_activation(out + shortcut(x), act_, /*inplace=*/true);
}

void BasicBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "BasicBlock(" << options.in_channels << "→" << options.out_channels
         << ", k=" << options.kernel << ", stride=" << options.stride << ")";
}

OperatorTraits basic_block_traits() {
  OperatorTraits t;
  t.family = "reference";
  t.summary =
      "ResNet basic block: two k×k conv-BN, identity/projection "
      "shortcut";
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
