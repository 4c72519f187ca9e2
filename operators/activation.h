#pragma once
/// Activations by name, as the operator specs name them. Stateless, so a
/// function rather than a module: fewer submodules, the same traced graph.

#include <torch/torch.h>

#include <string>

namespace adascale::operators {

enum class Activation { kIdentity, kReLU, kReLU6, kHardSwish, kSiLU, kGELU };

/// relu | relu6 | hswish | silu | gelu | identity; throws ConfigError.
Activation parse_activation(const std::string& name);

/// Applies `act` (in place where the op allows it and `inplace` is set).
torch::Tensor apply_activation(torch::Tensor x, Activation act,
                               bool inplace = false);

}  // namespace adascale::operators
