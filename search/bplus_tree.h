#pragma once
/// A generic, header-only B+ tree with multimap semantics: the index behind
/// the performance tables of the search module.
///
/// The search keeps tables of model variants keyed by a predicted cost
/// (latency, energy) and asks constraint queries such as "all variants with
/// latency <= T" or "the cheapest variant with energy >= E". A B+ tree answers
/// each with one O(log n) descent plus a walk along its chained leaves, keeps
/// entries in sorted contiguous arrays (cache friendly), and stays balanced
/// under incremental inserts and erases as tables are refined. Many variants
/// share a predicted cost, so equal keys are allowed and keep their insertion
/// order, exactly as in std::multimap.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace adascale::search {

/// White-box test hook: tests define it to corrupt a tree on purpose and see
/// that check_invariants() notices. Library code never defines it.
struct BPlusTreeTestAccess;

/// A B+ tree mapping `Key` to `Value` with multimap semantics, ordered by
/// `Compare` (a strict weak order). `order` is the most children an inner
/// node and the most entries a leaf may hold; every node but the root holds at
/// least ceil(order / 2). Entries live in the leaves, which are chained both
/// ways; inner nodes hold separator keys only.
///
/// Equal keys keep insertion order (a new one goes after the existing equal
/// keys). erase() compares values with `operator==`. Any insert, erase,
/// bulk_load or clear invalidates every iterator and range. In builds without
/// NDEBUG every mutating call ends with check_invariants(). If copying a key
/// or value, or allocating, throws inside insert() or erase(), the tree is
/// only fit to be cleared or destroyed; bulk_load() then leaves it empty.
/// Not thread-safe for concurrent mutation; const calls may run concurrently.
template <class Key, class Value, class Compare = std::less<Key>>
class BPlusTree {
 private:
  struct Node {
    explicit Node(bool leaf) : is_leaf(leaf) {}
    virtual ~Node() = default;
    const bool is_leaf;
  };

  using Entry = std::pair<Key, Value>;

  // Sorted entries, and the neighbours in key order.
  struct Leaf final : Node {
    Leaf() : Node(true) {}
    std::vector<Entry> entries;
    Leaf* next = nullptr;
    Leaf* prev = nullptr;
  };

  // children.size() == keys.size() + 1. Every key in children[i] lies in the
  // closed interval [keys[i - 1], keys[i]] (unbounded at the ends): with
  // duplicates, a key equal to a separator may sit on either side of it.
  struct Inner final : Node {
    Inner() : Node(false) {}
    std::vector<Key> keys;
    std::vector<std::unique_ptr<Node>> children;
  };

  // One step of a root-to-leaf descent: `node`'s child `child` was taken.
  struct PathStep {
    Inner* node;
    std::size_t child;
  };

 public:
  /// The key type.
  using key_type = Key;
  /// The value type stored with each key.
  using mapped_type = Value;
  /// What iteration yields: a (key, value) pair.
  using value_type = Entry;
  /// Unsigned size type.
  using size_type = std::size_t;
  /// The key ordering.
  using key_compare = Compare;

  /// The smallest order accepted.
  static constexpr int kMinOrder = 3;
  /// The order used when none is given.
  static constexpr int kDefaultOrder = 32;

  /// A forward iterator over (key, value) pairs in key order (equal keys in
  /// insertion order), walking the leaf chain. Read-only: keys cannot change
  /// in place. A default-constructed iterator equals end().
  class const_iterator {
   public:
    /// Forward traversal only.
    using iterator_category = std::forward_iterator_tag;
    /// A (key, value) pair.
    using value_type = Entry;
    /// Signed distance type.
    using difference_type = std::ptrdiff_t;
    /// Pointer to an entry.
    using pointer = const Entry*;
    /// Reference to an entry.
    using reference = const Entry&;

    /// An iterator equal to end().
    const_iterator() = default;

    /// The current (key, value) pair.
    reference operator*() const { return leaf_->entries[index_]; }
    /// Member access to the current pair (`it->first`, `it->second`).
    pointer operator->() const { return &leaf_->entries[index_]; }

    /// Advances to the next entry, following the leaf chain.
    const_iterator& operator++() {
      if (++index_ == leaf_->entries.size()) {
        leaf_ = leaf_->next;
        index_ = 0;
      }
      return *this;
    }
    /// Advances, returning the previous position.
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }

