#include "apps/demo/demo_config.h"

#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"

namespace adascale::demo {

DemoConfig load_demo_config(const std::optional<std::string>& path,
                            const std::vector<std::string>& sets) {
  config::Node tree;
  tree.kind = config::Node::Kind::kMap;
  if (path) tree = config::load_file(*path);
  for (const auto& assignment : sets) config::apply_override(tree, assignment);
  DemoConfig demo = config::Reader::read_struct<DemoConfig>(tree);
  // The rules that tie fields together (forecast.window against order, a
  // finite budget): the runtime names the field from its own root.
  try {
    runtime::validate_runtime_options(demo.runtime);
  } catch (const UsageError& e) {
    throw ConfigError(std::string("runtime.") + e.what());
  }
  return demo;
}

std::string to_yaml(const DemoConfig& config) {
  return config::to_yaml(config::Writer::write_struct(config));
}

}  // namespace adascale::demo
