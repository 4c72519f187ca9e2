#pragma once
/// Hostile YAML shared by the tests of every reader that takes a config
/// file (core/config, bundle manifests, load traces).

#include <string>

namespace adascale::testing {

/// "Billion laughs": 413 bytes that expand to 10^9 scalars when every alias
/// is copied; the expansion is the value of `top_key`.
inline std::string billion_laughs(const std::string& top_key) {
  std::string y = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  const std::string names = "abcdefghi";
  for (size_t i = 1; i < names.size(); ++i) {
    const std::string prev = std::string("*") + names[i - 1];
    y += std::string(1, names[i]) + ": &" + names[i] + " [";
    for (int k = 0; k < 10; ++k) y += (k ? ", " : "") + prev;
    y += "]\n";
  }
  return y + top_key + ": *i\n";
}

}  // namespace adascale::testing
