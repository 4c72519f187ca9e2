#include "datasets/image_folder_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/run_config.h"
#include "datasets/channel_stats.h"
#include "datasets/data_loader.h"
#include "datasets/dataset_factory.h"
#include "tests/memory_limit.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

namespace fs = std::filesystem;
using adascale::testing::TempDir;

constexpr int kSide = 8;

struct Rgb {
  int r, g, b;
};

// A distinct flat colour per class and image.
Rgb colour(int label, int k) {
  return {20 + 60 * label, 200 - 40 * label + 10 * k, 50 + 30 * k};
}

// Writes an image (OpenCV wants BGR; the extension picks the encoding).
void write_image(const std::string& path, const cv::Mat& bgr) {
  fs::create_directories(fs::path(path).parent_path());
  ASSERT_TRUE(cv::imwrite(path, bgr, {cv::IMWRITE_JPEG_QUALITY, 100}));
}

void write_flat(const std::string& path, Rgb c, int width = kSide,
                int height = kSide) {
  write_image(path, cv::Mat(height, width, CV_8UC3, cv::Scalar(c.b, c.g, c.r)));
}

// Classes named out of order (byte order puts "Bee" first); two PNGs per
// class in train/, one in val/ and test/.
const std::vector<std::string> kClasses = {"zebra", "ant", "Bee"};
const std::vector<std::string> kSorted = {"Bee", "ant", "zebra"};

void write_folder(const TempDir& dir, bool val = true, bool test = true) {
  for (int label = 0; label < 3; ++label) {
    const std::string& name = kSorted[size_t(label)];
    for (int k = 0; k < 2; ++k) {
      write_flat(
          dir.file("train/" + name + "/img" + std::to_string(k) + ".png"),
          colour(label, k));
    }
    if (val) write_flat(dir.file("val/" + name + "/v.png"), colour(label, 2));
    if (test) write_flat(dir.file("test/" + name + "/t.png"), colour(label, 3));
  }
}

core::ImageFolderConfig options(int side = kSide, int64_t cache_mb = 64) {
  core::ImageFolderConfig o;
  o.image_size = side;
  o.cache_mb = cache_mb;
  return o;
}

// Pixel (channel, y, x) of image i.
int pixel(const ImageDataset& d, int64_t i, int c, int y, int x) {
  std::vector<uint8_t> scratch(size_t(d.image_bytes()));
  const uint8_t* p = d.read_image(i, scratch.data());
  return p[(c * d.height + y) * d.width + x];
}

void expect_flat(const ImageDataset& d, int64_t i, Rgb c) {
  for (int y = 0; y < d.height; ++y) {
    for (int x = 0; x < d.width; ++x) {
      ASSERT_EQ(pixel(d, i, 0, y, x), c.r) << d.name << " image " << i;
      ASSERT_EQ(pixel(d, i, 1, y, x), c.g) << d.name << " image " << i;
      ASSERT_EQ(pixel(d, i, 2, y, x), c.b) << d.name << " image " << i;
    }
  }
}

TEST(ImageFolderReader, ClassesSortedByNameAndLabelled) {
  TempDir dir;
  write_folder(dir, /*val=*/false);
  ImageFolderSplits s = read_image_folder(dir.path(), options());
  EXPECT_EQ(s.train.class_names, kSorted);
  EXPECT_EQ(s.test.class_names, kSorted);
  EXPECT_EQ(s.train.name, "image_folder/train");
  EXPECT_EQ(s.test.name, "image_folder/test");
  EXPECT_EQ(s.train.channels, 3);
  EXPECT_EQ(s.train.height, kSide);
  EXPECT_EQ(s.train.width, kSide);
  EXPECT_TRUE(s.train.in_memory());
  EXPECT_FALSE(s.has_validation_folder());
  ASSERT_EQ(s.train.labels, (std::vector<int32_t>{0, 0, 1, 1, 2, 2}));
  ASSERT_EQ(s.test.labels, (std::vector<int32_t>{0, 1, 2}));
  // PNG is lossless: every pixel is the colour written for its class.
  for (int label = 0; label < 3; ++label) {
    for (int k = 0; k < 2; ++k) {
      expect_flat(s.train, 2 * label + k, colour(label, k));
    }
    expect_flat(s.test, label, colour(label, 3));
  }
}

