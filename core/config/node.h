#pragma once
/// The config tree: what a YAML file says, with the file and line of every
/// value, after `include:` files are merged and `--set` overrides applied.
/// It stays inside the config parser: typed structs come out of it (see
/// reader.h) and no YAML type travels further.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace adascale::config {

/// Where a value came from: a file and line, or a `--set` override.
struct Location {
  std::string file;  ///< file path, or "--set key=value" for overrides
  int line = 0;      ///< 1-based; 0 when there is no line
  /// "file:line" (or just "file" without a line).
  std::string str() const;
};

/// One node of the config tree.
struct Node {
  enum class Kind { kNull, kScalar, kMap, kSequence };

  Kind kind = Kind::kNull;
  std::string scalar;                                 ///< kScalar: the text
  std::vector<std::pair<std::string, Node>> entries;  ///< kMap, file order
  std::vector<Node> items;                            ///< kSequence
  Location where;                                     ///< where the value is

  /// The value under `key` of a map, or nullptr.
  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);
  /// A short description of the value for error messages: "'abc'", "a map".
  std::string describe() const;
};

/// Parses YAML text; `source` names it in errors. Throws ConfigError.
Node parse_yaml(const std::string& text, const std::string& source);

/// Loads a config file, merging the files named by its `include:` key (a path
/// or a list of paths, relative to the including file) underneath it: maps
/// merge key by key, the including file wins on scalars and sequences. A map
/// at any depth may `include:` too (`model: {include: ../models/x.yaml}`);
/// the files then merge underneath that map.
/// Throws ConfigError (missing file, syntax, include cycle).
Node load_file(const std::string& path);

/// Merges `over` into `base` as load_file() merges includes.
void merge_into(Node& base, const Node& over);

/// Applies one `key.path=value` override (value parsed as YAML; numeric
/// components index sequences). Missing maps are created, so a misspelt key
/// surfaces as an unknown key when the tree is read. Throws ConfigError.
void apply_override(Node& root, const std::string& assignment);

/// Serialises a tree back to YAML text.
std::string to_yaml(const Node& node);

}  // namespace adascale::config
