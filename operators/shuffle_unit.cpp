#include "operators/shuffle_unit.h"

#include "core/error.h"
#include "operators/operator_util.h"

namespace adascale::operators {

torch::Tensor shuffle_channels(const torch::Tensor& x, int64_t groups) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (groups <= 0 || c % groups != 0) {
    throw ConfigError("shuffle_channels: " + std::to_string(c) +
                      " channels do not split into " + std::to_string(groups) +
                      " groups");
  }
  return x.view({n, groups, c / groups, h, w})
      .transpose(1, 2)
      .contiguous()
      .view({n, c, h, w});
}

ShuffleUnitImpl::ShuffleUnitImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void ShuffleUnitImpl::reset() {
  require_common(options);
  const int64_t in = options.in_channels;
  const int64_t out = options.out_channels;
  require(out % 2 == 0, options,
          "out_channels must be even (two branches of out / 2 channels)");
  auto act = parse_activation(options.act);
  const int64_t half = out / 2;
  // Divisor 1: width 1 must give exactly out / 2, as torchvision (e.g. 58).
  const int64_t hidden = hidden_channels(options, half, /*divisor=*/1);
  const int64_t k = options.kernel;
  const bool split = options.stride == 1 && in == out;

  if (!split) {
    branch1 = register_module(
        "branch1", torch::nn::Sequential(
                       ConvBnAct(ConvBnActOptions(in, in, k)
                                     .stride(options.stride)
                                     .groups(in)
                                     .act(Activation::kIdentity)),
                       ConvBnAct(ConvBnActOptions(in, half, 1).act(act))));
  }
  branch2 = register_module(
      "branch2",
      torch::nn::Sequential(
          ConvBnAct(ConvBnActOptions(split ? half : in, hidden, 1).act(act)),
          ConvBnAct(ConvBnActOptions(hidden, hidden, k)
                        .stride(options.stride)
                        .groups(hidden)
                        .act(Activation::kIdentity)),
          ConvBnAct(ConvBnActOptions(hidden, half, 1).act(act))));
}

torch::Tensor ShuffleUnitImpl::forward(torch::Tensor x) {
  torch::Tensor out;
  if (branch1) {
    out = torch::cat({branch1->forward(x), branch2->forward(x)}, 1);
  } else {
    auto halves = x.chunk(2, 1);
    out = torch::cat({halves[0], branch2->forward(halves[1])}, 1);
  }
  return shuffle_channels(out, 2);
}

void ShuffleUnitImpl::pretty_print(std::ostream& stream) const {
  stream << "ShuffleUnit(" << options.in_channels << "→" << options.out_channels
         << ", k=" << options.kernel << ", stride=" << options.stride
         << (splits() ? ", split" : ", two-branch") << ")";
}

OperatorTraits shuffle_unit_traits() {
  OperatorTraits t;
  t.family = "structural";
  t.summary =
      "ShuffleNetV2 unit: channel split (or two branches when downsampling), "
      "1×1 / depthwise k×k / 1×1 branch, concat, channel shuffle";
  return t;
}

}  // namespace adascale::operators
