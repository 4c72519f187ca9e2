#include "operators/squeeze_excite.h"

#include "core/error.h"

namespace adascale::operators {

SqueezeExciteImpl::SqueezeExciteImpl(const SqueezeExciteOptions& options_)
    : options(options_) {
  reset();
}

void SqueezeExciteImpl::reset() {
  if (options.channels() <= 0 || options.squeeze_channels() <= 0) {
    throw ConfigError(
        "SqueezeExcite: channels and squeeze_channels must be "
        "> 0, got " +
        std::to_string(options.channels()) + " and " +
        std::to_string(options.squeeze_channels()));
  }
  reduce = register_module(
      "reduce", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                    options.channels(), options.squeeze_channels(), 1)));
  expand = register_module(
      "expand", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                    options.squeeze_channels(), options.channels(), 1)));
}

torch::Tensor SqueezeExciteImpl::forward(torch::Tensor x) {
  auto s = torch::adaptive_avg_pool2d(x, {1, 1});
  s = expand(torch::relu(reduce(s)));
  s = options.hard_gate() ? torch::hardsigmoid(s) : torch::sigmoid(s);
  return x * s;
}

}  // namespace adascale::operators
