#include "operators/fire_module.h"

#include "operators/operator_util.h"

namespace adascale::operators {

FireModuleImpl::FireModuleImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void FireModuleImpl::reset() {
  require_common(options);
  require(options.out_channels >= 2, options,
          "out_channels must be >= 2 (two expand branches)");
  require(options.squeeze_ratio > 0, options, "squeeze_ratio must be > 0");
  act_ = parse_activation(options.act);
  const int64_t out = options.out_channels;
  const int64_t squeezed =
      hidden_channels(options, out * options.squeeze_ratio);
  const int64_t out1 = out / 2;
  const int64_t k = options.kernel;
  using torch::nn::Conv2dOptions;
  squeeze = register_module("squeeze", torch::nn::Conv2d(Conv2dOptions(
                                           options.in_channels, squeezed, 1)));
  expand1x1 = register_module(
      "expand1x1",
      torch::nn::Conv2d(
          Conv2dOptions(squeezed, out1, 1).stride(options.stride)));
  expandkxk = register_module(
      "expandkxk", torch::nn::Conv2d(Conv2dOptions(squeezed, out - out1, k)
                                         .stride(options.stride)
                                         .padding(k / 2)));
}

torch::Tensor FireModuleImpl::forward(torch::Tensor x) {
  auto s = apply_activation(squeeze(x), act_, /*inplace=*/true);
  return torch::cat({apply_activation(expand1x1(s), act_, /*inplace=*/true),
                     apply_activation(expandkxk(s), act_, /*inplace=*/true)},
                    1);
}

void FireModuleImpl::pretty_print(std::ostream& stream) const {
  stream << "FireModule(" << options.in_channels << "→"
         << squeeze->options.out_channels() << "→" << options.out_channels
         << ", k=" << options.kernel << ", stride=" << options.stride << ")";
}

OperatorTraits fire_module_traits() {
  OperatorTraits t;
  t.family = "structural";
  t.summary =
      "SqueezeNet Fire: 1×1 squeeze, 1×1 and k×k expand (stride) "
      "concatenated; biased convs, no BN";
  return t;
}

}  // namespace adascale::operators
