#pragma once
/// The baseline zoo (CIFAR-adapted ResNet18, MobileNetV2/V3, ShuffleNetV2,
/// SqueezeNet, ViT) by architecture name, the comparison points of the
/// elastic net. Each is a TORCH_MODULE whose forward(x) gives N×classes
/// logits; they match torchvision's parameter counts (tests/operators/
/// zoo_test.cpp).

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/model_spec.h"

namespace adascale::operators::zoo {

/// Builds spec.architecture. Throws ConfigError for "elastic" (built by the
/// elastic net, not here), an unknown name, or a bad shape.
torch::nn::AnyModule make_zoo_model(const core::ModelSpec& spec);

/// The architectures make_zoo_model() builds, in ModelSpec's order.
std::vector<std::string> zoo_architectures();

}  // namespace adascale::operators::zoo
