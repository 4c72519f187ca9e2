#include "datasets/normalized_images.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "datasets/dataset_factory.h"

namespace adascale::datasets {
namespace {

core::DatasetConfig synthetic(double validation_fraction) {
  core::DatasetConfig c;
  c.format = "synthetic";
  c.validation_fraction = validation_fraction;
  c.synthetic.classes = 4;
  c.synthetic.channels = 3;
  c.synthetic.image_size = 8;
  c.synthetic.train_per_class = 20;
  c.synthetic.test_per_class = 5;
  return c;
}

core::InputNormalization normalization() {
  core::InputNormalization n;
  n.mean = {0.5, 0.25, 0.0};
  n.std = {0.5, 0.25, 1.0};
  return n;
}

TEST(NormalizedImages, TestSplitIsNormalisedInOrder) {
  core::DatasetConfig config = synthetic(0.25);
  DatasetSplits splits = load_dataset(config);
  NormalizedImages test = load_normalized_images(config, normalization(), 3, 8,
                                                 ImageSplit::kTest, 0);
  ASSERT_EQ(test.size(), splits.test.size());
  ASSERT_EQ(test.images.sizes(), (std::vector<int64_t>{20, 3, 8, 8}));
  for (int64_t i = 0; i < test.size(); ++i) {
    EXPECT_EQ(test.labels[size_t(i)], splits.test.labels[size_t(i)]);
  }
  // Pixel (image 3, channel 1, row 2, column 5): (p / 255 - 0.25) / 0.25.
  const uint8_t p = splits.test.image(3)[1 * 64 + 2 * 8 + 5];
  EXPECT_FLOAT_EQ(test.images[3][1][2][5].item<float>(),
                  float((p / 255.0 - 0.25) / 0.25));
  EXPECT_EQ(load_normalized_images(config, normalization(), 3, 8,
                                   ImageSplit::kTest, 7)
                .size(),
            7);
}

TEST(NormalizedImages, CalibrationTakesHeldOutImagesElseTrainingImages) {
  core::DatasetConfig config = synthetic(0.25);
  DatasetSplits splits = load_dataset(config);
  NormalizedImages held_out = load_normalized_images(
      config, normalization(), 3, 8, ImageSplit::kCalibration, 0);
  ASSERT_EQ(size_t(held_out.size()), splits.validation_indices.size());
  for (size_t i = 0; i < splits.validation_indices.size(); ++i) {
    EXPECT_EQ(held_out.labels[i],
              splits.train.labels[size_t(splits.validation_indices[i])]);
  }
  core::DatasetConfig none = synthetic(0);
  DatasetSplits all = load_dataset(none);
  NormalizedImages train = load_normalized_images(none, normalization(), 3, 8,
                                                  ImageSplit::kCalibration, 10);
  ASSERT_EQ(train.size(), 10);
  EXPECT_EQ(train.labels[0],
            all.train.labels[size_t(all.train_indices.front())]);
}

TEST(NormalizedImages, ShapeAndNormalisationMismatchesAreRefused) {
  core::DatasetConfig config = synthetic(0.25);
  EXPECT_THROW(load_normalized_images(config, normalization(), 1, 8,
                                      ImageSplit::kTest, 0),
               DataError);
  EXPECT_THROW(load_normalized_images(config, normalization(), 3, 16,
                                      ImageSplit::kTest, 0),
               DataError);
  core::InputNormalization two = normalization();
  two.mean.pop_back();
  EXPECT_THROW(load_normalized_images(config, two, 3, 8, ImageSplit::kTest, 0),
               DataError);
}

}  // namespace
}  // namespace adascale::datasets
