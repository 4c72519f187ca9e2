#include "operators/zoo/mobilenet_v2.h"

#include <algorithm>

#include "operators/conv_bn_act.h"
#include "operators/inverted_residual.h"
#include "operators/operator_util.h"
#include "operators/zoo/zoo_util.h"

namespace adascale::operators::zoo {

namespace {

/// One row of the paper's Table 2: expansion t, channels c, repeats n,
/// first stride s.
struct Stage {
  double t;
  int c, n, s;
};
constexpr Stage kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2},
                             {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
                             {6, 320, 1, 1}};

}  // namespace

MobileNetV2Impl::MobileNetV2Impl(const core::ModelSpec& options_)
    : options(options_) {
  reset();
}

void MobileNetV2Impl::reset() {
  require_common(options, /*has_width=*/true);
  const double w = options.width;
  int64_t in = make_divisible(32 * w, 8);
  const int64_t last = make_divisible(1280 * std::max(1.0, w), 8);
  features = register_module("features", torch::nn::Sequential());
  features->push_back(ConvBnAct(
      ConvBnActOptions(options.in_channels, in, 3).act(Activation::kReLU6)));
  for (const Stage& st : kStages) {
    const int64_t out = make_divisible(st.c * w, 8);
    for (int i = 0; i < st.n; ++i) {
      core::OperatorSpec op;
      op.type = "mbconv";
      op.in_channels = int(in);
      op.out_channels = int(out);
      op.stride = i == 0 ? st.s : 1;
      op.expand_ratio = st.t;
      op.act = "relu6";
      features->push_back(InvertedResidual(op));
      in = out;
    }
  }
  features->push_back(
      ConvBnAct(ConvBnActOptions(in, last, 1).act(Activation::kReLU6)));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  fc = register_module("fc", torch::nn::Linear(last, options.classes));
}

torch::Tensor MobileNetV2Impl::forward(torch::Tensor x) {
  x = features->forward(x);
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc(dropout(x));
}

void MobileNetV2Impl::pretty_print(std::ostream& stream) const {
  stream << "MobileNetV2(classes=" << options.classes
         << ", width=" << options.width << ")";
}

}  // namespace adascale::operators::zoo
