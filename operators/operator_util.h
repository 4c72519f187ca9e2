#pragma once
/// Small helpers shared by the operator implementations.

#include <cstdint>
#include <string>

#include "core/operator_spec.h"

namespace adascale::operators {

/// Rounds `value` to the nearest multiple of `divisor` (at least `divisor`),
/// never more than 10% below `value`: MobileNet's _make_divisible.
int64_t make_divisible(double value, int64_t divisor = 8);

/// `base` channels scaled by the spec's width multiplier, made divisible.
int64_t hidden_channels(const core::OperatorSpec& spec, double base,
                        int64_t divisor = 8);

/// Throws ConfigError "operator '<type>' (<in>→<out>, stride s): <what>"
/// unless `ok`.
void require(bool ok, const core::OperatorSpec& spec, const std::string& what);

/// The checks every operator shares: positive channels, stride 1..4, odd
/// kernel.
void require_common(const core::OperatorSpec& spec);

}  // namespace adascale::operators
