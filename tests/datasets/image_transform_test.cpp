#include "datasets/image_transform.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

/// A 2-channel 4×4 image whose pixel (c, y, x) = 10c + 4y + x... as bytes.
std::vector<uint8_t> ramp(int c, int h, int w) {
  std::vector<uint8_t> img(static_cast<size_t>(c * h * w));
  for (int k = 0; k < c; ++k)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        img[static_cast<size_t>((k * h + y) * w + x)] =
            static_cast<uint8_t>(100 * k + 10 * y + x);
  return img;
}

Normalization identity(int c) {
  // mean 0, std 1/255: normalised value == raw byte.
  return {std::vector<double>(static_cast<size_t>(c), 0.0),
          std::vector<double>(static_cast<size_t>(c), 1.0 / 255.0)};
}

torch::Tensor run(const ImageTransform& t, const std::vector<uint8_t>& img,
                  uint64_t seed) {
  auto out = torch::zeros({t.channels(), t.out_height(), t.out_width()});
  FloatImageView v{out.data_ptr<float>(), out.stride(0), out.stride(1),
                   out.stride(2)};
  t.apply(img.data(), v, seed);
  return out;
}

TEST(ImageTransform, EvalIsPlainNormalisation) {
  core::AugmentConfig a;
  a.crop_padding = 4;
  a.horizontal_flip = true;
  a.cutout = 2;
  Normalization n{{0.5, 0.25}, {0.5, 0.125}};
  ImageTransform t(a, n, 2, 4, 4, /*train=*/false);
  auto img = ramp(2, 4, 4);
  auto out = run(t, img, 1);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        double v = img[static_cast<size_t>((c * 4 + y) * 4 + x)] / 255.0;
        EXPECT_NEAR(out[c][y][x].item<float>(), (v - n.mean[c]) / n.std[c],
                    1e-5);
      }
}

TEST(ImageTransform, CropAndFlipMoveRealPixels) {
  core::AugmentConfig a;
  a.crop_padding = 2;
  a.horizontal_flip = true;
  ImageTransform t(a, identity(1), 1, 6, 6, true);
  auto img = ramp(1, 6, 6);
  bool saw_shift = false, saw_flip = false;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    auto out = run(t, img, seed);
    // Every output pixel is either padding (0) or some input pixel, and the
    // output is a translated (possibly mirrored) window of the padded input.
    bool matched = false;
    for (int oy = -2; oy <= 2 && !matched; ++oy)
      for (int ox = -2; ox <= 2 && !matched; ++ox)
        for (int flip = 0; flip < 2 && !matched; ++flip) {
          bool ok = true;
          for (int y = 0; y < 6 && ok; ++y)
            for (int x = 0; x < 6 && ok; ++x) {
              int sx = (flip ? 5 - x : x) + ox, sy = y + oy;
              float want = (sx < 0 || sx >= 6 || sy < 0 || sy >= 6)
                               ? 0.0f
                               : img[static_cast<size_t>(sy * 6 + sx)];
              ok = std::abs(out[0][y][x].item<float>() - want) < 1e-3;
            }
          if (ok) {
            matched = true;
            saw_shift |= (ox != 0 || oy != 0);
            saw_flip |= flip == 1;
          }
        }
    EXPECT_TRUE(matched) << "seed " << seed;
  }
  EXPECT_TRUE(saw_shift);
  EXPECT_TRUE(saw_flip);
}

TEST(ImageTransform, SameSeedSameOutputDifferentSeedDiffers) {
  core::AugmentConfig a;
  a.crop_padding = 4;
  a.horizontal_flip = true;
  a.cutout = 8;
  ImageTransform t(a, identity(3), 3, 32, 32, true);
  auto img = ramp(3, 32, 32);
  EXPECT_TRUE(torch::equal(run(t, img, 7), run(t, img, 7)));
  int differing = 0;
  for (uint64_t s = 0; s < 8; ++s)
    differing += !torch::equal(run(t, img, 100 + s), run(t, img, 7));
  EXPECT_GE(differing, 6);
}

TEST(ImageTransform, CutoutZeroesASquare) {
  core::AugmentConfig a;
  a.cutout = 4;
  // mean 0.5 → a raw 0 byte normalises to -1, never to 0: zeros are cutout.
  Normalization n{{0.5}, {0.5}};
  ImageTransform t(a, n, 1, 16, 16, true);
  std::vector<uint8_t> img(256, 0);
  for (uint64_t s = 0; s < 20; ++s) {
    auto out = run(t, img, s);
    int64_t zeros = (out == 0).sum().item<int64_t>();
    EXPECT_GT(zeros, 0);
    EXPECT_LE(zeros, 16);
  }
}

TEST(ImageTransform, ResizeChangesShapeAndKeepsFlatImagesFlat) {
  core::AugmentConfig a;
  a.resize = 8;
  ImageTransform t(a, identity(3), 3, 32, 32, false);
  EXPECT_EQ(t.out_height(), 8);
  std::vector<uint8_t> img(3 * 32 * 32, 77);
  auto out = run(t, img, 0);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 8, 8}));
  EXPECT_NEAR(out.min().item<float>(), 77, 1e-3);
  EXPECT_NEAR(out.max().item<float>(), 77, 1e-3);
  a.resize = 48;
  ImageTransform up(a, identity(3), 3, 32, 32, false);
  EXPECT_EQ(run(up, img, 0).size(2), 48);
}

TEST(ImageTransform, WrongNormalisationSizeIsAnError) {
  core::AugmentConfig a;
  EXPECT_THROW_WITH(ImageTransform(a, identity(1), 3, 8, 8, true), ConfigError,
                    "expected 3 values");
}

}  // namespace
}  // namespace adascale::datasets
