#include "core/config/node.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"

namespace adascale::config {
namespace fs = std::filesystem;

std::string Location::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

const Node* Node::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

Node* Node::find(std::string_view key) {
  for (auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string Node::describe() const {
  switch (kind) {
    case Kind::kNull:
      return "an empty value";
    case Kind::kScalar:
      return "'" + scalar + "'";
    case Kind::kMap:
      return "a map";
    case Kind::kSequence:
      return "a list";
  }
  return "?";
}

namespace {

// Far above any real config (the largest shipped one is a few KiB), far
// below what would hurt: reading /dev/zero or a runaway generated file
// stops here instead of at std::bad_alloc.
constexpr std::streamsize kMaxConfigBytes = 4 << 20;
// YAML aliases share one parsed node, but the tree built here copies every
// use: nested aliases ("billion laughs") multiply a few hundred bytes into
// billions of nodes. No honest config comes near this many.
constexpr int64_t kMaxConfigNodes = 1 << 18;
// Text the tree may hold (scalars and keys), aliases expanded: a few
// aliases of one long scalar would pass the node limit yet copy gigabytes
// (a seed shape of fuzz/config_fuzz). Four files' worth of text.
constexpr int64_t kMaxConfigTreeBytes = int64_t(4) * kMaxConfigBytes;
// Nesting depth of a config tree. A YAML alias inside its own anchor
// (`a: &a [*a]`) makes yaml-cpp's node graph a cycle, which copying it
// out recursed through until the stack overflowed (found by
// fuzz/manifest_fuzz). Real configs nest a few levels.
constexpr int kMaxConfigDepth = 64;
// Files one load_file() may read, includes included: a list naming one
// file thousands of times multiplies it without a cycle.
constexpr int kMaxConfigFiles = 256;

// What is left to one parse, or to one load_file() and every file it
// includes, so that includes cannot multiply it.
struct TreeBudget {
  int64_t nodes = kMaxConfigNodes;
  int64_t bytes = kMaxConfigTreeBytes;
};
struct LoadBudget {
  TreeBudget tree;
  int files = kMaxConfigFiles;
};
thread_local LoadBudget* active_budget = nullptr;

// Charges `text` (a scalar or key about to be copied into the tree).
void charge_text(const std::string& text, const std::string& source,
                 TreeBudget& budget) {
  budget.bytes -= int64_t(text.size());
  if (budget.bytes < 0) {
    throw ConfigError(fmt::format(
        "{}: more than {} MiB of text once YAML aliases are expanded (an "
        "alias bomb?); refusing to expand it",
        source, kMaxConfigTreeBytes >> 20));
  }
}

Node convert(const YAML::Node& y, const std::string& source, TreeBudget& budget,
             int depth = 0) {
  if (depth > kMaxConfigDepth) {
    throw ConfigError(fmt::format(
        "{}: values nested more than {} levels deep (a YAML alias inside "
        "its own anchor?)",
        Location{source, y.Mark().is_null() ? 0 : y.Mark().line + 1}.str(),
        kMaxConfigDepth));
  }
  if (--budget.nodes < 0) {
    throw ConfigError(fmt::format(
        "{}: more than {} values once YAML aliases are expanded (an alias "
        "bomb?); refusing to expand it",
        source, kMaxConfigNodes));
  }
  Node n;
  n.where = {source, y.Mark().is_null() ? 0 : y.Mark().line + 1};
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n.kind = Node::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      n.kind = Node::Kind::kScalar;
      charge_text(y.Scalar(), source, budget);
      n.scalar = y.Scalar();
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::Kind::kSequence;
      for (const auto& item : y) {
        n.items.push_back(convert(item, source, budget, depth + 1));
      }
      break;
    case YAML::NodeType::Map:
      n.kind = Node::Kind::kMap;
      for (const auto& kv : y) {
        if (!kv.first.IsScalar()) {
          throw ConfigError(Location{source, kv.first.Mark().line + 1}.str() +
                            ": map keys must be plain names");
        }
        charge_text(kv.first.Scalar(), source, budget);
        std::string key = kv.first.Scalar();
        if (n.find(key) != nullptr) {
          throw ConfigError(Location{source, kv.first.Mark().line + 1}.str() +
                            ": duplicate key '" + key + "'");
        }
        Node value = convert(kv.second, source, budget, depth + 1);
        if (value.where.line == 0) value.where.line = kv.first.Mark().line + 1;
        n.entries.emplace_back(std::move(key), std::move(value));
      }
      break;
  }
  return n;
}

std::vector<std::string> include_paths(const Node& inc, const fs::path& dir) {
  std::vector<std::string> out;
  auto add = [&](const Node& p) {
    if (p.kind != Node::Kind::kScalar) {
      throw ConfigError(p.where.str() +
                        ": include: expected a file path, got " + p.describe());
    }
    fs::path path(p.scalar);
    out.push_back((path.is_absolute() ? path : dir / path).string());
  };
  if (inc.kind == Node::Kind::kSequence) {
    for (const auto& item : inc.items) add(item);
  } else {
    add(inc);
  }
  return out;
}

Node load_recursive(const std::string& path, std::vector<std::string>& stack);

/// Expands `include:` in `node` and in every map beneath it: the named files
/// are merged underneath the map, which wins. `dir` resolves relative paths
/// (the directory of the file `node` came from).
void expand_includes(Node& node, const fs::path& dir,
                     std::vector<std::string>& stack) {
  for (auto& item : node.items) expand_includes(item, dir, stack);
  if (node.kind != Node::Kind::kMap) return;
  for (auto& entry : node.entries) {
    if (entry.first != "include") expand_includes(entry.second, dir, stack);
  }
  auto inc = std::find_if(node.entries.begin(), node.entries.end(),
                          [](const auto& kv) { return kv.first == "include"; });
  if (inc == node.entries.end()) return;
  Node merged;
  merged.kind = Node::Kind::kMap;
  merged.where = node.where;
  for (const auto& p : include_paths(inc->second, dir)) {
    merge_into(merged, load_recursive(p, stack));
  }
  node.entries.erase(inc);
  merge_into(merged, node);
  node = std::move(merged);
}

Node load_recursive(const std::string& path, std::vector<std::string>& stack) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(path, ec);
  std::string key = ec ? path : canonical.string();
  for (const auto& s : stack) {
    if (s == key) throw ConfigError(path + ": include cycle");
  }
  if (active_budget != nullptr && --active_budget->files < 0) {
    throw ConfigError(fmt::format(
        "{}: more than {} config files included; refusing to read more", path,
        kMaxConfigFiles));
  }
  // A directory opens as a stream that reads as empty: it would pass for a
  // config of defaults.
  if (fs::is_directory(path, ec)) {
    throw ConfigError(path + ": is a directory, not a config file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open config file");
  // Read in pieces up to the limit: a buffer of the limit's size per file
  // made a config including 256 small files allocate and clear 1 GiB
  // (found by fuzz/config_fuzz as a 30-second input).
  std::string text;
  char piece[1 << 16];
  while (in.read(piece, sizeof piece) || in.gcount() > 0) {
    text.append(piece, size_t(in.gcount()));
    if (std::streamsize(text.size()) > kMaxConfigBytes) {
      throw ConfigError(fmt::format("{}: larger than {} MiB; not a config file",
                                    path, kMaxConfigBytes >> 20));
    }
  }
  if (in.bad()) throw ConfigError(path + ": cannot read config file");
  Node own = parse_yaml(text, path);
  if (own.kind == Node::Kind::kNull) own.kind = Node::Kind::kMap;
  if (own.kind != Node::Kind::kMap) {
    throw ConfigError(path + ": a config file must be a map of keys, got " +
                      own.describe());
  }
  stack.push_back(key);
  expand_includes(own, fs::path(path).parent_path(), stack);
  stack.pop_back();
  return own;
}

void emit(YAML::Emitter& out, const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull:
      out << YAML::Null;
      break;
    case Node::Kind::kScalar:
      out << n.scalar;
      break;
    case Node::Kind::kSequence: {
      bool flow = std::all_of(
          n.items.begin(), n.items.end(),
          [](const Node& i) { return i.kind == Node::Kind::kScalar; });
      if (flow) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& i : n.items) emit(out, i);
      out << YAML::EndSeq;
      break;
    }
    case Node::Kind::kMap:
      out << YAML::BeginMap;
      for (const auto& [k, v] : n.entries) {
        out << YAML::Key << k << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      break;
  }
}

}  // namespace

Node parse_yaml(const std::string& text, const std::string& source) {
  if (std::streamsize(text.size()) > kMaxConfigBytes) {
    throw ConfigError(fmt::format("{}: larger than {} MiB; not a config",
                                  source, kMaxConfigBytes >> 20));
  }
  TreeBudget own_budget;
  TreeBudget& budget =
      active_budget != nullptr ? active_budget->tree : own_budget;
  try {
    return convert(YAML::Load(text), source, budget);
  } catch (const YAML::Exception& e) {
    throw ConfigError(Location{source, e.mark.line + 1}.str() +
                      ": YAML syntax error: " + e.msg);
  }
}

Node load_file(const std::string& path) {
  std::vector<std::string> stack;
  LoadBudget budget;
  LoadBudget* outer = active_budget;
  active_budget = &budget;
  struct Restore {
    LoadBudget* outer;
    ~Restore() { active_budget = outer; }
  } restore{outer};
  return load_recursive(path, stack);
}

void merge_into(Node& base, const Node& over) {
  if (base.kind != Node::Kind::kMap || over.kind != Node::Kind::kMap) {
    base = over;
    return;
  }
  for (const auto& [key, value] : over.entries) {
    if (Node* existing = base.find(key)) {
      merge_into(*existing, value);
    } else {
      base.entries.emplace_back(key, value);
    }
  }
}

void apply_override(Node& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + assignment +
                      ": expected key.path=value, got no '='");
  }
  std::string path = assignment.substr(0, eq);
  Location where{"--set " + assignment, 0};
  Node value = parse_yaml(assignment.substr(eq + 1), where.file);
  value.where = where;

  Node* cur = &root;
  if (cur->kind == Node::Kind::kNull) cur->kind = Node::Kind::kMap;
  // `stages[1].lr`, the form errors print paths in, means `stages.1.lr`.
  for (size_t open = path.find('['); open != std::string::npos;
       open = path.find('[', open)) {
    const size_t close = path.find(']', open);
    if (close == std::string::npos || close == open + 1) {
      throw ConfigError(where.file + ": unmatched or empty '[' in key path '" +
                        assignment.substr(0, eq) + "'");
    }
    const bool more = close + 1 < path.size();
    if (more && path[close + 1] != '.' && path[close + 1] != '[') {
      throw ConfigError(where.file + ": expected '.' after ']' in key path '" +
                        assignment.substr(0, eq) + "'");
    }
    path = path.substr(0, open) + "." +
           path.substr(open + 1, close - open - 1) + path.substr(close + 1);
  }
  std::stringstream parts(path);
  std::string part;
  std::vector<std::string> comps;
  while (std::getline(parts, part, '.')) {
    if (part.empty()) {
      throw ConfigError(where.file + ": empty component in key path '" + path +
                        "'");
    }
    comps.push_back(part);
  }
  for (size_t i = 0; i < comps.size(); ++i) {
    const std::string& c = comps[i];
    Node* next = nullptr;
    if (cur->kind == Node::Kind::kSequence) {
      size_t idx = 0;
      try {
        size_t used = 0;
        idx = std::stoul(c, &used);
        if (used != c.size()) throw std::invalid_argument(c);
      } catch (const std::exception&) {
        throw ConfigError(where.file + ": '" + c +
                          "' indexes a list, expected a number");
      }
      if (idx >= cur->items.size()) {
        throw ConfigError(where.file + ": index " + c + " is past the list (" +
                          std::to_string(cur->items.size()) + " items)");
      }
      next = &cur->items[idx];
    } else {
      if (cur->kind != Node::Kind::kMap) {
        cur->kind = Node::Kind::kMap;
        cur->scalar.clear();
      }
      next = cur->find(c);
      if (next == nullptr) {
        Node fresh;
        fresh.kind = Node::Kind::kMap;
        fresh.where = where;
        cur->entries.emplace_back(c, std::move(fresh));
        next = &cur->entries.back().second;
      }
    }
    cur = next;
  }
  *cur = std::move(value);
}

std::string to_yaml(const Node& node) {
  YAML::Emitter out;
  emit(out, node);
  return std::string(out.c_str()) + "\n";
}

}  // namespace adascale::config
