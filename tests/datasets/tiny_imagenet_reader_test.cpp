#include "datasets/tiny_imagenet_reader.h"

#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <cstdlib>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

using adascale::testing::TempDir;

constexpr int kSide = 8;
constexpr int kTolerance = 4;  // JPEG is lossy, even for flat colours
const std::vector<std::string> kWnids = {"n001", "n002", "n003"};

struct Rgb {
  int r, g, b;
};

// A distinct flat colour per class and image.
Rgb colour(int label, int k) {
  return {30 + 70 * label, 200 - 50 * label + 20 * k, 60 + 90 * k};
}

// Writes a flat-colour JPEG of `width`×`height` (OpenCV wants BGR).
void write_jpeg(const std::string& path, Rgb c, int width = kSide,
                int height = kSide) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  cv::Mat image(height, width, CV_8UC3, cv::Scalar(c.b, c.g, c.r));
  ASSERT_TRUE(cv::imwrite(path, image, {cv::IMWRITE_JPEG_QUALITY, 100}));
}

std::string train_image(const TempDir& dir, int label, int k) {
  const std::string& wnid = kWnids[label];
  return dir.file("train/" + wnid + "/images/" + wnid + "_" +
                  std::to_string(k) + ".JPEG");
}

// Three classes of two train images each; words.txt names only the first
// two (plus an unrelated wnid); the val split has val_0..val_3 with
// annotations out of file order.
void write_tiny_imagenet(const TempDir& dir) {
  dir.write("wnids.txt", "n001\nn002\nn003\n");
  dir.write("words.txt",
            "n000\tentity\nn001\tgoldfish, Carassius auratus\n"
            "n002\ttabby, tabby cat\n");
  for (int label = 0; label < 3; ++label) {
    for (int k = 0; k < 2; ++k) {
      write_jpeg(train_image(dir, label, k), colour(label, k));
    }
    dir.write("train/" + kWnids[label] + "/" + kWnids[label] + "_boxes.txt",
              "not an image\n");
  }
  const int val_labels[] = {2, 0, 1, 2};
  for (int i = 0; i < 4; ++i) {
    write_jpeg(dir.file("val/images/val_" + std::to_string(i) + ".JPEG"),
               colour(val_labels[i], 1));
  }
  dir.write("val/val_annotations.txt",
            "val_3.JPEG\tn003\t0\t0\t7\t7\n"
            "val_0.JPEG\tn003\t1\t2\t3\t4\n"
            "\n"
            "val_2.JPEG\tn002\t0\t0\t7\t7\r\n"
            "val_1.JPEG\tn001\t0\t0\t7\t7\n");
}

void expect_flat(const ImageDataset& d, int64_t i, Rgb c) {
  const int plane = d.height * d.width;
  const int expected[] = {c.r, c.g, c.b};
  for (int ch = 0; ch < 3; ++ch) {
    for (int p = 0; p < plane; ++p) {
      ASSERT_NEAR(d.image(i)[ch * plane + p], expected[ch], kTolerance)
          << "image " << i << " channel " << ch << " pixel " << p;
    }
  }
}

TEST(TinyImageNetReader, ReadsTrainSplit) {
  TempDir dir;
  write_tiny_imagenet(dir);
  ImageDataset d = read_tiny_imagenet(dir.path(), true);
  EXPECT_EQ(d.name, "tiny_imagenet/train");
  EXPECT_EQ(d.channels, 3);
  EXPECT_EQ(d.height, kSide);
  EXPECT_EQ(d.width, kSide);
  ASSERT_EQ(d.size(), 6);
  EXPECT_EQ(d.pixels.size(), 6u * 3 * kSide * kSide);
  EXPECT_EQ(d.class_names,
            (std::vector<std::string>{"goldfish, Carassius auratus",
                                      "tabby, tabby cat", "n003"}));
  for (int label = 0; label < 3; ++label) {
    for (int k = 0; k < 2; ++k) {
      const int64_t i = label * 2 + k;
      EXPECT_EQ(d.labels[i], label);
      expect_flat(d, i, colour(label, k));
    }
  }
}

TEST(TinyImageNetReader, ReadsValSplitAsTest) {
  TempDir dir;
  write_tiny_imagenet(dir);
  ImageDataset d = read_tiny_imagenet(dir.path(), false);
  EXPECT_EQ(d.name, "tiny_imagenet/test");
  ASSERT_EQ(d.size(), 4);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{2, 0, 1, 2}));
  EXPECT_EQ(d.num_classes(), 3);
  const int val_labels[] = {2, 0, 1, 2};
  for (int i = 0; i < 4; ++i) expect_flat(d, i, colour(val_labels[i], 1));
}

