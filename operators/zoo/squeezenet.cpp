#include "operators/zoo/squeezenet.h"

#include "operators/fire_module.h"
#include "operators/zoo/zoo_util.h"

namespace adascale::operators::zoo {

namespace {

/// A Fire module (in, squeeze, out = both expands), or 0 for a max-pool.
struct Layer {
  int in, squeeze, out;
};
constexpr Layer kPool = {0, 0, 0};

const std::vector<Layer> kV10 = {
    {96, 16, 128},  {128, 16, 128}, {128, 32, 256}, kPool, {256, 32, 256},
    {256, 48, 384}, {384, 48, 384}, {384, 64, 512}, kPool, {512, 64, 512}};
const std::vector<Layer> kV11 = {{64, 16, 128},  {128, 16, 128}, kPool,
                                 {128, 32, 256}, {256, 32, 256}, kPool,
                                 {256, 48, 384}, {384, 48, 384}, {384, 64, 512},
                                 {512, 64, 512}};

}  // namespace

SqueezeNetImpl::SqueezeNetImpl(const core::ModelSpec& options_)
    : options(options_) {
  reset();
}

void SqueezeNetImpl::reset() {
  require_common(options, /*has_width=*/false);
  const bool v10 = options.architecture == "squeezenet1_0";
  require(v10 || options.architecture == "squeezenet1_1", options,
          "SqueezeNet needs architecture squeezenet1_0 or squeezenet1_1");
  const auto& layers = v10 ? kV10 : kV11;

  features = register_module("features", torch::nn::Sequential());
  features->push_back(torch::nn::Conv2d(
      torch::nn::Conv2dOptions(options.in_channels, layers[0].in, 3)
          .padding(1)));
  features->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
  for (const Layer& l : layers) {
    if (l.in == 0) {
      features->push_back(torch::nn::MaxPool2d(
          torch::nn::MaxPool2dOptions(3).stride(2).ceil_mode(true)));
      continue;
    }
    core::OperatorSpec op;
    op.type = "fire";
    op.in_channels = l.in;
    op.out_channels = l.out;
    op.squeeze_ratio = double(l.squeeze) / l.out;
    features->push_back(FireModule(op));
  }
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  classifier = register_module(
      "classifier",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(512, options.classes, 1)));
  // As torchvision: the final conv starts near zero (the other convs keep
  // LibTorch's default init).
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(classifier->weight, 0.0, 0.01);
  torch::nn::init::zeros_(classifier->bias);
}

torch::Tensor SqueezeNetImpl::forward(torch::Tensor x) {
  x = torch::relu(classifier(dropout(features->forward(x))));
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

void SqueezeNetImpl::pretty_print(std::ostream& stream) const {
  stream << "SqueezeNet(" << options.architecture
         << ", classes=" << options.classes << ")";
}

}  // namespace adascale::operators::zoo
