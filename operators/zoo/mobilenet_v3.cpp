#include "operators/zoo/mobilenet_v3.h"

#include <vector>

#include "operators/conv_bn_act.h"
#include "operators/inverted_residual.h"
#include "operators/operator_util.h"
#include "operators/zoo/zoo_util.h"

namespace adascale::operators::zoo {

namespace {

/// One bneck row of the paper's Tables 1 and 2 (torchvision's
/// InvertedResidualConfig without dilation).
struct Bneck {
  int in, kernel, expanded, out;
  bool se, hswish;
  int stride;
};

const std::vector<Bneck> kLarge = {
    {16, 3, 16, 16, false, false, 1},  {16, 3, 64, 24, false, false, 2},
    {24, 3, 72, 24, false, false, 1},  {24, 5, 72, 40, true, false, 2},
    {40, 5, 120, 40, true, false, 1},  {40, 5, 120, 40, true, false, 1},
    {40, 3, 240, 80, false, true, 2},  {80, 3, 200, 80, false, true, 1},
    {80, 3, 184, 80, false, true, 1},  {80, 3, 184, 80, false, true, 1},
    {80, 3, 480, 112, true, true, 1},  {112, 3, 672, 112, true, true, 1},
    {112, 5, 672, 160, true, true, 2}, {160, 5, 960, 160, true, true, 1},
    {160, 5, 960, 160, true, true, 1}};

const std::vector<Bneck> kSmall = {
    {16, 3, 16, 16, true, false, 2},  {16, 3, 72, 24, false, false, 2},
    {24, 3, 88, 24, false, false, 1}, {24, 5, 96, 40, true, true, 2},
    {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
    {40, 5, 120, 48, true, true, 1},  {48, 5, 144, 48, true, true, 1},
    {48, 5, 288, 96, true, true, 2},  {96, 5, 576, 96, true, true, 1},
    {96, 5, 576, 96, true, true, 1}};

constexpr double kBatchNormEps = 1e-3;
constexpr double kBatchNormMomentum = 0.01;

}  // namespace

MobileNetV3Impl::MobileNetV3Impl(const core::ModelSpec& options_)
    : options(options_) {
  reset();
}

void MobileNetV3Impl::reset() {
  require_common(options, /*has_width=*/true);
  const bool large = options.architecture == "mobilenet_v3_large";
  require(large || options.architecture == "mobilenet_v3_small", options,
          "MobileNetV3 needs architecture mobilenet_v3_large or "
          "mobilenet_v3_small");
  const auto& table = large ? kLarge : kSmall;
  auto adjust = [&](int c) { return make_divisible(c * options.width, 8); };

  features = register_module("features", torch::nn::Sequential());
  features->push_back(
      ConvBnAct(ConvBnActOptions(options.in_channels, adjust(16), 3)
                    .act(Activation::kHardSwish)));
  for (const Bneck& b : table) {
    core::OperatorSpec op;
    op.type = "mbconv";
    op.in_channels = int(adjust(b.in));
    op.out_channels = int(adjust(b.out));
    op.stride = b.stride;
    op.kernel = b.kernel;
    // Exactly 1.0 when expanded == in, which skips the expansion conv.
    op.expand_ratio = double(adjust(b.expanded)) / double(op.in_channels);
    op.se = b.se;
    op.act = b.hswish ? "hswish" : "relu";
    features->push_back(InvertedResidual(op));
  }
  const int64_t last_in = adjust(table.back().out);
  const int64_t last_conv = 6 * last_in;
  const int64_t last = adjust(large ? 1280 : 1024);
  features->push_back(ConvBnAct(
      ConvBnActOptions(last_in, last_conv, 1).act(Activation::kHardSwish)));
  fc1 = register_module("fc1", torch::nn::Linear(last_conv, last));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  fc2 = register_module("fc2", torch::nn::Linear(last, options.classes));
  // torchvision's MobileNetV3 uses the TensorFlow BatchNorm settings; the
  // BN modules read their options at every forward, and clone() keeps them.
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->options.eps(kBatchNormEps).momentum(kBatchNormMomentum);
    }
  }
}

torch::Tensor MobileNetV3Impl::forward(torch::Tensor x) {
  x = features->forward(x);
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  x = torch::hardswish(fc1(x));
  return fc2(dropout(x));
}

void MobileNetV3Impl::pretty_print(std::ostream& stream) const {
  stream << "MobileNetV3(" << options.architecture
         << ", classes=" << options.classes << ", width=" << options.width
         << ")";
}

}  // namespace adascale::operators::zoo
