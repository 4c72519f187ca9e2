#include "search/bplus_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace adascale::search {

// Reaches into a tree to break one invariant at a time (see the friend
// declaration in bplus_tree.h); each is undone by repeating the call (swaps,
// shift_size with -delta) or by restore_last_prev().
struct BPlusTreeTestAccess {
  // Swaps the first two entries of the first leaf (unsorts a leaf).
  template <class Tree>
  static void swap_first_entries(Tree& tree) {
    auto& entries = tree.first_leaf_->entries;
    std::swap(entries[0], entries[1]);
  }
  // Adds `delta` to the stored size.
  template <class Tree>
  static void shift_size(Tree& tree, std::ptrdiff_t delta) {
    tree.size_ = static_cast<std::size_t>(
        static_cast<std::ptrdiff_t>(tree.size_) + delta);
  }
  // Clears the last leaf's prev link (breaks the backward chain); returns
  // the old link for restore_last_prev().
  template <class Tree>
  static void* cut_last_prev(Tree& tree) {
    void* prev = tree.last_leaf_->prev;
    tree.last_leaf_->prev = nullptr;
    return prev;
  }
  template <class Tree>
  static void restore_last_prev(Tree& tree, void* prev) {
    tree.last_leaf_->prev = static_cast<typename Tree::Leaf*>(prev);
  }
  // Swaps the root's first separator with `key` (separators must bound).
  template <class Tree>
  static void swap_root_separator(Tree& tree, typename Tree::key_type* key) {
    auto* root = static_cast<typename Tree::Inner*>(tree.root_.get());
    std::swap(root->keys.front(), *key);
  }
};

