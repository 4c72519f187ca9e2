#include "operators/inverted_residual.h"

#include "operators/operator_util.h"

namespace adascale::operators {

InvertedResidualImpl::InvertedResidualImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void InvertedResidualImpl::reset() {
  require_common(options);
  require(options.expand_ratio > 0, options, "expand_ratio must be > 0");
  auto act = parse_activation(options.act);
  const int64_t in = options.in_channels;
  const int64_t out = options.out_channels;
  const bool expands = options.expand_ratio != 1.0;
  hidden_ = expands ? hidden_channels(options, in * options.expand_ratio) : in;
  residual_ = options.stride == 1 && in == out;

  if (expands) {
    expand = register_module(
        "expand", ConvBnAct(ConvBnActOptions(in, hidden_, 1).act(act)));
  }
  depthwise = register_module(
      "depthwise", ConvBnAct(ConvBnActOptions(hidden_, hidden_, options.kernel)
                                 .stride(options.stride)
                                 .groups(hidden_)
                                 .act(act)));
  if (options.se) {
    // Integer division first, as torchvision's _make_divisible(c // 4, 8).
    se = register_module("se",
                         SqueezeExcite(SqueezeExciteOptions(
                             hidden_, make_divisible(double(hidden_ / 4), 8))));
  }
  project = register_module(
      "project",
      ConvBnAct(ConvBnActOptions(hidden_, out, 1).act(Activation::kIdentity)));
}

torch::Tensor InvertedResidualImpl::forward(torch::Tensor x) {
  auto out = expand ? expand(x) : x;
  out = depthwise(out);
  if (se) out = se(out);
  out = project(out);
  return residual_ ? out + x : out;
}

void InvertedResidualImpl::pretty_print(std::ostream& stream) const {
  stream << "InvertedResidual(" << options.in_channels << "→" << hidden_ << "→"
         << options.out_channels << ", k=" << options.kernel
         << ", stride=" << options.stride << ", se=" << options.se
         << ", act=" << options.act << ")";
}

OperatorTraits inverted_residual_traits() {
  OperatorTraits t;
  t.family = "structural";
  t.summary =
      "MobileNetV2/V3 inverted residual: 1×1 expand, depthwise k×k, "
      "optional SE, linear 1×1; identity residual when shapes agree";
  t.uses_expand_ratio = true;
  t.uses_se = true;
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
