#pragma once
/// Small, fast, portable random numbers for data pipelines. Every random
/// choice that must be reproducible (shuffles, augmentation, splits) draws
/// from a SplitMix64 stream seeded by mix_seed(run seed, epoch, position),
/// so results depend on the seed only, never on thread count or scheduling.

#include <cstdint>
#include <initializer_list>

namespace adascale::core {

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit generator with good
/// statistical quality and a one-word state. Meets UniformRandomBitGenerator.
class SplitMix64 {
 public:
  using result_type = uint64_t;
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }

  result_type operator()() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  /// Uniform integer in [0, n) (n > 0), by Lemire's multiply-shift; the
  /// tiny bias (< n / 2^64) is irrelevant for data pipelines.
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>(
        (static_cast<unsigned __int128>((*this)()) * n) >> 64);
  }

  /// Uniform double in [0, 1).
  double uniform() { return ((*this)() >> 11) * (1.0 / 9007199254740992.0); }

  /// Standard normal deviate (Box–Muller; one of the pair is dropped).
  double normal();

 private:
  uint64_t state_;
};

/// Combines seeds into one well-mixed seed, order-sensitive.
inline uint64_t mix_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x6A09E667F3BCC909ull;
  for (uint64_t p : parts) {
    SplitMix64 g(h ^ p);
    h = g() + 0x9E3779B97F4A7C15ull * (h >> 7);
  }
  return SplitMix64(h)();
}

/// Fisher–Yates shuffle driven by a SplitMix64 stream.
template <typename T>
void shuffle(T* data, int64_t n, SplitMix64& rng) {
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)));
    T tmp = data[i];
    data[i] = data[j];
    data[j] = tmp;
  }
}

}  // namespace adascale::core