TEST(ImageFolderReader, JpegGreyAndExtensionCaseAreRead) {
  TempDir dir;
  write_folder(dir, false);
  // A JPEG named .JPG, a grey PNG and a PNG named .jpeg are all read.
  write_flat(dir.file("train/ant/x.JPG"), {90, 90, 90});
  write_image(dir.file("train/ant/y_grey.png"),
              cv::Mat(kSide, kSide, CV_8UC1, cv::Scalar(77)));
  cv::Mat bgr(kSide, kSide, CV_8UC3, cv::Scalar(3, 2, 1));
  std::vector<unsigned char> png;
  ASSERT_TRUE(cv::imencode(".png", bgr, png));
  dir.write("train/ant/z.jpeg", std::string(png.begin(), png.end()));
  ImageFolderSplits s = read_image_folder(dir.path(), options());
  ASSERT_EQ(s.train.size(), 9);
  // ant (label 1): img0, img1, x.JPG, y_grey.png, z.jpeg in name order.
  EXPECT_EQ(s.train.labels[4], 1);
  EXPECT_NEAR(pixel(s.train, 4, 0, 3, 3), 90, 3);  // JPEG is lossy
  expect_flat(s.train, 5, {77, 77, 77});
  expect_flat(s.train, 6, {1, 2, 3});
}

TEST(ImageFolderReader, ResizesByCentreCropOrStretch) {
  TempDir dir;
  write_folder(dir, false);
  // 16×8: red, green, blue columns of 4, 8 and 4 pixels.
  cv::Mat wide(8, 16, CV_8UC3, cv::Scalar(0, 255, 0));
  wide(cv::Rect(0, 0, 4, 8)).setTo(cv::Scalar(0, 0, 255));
  wide(cv::Rect(12, 0, 4, 8)).setTo(cv::Scalar(255, 0, 0));
  write_image(dir.file("train/zebra/wide.png"), wide);
  // zebra (label 2): img0, img1, wide.png.
  const int64_t i = 6;

  // Shorter side 8 → 4 makes it 8×4; the centre 4 columns are all green.
  ImageFolderSplits crop = read_image_folder(dir.path(), options(4));
  ASSERT_EQ(crop.train.height, 4);
  ASSERT_EQ(crop.train.labels[size_t(i)], 2);
  expect_flat(crop.train, i, {0, 255, 0});
  expect_flat(crop.train, 0, colour(0, 0));  // flat stays flat

  core::ImageFolderConfig stretch = options(4);
  stretch.fit = "stretch";
  ImageFolderSplits s = read_image_folder(dir.path(), stretch);
  for (int y = 0; y < 4; ++y) {
    EXPECT_EQ(pixel(s.train, i, 0, y, 0), 255);  // red column
    EXPECT_EQ(pixel(s.train, i, 1, y, 1), 255);  // green
    EXPECT_EQ(pixel(s.train, i, 1, y, 2), 255);
    EXPECT_EQ(pixel(s.train, i, 2, y, 3), 255);  // blue column
  }

  // Enlarging works too.
  ImageFolderSplits big = read_image_folder(dir.path(), options(20));
  EXPECT_EQ(big.train.height, 20);
  EXPECT_EQ(big.train.pixels.size(), size_t(7 * 3 * 20 * 20));
  expect_flat(big.train, 2, colour(1, 0));
}

TEST(ImageFolderReader, CorruptImageIsNamedByPath) {
  TempDir dir;
  write_folder(dir);
  const std::string bad = dir.write("train/ant/bad.png", "no image at all");
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    bad + ": cannot decode image");
  // A PNG cut short.
  cv::Mat noise(kSide, kSide, CV_8UC3);
  cv::randu(noise, 0, 255);
  std::vector<unsigned char> png;
  ASSERT_TRUE(cv::imencode(".png", noise, png));
  dir.write("train/ant/bad.png", std::string(png.begin(), png.end() - 20));
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    bad + ": cannot decode image: truncated PNG");
  // Another format named like an image.
  dir.write("train/ant/bad.png", "GIF89a\x01\x00\x01\x00");
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    bad +
                        ": cannot decode image: not a JPEG or PNG file "
                        "(GIF data)");
  // In the test split too.
  fs::remove(bad);
  const std::string empty = dir.write("test/zebra/e.jpg", "");
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    empty + ": cannot decode image: the file is empty");
}

