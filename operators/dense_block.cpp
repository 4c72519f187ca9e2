#include "operators/dense_block.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "operators/operator_util.h"

namespace adascale::operators {

DenseLayerImpl::DenseLayerImpl(const DenseLayerOptions& options_)
    : options(options_) {
  reset();
}

void DenseLayerImpl::reset() {
  const auto& o = options;
  if (o.in_channels() <= 0 || o.growth_rate() <= 0 ||
      o.bottleneck_factor() <= 0 || o.kernel() <= 0 || o.kernel() % 2 == 0) {
    throw ConfigError(fmt::format(
        "DenseLayer: in_channels {}, growth_rate {} and bottleneck_factor {} "
        "must be > 0 and kernel {} odd",
        o.in_channels(), o.growth_rate(), o.bottleneck_factor(), o.kernel()));
  }
  int64_t mid = o.bottleneck_factor() * o.growth_rate();
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(o.in_channels()));
  conv1 = register_module(
      "conv1",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(o.in_channels(), mid, 1).bias(false)));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(mid));
  conv2 = register_module(
      "conv2", torch::nn::Conv2d(
                   torch::nn::Conv2dOptions(mid, o.growth_rate(), o.kernel())
                       .padding(o.kernel() / 2)
                       .bias(false)));
}

torch::Tensor DenseLayerImpl::forward(torch::Tensor x) {
  auto h = conv1(apply_activation(bn1(x), options.act(), /*inplace=*/true));
  return conv2(apply_activation(bn2(h), options.act(), /*inplace=*/true));
}

int64_t dense_growth_rate(const core::OperatorSpec& spec) {
  double base =
      spec.growth_rate > 0 ? spec.growth_rate : spec.out_channels / 4.0;
  return std::max<int64_t>(1, std::llround(base * spec.width));
}

DenseBlockImpl::DenseBlockImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void DenseBlockImpl::reset() {
  require_common(options);
  require(options.layers >= 1, options, "layers must be >= 1");
  require(options.growth_rate >= 0, options, "growth_rate must be >= 0");
  auto act = parse_activation(options.act);
  int64_t growth = dense_growth_rate(options);
  int64_t channels = options.in_channels;
  dense_layers = register_module("dense_layers", torch::nn::ModuleList());
  for (int i = 0; i < options.layers; ++i) {
    dense_layers->push_back(DenseLayer(
        DenseLayerOptions(channels, growth).kernel(options.kernel).act(act)));
    channels += growth;
  }
  if (options.stride > 1) {
    // Ceil mode keeps ⌈H/s⌉ for odd sizes; without padding the last,
    // partial window averages only the pixels it covers.
    pool = register_module(
        "pool",
        torch::nn::AvgPool2d(
            torch::nn::AvgPool2dOptions(options.stride).ceil_mode(true)));
  }
  transition = register_module(
      "transition",
      ConvBnAct(ConvBnActOptions(channels, options.out_channels, 1).act(act)));
}

torch::Tensor DenseBlockImpl::forward(torch::Tensor x) {
  for (const auto& layer : *dense_layers) {
    x = torch::cat({x, layer->as<DenseLayer>()->forward(x)}, /*dim=*/1);
  }
  if (pool) x = pool(x);
  return transition(x);
}

void DenseBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "DenseBlock(" << options.in_channels << "→" << options.out_channels
         << ", layers=" << options.layers
         << ", growth=" << dense_growth_rate(options)
         << ", stride=" << options.stride << ")";
}

OperatorTraits dense_block_traits() {
  OperatorTraits t;
  t.family = "connectivity";
  t.summary =
      "DenseNet-BC block: BN-act-1×1-BN-act-k×k layers concatenated "
      "(growth rate), 1×1 transition";
  return t;
}

}  // namespace adascale::operators
