#include "datasets/cifar_reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

using adascale::testing::TempDir;

constexpr int kPlane = 32 * 32;
constexpr int64_t kRecords = 7;  // per file in these tests

// A distinct, position-dependent pixel value, so a planar/interleaved or
// off-by-one mix-up cannot go unnoticed.
uint8_t pixel(int image, int channel, int index) {
  return static_cast<uint8_t>(image * 7 + channel * 50 + index);
}

// One record: the label bytes, then the R, G and B planes of `image`.
std::string record(const std::vector<int>& labels, int image) {
  std::string r;
  for (int label : labels) r.push_back(static_cast<char>(label));
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < kPlane; ++i) {
      r.push_back(static_cast<char>(pixel(image, c, i)));
    }
  }
  return r;
}

std::string cifar10_names(int count) {
  const char* all[] = {"airplane", "automobile", "bird", "cat",   "deer", "dog",
                       "frog",     "horse",      "ship", "truck", "extra"};
  std::string text;
  for (int i = 0; i < count; ++i) text += std::string(all[i]) + "\n";
  return text + "\n";  // the official file ends with an empty line
}

int cifar10_label(int file, int r) {
  return (file * kRecords + r) % 10;
}

// Writes a CIFAR-10 tree: files 1..5 are the train batches, 0 the test one.
// Image numbers run on across files (file * kRecords + r).
void write_cifar10(const TempDir& dir) {
  dir.write("batches.meta.txt", cifar10_names(10));
  for (int file = 0; file <= 5; ++file) {
    std::string bytes;
    for (int r = 0; r < kRecords; ++r) {
      const int image = file * kRecords + r;
      bytes += record({cifar10_label(file, r)}, image);
    }
    dir.write(file == 0 ? "test_batch.bin"
                        : "data_batch_" + std::to_string(file) + ".bin",
              bytes);
  }
}

CifarLayout small_layout() {
  CifarLayout layout;
  layout.cifar10_records_per_file = kRecords;
  layout.cifar100_train_records = 5;
  layout.cifar100_test_records = 3;
  return layout;
}

void expect_pixels(const ImageDataset& d, int64_t i, int image) {
  ASSERT_EQ(d.image_bytes(), 3 * kPlane);
  const uint8_t* p = d.image(i);
  for (int c = 0; c < 3; ++c) {
    for (int k = 0; k < kPlane; ++k) {
      ASSERT_EQ(p[c * kPlane + k], pixel(image, c, k))
          << "image " << i << " channel " << c << " pixel " << k;
    }
  }
}

TEST(CifarReader, Cifar10TrainHasEveryBatchInOrder) {
  TempDir dir;
  write_cifar10(dir);
  ImageDataset d = read_cifar10(dir.path(), true, small_layout());
  EXPECT_EQ(d.name, "cifar10/train");
  EXPECT_EQ(d.channels, 3);
  EXPECT_EQ(d.height, 32);
  EXPECT_EQ(d.width, 32);
  ASSERT_EQ(d.size(), 5 * kRecords);
  EXPECT_EQ(d.pixels.size(), static_cast<size_t>(5 * kRecords * 3 * kPlane));
  ASSERT_EQ(d.num_classes(), 10);
  EXPECT_EQ(d.class_names.front(), "airplane");
  EXPECT_EQ(d.class_names.back(), "truck");
  for (int file = 1; file <= 5; ++file) {
    for (int r = 0; r < kRecords; ++r) {
      const int64_t i = (file - 1) * kRecords + r;
      EXPECT_EQ(d.labels[i], cifar10_label(file, r));
      expect_pixels(d, i, file * kRecords + r);
    }
  }
}

TEST(CifarReader, Cifar10TestPlanesAreRgb) {
  TempDir dir;
  write_cifar10(dir);
  // A record whose R plane is 1, G plane 2, B plane 3, label 4.
  std::string bytes(1, '\4');
  for (char v : {'\1', '\2', '\3'}) bytes += std::string(kPlane, v);
  for (int r = 1; r < kRecords; ++r) bytes += record({0}, r);
  dir.write("test_batch.bin", bytes);

  ImageDataset d = read_cifar10(dir.path(), false, small_layout());
  EXPECT_EQ(d.name, "cifar10/test");
  ASSERT_EQ(d.size(), kRecords);
  EXPECT_EQ(d.labels[0], 4);
  for (int c = 0; c < 3; ++c) {
    for (int k = 0; k < kPlane; ++k) {
      ASSERT_EQ(d.image(0)[c * kPlane + k], c + 1);
    }
  }
  expect_pixels(d, kRecords - 1, kRecords - 1);
}

TEST(CifarReader, TruncatedFileNamesFileSizeAndOffset) {
  TempDir dir;
  write_cifar10(dir);
  std::string bytes;
  for (int r = 0; r < kRecords; ++r) bytes += record({1}, r);
  bytes += record({1}, 0).substr(0, 100);
  const std::string path = dir.write("data_batch_3.bin", bytes);
  EXPECT_THROW_WITH(read_cifar10(dir.path(), true, small_layout()), DataError,
                    path +
                        ": size 21611 bytes is not a multiple of the "
                        "3073-byte record; record 7 is truncated, starting "
                        "at byte offset 21511");
}

TEST(CifarReader, WrongRecordCountIsRefused) {
  TempDir dir;
  write_cifar10(dir);
  std::string bytes;
  for (int r = 0; r < kRecords - 1; ++r) bytes += record({1}, r);
  const std::string path = dir.write("data_batch_2.bin", bytes);
  EXPECT_THROW_WITH(read_cifar10(dir.path(), true, small_layout()), DataError,
                    path + ": expected 7 records, found 6");
}

