#pragma once
/// Value checks for config fields. A check returns an empty string when the
/// value is fine, else what is wrong ("must be > 0"); the reader adds the
/// file, line, key path and the value found.

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace adascale::config {

/// A field check: empty string = ok, else the complaint.
template <typename T>
using Check = std::function<std::string(const T&)>;

namespace check {

template <typename T>
Check<T> positive() {
  return [](const T& v) { return v > T(0) ? "" : std::string("must be > 0"); };
}

template <typename T>
Check<T> at_least(T lo) {
  return [lo](const T& v) {
    return v >= lo ? std::string() : fmt::format("must be >= {}", lo);
  };
}

template <typename T>
Check<T> in_range(T lo, T hi) {
  return [lo, hi](const T& v) {
    return (v >= lo && v <= hi) ? std::string()
                                : fmt::format("must be in [{}, {}]", lo, hi);
  };
}

/// The number must be finite (neither inf nor nan) and pass `then`, if
/// given: finite(positive<double>()) for a time that must end.
inline Check<double> finite(Check<double> then = {}) {
  return [then](const double& v) {
    if (!std::isfinite(v)) return std::string("must be a finite number");
    return then ? then(v) : std::string();
  };
}

/// The value must be one of `allowed`.
inline Check<std::string> one_of(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) {
    for (const auto& a : allowed) {
      if (a == v) return std::string();
    }
    return fmt::format("expected one of {}", fmt::join(allowed, "|"));
  };
}

/// Every element of a list must pass `each`.
template <typename T>
Check<std::vector<T>> each(Check<T> inner) {
  return [inner](const std::vector<T>& v) {
    for (size_t i = 0; i < v.size(); ++i) {
      std::string msg = inner(v[i]);
      if (!msg.empty()) return fmt::format("item {} {}", i, msg);
    }
    return std::string();
  };
}

/// The list must have exactly `n` elements, or be empty when `or_empty`.
template <typename T>
Check<std::vector<T>> size_is(size_t n, bool or_empty = false) {
  return [n, or_empty](const std::vector<T>& v) {
    if (v.size() == n || (or_empty && v.empty())) return std::string();
    return fmt::format("expected {} values{}, got {}", n,
                       or_empty ? " (or none)" : "", v.size());
  };
}

}  // namespace check
}  // namespace adascale::config