namespace {

using Tree = BPlusTree<double, std::uint32_t>;
using Ref = std::multimap<double, std::uint32_t>;
using Entries = std::vector<std::pair<double, std::uint32_t>>;

// Both hold the same entries in the same order (equal keys included: both
// keep insertion order among equal keys, so the comparison is exact).
template <class T, class M>
void expect_same(const T& tree, const M& ref) {
  ASSERT_EQ(tree.size(), ref.size());
  ASSERT_EQ(tree.empty(), ref.empty());
  auto it = tree.begin();
  std::size_t index = 0;
  for (const auto& [key, value] : ref) {
    ASSERT_TRUE(it != tree.end()) << "tree ends early at " << index;
    ASSERT_EQ(it->first, key) << "at " << index;
    ASSERT_EQ(it->second, value) << "at " << index;
    ++it;
    ++index;
  }
  ASSERT_TRUE(it == tree.end());
}

// First entry of ref with this key and value (what tree.erase removes).
Ref::iterator find_entry(Ref& ref, double key, std::uint32_t value) {
  auto [first, last] = ref.equal_range(key);
  for (auto it = first; it != last; ++it) {
    if (it->second == value) return it;
  }
  return ref.end();
}

// Compares up to `steps` entries from tree iterator `it` and ref iterator
// `rit` onwards.
void expect_same_from(const Tree& tree, Tree::const_iterator it, const Ref& ref,
                      Ref::const_iterator rit, int steps) {
  for (int s = 0; s < steps; ++s) {
    if (rit == ref.end()) {
      ASSERT_TRUE(it == tree.end()) << "step " << s;
      return;
    }
    ASSERT_TRUE(it != tree.end()) << "step " << s;
    ASSERT_EQ(it->first, rit->first) << "step " << s;
    ASSERT_EQ(it->second, rit->second) << "step " << s;
    ++it;
    ++rit;
  }
}

void expect_range_same(const Tree& tree, const Ref& ref, double lo, double hi) {
  Entries got;
  for (const auto& entry : tree.range(lo, hi)) got.push_back(entry);
  Entries via_callback;
  tree.for_each_in_range(lo, hi, [&](double key, std::uint32_t value) {
    via_callback.emplace_back(key, value);
  });
  Entries want;
  if (lo <= hi) {
    want.assign(ref.lower_bound(lo), ref.upper_bound(hi));
  }
  ASSERT_EQ(got, want) << "range [" << lo << ", " << hi << "]";
  ASSERT_EQ(via_callback, want)
      << "for_each_in_range [" << lo << ", " << hi << "]";
}

struct RandomOpsConfig {
  int order;
  int ops;
  int check_every;  // check_invariants() after every n-th operation.
  int key_range;    // Keys are k / 2 for k in [0, 2 * key_range): duplicates.
  std::size_t target_size;   // Inserts outweigh erases below it.
  std::size_t initial_size;  // Entries bulk-loaded first, nodes half full.
  int erase_key_odds;        // erase_key() runs in 1 of n draws of its 2%.
};

// Random operations on a tree and a multimap side by side, comparing every
// answer. Values come from a small range too, so equal (key, value) pairs
// occur and erase() must remove the first of them.
void run_random_ops(const RandomOpsConfig& config, std::uint64_t seed) {
  SCOPED_TRACE("order " + std::to_string(config.order));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> key_dist(0, 2 * config.key_range - 1);
  std::uniform_int_distribution<std::uint32_t> value_dist(0, 63);
  std::uniform_int_distribution<int> op_dist(0, 99);
  std::uniform_int_distribution<int> width_dist(0, 6);
  auto random_key = [&] { return key_dist(rng) / 2.0; };
  // Queries also probe between and beyond the stored keys.
  auto probe_key = [&] { return (key_dist(rng) - 2) / 2.0 + 0.25; };

  Tree tree(config.order);
  Ref ref;
  Entries initial;
  for (std::size_t i = 0; i < config.initial_size; ++i) {
    initial.emplace_back(random_key(), value_dist(rng));
    ref.insert(initial.back());
  }
  tree.bulk_load(initial, 1);  // Clamped to minimal nodes: merges come soon.
  for (int op = 0; op < config.ops; ++op) {
    int kind = op_dist(rng);
    // Drift towards target_size: insert more while below it.
    int insert_share = ref.size() < config.target_size ? 55 : 35;
    if (kind < insert_share) {
      double key = random_key();
      std::uint32_t value = value_dist(rng);
      tree.insert(key, value);
      ref.emplace(key, value);
    } else if (kind < insert_share + 25) {  // Erase an existing entry.
      auto it = ref.lower_bound(random_key());
      if (it == ref.end()) continue;
      std::advance(it, std::min<std::ptrdiff_t>(
                           width_dist(rng),
                           std::distance(it, ref.upper_bound(it->first)) - 1));
      double key = it->first;
      std::uint32_t value = it->second;
      ref.erase(find_entry(ref, key, value));
      ASSERT_TRUE(tree.erase(key, value)) << key << " " << value;
    } else if (kind < insert_share + 29) {  // Erase a missing entry.
      double key = op % 2 == 0 ? random_key() : probe_key();
      std::uint32_t value = 1000 + value_dist(rng);
      ASSERT_FALSE(tree.erase(key, value));
      // An existing value under a neighbouring key is still a miss.
      auto it = ref.upper_bound(key);
      if (it != ref.end() && find_entry(ref, key, it->second) == ref.end()) {
        ASSERT_FALSE(tree.erase(key, it->second));
      }
    } else if (kind < insert_share + 31 &&
               rng() % config.erase_key_odds == 0) {  // Erase a whole key.
      double key = op % 4 == 0 ? probe_key() : random_key();
      std::size_t want = ref.erase(key);
      ASSERT_EQ(tree.erase_key(key), want) << key;
    } else if (kind < insert_share + 38) {
      double key = op % 2 == 0 ? random_key() : probe_key();
      auto it = ref.find(key);
      if (it != ref.end()) it = ref.lower_bound(key);  // The first equal key.
      std::optional<std::uint32_t> got = tree.find(key);
      ASSERT_EQ(got.has_value(), it != ref.end()) << key;
      if (got) {
        ASSERT_EQ(*got, it->second) << key;
      }
      ASSERT_EQ(tree.count(key), ref.count(key)) << key;
    } else if (kind < insert_share + 48) {
      double key = op % 2 == 0 ? random_key() : probe_key();
      expect_same_from(tree, tree.lower_bound(key), ref, ref.lower_bound(key),
                       4);
      expect_same_from(tree, tree.upper_bound(key), ref, ref.upper_bound(key),
                       4);
    } else if (kind < insert_share + 57) {
      double lo = op % 2 == 0 ? random_key() : probe_key();
      double hi = lo + (width_dist(rng) - 1) / 2.0;  // Sometimes hi < lo.
      expect_range_same(tree, ref, lo, hi);
    } else if (kind < insert_share + 58) {
      expect_same(tree, ref);
    }
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_EQ(tree.size(), ref.size());
    if (op % config.check_every == 0) {
      ASSERT_NO_THROW(tree.check_invariants()) << "after op " << op;
    }
  }
  expect_same(tree, ref);
  ASSERT_NO_THROW(tree.check_invariants());
  // Drain it: erase everything, root collapses to nothing.
  while (!ref.empty()) {
    auto it = ref.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng() % ref.size() % 97));
    ASSERT_TRUE(tree.erase(it->first, it->second));
    ref.erase(it);
  }
  EXPECT_TRUE(tree.empty());
  EXPECT_EQ(tree.height(), 0);
  EXPECT_NO_THROW(tree.check_invariants());
}

