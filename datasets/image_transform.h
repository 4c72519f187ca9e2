#pragma once
/// The per-sample image pipeline: resize → random crop with zero padding →
/// horizontal flip → normalise → cutout, fused into one pass that writes
/// floats straight into a batch tensor's memory (NCHW or NHWC). Randomness
/// comes from a per-sample seed, so output depends on the seed alone.

#include <array>
#include <cstdint>
#include <vector>

#include "core/augment_config.h"

namespace adascale::datasets {

/// Per-channel mean and std on the 0..1 scale.
struct Normalization {
  std::vector<double> mean;
  std::vector<double> std;
};

/// Where a transformed image goes: element (c, y, x) is written to
/// `data[c * channel_stride + y * row_stride + x * col_stride]`.
struct FloatImageView {
  float* data = nullptr;
  int64_t channel_stride = 0;
  int64_t row_stride = 0;
  int64_t col_stride = 0;
};

/// A configured transform for images of one input shape.
class ImageTransform {
 public:
  /// `augment` enables the random parts (training); evaluation passes
  /// `train = false` and keeps only resize and normalisation.
  ImageTransform(const core::AugmentConfig& augment, Normalization norm,
                 int channels, int height, int width, bool train);

  int channels() const { return channels_; }
  int out_height() const { return out_h_; }
  int out_width() const { return out_w_; }

  /// Transforms one planar C×H×W uint8 image into `out`.
  void apply(const uint8_t* image, const FloatImageView& out,
             uint64_t sample_seed) const;

 private:
  int channels_, in_h_, in_w_, out_h_, out_w_;
  int pad_ = 0;
  bool flip_ = false;
  int cutout_ = 0;
  std::vector<std::array<float, 256>> lut_;  ///< pixel → normalised value
  std::vector<float> fill_;                  ///< normalised zero padding
};

}  // namespace adascale::datasets