TEST(TinyImageNetReader, WordsTxtIsOptional) {
  TempDir dir;
  write_tiny_imagenet(dir);
  std::filesystem::remove(dir.file("words.txt"));
  ImageDataset d = read_tiny_imagenet(dir.path(), false);
  EXPECT_EQ(d.class_names, kWnids);
}

TEST(TinyImageNetReader, ResultDoesNotDependOnThreadCount) {
  TempDir dir;
  write_tiny_imagenet(dir);
  for (int k = 2; k < 12; ++k) {
    write_jpeg(train_image(dir, 1, k), colour(1, k % 3));
  }
  ImageDataset serial;
  tbb::task_arena(1).execute(
      [&] { serial = read_tiny_imagenet(dir.path(), true); });
  ImageDataset parallel;
  tbb::task_arena(2).execute(
      [&] { parallel = read_tiny_imagenet(dir.path(), true); });
  ASSERT_EQ(serial.size(), 16);
  EXPECT_EQ(serial.labels, parallel.labels);
  EXPECT_EQ(serial.pixels, parallel.pixels);
}

TEST(TinyImageNetReader, MissingDirectoriesAndWnidsAreNamed) {
  TempDir dir;
  EXPECT_THROW_WITH(
      read_tiny_imagenet(dir.file("absent"), true), DataError,
      dir.file("absent") + ": Tiny ImageNet dataset directory not found");
  write_tiny_imagenet(dir);
  std::filesystem::remove_all(dir.file("train/n002"));
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    dir.file("train/n002/images") +
                        ": image directory of class n002 not found");
  std::filesystem::remove(dir.file("wnids.txt"));
  EXPECT_THROW_WITH(
      read_tiny_imagenet(dir.path(), true), DataError,
      dir.file("wnids.txt") + ": Tiny ImageNet class list not found");
}

TEST(TinyImageNetReader, UnreadableJpegIsNamed) {
  TempDir dir;
  write_tiny_imagenet(dir);
  const std::string bad =
      dir.write("train/n002/images/n002_1.JPEG", "this is no JPEG at all");
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    bad + ": cannot decode image");
  // A real JPEG cut short, which libjpeg would decode partly grey.
  cv::Mat noise(kSide, kSide, CV_8UC3);
  cv::randu(noise, 0, 255);
  std::vector<unsigned char> jpeg;
  ASSERT_TRUE(cv::imencode(".JPEG", noise, jpeg));
  dir.write("train/n002/images/n002_1.JPEG",
            std::string(jpeg.begin(), jpeg.end() - 10));
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    bad + ": cannot decode image: truncated JPEG");
  dir.write("train/n002/images/n002_1.JPEG", "");
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    bad + ": cannot decode image: the file is empty");
  // Also when it is the first image, which fixes the size.
  const std::string first =
      dir.write("train/n001/images/n001_0.JPEG", std::string(64, '\xff'));
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    first + ": cannot decode image");
}

TEST(TinyImageNetReader, ImageOfAnotherSizeIsNamed) {
  TempDir dir;
  write_tiny_imagenet(dir);
  write_jpeg(train_image(dir, 2, 0), colour(2, 0), kSide, kSide + 2);
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    train_image(dir, 2, 0) +
                        ": image is 8x10 (width x height), expected 8x8");
}

TEST(TinyImageNetReader, BadAnnotationsAreNamed) {
  TempDir dir;
  write_tiny_imagenet(dir);
  const std::string annotations = dir.file("val/val_annotations.txt");
  dir.write("val/val_annotations.txt",
            "val_0.JPEG\tn003\t0\t0\t7\t7\n"
            "val_1.JPEG\tn001\t0\t0\t7\t7\n"
            "\n"
            "val_2.JPEG\tn099\t0\t0\t7\t7\n");
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), false), DataError,
                    annotations + ":4: unknown wnid 'n099'");

  dir.write("val/val_annotations.txt",
            "val_0.JPEG\tn003\t0\t0\t7\t7\n"
            "val_1.JPEG\tn001\t0\t0\t7\t7\n"
            "val_2.JPEG\tn001\t0\t0\t7\t7\n");
  EXPECT_THROW_WITH(
      read_tiny_imagenet(dir.path(), false), DataError,
      dir.file("val/images/val_3.JPEG") + ": no annotation in " + annotations);

  dir.write("val/val_annotations.txt",
            "val_0.JPEG\tn003\t0\t0\t7\t7\n"
            "val_9.JPEG\tn001\t0\t0\t7\t7\n");
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), false), DataError,
                    annotations + ":2: annotated image " +
                        dir.file("val/images/val_9.JPEG") + " not found");

  dir.write("val/val_annotations.txt", "val_0.JPEG\n");
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), false), DataError,
                    annotations + ":1: expected 'file<TAB>wnid");

  std::filesystem::remove(annotations);
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), false), DataError,
                    annotations + ": Tiny ImageNet val annotation file");
}

}  // namespace
}  // namespace adascale::datasets