TEST(CifarReader, OfficialCountIsTheDefault) {
  TempDir dir;
  write_cifar10(dir);
  EXPECT_THROW_WITH(
      read_cifar10(dir.path(), false), DataError,
      dir.file("test_batch.bin") + ": expected 10000 records, found 7");
}

TEST(CifarReader, LabelOutOfRangeNamesRecordOffsetAndValue) {
  TempDir dir;
  write_cifar10(dir);
  std::string bytes;
  for (int r = 0; r < kRecords; ++r) bytes += record({r == 4 ? 10 : 0}, r);
  const std::string path = dir.write("test_batch.bin", bytes);
  EXPECT_THROW_WITH(read_cifar10(dir.path(), false, small_layout()), DataError,
                    path +
                        ": record 4 (byte offset 12292): label 10 out of "
                        "range [0, 10)");
}

TEST(CifarReader, MissingFilesAreNamed) {
  TempDir dir;
  write_cifar10(dir);
  std::filesystem::remove(dir.file("data_batch_5.bin"));
  EXPECT_THROW_WITH(read_cifar10(dir.path(), true, small_layout()), DataError,
                    dir.file("data_batch_5.bin") + ": CIFAR-10 batch file");
  std::filesystem::remove(dir.file("batches.meta.txt"));
  EXPECT_THROW_WITH(
      read_cifar10(dir.path(), false, small_layout()), DataError,
      dir.file("batches.meta.txt") + ": CIFAR-10 class-name file not found");
  EXPECT_THROW_WITH(
      read_cifar10(dir.file("nowhere"), false), DataError,
      dir.file("nowhere") + ": CIFAR-10 dataset directory not found");
}

TEST(CifarReader, WrongClassNameCountNamesTheFile) {
  TempDir dir;
  write_cifar10(dir);
  const std::string path = dir.write("batches.meta.txt", cifar10_names(9));
  EXPECT_THROW_WITH(read_cifar10(dir.path(), true, small_layout()), DataError,
                    path + ": expected 10 class names (one per line), found 9");
}

// CIFAR-100: coarse label (image % 20), fine label (image * 3 % 100).
void write_cifar100(const TempDir& dir) {
  std::string fine;
  std::string coarse;
  for (int i = 0; i < 100; ++i) fine += "fine" + std::to_string(i) + "\n";
  for (int i = 0; i < 20; ++i) coarse += "coarse" + std::to_string(i) + "\n";
  dir.write("fine_label_names.txt", fine);
  dir.write("coarse_label_names.txt", coarse);
  std::string train;
  for (int r = 0; r < 5; ++r) train += record({r % 20, r * 3 % 100}, r);
  dir.write("train.bin", train);
  std::string test;
  for (int r = 0; r < 3; ++r) {
    test += record({(r + 17) % 20, (r + 33) * 3 % 100}, r + 33);
  }
  dir.write("test.bin", test);
}

TEST(CifarReader, Cifar100FineAndCoarse) {
  TempDir dir;
  write_cifar100(dir);
  ImageDataset fine = read_cifar100(dir.path(), true, false, small_layout());
  EXPECT_EQ(fine.name, "cifar100/train");
  ASSERT_EQ(fine.size(), 5);
  ASSERT_EQ(fine.num_classes(), 100);
  EXPECT_EQ(fine.class_names[42], "fine42");
  for (int r = 0; r < 5; ++r) {
    EXPECT_EQ(fine.labels[r], r * 3 % 100);
    expect_pixels(fine, r, r);
  }

  ImageDataset coarse = read_cifar100(dir.path(), false, true, small_layout());
  EXPECT_EQ(coarse.name, "cifar100/test");
  ASSERT_EQ(coarse.size(), 3);
  ASSERT_EQ(coarse.num_classes(), 20);
  EXPECT_EQ(coarse.class_names[19], "coarse19");
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(coarse.labels[r], (r + 17) % 20);
    expect_pixels(coarse, r, r + 33);
  }
}

TEST(CifarReader, Cifar100ChecksCountsLabelsAndNames) {
  TempDir dir;
  write_cifar100(dir);
  EXPECT_THROW_WITH(
      read_cifar100(dir.path(), true, false), DataError,
      dir.file("train.bin") + ": expected 50000 records, found 5");

  std::string test =
      record({0, 0}, 0) + record({0, 100}, 1) + record({0, 0}, 2);
  dir.write("test.bin", test);
  // The fine label is checked even when reading coarse labels.
  EXPECT_THROW_WITH(read_cifar100(dir.path(), false, true, small_layout()),
                    DataError,
                    dir.file("test.bin") +
                        ": record 1 (byte offset 3075): fine label 100 out of "
                        "range [0, 100)");
  test = record({0, 0}, 0) + record({0, 0}, 1) + record({20, 0}, 2);
  dir.write("test.bin", test);
  EXPECT_THROW_WITH(read_cifar100(dir.path(), false, false, small_layout()),
                    DataError,
                    dir.file("test.bin") +
                        ": record 2 (byte offset 6148): coarse label 20 out "
                        "of range [0, 20)");

  dir.write("test.bin", test.substr(0, 3 * 3074 - 1));
  EXPECT_THROW_WITH(read_cifar100(dir.path(), false, false, small_layout()),
                    DataError,
                    dir.file("test.bin") +
                        ": size 9221 bytes is not a multiple of the 3074-byte "
                        "record; record 2 is truncated, starting at byte "
                        "offset 6148");

  dir.write("coarse_label_names.txt", "a\nb\n");
  EXPECT_THROW_WITH(
      read_cifar100(dir.path(), true, true, small_layout()), DataError,
      dir.file("coarse_label_names.txt") + ": expected 20 class names");
}

}  // namespace
}  // namespace adascale::datasets
