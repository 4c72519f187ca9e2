#include "operators/zoo/resnet18.h"

#include "operators/basic_block.h"
#include "operators/operator_util.h"
#include "operators/zoo/zoo_util.h"

namespace adascale::operators::zoo {

ResNet18Impl::ResNet18Impl(const core::ModelSpec& options_)
    : options(options_) {
  reset();
}

void ResNet18Impl::reset() {
  require_common(options, /*has_width=*/true);
  auto channels = [&](int c) {
    return int(make_divisible(c * options.width, 8));
  };
  int in = channels(64);
  stem = register_module(
      "stem", ConvBnAct(ConvBnActOptions(options.in_channels, in, 3)));
  blocks = register_module("blocks", torch::nn::Sequential());
  const int widths[] = {64, 128, 256, 512};
  for (int s = 0; s < 4; ++s) {
    for (int b = 0; b < 2; ++b) {
      core::OperatorSpec op;
      op.type = "basic";
      op.in_channels = in;
      op.out_channels = channels(widths[s]);
      op.stride = (s > 0 && b == 0) ? 2 : 1;
      blocks->push_back(BasicBlock(op));
      in = op.out_channels;
    }
  }
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  fc = register_module("fc", torch::nn::Linear(in, options.classes));
}

torch::Tensor ResNet18Impl::forward(torch::Tensor x) {
  x = blocks->forward(stem(x));
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc(dropout(x));
}

void ResNet18Impl::pretty_print(std::ostream& stream) const {
  stream << "ResNet18(classes=" << options.classes
         << ", width=" << options.width << ")";
}

}  // namespace adascale::operators::zoo
