#include "datasets/synthetic_dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "core/random.h"

namespace adascale::datasets {
namespace {

// Bounds far above any test or benchmark use and below what a CPU machine
// holds: a typo such as train_per_class=2000000000 is refused by name
// instead of ending in std::bad_alloc.
constexpr int64_t kMaxSyntheticSplitBytes = int64_t(4) << 30;
constexpr int64_t kMaxSyntheticPatternBytes = int64_t(1) << 30;

/// A class pattern as floats in roughly [0, 255], planar C×S×S.
std::vector<float> class_pattern(const core::SyntheticConfig& c, int k) {
  const int s = c.image_size;
  core::SplitMix64 rng(core::mix_seed(
      {static_cast<uint64_t>(c.seed), 0xC1A55, static_cast<uint64_t>(k)}));
  std::vector<float> p(static_cast<size_t>(c.channels) * s * s, 0.0f);
  // An oriented stripe field gives each class a distinct texture...
  double angle = rng.uniform() * 3.14159265;
  double freq = (1.0 + rng.below(4)) * 6.2831853 / s;
  std::vector<double> stripe_amp(c.channels);
  for (auto& a : stripe_amp) a = 30.0 + 40.0 * rng.uniform();
  // ...and a few coloured blobs a distinct layout.
  const int blobs = 3;
  for (int ch = 0; ch < c.channels; ++ch) {
    for (int y = 0; y < s; ++y) {
      for (int x = 0; x < s; ++x) {
        double t = (x * std::cos(angle) + y * std::sin(angle)) * freq;
        p[(static_cast<size_t>(ch) * s + y) * s + x] =
            static_cast<float>(128.0 + stripe_amp[ch] * std::sin(t));
      }
    }
  }
  for (int b = 0; b < blobs; ++b) {
    double cx = rng.uniform() * s, cy = rng.uniform() * s;
    double radius = s * (0.1 + 0.15 * rng.uniform());
    for (int ch = 0; ch < c.channels; ++ch) {
      double amp = (rng.uniform() - 0.5) * 160.0;
      for (int y = 0; y < s; ++y) {
        for (int x = 0; x < s; ++x) {
          double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
          p[(static_cast<size_t>(ch) * s + y) * s + x] +=
              static_cast<float>(amp * std::exp(-d2 / (2 * radius * radius)));
        }
      }
    }
  }
  return p;
}

}  // namespace

ImageDataset make_synthetic(const core::SyntheticConfig& c, bool train) {
  ImageDataset d;
  d.name = std::string("synthetic/") + (train ? "train" : "test");
  d.channels = c.channels;
  d.height = c.image_size;
  d.width = c.image_size;
  for (int k = 0; k < c.classes; ++k) {
    d.class_names.push_back("class_" + std::to_string(k));
  }
  const int per_class = train ? c.train_per_class : c.test_per_class;
  const int s = c.image_size;
  // Checked in floating point before any product is formed in integers:
  // the keys' own ranges allow sizes far past memory and past int64.
  const double image_bytes = double(c.channels) * s * s;
  const double split_bytes = double(per_class) * c.classes * image_bytes;
  const char* per_class_key = train ? "dataset.synthetic.train_per_class"
                                    : "dataset.synthetic.test_per_class";
  if (split_bytes > double(kMaxSyntheticSplitBytes)) {
    throw ConfigError(fmt::format(
        "{} = {}: with classes = {} and image_size = {} the split would hold "
        "{:.3g} GiB of pixels; the synthetic generator holds at most {} GiB",
        per_class_key, per_class, c.classes, s, split_bytes / (1 << 30),
        kMaxSyntheticSplitBytes >> 30));
  }
  // One float pattern per class is kept while the images are drawn.
  const double pattern_bytes = double(c.classes) * image_bytes * sizeof(float);
  if (pattern_bytes > double(kMaxSyntheticPatternBytes)) {
    throw ConfigError(fmt::format(
        "dataset.synthetic.classes = {}: with image_size = {} the class "
        "patterns alone need {:.3g} GiB; at most {} GiB",
        c.classes, s, pattern_bytes / (1 << 30),
        kMaxSyntheticPatternBytes >> 30));
  }
  const int64_t n = static_cast<int64_t>(per_class) * c.classes;
  d.pixels.resize(static_cast<size_t>(n * d.image_bytes()));
  d.labels.resize(static_cast<size_t>(n));

  std::vector<std::vector<float>> patterns;
  for (int k = 0; k < c.classes; ++k) patterns.push_back(class_pattern(c, k));

  for (int64_t i = 0; i < n; ++i) {
    // Interleave classes so that any prefix of the dataset is balanced.
    int k = static_cast<int>(i % c.classes);
    d.labels[static_cast<size_t>(i)] = k;
    core::SplitMix64 rng(
        core::mix_seed({static_cast<uint64_t>(c.seed), train ? 1u : 2u,
                        static_cast<uint64_t>(i)}));
    int dx = static_cast<int>(rng.below(5)) - 2;
    int dy = static_cast<int>(rng.below(5)) - 2;
    double contrast = 0.8 + 0.4 * rng.uniform();
    const auto& p = patterns[static_cast<size_t>(k)];
    uint8_t* out = d.image(i);
    for (int ch = 0; ch < c.channels; ++ch) {
      for (int y = 0; y < s; ++y) {
        int sy = std::clamp(y + dy, 0, s - 1);
        for (int x = 0; x < s; ++x) {
          int sx = std::clamp(x + dx, 0, s - 1);
          double v =
              128.0 +
              contrast *
                  (p[(static_cast<size_t>(ch) * s + sy) * s + sx] - 128.0) +
              c.noise * 64.0 * rng.normal();
          out[(static_cast<size_t>(ch) * s + y) * s + x] =
              static_cast<uint8_t>(std::clamp(std::lround(v), 0l, 255l));
        }
      }
    }
  }
  return d;
}

}  // namespace adascale::datasets
