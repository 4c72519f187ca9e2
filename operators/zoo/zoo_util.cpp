#include "operators/zoo/zoo_util.h"

#include <fmt/format.h>

#include "core/error.h"

namespace adascale::operators::zoo {

void require(bool ok, const core::ModelSpec& spec, const std::string& what) {
  if (ok) return;
  throw ConfigError(
      fmt::format("model '{}' ({}): {}", spec.name, spec.architecture, what));
}

void require_common(const core::ModelSpec& spec, bool has_width) {
  require(spec.in_channels > 0, spec, "in_channels must be > 0");
  require(spec.classes > 0, spec, "classes must be > 0");
  require(spec.dropout >= 0 && spec.dropout < 1, spec,
          "dropout must be in [0, 1)");
  require(spec.width > 0, spec, "width must be > 0");
  // Silently ignoring a width would make a sweep report identical models.
  require(has_width || spec.width == 1.0, spec,
          fmt::format("this architecture has no width multiplier; width must "
                      "be 1, got {}",
                      spec.width));
}

}  // namespace adascale::operators::zoo
