#include "operators/mixed_conv.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "operators/operator_util.h"

namespace adascale::operators {

std::vector<int64_t> split_channels(int64_t channels, int64_t groups) {
  if (groups <= 0 || channels < groups) {
    throw InternalError(
        fmt::format("split_channels: cannot split {} channels into {} groups",
                    channels, groups));
  }
  std::vector<int64_t> splits(groups, channels / groups);
  splits[0] += channels - channels / groups * groups;
  return splits;
}

MixedConvImpl::MixedConvImpl(const core::OperatorSpec& options_)
    : options(options_) {
  reset();
}

void MixedConvImpl::reset() {
  require_common(options);
  const auto& kernels = options.kernels;
  require(!kernels.empty(), options, "kernels must not be empty");
  for (int k : kernels) {
    require(k >= 1 && k % 2 == 1, options,
            fmt::format("kernels must be odd, got {}", k));
  }
  auto act = parse_activation(options.act);
  int64_t hidden =
      hidden_channels(options, options.in_channels * options.expand_ratio);
  require(hidden >= int64_t(kernels.size()), options,
          fmt::format("{} hidden channels cannot be split over {} kernels",
                      hidden, kernels.size()));
  expand = register_module(
      "expand",
      ConvBnAct(ConvBnActOptions(options.in_channels, hidden, 1).act(act)));
  splits_ = split_channels(hidden, int64_t(kernels.size()));
  mixed = register_module("mixed", torch::nn::ModuleList());
  for (size_t i = 0; i < kernels.size(); ++i) {
    mixed->push_back(
        ConvBnAct(ConvBnActOptions(splits_[i], splits_[i], int64_t(kernels[i]))
                      .stride(options.stride)
                      .groups(splits_[i])
                      .act(act)));
  }
  if (options.se) {
    // MixNet squeezes to a quarter of the block's input channels.
    se = register_module(
        "se", SqueezeExcite(SqueezeExciteOptions(
                  hidden, std::max<int64_t>(1, options.in_channels / 4))));
  }
  project = register_module(
      "project", ConvBnAct(ConvBnActOptions(hidden, options.out_channels, 1)
                               .act(Activation::kIdentity)));
  shortcut = register_module(
      "shortcut",
      Shortcut(options.in_channels, options.out_channels, options.stride));
}

torch::Tensor MixedConvImpl::forward(torch::Tensor x) {
  auto h = expand(x);
  auto groups = h.split_with_sizes(splits_, /*dim=*/1);
  std::vector<torch::Tensor> outs;
  outs.reserve(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    outs.push_back(mixed[i]->as<ConvBnAct>()->forward(groups[i]));
  }
  h = outs.size() == 1 ? outs[0] : torch::cat(outs, /*dim=*/1);
  if (se) h = se(h);
  return project(h) + shortcut(x);
}

void MixedConvImpl::pretty_print(std::ostream& stream) const {
  stream << "MixedConv(" << options.in_channels << "→" << options.out_channels
         << ", kernels=" << fmt::format("{}", fmt::join(options.kernels, "/"))
         << ", stride=" << options.stride << ")";
}

OperatorTraits mixed_conv_traits() {
  OperatorTraits t;
  t.family = "structural";
  t.summary =
      "MixNet block: 1×1 expand, depthwise convs of mixed kernel sizes over "
      "channel groups, 1×1 project, shortcut";
  t.uses_kernel = false;
  t.uses_expand_ratio = true;
  t.uses_se = true;
  t.residual = true;
  return t;
}

}  // namespace adascale::operators
