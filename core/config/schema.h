#pragma once
/// Typed config structs describe their fields once, in a member template
///
///     template <typename V> void visit(V& v) {
///       v("batch_size", batch_size, check::positive<int>(), "images per
///       step");
///     }
///
/// and that one description drives both reading (Reader: types, checks,
/// unknown keys, errors with file:line and key path) and writing the
/// resolved config back (Writer). Supported field types: bool, int,
/// int64_t, double, std::string, enums that have spellings (below),
/// std::vector<T>, and nested structs that have their own visit().
///
/// An enum is a field type when a `spellings(E)` found beside it returns
/// each value with its config spelling:
///
///     enum class TrainMode { kFreeze, kFinetune };
///     constexpr std::array<std::pair<TrainMode, const char*>, 2>
///     spellings(TrainMode) { return {{{TrainMode::kFreeze, "freeze"}, ...}}; }
///
/// A value that is none of the spellings is a config error listing them,
/// and code switches over the enum, so a new choice cannot fall through.

#include <charconv>
#include <cstdint>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "core/config/checks.h"
#include "core/config/node.h"
#include "core/error.h"

namespace adascale::config {

template <typename T, typename = void>
struct IsStruct : std::false_type {};
template <typename T>
struct IsStruct<T, std::void_t<decltype(&T::template visit<int>)>>
    : std::true_type {};

template <typename E, typename = void>
struct HasSpellings : std::false_type {};
template <typename E>
struct HasSpellings<E, std::void_t<decltype(spellings(E{}))>>
    : std::is_enum<E> {};

/// The config spelling of `value` ("freeze" for TrainMode::kFreeze).
template <typename E>
std::enable_if_t<HasSpellings<E>::value, std::string> spelling(E value) {
  for (const auto& [v, name] : spellings(E{})) {
    if (v == value) return name;
  }
  throw InternalError("config enum value " +
                      std::to_string(static_cast<int>(value)) +
                      " has no spelling");
}

/// Every spelling of E, as "a|b|c".
template <typename E>
std::enable_if_t<HasSpellings<E>::value, std::string> spelling_list() {
  std::string all;
  for (const auto& entry : spellings(E{})) {
    all += (all.empty() ? "" : "|") + std::string(entry.second);
  }
  return all;
}

/// The value of E spelled `text`; false when none is.
template <typename E>
std::enable_if_t<HasSpellings<E>::value, bool> parse_spelling(
    const std::string& text, E& out) {
  for (const auto& [v, name] : spellings(E{})) {
    if (text == name) {
      out = v;
      return true;
    }
  }
  return false;
}

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

/// Reads a map node into a typed struct, field by field.
class Reader {
 public:
  Reader(const Node& node, std::string path)
      : node_(node), path_(std::move(path)) {
    if (node_.kind == Node::Kind::kNull) return;
    if (node_.kind != Node::Kind::kMap) {
      fail(node_, "expected a map of keys, got " + node_.describe());
    }
  }

  /// Reads `key` into `value` when present; keeps the default otherwise.
  template <typename T>
  void operator()(const char* key, T& value, Check<T> check = {},
                  const char* /*doc*/ = "") {
    seen_.insert(key);
    const Node* child = node_.find(key);
    if (child == nullptr) return;
    std::string path = join(key);
    read(*child, path, value);
    if (check) {
      std::string msg = check(value);
      if (!msg.empty()) fail_at(*child, path, msg + ", got " + shown(*child));
    }
  }

  template <typename T>
  void operator()(const char* key, T& value, const char* doc) {
    (*this)(key, value, Check<T>{}, doc);
  }

  /// Throws ConfigError for the first key no visit() asked for.
  void finish() const {
    for (const auto& [key, value] : node_.entries) {
      if (seen_.count(key)) continue;
      std::string known;
      for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
      fail_at(value, join(key), "unknown key (known here: " + known + ")");
    }
  }

  /// Reads a whole struct from a tree (top level: empty path).
  template <typename T>
  static T read_struct(const Node& node, const std::string& path = "") {
    T value{};
    read(node, path, value);
    return value;
  }

  [[noreturn]] static void fail_at(const Node& n, const std::string& path,
                                   const std::string& msg) {
    throw ConfigError(n.where.str() + ": " + (path.empty() ? "" : path + ": ") +
                      msg);
  }

