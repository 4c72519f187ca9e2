#include "core/variant.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace adascale::core {

namespace {
constexpr int kExitShift = 60;
constexpr int kChoiceBits = 6;
}  // namespace

VariantSpace::VariantSpace(const ModelSpec& spec) {
  if (!spec.elastic()) {
    throw ConfigError("model '" + spec.name + "' (architecture " +
                      spec.architecture +
                      ") has no variants: only the "
                      "elastic architecture does");
  }
  for (const StageSpec& stage : spec.stages) {
    std::vector<std::string> names;
    int backbone = 0;
    for (size_t c = 0; c < stage.candidates.size(); ++c) {
      names.push_back(stage.candidates[c].name);
      if (stage.candidates[c].name == stage.backbone) backbone = int(c);
    }
    names_.push_back(std::move(names));
    backbone_.push_back(backbone);
  }
}

size_t VariantSpace::size_at_exit(int exit) const {
  size_t n = 1;
  for (int s = 0; s <= exit; ++s) n *= names_.at(size_t(s)).size();
  return n;
}

size_t VariantSpace::size() const {
  size_t total = 0;
  for (size_t e = 0; e < names_.size(); ++e) total += size_at_exit(int(e));
  return total;
}

std::vector<Variant> VariantSpace::all() const {
  std::vector<Variant> out;
  out.reserve(size());
  for (int e = 0; e < int(names_.size()); ++e) {
    Variant v{e, std::vector<int>(size_t(e) + 1, 0)};
    while (true) {
      out.push_back(v);
      // Odometer over the choices, last stage fastest: keeps key order.
      int s = e;
      while (s >= 0 &&
             ++v.choices[size_t(s)] == int(names_[size_t(s)].size())) {
        v.choices[size_t(s)] = 0;
        --s;
      }
      if (s < 0) break;
    }
  }
  return out;
}

std::vector<Variant> VariantSpace::up_to_exit(int exits) const {
  exits = std::clamp(exits, 0, int(names_.size()));
  size_t n = 0;
  for (int e = 0; e < exits; ++e) n += size_at_exit(e);
  std::vector<Variant> out = all();
  out.resize(n);  // all() is ordered by exit
  return out;
}

Variant VariantSpace::along(const std::vector<int>& path, int exit) const {
  if (exit < 0 || size_t(exit) >= path.size()) {
    throw UsageError(fmt::format("no exit {} along a path of {} stages",
                                 exit + 1, path.size()));
  }
  Variant v{exit, std::vector<int>(path.begin(), path.begin() + exit + 1)};
  check(v);
  return v;
}

Variant VariantSpace::trunk(int exit) const {
  check(Variant{exit, std::vector<int>(size_t(std::max(exit, 0)) + 1, 0)});
  return Variant{
      exit, std::vector<int>(backbone_.begin(), backbone_.begin() + exit + 1)};
}

std::string VariantSpace::to_string(const Variant& v) const {
  check(v);
  std::string text = fmt::format("e{}:", v.exit + 1);
  for (size_t s = 0; s < v.choices.size(); ++s) {
    if (s) text += '.';
    text += names_[s][size_t(v.choices[s])];
  }
  return text;
}

Variant VariantSpace::parse(const std::string& text) const {
  auto bad = [&](const std::string& why) {
    throw UsageError("variant '" + text + "': " + why);
  };
  size_t colon = text.find(':');
  if (text.size() < 3 || text[0] != 'e' || colon == std::string::npos) {
    bad("expected e<exit>:<choice>.<choice>..., e.g. e2:" + names_[0][0] + "." +
        names_.at(std::min<size_t>(1, names_.size() - 1))[0]);
  }
  int exit = 0;
  try {
    size_t used = 0;
    exit = std::stoi(text.substr(1, colon - 1), &used) - 1;
    if (used != colon - 1) throw std::invalid_argument("");
  } catch (const std::exception&) {
    bad("the exit '" + text.substr(1, colon - 1) + "' is not a number");
  }
  if (exit < 0 || exit >= int(names_.size())) {
    bad(fmt::format("exit must be in 1..{}", names_.size()));
  }
  std::vector<std::string> parts;
  size_t start = colon + 1;
  while (true) {
    size_t dot = text.find('.', start);
    parts.push_back(text.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (int(parts.size()) != exit + 1) {
    bad(fmt::format("exit {} needs {} choices, got {}", exit + 1, exit + 1,
                    parts.size()));
  }
  Variant v{exit, {}};
  for (size_t s = 0; s < parts.size(); ++s) {
    const auto& names = names_[s];
    auto it = std::find(names.begin(), names.end(), parts[s]);
    if (it == names.end()) {
      bad(fmt::format("stage {} has no candidate '{}' (candidates: {})", s + 1,
                      parts[s], fmt::join(names, ", ")));
    }
    v.choices.push_back(int(it - names.begin()));
  }
  return v;
}

void VariantSpace::check(const Variant& v) const {
  if (v.exit < 0 || v.exit >= int(names_.size())) {
    throw UsageError(fmt::format("variant exit {} out of range 1..{}",
                                 v.exit + 1, names_.size()));
  }
  if (v.choices.size() != size_t(v.exit) + 1) {
    throw UsageError(fmt::format("variant for exit {} needs {} choices, got {}",
                                 v.exit + 1, v.exit + 1, v.choices.size()));
  }
  for (size_t s = 0; s < v.choices.size(); ++s) {
    if (v.choices[s] < 0 || v.choices[s] >= int(names_[s].size())) {
      throw UsageError(
          fmt::format("variant choice {} at stage {} out of "
                      "range 0..{}",
                      v.choices[s], s + 1, names_[s].size() - 1));
    }
  }
}

uint64_t VariantSpace::pack(const Variant& v) const {
  check(v);
  uint64_t key = uint64_t(v.exit) << kExitShift;
  for (size_t s = 0; s < v.choices.size(); ++s) {
    int shift = kExitShift - kChoiceBits * int(s + 1);
    key |= uint64_t(v.choices[s]) << shift;
  }
  return key;
}

Variant VariantSpace::unpack(uint64_t key) const {
  Variant v{int(key >> kExitShift), {}};
  for (int s = 0; s <= v.exit && s < int(names_.size()); ++s) {
    int shift = kExitShift - kChoiceBits * (s + 1);
    v.choices.push_back(int((key >> shift) & ((1u << kChoiceBits) - 1)));
  }
  check(v);
  return v;
}

}  // namespace adascale::core
