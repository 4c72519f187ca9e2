#include "operators/operator_registry.h"

#include <fmt/format.h>

#include "core/error.h"

namespace adascale::operators {

void OperatorRegistry::add(const std::string& name, OperatorTraits traits,
                           OperatorFactory factory) {
  if (entries_.count(name)) {
    throw InternalError("operator '" + name + "' is registered twice");
  }
  entries_.emplace(name, Entry{std::move(traits), std::move(factory)});
}

const OperatorRegistry::Entry& OperatorRegistry::entry(
    const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    throw ConfigError(fmt::format("unknown operator '{}' (known: {})", name,
                                  fmt::join(names(), ", ")));
  }
  return it->second;
}

torch::nn::AnyModule OperatorRegistry::make(
    const core::OperatorSpec& spec) const {
  return entry(spec.type).factory(spec);
}

bool OperatorRegistry::contains(const std::string& name) const {
  return entries_.count(name) > 0;
}

const OperatorTraits& OperatorRegistry::traits(const std::string& name) const {
  return entry(name).traits;
}

std::vector<std::string> OperatorRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

const OperatorRegistry& operator_registry() {
  static const OperatorRegistry registry = [] {
    OperatorRegistry r;
    register_builtin_operators(r);
    return r;
  }();
  return registry;
}

torch::nn::AnyModule make_operator(const core::OperatorSpec& spec) {
  return operator_registry().make(spec);
}

}  // namespace adascale::operators
