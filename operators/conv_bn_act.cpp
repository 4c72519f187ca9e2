#include "operators/conv_bn_act.h"

#include "core/error.h"
#include "operators/bn_folding.h"

namespace adascale::operators {

ConvBnActImpl::ConvBnActImpl(const ConvBnActOptions& options_)
    : options(options_) {
  reset();
}

void ConvBnActImpl::reset() {
  const auto& o = options;
  if (o.in_channels() <= 0 || o.out_channels() <= 0 || o.groups() <= 0 ||
      o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0) {
    throw ConfigError("ConvBnAct: in_channels " +
                      std::to_string(o.in_channels()) + " and out_channels " +
                      std::to_string(o.out_channels()) +
                      " must be positive and divisible by groups " +
                      std::to_string(o.groups()));
  }
  auto k = *o.kernel();
  conv = register_module(
      "conv", torch::nn::Conv2d(
                  torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(),
                                           o.kernel())
                      .stride(o.stride())
                      .padding(torch::ExpandingArray<2>({k[0] / 2, k[1] / 2}))
                      .groups(o.groups())
                      .bias(folded_)));
  // A folded unit rebuilds without its BN, so clone() of a folded model
  // finds the same parameters by name.
  bn = nullptr;
  if (folded_) return;
  bn = register_module("bn", torch::nn::BatchNorm2d(o.out_channels()));
}

torch::Tensor ConvBnActImpl::forward(torch::Tensor x) {
  x = conv(x);
  if (bn) x = bn(x);
  return apply_activation(x, options.act(), /*inplace=*/true);
}

void ConvBnActImpl::fold() {
  if (folded_) return;
  conv = replace_module("conv", fold_batch_norm(conv, bn));
  unregister_module("bn");
  bn = nullptr;
  folded_ = true;
}

void ConvBnActImpl::pretty_print(std::ostream& stream) const {
  auto k = *options.kernel();
  auto s = *options.stride();
  stream << "ConvBnAct(" << options.in_channels() << ", "
         << options.out_channels() << ", kernel=" << k[0] << "x" << k[1]
         << ", stride=" << s[0] << "x" << s[1]
         << ", groups=" << options.groups() << (folded_ ? ", folded" : "")
         << ")";
}

}  // namespace adascale::operators
