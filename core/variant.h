#pragma once
/// A variant (path) of the elastic net, DESIGN §3.2: exit k plus the
/// candidate chosen at each stage 1..k. An immutable value passed to
/// forward(x, variant); never state stored in modules.

#include <cstdint>
#include <string>
#include <vector>

#include "core/model_spec.h"

namespace adascale::core {

/// Exit index (0-based) and one candidate index per stage up to that exit.
struct Variant {
  int exit = 0;
  std::vector<int> choices;  ///< size exit + 1

  bool operator==(const Variant& o) const {
    return exit == o.exit && choices == o.choices;
  }
  bool operator!=(const Variant& o) const { return !(*this == o); }
};

/// All variants of one elastic spec, their readable ids and packed keys.
///
/// Text form: `e<exit, 1-based>:<name>.<name>...`, for example
/// `e3:basic.ghost.dws`. Packed key: exit in bits 60..63, stage i's choice
/// in bits 54-6i..59-6i, so keys sort by exit, then by choices in stage
/// order (the order of all()).
class VariantSpace {
 public:
  /// Throws ConfigError when the spec is not an elastic net.
  explicit VariantSpace(const ModelSpec& spec);

  size_t stages() const { return names_.size(); }
  /// Number of variants: Σ_k Π_{i≤k} candidates_i.
  size_t size() const;
  /// Number of variants ending at exit `exit`.
  size_t size_at_exit(int exit) const;
  /// Every variant, in packed-key order.
  std::vector<Variant> all() const;
  /// The variants that end before exit `exits` (0-based count): those a
  /// run has trained once its first `exits` stages are done. They are the
  /// first elements of all(), in the same order.
  std::vector<Variant> up_to_exit(int exits) const;
  /// The trunk (backbone choices) up to exit `exit`.
  Variant trunk(int exit) const;
  /// The variant that follows `path` (one choice per stage, e.g. the trunk
  /// a run trained) to exit `exit`. Throws UsageError when `path` does not
  /// reach that exit or is not of this space.
  Variant along(const std::vector<int>& path, int exit) const;
  /// Candidate names of stage `stage`.
  const std::vector<std::string>& candidates(size_t stage) const {
    return names_.at(stage);
  }

  std::string to_string(const Variant& v) const;
  /// Parses an id; throws UsageError naming the bad part and the choices.
  Variant parse(const std::string& text) const;
  /// Throws UsageError unless `v` is a variant of this space.
  void check(const Variant& v) const;

  uint64_t pack(const Variant& v) const;
  Variant unpack(uint64_t key) const;

 private:
  std::vector<std::vector<std::string>> names_;
  std::vector<int> backbone_;
};

}  // namespace adascale::core
