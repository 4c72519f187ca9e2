#include "operators/activation.h"

#include "core/error.h"

namespace adascale::operators {

Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::kReLU;
  if (name == "relu6") return Activation::kReLU6;
  if (name == "hswish") return Activation::kHardSwish;
  if (name == "silu") return Activation::kSiLU;
  if (name == "gelu") return Activation::kGELU;
  if (name == "identity") return Activation::kIdentity;
  throw ConfigError("activation '" + name +
                    "': expected relu|relu6|hswish|silu|gelu|identity");
}

torch::Tensor apply_activation(torch::Tensor x, Activation act, bool inplace) {
  switch (act) {
    case Activation::kIdentity:
      return x;
    case Activation::kReLU:
      return inplace ? torch::relu_(x) : torch::relu(x);
    case Activation::kReLU6:
      return inplace ? torch::hardtanh_(x, 0.0, 6.0)
                     : torch::hardtanh(x, 0.0, 6.0);
    case Activation::kHardSwish:
      return inplace ? torch::hardswish_(x) : torch::hardswish(x);
    case Activation::kSiLU:
      return inplace ? torch::silu_(x) : torch::silu(x);
    case Activation::kGELU:
      return torch::gelu(x);
  }
  return x;
}

}  // namespace adascale::operators