TEST(ImageFolderReader, HugeDeclaredImageIsRefusedBeforeDecoding) {
  TempDir dir;
  write_folder(dir);
  const std::string path = dir.file("train/ant/img0.png");
  std::string bytes = core::read_file(path);
  // IHDR's width and height (big-endian, bytes 16..23) claim 30000×30000.
  for (int at : {16, 20}) {
    bytes[size_t(at)] = 0;
    bytes[size_t(at) + 1] = 0;
    bytes[size_t(at) + 2] = char(30000 >> 8);
    bytes[size_t(at) + 3] = char(30000 & 0xff);
  }
  dir.write("train/ant/img0.png", bytes);
  const std::string refusal =
      path + ": cannot decode image: PNG header declares 30000x30000 pixels";
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    refusal);
  // Bounded memory, checked under an address-space limit in a forked child:
  // 2.7 GB decoded would end there in std::bad_alloc. Over cache_mb, so the
  // image is decoded only when read, here on the calling thread (the child
  // has no other; the in-memory path above decodes on TBB's workers).
  const ImageFolderSplits s = read_image_folder(dir.path(), options(kSide, 0));
  ASSERT_FALSE(s.train.in_memory());
  ASSERT_EQ(s.train.labels[2], 1);  // Bee's img0 and img1, then ant's img0
  const auto run = testing::run_with_address_limit(size_t(256) << 20, [&] {
    std::vector<uint8_t> scratch(size_t(s.train.image_bytes()));
    try {
      s.train.read_image(2, scratch.data());
    } catch (const DataError& e) {
      if (std::string(e.what()).find(refusal) != std::string::npos) return 0;
      throw;  // its message comes back in run.message
    }
    return 6;  // decoded
  });
  EXPECT_EQ(run.status, 0) << (run.status == testing::kBadAlloc
                                   ? "ran out of its address-space limit: "
                                   : "status " + std::to_string(run.status) +
                                         ": ")
                           << run.message;
}

TEST(ImageFolderReader, EmptyClassIsAnError) {
  TempDir dir;
  write_folder(dir);
  fs::create_directories(dir.file("train/cat"));
  fs::create_directories(dir.file("val/cat"));
  fs::create_directories(dir.file("test/cat"));
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.file("train/cat") + ": class 'cat' has no images");
  // Files that are not images do not make a class non-empty.
  dir.write("train/cat/notes.txt", "cats\n");
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.file("train/cat") + ": class 'cat' has no images");
  // Nor in another split.
  write_flat(dir.file("train/cat/c.png"), {1, 1, 1});
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.file("test/cat") + ": class 'cat' has no images");
}

TEST(ImageFolderReader, NonImageFilesAreSkipped) {
  TempDir dir;
  write_folder(dir);
  dir.write("train/ant/readme.txt", "not an image\n");
  dir.write("train/ant/.hidden.png", "not an image either\n");
  dir.write("train/ant/nested/deep.png", "skipped with its folder\n");
  dir.write("train/LICENSE", "a file beside the class folders\n");
  dir.write("train/.cache/x.png", "a hidden folder is no class\n");
  ImageFolderSplits s = read_image_folder(dir.path(), options());
  EXPECT_EQ(s.train.size(), 9);  // 6 of train/ + 3 of val/
  EXPECT_EQ(s.train.class_names, kSorted);
}

TEST(ImageFolderReader, DirectoryNamedLikeAnImageIsRefused) {
  TempDir dir;
  write_folder(dir);
  fs::create_directories(dir.file("train/ant/folder.jpg"));
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.file("train/ant/folder.jpg") +
                        ": named like an image but not a regular file");
}

TEST(ImageFolderReader, MissingPartsAreNamed) {
  TempDir dir;
  EXPECT_THROW_WITH(
      read_image_folder(dir.file("absent"), options()), DataError,
      dir.file("absent") + ": image folder dataset directory not found");
  core::DatasetConfig c;
  c.format = "image_folder";
  c.root = dir.file("absent");
  c.image_folder = options();
  EXPECT_THROW_WITH(load_dataset(c), DataError,
                    dir.file("absent") +
                        ": dataset directory not found "
                        "(format image_folder");
  fs::create_directories(dir.file("test"));
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.file("train") + ": image folder train directory");
  write_folder(dir, false, false);
  fs::remove_all(dir.file("test"));
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.path() +
                        ": image folder has train/ but neither val/ "
                        "nor test/");
  dir.write("test", "a file, not a folder");
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.file("test") +
                        ": image folder test/ is not a "
                        "directory");
  fs::remove(dir.file("test"));
  write_folder(dir, false, true);
  fs::remove_all(dir.file("test/ant"));
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.file("test") + ": no folder for class 'ant'");
  write_flat(dir.file("test/ant/t.png"), colour(1, 3));
  write_flat(dir.file("test/cat/t.png"), colour(1, 3));
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options()), DataError,
                    dir.file("test/cat") +
                        ": class 'cat' has no folder in "
                        "train/");
  EXPECT_THROW_WITH(read_image_folder(dir.path(), options(0)), ConfigError,
                    "dataset.image_folder.image_size");
}

