#pragma once
/// Checks shared by the zoo models.

#include <string>

#include "core/model_spec.h"

namespace adascale::operators::zoo {

/// Throws ConfigError "model '<name>' (<architecture>): <what>" unless `ok`.
void require(bool ok, const core::ModelSpec& spec, const std::string& what);

/// The checks every zoo model shares: in_channels, classes > 0, dropout in
/// [0, 1), width > 0; and width == 1 unless `has_width`.
void require_common(const core::ModelSpec& spec, bool has_width);

}  // namespace adascale::operators::zoo
