#pragma once
/// The one registry of operators (DESIGN §3.1): a name → traits + factory.
/// Filled explicitly by register_builtin_operators() (static initialisers
/// get dropped from static libraries); adding an operator is one new file
/// plus one `registry.add<...>` line there.

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/operator_spec.h"

namespace adascale::operators {

/// What an operator does with the spec, so search and runtime can ask.
struct OperatorTraits {
  /// structural | nas | connectivity | decomposition | reference
  std::string family;
  /// One line for `adascale inspect` and the README.
  std::string summary;
  /// Spec fields the operator reads beyond channels and stride.
  bool uses_kernel = true;
  bool uses_expand_ratio = false;
  bool uses_se = false;
  bool uses_act = true;
  bool uses_width = true;
  /// Adds its input back (identity or projection shortcut).
  bool residual = false;
};

/// Builds an operator from a spec that has its channels and stride set.
using OperatorFactory =
    std::function<torch::nn::AnyModule(const core::OperatorSpec&)>;

class OperatorRegistry {
 public:
  /// Registers `name`; throws InternalError when it is already taken.
  void add(const std::string& name, OperatorTraits traits,
           OperatorFactory factory);

  /// Registers module holder `M` (a TORCH_MODULE), constructed from a spec.
  template <typename M>
  void add(const std::string& name, OperatorTraits traits) {
    add(name, std::move(traits), [](const core::OperatorSpec& spec) {
      return torch::nn::AnyModule(M(spec));
    });
  }

  /// Builds spec.type; throws ConfigError naming the known operators when
  /// the type is unknown, or the operator's own ConfigError for a bad spec.
  torch::nn::AnyModule make(const core::OperatorSpec& spec) const;

  bool contains(const std::string& name) const;
  /// Throws ConfigError for an unknown name.
  const OperatorTraits& traits(const std::string& name) const;
  /// Registered names, sorted.
  std::vector<std::string> names() const;

 private:
  struct Entry {
    OperatorTraits traits;
    OperatorFactory factory;
  };
  const Entry& entry(const std::string& name) const;
  std::map<std::string, Entry> entries_;
};

/// Adds every operator that ships with AdaScale.
void register_builtin_operators(OperatorRegistry& registry);

/// The process-wide registry holding the builtin operators (built once,
/// thread-safe; read-only afterwards).
const OperatorRegistry& operator_registry();

/// operator_registry().make(spec).
torch::nn::AnyModule make_operator(const core::OperatorSpec& spec);

}  // namespace adascale::operators
