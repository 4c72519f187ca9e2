#include "operators/ghost_bottleneck.h"

#include "operators/operator_util.h"

namespace adascale::operators {

GhostBottleneckImpl::GhostBottleneckImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void GhostBottleneckImpl::reset() {
  require_common(options);
  require(options.expand_ratio > 0, options, "expand_ratio must be > 0");
  auto act = parse_activation(options.act);
  const int64_t in = options.in_channels;
  const int64_t out = options.out_channels;
  const int64_t k = options.kernel;
  const int64_t stride = options.stride;
  hidden_ = hidden_channels(options, in * options.expand_ratio);

  ghost1 = register_module(
      "ghost1", GhostModule(GhostModuleOptions(in, hidden_).act(act)));
  if (stride > 1) {
    depthwise = register_module("depthwise",
                                ConvBnAct(ConvBnActOptions(hidden_, hidden_, k)
                                              .stride(stride)
                                              .groups(hidden_)
                                              .act(Activation::kIdentity)));
  }
  if (options.se) {
    se =
        register_module("se", SqueezeExcite(SqueezeExciteOptions(
                                  hidden_, make_divisible(hidden_ * 0.25, 4))));
  }
  ghost2 = register_module(
      "ghost2",
      GhostModule(GhostModuleOptions(hidden_, out).act(Activation::kIdentity)));
  if (in != out || stride != 1) {
    shortcut = register_module(
        "shortcut",
        torch::nn::Sequential(
            ConvBnAct(ConvBnActOptions(in, in, k).stride(stride).groups(in).act(
                Activation::kIdentity)),
            ConvBnAct(
                ConvBnActOptions(in, out, 1).act(Activation::kIdentity))));
  }
}

torch::Tensor GhostBottleneckImpl::forward(torch::Tensor x) {
  auto out = ghost1(x);
  if (depthwise) out = depthwise(out);
  if (se) out = se(out);
  out = ghost2(out);
  return out + (shortcut ? shortcut->forward(x) : x);
}

void GhostBottleneckImpl::pretty_print(std::ostream& stream) const {
  stream << "GhostBottleneck(" << options.in_channels << "→" << hidden_ << "→"
         << options.out_channels << ", k=" << options.kernel
         << ", stride=" << options.stride << ", se=" << options.se << ")";
}

OperatorTraits ghost_bottleneck_traits() {
  OperatorTraits t;
  t.family = "structural";
  t.summary =
      "GhostNet bottleneck: Ghost module, depthwise k×k when strided, "
      "optional SE, Ghost module, identity/depthwise-separable shortcut";
  t.uses_expand_ratio = true;
  t.uses_se = true;
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