    /// Whether both iterators point at the same entry (or both at end()).
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.leaf_ == b.leaf_ && a.index_ == b.index_;
    }
    /// Negation of ==.
    friend bool operator!=(const const_iterator& a, const const_iterator& b) {
      return !(a == b);
    }

   private:
    friend class BPlusTree;
    // Past a leaf's last entry means the next leaf's first (non-root leaves
    // are never empty), so every position has one representation.
    const_iterator(const Leaf* leaf, std::size_t index)
        : leaf_(leaf), index_(index) {
      if (leaf_ != nullptr && index_ == leaf_->entries.size()) {
        leaf_ = leaf_->next;
        index_ = 0;
      }
    }

    const Leaf* leaf_ = nullptr;
    std::size_t index_ = 0;
  };

  /// Iteration is read-only, so iterator and const_iterator coincide.
  using iterator = const_iterator;

  /// A half-open pair of iterators usable in range-for; see range().
  class Range {
   public:
    /// The first entry of the range.
    const_iterator begin() const { return first_; }
    /// One past the last entry of the range.
    const_iterator end() const { return last_; }
    /// Whether the range holds no entry.
    bool empty() const { return first_ == last_; }

   private:
    friend class BPlusTree;
    Range(const_iterator first, const_iterator last)
        : first_(first), last_(last) {}

    const_iterator first_;
    const_iterator last_;
  };

  /// An empty tree of the given order (most children per inner node, most
  /// entries per leaf). Throws std::invalid_argument when order < 3.
  explicit BPlusTree(int order = kDefaultOrder, const Compare& comp = Compare())
      : order_(checked_order(order)),
        min_fill_((order_ + 1) / 2),
        comp_(comp) {}

  /// A copy with the same entries, order and comparator; the copy is rebuilt
  /// by bulk_load(), so its node layout may differ.
  BPlusTree(const BPlusTree& other)
      : order_(other.order_), min_fill_(other.min_fill_), comp_(other.comp_) {
    bulk_load(std::vector<Entry>(other.begin(), other.end()));
  }

  /// Takes other's nodes; other is left empty (same order and comparator).
  BPlusTree(BPlusTree&& other) noexcept(
      std::is_nothrow_copy_constructible_v<Compare>)
      : order_(other.order_), min_fill_(other.min_fill_), comp_(other.comp_) {
    swap_nodes(other);
  }

  /// Copy assignment (see the copy constructor).
  BPlusTree& operator=(const BPlusTree& other) {
    if (this != &other) {
      BPlusTree copy(other);
      swap(copy);
    }
    return *this;
  }

  /// Move assignment; other ends up with this tree's former entries.
  BPlusTree& operator=(BPlusTree&& other) noexcept(
      std::is_nothrow_swappable_v<Compare>) {
    swap(other);
    return *this;
  }

  ~BPlusTree() = default;

  /// Exchanges contents, order and comparator with other.
  void swap(BPlusTree& other) noexcept(std::is_nothrow_swappable_v<Compare>) {
    using std::swap;
    swap(order_, other.order_);
    swap(min_fill_, other.min_fill_);
    swap(comp_, other.comp_);
    swap_nodes(other);
  }

  /// Inserts (key, value) after any entries with an equal key.
  void insert(const Key& key, const Value& value) {
    if (root_ == nullptr) {
      auto leaf = new_leaf();
      leaf->entries.emplace_back(key, value);
      first_leaf_ = last_leaf_ = leaf.get();
      root_ = std::move(leaf);
      size_ = 1;
      height_ = 1;
      debug_check();
      return;
    }
    path_.clear();
    Node* node = root_.get();
    while (!node->is_leaf) {
      auto* inner = static_cast<Inner*>(node);
      std::size_t i = upper_index(inner->keys, key);
      path_.push_back({inner, i});
      node = inner->children[i].get();
    }
    auto* leaf = static_cast<Leaf*>(node);
    leaf->entries.emplace(leaf->entries.begin() + leaf_upper(*leaf, key), key,
                          value);
    ++size_;
    if (leaf->entries.size() > order_) split_leaf(leaf);
    debug_check();
  }

  /// Erases the first entry (in iteration order) whose key is equivalent to
  /// `key` and whose value == `value`. Returns whether one was found.
  bool erase(const Key& key, const Value& value) {
    if (root_ == nullptr) return false;
    Leaf* leaf = descend_with_path(key);
    std::size_t i = leaf_lower(*leaf, key);
    while (true) {
      if (i == leaf->entries.size()) {
        leaf = next_leaf_on_path();
        if (leaf == nullptr) return false;
        i = 0;
      }
      const Entry& entry = leaf->entries[i];
      if (comp_(key, entry.first)) return false;  // Past the equal keys.
      if (entry.second == value) break;
      ++i;
    }
    leaf->entries.erase(leaf->entries.begin() + i);
    --size_;
    rebalance_leaf(leaf);
    debug_check();
    return true;
  }

  /// Erases every entry whose key is equivalent to `key`; returns how many.
  std::size_t erase_key(const Key& key) {
    std::size_t erased = 0;
    // Each round removes one leaf's run of equal keys, then rebalances.
    while (root_ != nullptr) {
      Leaf* leaf = descend_with_path(key);
      std::size_t first = leaf_lower(*leaf, key);
      if (first == leaf->entries.size()) {
        leaf = next_leaf_on_path();
        if (leaf == nullptr) break;
        first = 0;
      }
      std::size_t last = leaf_upper(*leaf, key);
      if (last <= first) break;
      leaf->entries.erase(leaf->entries.begin() + first,
                          leaf->entries.begin() + last);
      erased += last - first;
      size_ -= last - first;
      rebalance_leaf(leaf);
    }
    debug_check();
    return erased;
  }

  /// Replaces the contents with `entries`. Sorts them stably by key unless
  /// already sorted (so equal keys keep their input order), then builds the
  /// tree bottom-up in O(n): nodes get `fill` entries or children each, spread
  /// evenly. fill <= 0 selects order - 1 (room for one insert per node before
  /// a split); other values are clamped to [ceil(order / 2), order].
  void bulk_load(std::vector<value_type> entries, int fill = 0) {
    auto by_key = [this](const Entry& a, const Entry& b) {
      return comp_(a.first, b.first);
    };
    if (!std::is_sorted(entries.begin(), entries.end(), by_key)) {
      std::stable_sort(entries.begin(), entries.end(), by_key);
    }
    std::size_t per_node =
        fill <= 0 ? order_ - 1 : static_cast<std::size_t>(fill);
    per_node = std::clamp(per_node, min_fill_, order_);
    reset_nodes();
    if (entries.empty()) {
      debug_check();
      return;
    }

    // Leaves, chained, with the first key of each for the level above.
    std::vector<std::unique_ptr<Node>> level;
    std::vector<Key> first_keys;
    std::size_t count = group_count(entries.size(), per_node);
    level.reserve(count);
    first_keys.reserve(count);
    Leaf* first_leaf = nullptr;
    Leaf* prev = nullptr;
    std::size_t pos = 0;
    for (std::size_t g = 0; g < count; ++g) {
      std::size_t take = group_size(entries.size(), count, g);
      auto leaf = new_leaf();
      leaf->entries.assign(
          std::make_move_iterator(entries.begin() + pos),
          std::make_move_iterator(entries.begin() + pos + take));
      pos += take;
      first_keys.push_back(leaf->entries.front().first);
      leaf->prev = prev;
      if (prev != nullptr) {
        prev->next = leaf.get();
      } else {
        first_leaf = leaf.get();
      }
      prev = leaf.get();
      level.push_back(std::move(leaf));
    }
    int height = 1;

    // Inner levels until one node remains.
    while (level.size() > 1) {
      std::vector<std::unique_ptr<Node>> parents;
      std::vector<Key> parent_keys;
      count = group_count(level.size(), per_node);
      parents.reserve(count);
      parent_keys.reserve(count);
      pos = 0;
      for (std::size_t g = 0; g < count; ++g) {
        std::size_t take = group_size(level.size(), count, g);
        auto inner = new_inner();
        parent_keys.push_back(std::move(first_keys[pos]));
        for (std::size_t j = 0; j < take; ++j) {
          if (j > 0) inner->keys.push_back(std::move(first_keys[pos + j]));
          inner->children.push_back(std::move(level[pos + j]));
        }
        pos += take;
        parents.push_back(std::move(inner));
      }
      level = std::move(parents);
      first_keys = std::move(parent_keys);
      ++height;
    }
    // Only now, with nothing left to throw, does the tree take the nodes.
    root_ = std::move(level.front());
    first_leaf_ = first_leaf;
    last_leaf_ = prev;
    size_ = entries.size();
    height_ = height;
    debug_check();
  }

  /// The value of the first entry with a key equivalent to `key`, if any.
  std::optional<Value> find(const Key& key) const {
    const_iterator it = lower_bound(key);
    if (it == end() || comp_(key, it->first)) return std::nullopt;
    return it->second;
  }

  /// The number of entries with a key equivalent to `key`.
  std::size_t count(const Key& key) const {
    Range r = range(key, key);
    return static_cast<std::size_t>(std::distance(r.begin(), r.end()));
  }

  /// The first entry.
  const_iterator begin() const { return const_iterator(first_leaf_, 0); }
  /// Past the last entry.
  const_iterator end() const { return const_iterator(); }

  /// The first entry whose key is not less than `key`, or end().
  const_iterator lower_bound(const Key& key) const {
    if (root_ == nullptr) return end();
    const Node* node = root_.get();
    while (!node->is_leaf) {
      const auto* inner = static_cast<const Inner*>(node);
      node = inner->children[lower_index(inner->keys, key)].get();
    }
    const auto* leaf = static_cast<const Leaf*>(node);
    return const_iterator(leaf, leaf_lower(*leaf, key));
  }

  /// The first entry whose key is greater than `key`, or end().
  const_iterator upper_bound(const Key& key) const {
    if (root_ == nullptr) return end();
    const Node* node = root_.get();
    while (!node->is_leaf) {
      const auto* inner = static_cast<const Inner*>(node);
      node = inner->children[upper_index(inner->keys, key)].get();
    }
    const auto* leaf = static_cast<const Leaf*>(node);
    return const_iterator(leaf, leaf_upper(*leaf, key));
  }

  /// The entries with lo <= key <= hi: a CLOSED interval, both ends
  /// included (so "latency <= T" is range(min, T)). Empty when hi < lo.
  Range range(const Key& lo, const Key& hi) const {
    if (comp_(hi, lo)) return Range(end(), end());
    return Range(lower_bound(lo), upper_bound(hi));
  }

  /// Calls fn(key, value) for each entry with lo <= key <= hi (closed, as in
  /// range()), in iteration order, without building iterators.
  template <class Fn>
  void for_each_in_range(const Key& lo, const Key& hi, Fn&& fn) const {
    if (comp_(hi, lo)) return;
    const_iterator it = lower_bound(lo);
    const Leaf* leaf = it.leaf_;
    std::size_t i = it.index_;
    for (; leaf != nullptr; leaf = leaf->next, i = 0) {
      for (; i < leaf->entries.size(); ++i) {
        const Entry& entry = leaf->entries[i];
        if (comp_(hi, entry.first)) return;
        fn(entry.first, entry.second);
      }
    }
  }

  /// The number of entries.
  std::size_t size() const { return size_; }
  /// Whether there are no entries.
  bool empty() const { return size_ == 0; }
  /// Removes every entry.
  void clear() {
    reset_nodes();
    debug_check();
  }
  /// Levels from root to leaves: 0 when empty, 1 when the root is a leaf.
  int height() const { return height_; }
  /// Most children per inner node and most entries per leaf.
  int order() const { return static_cast<int>(order_); }
  /// The key ordering.
  Compare key_comp() const { return comp_; }

  /// Verifies every structural invariant, throwing std::logic_error that
  /// names the first one broken: occupancy (every non-root node holds
  /// ceil(order / 2) to order entries or children; an inner root has >= 2
  /// children; a leaf root is not empty), separator count == children - 1,
  /// keys sorted within each node, separators bounding their subtrees, all
  /// leaves at depth height(), the leaf chain linking the leaves in key order
  /// with consistent next/prev links and sorted keys across leaves, and
  /// size() entries reachable from the root, hence along the chain forward
  /// and backward. O(n): one walk over every node.
  void check_invariants() const {
    if (root_ == nullptr) {
      require(size_ == 0, "a tree without nodes has size() == 0");
      require(height_ == 0, "a tree without nodes has height() == 0");
      require(first_leaf_ == nullptr && last_leaf_ == nullptr,
              "a tree without nodes has no leaf chain");
      return;
    }
    require(size_ > 0, "an empty tree has no nodes");
    CheckState state;
    check_node(*root_, 1, nullptr, nullptr, &state);
    require(state.entries == size_,
            "the leaves under the root hold size() entries");
    require(state.last_leaf == last_leaf_, "last leaf is the rightmost leaf");
    require(last_leaf_->next == nullptr, "the last leaf has no next leaf");
    // The walk checked every leaf's prev and next against its neighbours in
    // key order, first_leaf_ and last_leaf_ against the ends, and the leaves
    // hold size() entries: so the chain covers exactly size() entries, in
    // order, forward and backward.
  }

 private:
  friend struct BPlusTreeTestAccess;

  struct CheckState {
    const Leaf* last_leaf = nullptr;  // The previous leaf in DFS order.
    std::size_t entries = 0;
  };

  static std::size_t checked_order(int order) {
    if (order < kMinOrder) {
      throw std::invalid_argument(
          "BPlusTree: order must be at least " + std::to_string(kMinOrder) +
          " (most children per inner node / entries per leaf), got " +
          std::to_string(order));
    }
    return static_cast<std::size_t>(order);
  }

  static void require(bool ok, const char* what) {
    if (!ok) fail(what);
  }

  [[noreturn]] static void fail(const char* what) {
    throw std::logic_error(std::string("BPlusTree invariant violated: ") +
                           what);
  }

  void debug_check() const {
#ifndef NDEBUG
    check_invariants();
#endif
  }

  std::unique_ptr<Leaf> new_leaf() const {
    auto leaf = std::make_unique<Leaf>();
    leaf->entries.reserve(order_ + 1);
    return leaf;
  }

  std::unique_ptr<Inner> new_inner() const {
    auto inner = std::make_unique<Inner>();
    inner->keys.reserve(order_);
    inner->children.reserve(order_ + 1);
    return inner;
  }

  void reset_nodes() {
    root_.reset();
    first_leaf_ = last_leaf_ = nullptr;
    size_ = 0;
    height_ = 0;
  }

  void swap_nodes(BPlusTree& other) noexcept {
    std::swap(root_, other.root_);
    std::swap(first_leaf_, other.first_leaf_);
    std::swap(last_leaf_, other.last_leaf_);
    std::swap(size_, other.size_);
    std::swap(height_, other.height_);
  }

  // Child to descend into for the first key >= `key`: the number of
  // separators < key. Children before it hold keys <= a separator < key.
  std::size_t lower_index(const std::vector<Key>& keys, const Key& key) const {
    auto it = std::lower_bound(
        keys.begin(), keys.end(), key,
        [this](const Key& a, const Key& b) { return comp_(a, b); });
    return static_cast<std::size_t>(it - keys.begin());
  }

  // Child to descend into for the first key > `key`: the number of
  // separators <= key. Children after it hold keys >= a separator > key.
  std::size_t upper_index(const std::vector<Key>& keys, const Key& key) const {
    auto it = std::upper_bound(
        keys.begin(), keys.end(), key,
        [this](const Key& a, const Key& b) { return comp_(a, b); });
    return static_cast<std::size_t>(it - keys.begin());
  }

  std::size_t leaf_lower(const Leaf& leaf, const Key& key) const {
    auto it = std::lower_bound(
        leaf.entries.begin(), leaf.entries.end(), key,
        [this](const Entry& e, const Key& k) { return comp_(e.first, k); });
    return static_cast<std::size_t>(it - leaf.entries.begin());
  }

  std::size_t leaf_upper(const Leaf& leaf, const Key& key) const {
    auto it = std::upper_bound(
        leaf.entries.begin(), leaf.entries.end(), key,
        [this](const Key& k, const Entry& e) { return comp_(k, e.first); });
    return static_cast<std::size_t>(it - leaf.entries.begin());
  }

  // Number of nodes to spread n items over: about n / per_node, but never so
  // many that a node gets fewer than min_fill_ (one node when n <= per_node).
  std::size_t group_count(std::size_t n, std::size_t per_node) const {
    if (n <= per_node) return 1;
    std::size_t count = (n + per_node - 1) / per_node;
    return std::max<std::size_t>(1, std::min(count, n / min_fill_));
  }

  // Items in group g when n items are spread evenly over `count` groups.
  static std::size_t group_size(std::size_t n, std::size_t count,
                                std::size_t g) {
    return n / count + (g < n % count ? 1 : 0);
  }

  // Descends to the leftmost leaf that may hold `key` (lower_bound routing),
  // recording the path in path_.
  Leaf* descend_with_path(const Key& key) {
    path_.clear();
    Node* node = root_.get();
    while (!node->is_leaf) {
      auto* inner = static_cast<Inner*>(node);
      std::size_t i = lower_index(inner->keys, key);
      path_.push_back({inner, i});
      node = inner->children[i].get();
    }
    return static_cast<Leaf*>(node);
  }

  // Moves path_ to the next leaf in key order and returns it (nullptr after
  // the last leaf): amortised O(1) per leaf over a walk.
  Leaf* next_leaf_on_path() {
    for (std::size_t level = path_.size(); level-- > 0;) {
      PathStep& step = path_[level];
      if (step.child + 1 < step.node->children.size()) {
        ++step.child;
        Node* node = step.node->children[step.child].get();
        path_.resize(level + 1);
        while (!node->is_leaf) {
          auto* inner = static_cast<Inner*>(node);
          path_.push_back({inner, 0});
          node = inner->children.front().get();
        }
        return static_cast<Leaf*>(node);
      }
    }
    return nullptr;
  }

  // Splits an overfull leaf (order + 1 entries) in two and pushes the
  // right half's first key up as the separator.
  void split_leaf(Leaf* leaf) {
    std::size_t keep = (leaf->entries.size() + 1) / 2;
    auto right = new_leaf();
    right->entries.assign(std::make_move_iterator(leaf->entries.begin() + keep),
                          std::make_move_iterator(leaf->entries.end()));
    leaf->entries.erase(leaf->entries.begin() + keep, leaf->entries.end());
    right->prev = leaf;
    right->next = leaf->next;
    if (leaf->next != nullptr) {
      leaf->next->prev = right.get();
    } else {
      last_leaf_ = right.get();
    }
    leaf->next = right.get();
    Key separator = right->entries.front().first;
    insert_into_parent(std::move(separator), std::move(right));
  }

  // Inserts `right` after the node at the end of path_ with `separator`
  // between them, splitting overfull ancestors and growing a new root.
  void insert_into_parent(Key separator, std::unique_ptr<Node> right) {
    while (true) {
      if (path_.empty()) {
        auto root = new_inner();
        root->keys.push_back(std::move(separator));
        root->children.push_back(std::move(root_));
        root->children.push_back(std::move(right));
        root_ = std::move(root);
        ++height_;
        return;
      }
      PathStep step = path_.back();
      path_.pop_back();
      Inner* parent = step.node;
      parent->keys.insert(parent->keys.begin() + step.child,
                          std::move(separator));
      parent->children.insert(parent->children.begin() + step.child + 1,
                              std::move(right));
      if (parent->children.size() <= order_) return;

      // order + 1 children: the left keeps ceil((order + 1) / 2), the key
      // between the halves moves up.
      std::size_t keep = (parent->children.size() + 1) / 2;
      auto sibling = new_inner();
      separator = std::move(parent->keys[keep - 1]);
      sibling->keys.assign(std::make_move_iterator(parent->keys.begin() + keep),
                           std::make_move_iterator(parent->keys.end()));
      sibling->children.assign(
          std::make_move_iterator(parent->children.begin() + keep),
          std::make_move_iterator(parent->children.end()));
      parent->keys.erase(parent->keys.begin() + keep - 1, parent->keys.end());
      parent->children.erase(parent->children.begin() + keep,
                             parent->children.end());
      right = std::move(sibling);
    }
  }

  // Restores occupancy after entries left `leaf` (path_ = its ancestors;
  // erase_key() may remove many at once): borrow the shortfall from a
  // sibling that can spare it, else merge with a sibling.
  void rebalance_leaf(Leaf* leaf) {
    if (path_.empty()) {  // The root: may hold anything but nothing.
      if (leaf->entries.empty()) reset_nodes();
      return;
    }
    if (leaf->entries.size() >= min_fill_) return;
    const std::size_t deficit = min_fill_ - leaf->entries.size();
    Inner* parent = path_.back().node;
    std::size_t i = path_.back().child;
    if (i > 0) {
      auto* left = static_cast<Leaf*>(parent->children[i - 1].get());
      if (left->entries.size() >= min_fill_ + deficit) {
        auto from = left->entries.end() - static_cast<std::ptrdiff_t>(deficit);
        leaf->entries.insert(leaf->entries.begin(),
                             std::make_move_iterator(from),
                             std::make_move_iterator(left->entries.end()));
        left->entries.erase(from, left->entries.end());
        parent->keys[i - 1] = leaf->entries.front().first;
        return;
      }
    }
    if (i + 1 < parent->children.size()) {
      auto* right = static_cast<Leaf*>(parent->children[i + 1].get());
      if (right->entries.size() >= min_fill_ + deficit) {
        auto to = right->entries.begin() + static_cast<std::ptrdiff_t>(deficit);
        leaf->entries.insert(leaf->entries.end(),
                             std::make_move_iterator(right->entries.begin()),
                             std::make_move_iterator(to));
        right->entries.erase(right->entries.begin(), to);
        parent->keys[i] = right->entries.front().first;
        return;
      }
    }
    // Merge children li and li + 1 into li: the sibling holds fewer than
    // min_fill_ + deficit, so together fewer than 2 * min_fill_ <= order + 1.
    std::size_t li = i > 0 ? i - 1 : i;
    auto* left = static_cast<Leaf*>(parent->children[li].get());
    auto* right = static_cast<Leaf*>(parent->children[li + 1].get());
    left->entries.insert(left->entries.end(),
                         std::make_move_iterator(right->entries.begin()),
                         std::make_move_iterator(right->entries.end()));
    left->next = right->next;
    if (right->next != nullptr) {
      right->next->prev = left;
    } else {
      last_leaf_ = left;
    }
    parent->keys.erase(parent->keys.begin() + li);
    parent->children.erase(parent->children.begin() + li + 1);
    path_.pop_back();
    rebalance_inner(parent);
  }

  // Restores occupancy of inner `node` after it lost a child (path_ = its
  // ancestors), up to the root, which collapses when left with one child.
  void rebalance_inner(Inner* node) {
    while (true) {
      if (path_.empty()) {
        if (node->children.size() == 1) {
          std::unique_ptr<Node> child = std::move(node->children.front());
          root_ = std::move(child);
          --height_;
        }
        return;
      }
      if (node->children.size() >= min_fill_) return;
      Inner* parent = path_.back().node;
      std::size_t i = path_.back().child;
      if (i > 0) {  // Rotate the left sibling's last child over.
        auto* left = static_cast<Inner*>(parent->children[i - 1].get());
        if (left->children.size() > min_fill_) {
          node->children.insert(node->children.begin(),
                                std::move(left->children.back()));
          left->children.pop_back();
          node->keys.insert(node->keys.begin(), std::move(parent->keys[i - 1]));
          parent->keys[i - 1] = std::move(left->keys.back());
          left->keys.pop_back();
          return;
        }
      }
      if (i + 1 < parent->children.size()) {  // Rotate the right's first.
        auto* right = static_cast<Inner*>(parent->children[i + 1].get());
        if (right->children.size() > min_fill_) {
          node->children.push_back(std::move(right->children.front()));
          right->children.erase(right->children.begin());
          node->keys.push_back(std::move(parent->keys[i]));
          parent->keys[i] = std::move(right->keys.front());
          right->keys.erase(right->keys.begin());
          return;
        }
      }
      // Merge children li and li + 1 of parent, pulling their separator down.
      std::size_t li = i > 0 ? i - 1 : i;
      auto* left = static_cast<Inner*>(parent->children[li].get());
      auto* right = static_cast<Inner*>(parent->children[li + 1].get());
      left->keys.push_back(std::move(parent->keys[li]));
      left->keys.insert(left->keys.end(),
                        std::make_move_iterator(right->keys.begin()),
                        std::make_move_iterator(right->keys.end()));
      left->children.insert(left->children.end(),
                            std::make_move_iterator(right->children.begin()),
                            std::make_move_iterator(right->children.end()));
      parent->keys.erase(parent->keys.begin() + li);
      parent->children.erase(parent->children.begin() + li + 1);
      path_.pop_back();
      node = parent;
    }
  }

  // Checks `node` at `depth` whose keys must lie in [*lo, *hi] (nullptr:
  // unbounded), visiting leaves left to right.
  void check_node(const Node& node, int depth, const Key* lo, const Key* hi,
                  CheckState* state) const {
    const bool is_root = &node == root_.get();
    if (node.is_leaf) {
      const auto& leaf = static_cast<const Leaf&>(node);
      require(depth == height_, "all leaves are at depth height()");
      require(leaf.entries.size() <= order_, "a leaf holds at most order");
      require(
          is_root ? !leaf.entries.empty() : leaf.entries.size() >= min_fill_,
          "a non-root leaf holds at least ceil(order / 2) entries");
      for (std::size_t i = 1; i < leaf.entries.size(); ++i) {
        require(!comp_(leaf.entries[i].first, leaf.entries[i - 1].first),
                "keys are sorted within a leaf");
      }
      require(lo == nullptr || !comp_(leaf.entries.front().first, *lo),
              "separators bound their subtrees (leaf key below its bound)");
      require(hi == nullptr || !comp_(*hi, leaf.entries.back().first),
              "separators bound their subtrees (leaf key above its bound)");
      require(leaf.prev == state->last_leaf,
              "a leaf's prev is the leaf before it");
      if (state->last_leaf != nullptr) {
        require(state->last_leaf->next == &leaf,
                "a leaf's next is the leaf after it");
        require(!comp_(leaf.entries.front().first,
                       state->last_leaf->entries.back().first),
                "keys are sorted across the leaf chain");
      } else {
        require(&leaf == first_leaf_, "first leaf is the leftmost leaf");
      }
      state->last_leaf = &leaf;
      state->entries += leaf.entries.size();
      return;
    }
    const auto& inner = static_cast<const Inner&>(node);
    require(depth < height_, "all leaves are at depth height()");
    require(inner.children.size() <= order_,
            "an inner node has at most order children");
    require(is_root ? inner.children.size() >= 2
                    : inner.children.size() >= min_fill_,
            "an inner node has at least ceil(order / 2) children (root: 2)");
    require(inner.keys.size() + 1 == inner.children.size(),
            "an inner node has one separator fewer than children");
    for (std::size_t i = 0; i < inner.keys.size(); ++i) {
      require(i == 0 || !comp_(inner.keys[i], inner.keys[i - 1]),
              "separators are sorted within an inner node");
      require(lo == nullptr || !comp_(inner.keys[i], *lo),
              "separators lie within their node's bounds");
      require(hi == nullptr || !comp_(*hi, inner.keys[i]),
              "separators lie within their node's bounds");
    }
    for (std::size_t i = 0; i < inner.children.size(); ++i) {
      require(inner.children[i] != nullptr, "inner children are not null");
      check_node(*inner.children[i], depth + 1,
                 i == 0 ? lo : &inner.keys[i - 1],
                 i + 1 == inner.children.size() ? hi : &inner.keys[i], state);
    }
  }

  std::size_t order_;
  std::size_t min_fill_;  // ceil(order / 2).
  Compare comp_;
  std::unique_ptr<Node> root_;  // nullptr exactly when empty.
  Leaf* first_leaf_ = nullptr;
  Leaf* last_leaf_ = nullptr;
  std::size_t size_ = 0;
  int height_ = 0;
  std::vector<PathStep> path_;  // Scratch: the descent of a mutation.
};

/// Exchanges the contents of two trees.
template <class Key, class Value, class Compare>
void swap(BPlusTree<Key, Value, Compare>& a,
          BPlusTree<Key, Value, Compare>& b) noexcept(noexcept(a.swap(b))) {
  a.swap(b);
}

}  // namespace adascale::search
