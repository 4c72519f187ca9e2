#include "operators/exit_head.h"

#include "core/error.h"

namespace adascale::operators {

ExitHeadImpl::ExitHeadImpl(const ExitHeadOptions& options_)
    : options(options_) {
  reset();
}

void ExitHeadImpl::reset() {
  const auto& o = options;
  if (o.in_channels() <= 0 || o.channels() <= 0 || o.classes() <= 0) {
    throw ConfigError(
        "exit head: in_channels, channels and classes must be "
        "> 0, got " +
        std::to_string(o.in_channels()) + ", " + std::to_string(o.channels()) +
        ", " + std::to_string(o.classes()));
  }
  if (!o.conv() && o.channels() != o.in_channels()) {
    throw ConfigError(
        "exit head: a pool head keeps its " + std::to_string(o.in_channels()) +
        " input channels, got channels " + std::to_string(o.channels()));
  }
  conv = nullptr;
  bn = nullptr;
  if (o.conv()) {
    conv = register_module(
        "conv", torch::nn::Conv2d(
                    torch::nn::Conv2dOptions(o.in_channels(), o.channels(), 3)
                        .stride(2)
                        .padding(1)
                        .bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(o.channels()));
  }
  dropout = register_module("dropout", torch::nn::Dropout(o.dropout()));
  fc = register_module("fc", torch::nn::Linear(o.channels(), o.classes()));
}

torch::Tensor ExitHeadImpl::forward(torch::Tensor x) {
  if (conv) {
    x = bn(conv(x));
    x.relu_();
  }
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc(dropout(x));
}

void ExitHeadImpl::pretty_print(std::ostream& stream) const {
  stream << "ExitHead(" << options.in_channels() << "→";
  if (options.conv()) stream << options.channels() << "→";
  stream << options.classes() << ", " << (options.conv() ? "conv" : "pool")
         << ", dropout=" << options.dropout() << ")";
}

}  // namespace adascale::operators
