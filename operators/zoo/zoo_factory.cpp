#include "operators/zoo/zoo_factory.h"

#include <fmt/format.h>

#include "core/error.h"
#include "operators/zoo/mobilenet_v2.h"
#include "operators/zoo/mobilenet_v3.h"
#include "operators/zoo/resnet18.h"
#include "operators/zoo/shufflenet_v2.h"
#include "operators/zoo/squeezenet.h"
#include "operators/zoo/vision_transformer.h"

namespace adascale::operators::zoo {

torch::nn::AnyModule make_zoo_model(const core::ModelSpec& spec) {
  const std::string& a = spec.architecture;
  if (a == "resnet18") return torch::nn::AnyModule(ResNet18(spec));
  if (a == "mobilenet_v2") return torch::nn::AnyModule(MobileNetV2(spec));
  if (a == "mobilenet_v3_large" || a == "mobilenet_v3_small") {
    return torch::nn::AnyModule(MobileNetV3(spec));
  }
  if (a == "shufflenet_v2") return torch::nn::AnyModule(ShuffleNetV2(spec));
  if (a == "squeezenet1_0" || a == "squeezenet1_1") {
    return torch::nn::AnyModule(SqueezeNet(spec));
  }
  if (a == "vit") return torch::nn::AnyModule(VisionTransformer(spec));
  if (a == "elastic") {
    throw ConfigError(fmt::format(
        "model '{}': architecture 'elastic' is the elastic net, not a zoo "
        "model",
        spec.name));
  }
  throw ConfigError(
      fmt::format("model '{}': unknown zoo architecture '{}' (known: {})",
                  spec.name, a, fmt::join(zoo_architectures(), ", ")));
}

std::vector<std::string> zoo_architectures() {
  return {"resnet18",           "mobilenet_v2",
          "mobilenet_v3_large", "mobilenet_v3_small",
          "shufflenet_v2",      "squeezenet1_0",
          "squeezenet1_1",      "vit"};
}

}  // namespace adascale::operators::zoo