 private:
  std::string join(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }
  [[noreturn]] void fail(const Node& n, const std::string& msg) const {
    fail_at(n, path_, msg);
  }
  static std::string shown(const Node& n) {
    if (n.kind == Node::Kind::kSequence) {
      std::string s = "[";
      for (size_t i = 0; i < n.items.size(); ++i) {
        s += (i ? ", " : "") + n.items[i].scalar;
      }
      return s + "]";
    }
    return n.describe();
  }

  static const Node& scalar(const Node& n, const std::string& path,
                            const char* expected) {
    if (n.kind != Node::Kind::kScalar) {
      fail_at(n, path,
              std::string("expected ") + expected + ", got " + n.describe());
    }
    return n;
  }

  static void read(const Node& n, const std::string& path, bool& out) {
    const std::string& s = scalar(n, path, "true or false").scalar;
    if (s == "true" || s == "True" || s == "yes" || s == "on") {
      out = true;
    } else if (s == "false" || s == "False" || s == "no" || s == "off") {
      out = false;
    } else {
      fail_at(n, path, "expected true or false, got '" + s + "'");
    }
  }

  template <typename I>
  static std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>
  read(const Node& n, const std::string& path, I& out) {
    const std::string& s = scalar(n, path, "an integer").scalar;
    I v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
      fail_at(n, path, "expected an integer, got '" + s + "'");
    }
    out = v;
  }

  static void read(const Node& n, const std::string& path, double& out) {
    const std::string& s = scalar(n, path, "a number").scalar;
    try {
      size_t used = 0;
      out = std::stod(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      fail_at(n, path, "expected a number, got '" + s + "'");
    }
  }

  static void read(const Node& n, const std::string& path, std::string& out) {
    out = scalar(n, path, "a string").scalar;
  }

  template <typename E>
  static std::enable_if_t<HasSpellings<E>::value> read(const Node& n,
                                                       const std::string& path,
                                                       E& out) {
    const std::string& s =
        scalar(n, path, ("one of " + spelling_list<E>()).c_str()).scalar;
    if (!parse_spelling(s, out)) {
      fail_at(n, path,
              "expected one of " + spelling_list<E>() + ", got '" + s + "'");
    }
  }

  template <typename T>
  static void read(const Node& n, const std::string& path,
                   std::vector<T>& out) {
    if (n.kind != Node::Kind::kSequence) {
      fail_at(n, path, "expected a list, got " + n.describe());
    }
    out.clear();
    for (size_t i = 0; i < n.items.size(); ++i) {
      T item{};
      read(n.items[i], path + "[" + std::to_string(i) + "]", item);
      out.push_back(std::move(item));
    }
  }

  template <typename T>
  static std::enable_if_t<IsStruct<T>::value> read(const Node& n,
                                                   const std::string& path,
                                                   T& out) {
    Reader r(n, path);
    out.visit(r);
    r.finish();
  }

  const Node& node_;
  std::string path_;
  std::set<std::string> seen_;
};

/// Writes a typed struct back into a tree (for the resolved config.yaml).
class Writer {
 public:
  Writer() { node_.kind = Node::Kind::kMap; }

  template <typename T, typename C>
  void operator()(const char* key, const T& value, const C& /*check*/,
                  const char* /*doc*/ = "") {
    node_.entries.emplace_back(key, make(value));
  }
  template <typename T>
  void operator()(const char* key, const T& value) {
    node_.entries.emplace_back(key, make(value));
  }

  /// The tree of a whole struct.
  template <typename T>
  static Node write_struct(const T& value) {
    return make(value);
  }

 private:
  static Node leaf(std::string text) {
    Node n;
    n.kind = Node::Kind::kScalar;
    n.scalar = std::move(text);
    return n;
  }
  static Node make(bool v) { return leaf(v ? "true" : "false"); }
  static Node make(const std::string& v) { return leaf(v); }
  template <typename E>
  static std::enable_if_t<HasSpellings<E>::value, Node> make(E v) {
    return leaf(spelling(v));
  }
  static Node make(double v) { return leaf(fmt::format("{}", v)); }
  template <typename I>
  static std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>,
                          Node>
  make(I v) {
    return leaf(std::to_string(v));
  }
  template <typename T>
  static Node make(const std::vector<T>& v) {
    Node n;
    n.kind = Node::Kind::kSequence;
    for (const auto& item : v) n.items.push_back(make(item));
    return n;
  }
  template <typename T>
  static std::enable_if_t<IsStruct<T>::value, Node> make(const T& value) {
    Writer w;
    T copy = value;  // visit() takes non-const references
    copy.visit(w);
    return w.node_;
  }

  Node node_;
};

}  // namespace adascale::config
