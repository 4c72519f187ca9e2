#include "operators/operator_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace adascale::operators {

int64_t make_divisible(double value, int64_t divisor) {
  auto rounded = std::max<int64_t>(
      divisor, int64_t(value + divisor / 2.0) / divisor * divisor);
  if (double(rounded) < 0.9 * value) rounded += divisor;
  return rounded;
}

int64_t hidden_channels(const core::OperatorSpec& spec, double base,
                        int64_t divisor) {
  return make_divisible(base * spec.width, divisor);
}

void require(bool ok, const core::OperatorSpec& spec, const std::string& what) {
  if (ok) return;
  throw ConfigError(fmt::format("operator '{}' ({}→{}, stride {}): {}",
                                spec.type, spec.in_channels, spec.out_channels,
                                spec.stride, what));
}

void require_common(const core::OperatorSpec& spec) {
  require(spec.in_channels > 0 && spec.out_channels > 0, spec,
          "in_channels and out_channels must be > 0");
  require(spec.stride >= 1 && spec.stride <= 4, spec, "stride must be in 1..4");
  require(spec.kernel >= 1 && spec.kernel % 2 == 1, spec,
          fmt::format("kernel must be odd, got {}", spec.kernel));
  require(spec.width > 0, spec, "width must be > 0");
}

}  // namespace adascale::operators