TEST(ImageFolderReader, SplitRules) {
  core::DatasetConfig c;
  c.format = "image_folder";
  c.image_folder = options();
  c.validation_fraction = 0.5;
  {
    // train/ + val/: val/ is the test split, validation carved from train/.
    TempDir dir;
    write_folder(dir, true, false);
    c.root = dir.path();
    DatasetSplits s = load_dataset(c);
    EXPECT_EQ(s.test.name, "image_folder/val");
    EXPECT_EQ(s.test.size(), 3);
    expect_flat(s.test, 0, colour(0, 2));
    EXPECT_EQ(s.train.size(), 6);
    EXPECT_EQ(s.train_indices.size(), 3u);
    EXPECT_EQ(s.validation_indices.size(), 3u);
  }
  {
    // train/ + val/ + test/: val/ is the validation split.
    TempDir dir;
    write_folder(dir);
    c.root = dir.path();
    DatasetSplits s = load_dataset(c);
    EXPECT_EQ(s.test.name, "image_folder/test");
    expect_flat(s.test, 2, colour(2, 3));
    EXPECT_EQ(s.train_indices, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(s.validation_indices, (std::vector<int64_t>{6, 7, 8}));
    expect_flat(s.train, 7, colour(1, 2));
    c.train_limit = 3;  // of train/ alone, class-balanced
    s = load_dataset(c);
    EXPECT_EQ(s.train_indices.size(), 3u);
    for (int64_t i : s.train_indices) EXPECT_LT(i, 6);
    EXPECT_EQ(s.validation_indices, (std::vector<int64_t>{6, 7, 8}));
  }
}

TEST(ImageFolderReader, OverTheCacheBoundTheLoaderDecodes) {
  TempDir dir;
  write_folder(dir);
  ImageFolderSplits held = read_image_folder(dir.path(), options(kSide, 64));
  ImageFolderSplits streamed = read_image_folder(dir.path(), options(kSide, 0));
  ASSERT_TRUE(held.train.in_memory());
  ASSERT_FALSE(streamed.train.in_memory());
  ASSERT_FALSE(streamed.test.in_memory());
  EXPECT_TRUE(streamed.train.pixels.empty());
  EXPECT_EQ(streamed.train.labels, held.train.labels);
  EXPECT_EQ(channel_stats(streamed.train).mean, channel_stats(held.train).mean);

  // Batches are the same either way.
  auto batches = [](const ImageDataset& d) {
    core::LoaderConfig lc;
    lc.batch_size = 4;
    lc.drop_last = false;
    lc.prefetch = 1;
    DataLoader loader(d, {0, 1, 2, 3, 4, 5, 6, 7, 8},
                      ImageTransform({}, {{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}},
                                     3, kSide, kSide, false),
                      lc, 7);
    loader.start_epoch(0);
    std::vector<at::Tensor> out;
    while (auto b = loader.next()) out.push_back(b->images);
    return out;
  };
  auto a = batches(held.train), b = batches(streamed.train);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(a[k].equal(b[k]));

  // A bad image is found when the loader reaches it, and named.
  const std::string bad = dir.write("train/zebra/img1.png", "garbage");
  ImageFolderSplits later = read_image_folder(dir.path(), options(kSide, 0));
  EXPECT_THROW_WITH(batches(later.train), DataError,
                    bad + ": cannot decode image");
}

TEST(ImageFolderReader, ConfigKeys) {
  core::RunConfig r = core::load_run_config(
      std::nullopt, {"dataset.format=image_folder", "dataset.root=/x",
                     "model.resolution=24"});
  EXPECT_EQ(r.dataset.image_folder.image_size, 24);  // the model's side
  EXPECT_EQ(r.dataset.image_folder.fit, "crop");
  r = core::load_run_config(std::nullopt,
                            {"dataset.format=image_folder", "dataset.root=/x",
                             "dataset.image_folder.image_size=40"});
  EXPECT_EQ(r.dataset.image_folder.image_size, 40);
  EXPECT_THROW_WITH(
      core::load_run_config(std::nullopt,
                            {"dataset.format=image_folder", "dataset.root=/x",
                             "dataset.image_folder.fit=squash"}),
      ConfigError, "dataset.image_folder.fit");
  EXPECT_THROW_WITH(
      core::load_run_config(std::nullopt, {"dataset.format=image_folder"}),
      ConfigError, "dataset.root: required for format 'image_folder'");
}

}  // namespace
}  // namespace adascale::datasets