Entries random_entries(std::size_t n, int key_range, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> key_dist(0, key_range - 1);
  Entries entries;
  entries.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    entries.emplace_back(key_dist(rng) * 0.5, static_cast<std::uint32_t>(i));
  }
  return entries;
}

Ref to_ref(const Entries& entries) {
  Ref ref;
  for (const auto& [key, value] : entries) ref.emplace(key, value);
  return ref;
}

TEST(BPlusTree, RejectsOrderBelowThree) {
  for (int order : {2, 1, 0, -5}) {
    EXPECT_THROW(Tree{order}, std::invalid_argument) << order;
  }
  try {
    Tree tree(2);
    FAIL() << "order 2 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("order must be at least 3"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(Tree(3).order(), 3);
  EXPECT_EQ(Tree().order(), Tree::kDefaultOrder);
}

TEST(BPlusTree, EmptyTreeAnswersEveryQuery) {
  Tree tree(4);
  EXPECT_TRUE(tree.empty());
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_EQ(tree.height(), 0);
  EXPECT_TRUE(tree.begin() == tree.end());
  EXPECT_TRUE(tree.lower_bound(1.0) == tree.end());
  EXPECT_TRUE(tree.upper_bound(1.0) == tree.end());
  EXPECT_TRUE(tree.range(0.0, 10.0).empty());
  EXPECT_FALSE(tree.find(1.0).has_value());
  EXPECT_EQ(tree.count(1.0), 0u);
  EXPECT_FALSE(tree.erase(1.0, 7u));
  EXPECT_EQ(tree.erase_key(1.0), 0u);
  EXPECT_TRUE(Tree::const_iterator() == tree.end());
  EXPECT_NO_THROW(tree.check_invariants());
  tree.clear();
  EXPECT_NO_THROW(tree.check_invariants());
}

TEST(BPlusTree, InsertsFindsAndIteratesInKeyOrder) {
  Tree tree(3);
  Ref ref;
  for (std::uint32_t v : {5u, 1u, 9u, 3u, 7u, 2u, 8u, 4u, 6u, 0u}) {
    tree.insert(v * 1.5, v);
    ref.emplace(v * 1.5, v);
    tree.check_invariants();
  }
  expect_same(tree, ref);
  EXPECT_GT(tree.height(), 1);
  EXPECT_EQ(tree.find(4.5), std::optional<std::uint32_t>(3u));
  EXPECT_FALSE(tree.find(4.0).has_value());
  EXPECT_EQ(tree.lower_bound(4.0)->first, 4.5);
  EXPECT_EQ(tree.upper_bound(4.5)->first, 6.0);
  EXPECT_TRUE(tree.upper_bound(13.5) == tree.end());
}

TEST(BPlusTree, EqualKeysKeepInsertionOrder) {
  for (int order : {3, 4, 32}) {
    Tree tree(order);
    for (std::uint32_t v = 0; v < 500; ++v) {
      tree.insert(v % 2 == 0 ? 1.0 : 2.0, v);
      tree.check_invariants();
    }
    std::uint32_t want = 0;
    for (const auto& [key, value] : tree.range(1.0, 1.0)) {
      EXPECT_EQ(key, 1.0);
      EXPECT_EQ(value, want);
      want += 2;
    }
    EXPECT_EQ(want, 500u);
    EXPECT_EQ(tree.find(1.0), std::optional<std::uint32_t>(0u));
    EXPECT_EQ(tree.find(2.0), std::optional<std::uint32_t>(1u));
    EXPECT_EQ(tree.count(2.0), 250u);
  }
}

// Thousands of equal keys span many leaves at small orders: erase(key, value)
// must find entries anywhere in the run, and lower_bound must land on the
// run's first entry.
TEST(BPlusTree, ManyEqualKeysSpanningLeaves) {
  constexpr std::uint32_t kRun = 2000;
  for (int order : {3, 4}) {
    SCOPED_TRACE("order " + std::to_string(order));
    Tree tree(order);
    Ref ref;
    for (std::uint32_t v = 0; v < kRun; ++v) {
      tree.insert(5.0, v);
      ref.emplace(5.0, v);
      if (v % 10 == 0) {  // A few neighbours on both sides.
        tree.insert(4.0, kRun + v);
        ref.emplace(4.0, kRun + v);
        tree.insert(6.0, kRun + v);
        ref.emplace(6.0, kRun + v);
      }
      if (v % 4 == 0) tree.check_invariants();
    }
    tree.check_invariants();
    expect_same(tree, ref);
    EXPECT_GT(tree.height(), 5);
    EXPECT_EQ(tree.count(5.0), kRun);
    EXPECT_EQ(tree.lower_bound(5.0)->second, 0u);
    EXPECT_EQ(tree.upper_bound(5.0)->first, 6.0);

    // Misses: a value stored under another key, a value never stored.
    EXPECT_FALSE(tree.erase(5.0, kRun + 10));
    EXPECT_FALSE(tree.erase(5.0, 10 * kRun));
    EXPECT_FALSE(tree.erase(4.0, 10u));

    std::vector<std::uint32_t> order_of_erase(kRun);
    std::iota(order_of_erase.begin(), order_of_erase.end(), 0u);
    std::mt19937_64 rng(7);
    std::shuffle(order_of_erase.begin(), order_of_erase.end(), rng);
    order_of_erase.resize(kRun - 200);  // Keep 200 for erase_key.
    for (std::uint32_t v : order_of_erase) {
      ASSERT_TRUE(tree.erase(5.0, v)) << v;
      ASSERT_FALSE(tree.erase(5.0, v)) << v;  // Gone now.
      ref.erase(find_entry(ref, 5.0, v));
      tree.check_invariants();
      ASSERT_EQ(tree.find(5.0), ref.lower_bound(5.0)->second);
    }
    expect_same(tree, ref);
    EXPECT_EQ(tree.erase_key(5.0), 200u);
    EXPECT_EQ(tree.erase_key(5.0), 0u);
    ref.erase(5.0);
    tree.check_invariants();
    expect_same(tree, ref);
    EXPECT_EQ(tree.lower_bound(5.0)->first, 6.0);
    EXPECT_FALSE(tree.find(5.0).has_value());
  }
}

TEST(BPlusTree, EraseKeyRemovesEveryDuplicate) {
  Tree tree(4);
  Ref ref;
  std::mt19937_64 rng(11);
  for (std::uint32_t v = 0; v < 5000; ++v) {
    double key = static_cast<double>(rng() % 7);
    tree.insert(key, v);
    ref.emplace(key, v);
  }
  for (double key : {3.0, 0.0, 6.0, 2.5, 3.0, 1.0, 2.0, 4.0, 5.0}) {
    EXPECT_EQ(tree.erase_key(key), ref.erase(key)) << key;
    tree.check_invariants();
    expect_same(tree, ref);
  }
  EXPECT_TRUE(tree.empty());
  EXPECT_EQ(tree.height(), 0);
}

// The property test: 10^5 random operations at order 4 and 2-3 * 10^4 at each
// other order, 2.1 * 10^5 in all, with invariants checked after every one
// (every 2nd / 8th at the wide orders, whose trees are larger).
TEST(BPlusTree, RandomOperationsMatchMultimap) {
  // {order, ops, check_every, key_range, target, initial, erase_key_odds}.
  const RandomOpsConfig configs[] = {
      {4, 100000, 1, 24, 250, 0, 1},    {3, 30000, 1, 32, 300, 0, 1},
      {5, 20000, 1, 48, 400, 0, 1},     {8, 20000, 1, 48, 600, 200, 2},
      {32, 20000, 2, 8, 2000, 2000, 8}, {128, 20000, 8, 8, 10000, 10000, 100},
  };
  std::uint64_t seed = 20240611;
  for (const RandomOpsConfig& config : configs) {
    run_random_ops(config, seed++);
    if (HasFatalFailure()) return;
  }
}

TEST(BPlusTree, BulkLoadMatchesMultimapThenStaysConsistent) {
  for (int order : {3, 4, 5, 32}) {
    const std::size_t o = static_cast<std::size_t>(order);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, o, o + 1,
                          std::size_t{777}, std::size_t{100000}}) {
      const bool large = n == 100000;
      if (large && order != 4 && order != 32) continue;  // Keep it short.
      SCOPED_TRACE("order " + std::to_string(order) + ", n " +
                   std::to_string(n));
      Entries entries = random_entries(n, 200, 100 + n);
      Ref ref = to_ref(entries);
      Tree tree(order);
      tree.insert(-1.0, 99u);  // Replaced by the load.
      tree.bulk_load(entries);
      tree.check_invariants();
      expect_same(tree, ref);
      if (HasFatalFailure()) return;

      // Then incremental updates.
      std::mt19937_64 rng(n);
      const int ops = large ? 100 : 2000;
      for (int op = 0; op < ops; ++op) {
        double key = static_cast<double>(rng() % 220) * 0.5;
        if (rng() % 2 == 0 || ref.empty()) {
          tree.insert(key, static_cast<std::uint32_t>(op));
          ref.emplace(key, static_cast<std::uint32_t>(op));
        } else {
          auto it = ref.lower_bound(key);
          if (it == ref.end()) it = ref.begin();
          ASSERT_TRUE(tree.erase(it->first, it->second));
          ref.erase(it);
        }
        if (!large || op % 25 == 0) {
          ASSERT_NO_THROW(tree.check_invariants()) << "op " << op;
        }
      }
      tree.check_invariants();
      expect_same(tree, ref);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(BPlusTree, BulkLoadIsStableAndHonoursFill) {
  // Unsorted input with equal keys: equal keys keep their input order.
  Entries entries = random_entries(5000, 40, 3);
  std::reverse(entries.begin(), entries.end());
  Ref ref = to_ref(entries);  // multimap keeps insertion order too.
  int previous_height = 0;
  for (int fill : {4, 6, 8}) {  // Minimum, middle, full for order 8.
    Tree tree(8);
    tree.bulk_load(entries, fill);
    tree.check_invariants();
    expect_same(tree, ref);
    if (previous_height != 0) {
      EXPECT_LE(tree.height(), previous_height);
    }
    previous_height = tree.height();
  }
  Tree full(8);
  full.bulk_load(entries, 8);
  Tree clamped(8);
  clamped.bulk_load(entries, 1000);  // Clamped to the order.
  EXPECT_EQ(clamped.height(), full.height());
  Tree sparse(8);
  sparse.bulk_load(entries, 1);  // Clamped to ceil(order / 2).
  sparse.check_invariants();
  expect_same(sparse, ref);
  // Already-sorted input is taken as is.
  Entries sorted(ref.begin(), ref.end());
  Tree tree(8);
  tree.bulk_load(sorted);
  expect_same(tree, ref);
  // A full load leaves no room: the next insert splits.
  full.insert(1.0, 1u);
  full.check_invariants();
}

TEST(BPlusTree, IteratorWalksTheLeafChain) {
  Tree tree(4);
  Ref ref;
  std::mt19937_64 rng(5);
  for (std::uint32_t v = 0; v < 3000; ++v) {
    double key = static_cast<double>(rng() % 500) * 0.25;
    tree.insert(key, v);
    ref.emplace(key, v);
  }
  EXPECT_EQ(static_cast<std::size_t>(std::distance(tree.begin(), tree.end())),
            tree.size());
  // Post-increment, a standard algorithm and copying into a vector.
  Entries walked;
  for (auto it = tree.begin(); it != tree.end();) walked.push_back(*it++);
  EXPECT_EQ(walked, Entries(ref.begin(), ref.end()));
  EXPECT_EQ(Entries(tree.begin(), tree.end()), walked);
  EXPECT_TRUE(std::is_sorted(
      tree.begin(), tree.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; }));
  auto it = std::find_if(tree.begin(), tree.end(),
                         [](const auto& e) { return e.second == 1234u; });
  auto ref_it = std::find_if(ref.begin(), ref.end(),
                             [](const auto& e) { return e.second == 1234u; });
  ASSERT_TRUE(it != tree.end());
  EXPECT_EQ(it->first, ref_it->first);
  // lower_bound starts mid-chain and walks on to the end.
  auto from = tree.lower_bound(60.1);
  EXPECT_EQ(Entries(from, tree.end()),
            Entries(ref.lower_bound(60.1), ref.end()));
}

TEST(BPlusTree, RangeIsAClosedInterval) {
  Tree tree(5);
  Ref ref;
  for (std::uint32_t v = 0; v < 1000; ++v) {
    double key = static_cast<double>(v % 100);
    tree.insert(key, v);
    ref.emplace(key, v);
  }
  const double kInf = std::numeric_limits<double>::infinity();
  // Both ends included, duplicates of both ends included.
  auto r = tree.range(10.0, 20.0);
  EXPECT_EQ(std::distance(r.begin(), r.end()), 11 * 10);
  EXPECT_EQ(r.begin()->first, 10.0);
  expect_range_same(tree, ref, 10.0, 20.0);
  expect_range_same(tree, ref, 50.0, 50.0);   // One key: its duplicates.
  expect_range_same(tree, ref, -kInf, 30.0);  // "latency <= 30".
  expect_range_same(tree, ref, 70.0, kInf);
  expect_range_same(tree, ref, -kInf, kInf);
  EXPECT_EQ(std::distance(tree.range(-kInf, kInf).begin(),
                          tree.range(-kInf, kInf).end()),
            1000);
  // Empty: between keys, beyond either end, and lo > hi.
  EXPECT_TRUE(tree.range(10.25, 10.75).empty());
  EXPECT_TRUE(tree.range(100.0, 200.0).empty());
  EXPECT_TRUE(tree.range(-5.0, -1.0).empty());
  EXPECT_TRUE(tree.range(20.0, 10.0).empty());
  EXPECT_TRUE(tree.range(kInf, -kInf).empty());
  expect_range_same(tree, ref, 20.0, 10.0);
  int calls = 0;
  tree.for_each_in_range(20.0, 10.0, [&](double, std::uint32_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(BPlusTree, HeightGrowsAndRootCollapses) {
  Tree tree(3);
  for (std::uint32_t v = 0; v < 1000; ++v) tree.insert(v, v);
  const int tall = tree.height();
  EXPECT_GE(tall, 7);   // log_3(1000 / 3) + 1.
  EXPECT_LE(tall, 10);  // log_2(1000 / 2) + 1.
  for (std::uint32_t v = 0; v < 999; ++v) {
    ASSERT_TRUE(tree.erase(v, v));
    tree.check_invariants();
  }
  EXPECT_EQ(tree.height(), 1);
  EXPECT_EQ(tree.size(), 1u);
  EXPECT_TRUE(tree.erase(999.0, 999u));
  EXPECT_EQ(tree.height(), 0);
  tree.check_invariants();
}

TEST(BPlusTree, CopyMoveSwapAndClear) {
  Entries entries = random_entries(2000, 50, 9);
  Ref ref = to_ref(entries);
  Tree tree(4);
  tree.bulk_load(entries);

  Tree copy(tree);
  copy.check_invariants();
  expect_same(copy, ref);
  EXPECT_EQ(copy.order(), 4);
  copy.insert(1000.0, 1u);  // Independent of the original.
  EXPECT_EQ(tree.size(), ref.size());

  Tree moved(std::move(tree));
  expect_same(moved, ref);
  moved.check_invariants();
  tree.check_invariants();  // NOLINT(bugprone-use-after-move): valid, empty.
  EXPECT_TRUE(tree.empty());
  tree.insert(1.0, 2u);  // Still usable.
  EXPECT_EQ(tree.size(), 1u);

  Tree assigned(7);
  assigned = moved;
  expect_same(assigned, ref);
  EXPECT_EQ(assigned.order(), 4);
  assigned = std::move(copy);
  EXPECT_EQ(assigned.size(), ref.size() + 1);

  swap(tree, moved);
  EXPECT_EQ(moved.size(), 1u);
  expect_same(tree, ref);

  tree.clear();
  EXPECT_TRUE(tree.empty());
  EXPECT_EQ(tree.height(), 0);
  tree.check_invariants();
  tree.insert(2.0, 3u);
  EXPECT_EQ(tree.find(2.0), std::optional<std::uint32_t>(3u));
}

TEST(BPlusTree, CustomComparatorAndNonTrivialTypes) {
  // Descending keys with 64-bit values.
  BPlusTree<double, std::uint64_t, std::greater<double>> desc(3);
  std::multimap<double, std::uint64_t, std::greater<double>> ref;
  std::mt19937_64 rng(13);
  for (std::uint64_t v = 0; v < 2000; ++v) {
    double key = static_cast<double>(rng() % 64);
    desc.insert(key, v << 33);
    ref.emplace(key, v << 33);
  }
  desc.check_invariants();
  expect_same(desc, ref);
  EXPECT_EQ(desc.begin()->first, 63.0);
  // range(lo, hi) follows the comparator: lo comes first in its order.
  std::size_t n = 0;
  for (const auto& e : desc.range(10.0, 5.0)) {
    EXPECT_LE(e.first, 10.0);
    EXPECT_GE(e.first, 5.0);
    ++n;
  }
  EXPECT_EQ(n, static_cast<std::size_t>(
                   std::distance(ref.lower_bound(10.0), ref.upper_bound(5.0))));

  // std::string keys and values (heap-owning, moved around by splits).
  BPlusTree<std::string, std::string> names(4);
  std::multimap<std::string, std::string> name_ref;
  for (int i = 0; i < 600; ++i) {
    std::string key = "variant-" + std::to_string(i % 37);
    std::string value = std::string(40, 'x') + std::to_string(i);
    names.insert(key, value);
    name_ref.emplace(key, value);
  }
  for (int i = 0; i < 600; i += 3) {
    std::string key = "variant-" + std::to_string(i % 37);
    std::string value = std::string(40, 'x') + std::to_string(i);
    ASSERT_TRUE(names.erase(key, value));
    name_ref.erase(std::find_if(
        name_ref.begin(), name_ref.end(),
        [&](const auto& e) { return e.first == key && e.second == value; }));
  }
  names.check_invariants();
  expect_same(names, name_ref);
  names.bulk_load(std::vector<std::pair<std::string, std::string>>(
      name_ref.begin(), name_ref.end()));
  expect_same(names, name_ref);
}

TEST(BPlusTree, CheckInvariantsReportsCorruption) {
  Tree tree(4);
  for (std::uint32_t v = 0; v < 200; ++v) tree.insert(v, v);
  ASSERT_GT(tree.height(), 1);
  tree.check_invariants();
  auto expect_broken = [&](const char* what) {
    try {
      tree.check_invariants();
      ADD_FAILURE() << "not detected: " << what;
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos)
          << e.what();
    }
  };

  BPlusTreeTestAccess::swap_first_entries(tree);
  expect_broken("keys are sorted within a leaf");
  BPlusTreeTestAccess::swap_first_entries(tree);
  tree.check_invariants();

  BPlusTreeTestAccess::shift_size(tree, 1);
  expect_broken("hold size() entries");
  BPlusTreeTestAccess::shift_size(tree, -1);

  void* prev = BPlusTreeTestAccess::cut_last_prev(tree);
  expect_broken("prev");
  BPlusTreeTestAccess::restore_last_prev(tree, prev);
  tree.check_invariants();

  double separator = 1e9;
  BPlusTreeTestAccess::swap_root_separator(tree, &separator);
  expect_broken("separator");
  BPlusTreeTestAccess::swap_root_separator(tree, &separator);

  tree.check_invariants();
  EXPECT_EQ(tree.size(), 200u);
}

}  // namespace
}  // namespace adascale::search
