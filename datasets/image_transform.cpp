#include "datasets/image_transform.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "core/error.h"
#include "core/random.h"

namespace adascale::datasets {

ImageTransform::ImageTransform(const core::AugmentConfig& augment,
                               Normalization norm, int channels, int height,
                               int width, bool train)
    : channels_(channels), in_h_(height), in_w_(width) {
  if (norm.mean.size() != static_cast<size_t>(channels) ||
      norm.std.size() != static_cast<size_t>(channels)) {
    throw ConfigError("dataset.mean/std: expected " + std::to_string(channels) +
                      " values (one per image channel), got " +
                      std::to_string(norm.mean.size()) + " and " +
                      std::to_string(norm.std.size()));
  }
  out_h_ = augment.resize > 0 ? augment.resize : height;
  out_w_ = augment.resize > 0 ? augment.resize : width;
  if (train) {
    pad_ = augment.crop_padding;
    flip_ = augment.horizontal_flip;
    cutout_ = augment.cutout;
  }
  lut_.resize(static_cast<size_t>(channels));
  fill_.resize(static_cast<size_t>(channels));
  for (int c = 0; c < channels; ++c) {
    double mean = norm.mean[static_cast<size_t>(c)];
    double std = norm.std[static_cast<size_t>(c)];
    for (int v = 0; v < 256; ++v) {
      lut_[static_cast<size_t>(c)][static_cast<size_t>(v)] =
          static_cast<float>((v / 255.0 - mean) / std);
    }
    fill_[static_cast<size_t>(c)] = static_cast<float>(-mean / std);
  }
}

void ImageTransform::apply(const uint8_t* image, const FloatImageView& out,
                           uint64_t sample_seed) const {
  const int h = out_h_, w = out_w_;
  const uint8_t* src = image;
  thread_local std::vector<uint8_t> resized;
  if (h != in_h_ || w != in_w_) {
    resized.resize(static_cast<size_t>(channels_) * h * w);
    for (int c = 0; c < channels_; ++c) {
      cv::Mat in(
          in_h_, in_w_, CV_8UC1,
          const_cast<uint8_t*>(image) + static_cast<size_t>(c) * in_h_ * in_w_);
      cv::Mat dst(h, w, CV_8UC1,
                  resized.data() + static_cast<size_t>(c) * h * w);
      bool shrink = h < in_h_ && w < in_w_;
      cv::resize(in, dst, cv::Size(w, h), 0, 0,
                 shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    src = resized.data();
  }

  core::SplitMix64 rng(sample_seed);
  int oy = 0, ox = 0;
  bool flip = false;
  if (pad_ > 0) {
    oy = static_cast<int>(rng.below(static_cast<uint64_t>(2 * pad_ + 1)));
    ox = static_cast<int>(rng.below(static_cast<uint64_t>(2 * pad_ + 1)));
  }
  if (flip_) flip = rng.below(2) == 1;

  for (int c = 0; c < channels_; ++c) {
    const auto& lut = lut_[static_cast<size_t>(c)];
    const float fill = fill_[static_cast<size_t>(c)];
    const uint8_t* plane = src + static_cast<size_t>(c) * h * w;
    float* dst_c = out.data + c * out.channel_stride;
    for (int y = 0; y < h; ++y) {
      float* dst = dst_c + y * out.row_stride;
      int sy = y + oy - pad_;
      if (sy < 0 || sy >= h) {
        for (int x = 0; x < w; ++x) dst[x * out.col_stride] = fill;
        continue;
      }
      const uint8_t* row = plane + static_cast<size_t>(sy) * w;
      if (pad_ == 0 && !flip && out.col_stride == 1) {
        for (int x = 0; x < w; ++x) dst[x] = lut[row[x]];
        continue;
      }
      for (int x = 0; x < w; ++x) {
        int sx = (flip ? (w - 1 - x) : x) + ox - pad_;
        dst[x * out.col_stride] = (sx < 0 || sx >= w) ? fill : lut[row[sx]];
      }
    }
  }

  if (cutout_ > 0) {
    // DeVries & Taylor 2017: a square centred anywhere, clipped at borders.
    int cy = static_cast<int>(rng.below(static_cast<uint64_t>(h)));
    int cx = static_cast<int>(rng.below(static_cast<uint64_t>(w)));
    int y0 = std::max(0, cy - cutout_ / 2);
    int y1 = std::min(h, cy - cutout_ / 2 + cutout_);
    int x0 = std::max(0, cx - cutout_ / 2);
    int x1 = std::min(w, cx - cutout_ / 2 + cutout_);
    for (int c = 0; c < channels_; ++c) {
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) {
          out.data[c * out.channel_stride + y * out.row_stride +
                   x * out.col_stride] = 0.0f;
        }
      }
    }
  }
}

}  // namespace adascale::datasets
