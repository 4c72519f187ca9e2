#include "operators/zoo/shufflenet_v2.h"

#include <array>

#include "operators/shuffle_unit.h"
#include "operators/zoo/zoo_util.h"

namespace adascale::operators::zoo {

namespace {

/// torchvision's stages_out_channels: stem, stages 2–4, conv5.
std::array<int, 5> stage_channels(const core::ModelSpec& spec) {
  if (spec.width == 0.5) return {24, 48, 96, 192, 1024};
  if (spec.width == 1.0) return {24, 116, 232, 464, 1024};
  if (spec.width == 1.5) return {24, 176, 352, 704, 1024};
  if (spec.width == 2.0) return {24, 244, 488, 976, 2048};
  require(false, spec, "ShuffleNetV2 width must be 0.5, 1.0, 1.5 or 2.0");
  return {};
}

}  // namespace

ShuffleNetV2Impl::ShuffleNetV2Impl(const core::ModelSpec& options_)
    : options(options_) {
  reset();
}

void ShuffleNetV2Impl::reset() {
  require_common(options, /*has_width=*/true);
  const auto channels = stage_channels(options);
  stem = register_module(
      "stem", ConvBnAct(ConvBnActOptions(options.in_channels, channels[0], 3)));
  stages = register_module("stages", torch::nn::Sequential());
  const int repeats[] = {4, 8, 4};
  int in = channels[0];
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < repeats[s]; ++i) {
      core::OperatorSpec op;
      op.type = "shuffle";
      op.in_channels = in;
      op.out_channels = channels[s + 1];
      op.stride = i == 0 ? 2 : 1;
      stages->push_back(ShuffleUnit(op));
      in = op.out_channels;
    }
  }
  conv5 =
      register_module("conv5", ConvBnAct(ConvBnActOptions(in, channels[4], 1)));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  fc = register_module("fc", torch::nn::Linear(channels[4], options.classes));
}

torch::Tensor ShuffleNetV2Impl::forward(torch::Tensor x) {
  x = conv5(stages->forward(stem(x)));
  return fc(dropout(x.mean({2, 3})));
}

void ShuffleNetV2Impl::pretty_print(std::ostream& stream) const {
  stream << "ShuffleNetV2(classes=" << options.classes
         << ", width=" << options.width << ")";
}

}  // namespace adascale::operators::zoo
