#include "datasets/idx_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

using adascale::testing::TempDir;

constexpr int kRows = 3;
constexpr int kCols = 4;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
          static_cast<char>(v >> 8), static_cast<char>(v)};
}

uint8_t pixel(int image, int index) {
  return static_cast<uint8_t>(image * 31 + index * 5 + 1);
}

std::string idx_images(int count, uint32_t magic = 0x00000803) {
  std::string bytes = be32(magic) + be32(count) + be32(kRows) + be32(kCols);
  for (int i = 0; i < count; ++i) {
    for (int k = 0; k < kRows * kCols; ++k) {
      bytes.push_back(static_cast<char>(pixel(i, k)));
    }
  }
  return bytes;
}

std::string idx_labels(const std::vector<int>& labels,
                       uint32_t magic = 0x00000801) {
  std::string bytes = be32(magic) + be32(static_cast<uint32_t>(labels.size()));
  for (int label : labels) bytes.push_back(static_cast<char>(label));
  return bytes;
}

// Writes `contents` gzip-compressed to `path` with zlib, as the official
// *.gz downloads are.
std::string write_gzip(const std::string& path, const std::string& contents) {
  gzFile file = gzopen(path.c_str(), "wb9");
  EXPECT_NE(file, nullptr);
  EXPECT_EQ(
      gzwrite(file, contents.data(), static_cast<unsigned>(contents.size())),
      static_cast<int>(contents.size()));
  EXPECT_EQ(gzclose(file), Z_OK);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> digits() {
  return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

const std::vector<int> kLabels = {3, 1, 4, 1, 5};

void expect_dataset(const ImageDataset& d, const std::string& name) {
  EXPECT_EQ(d.name, name);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.height, kRows);
  EXPECT_EQ(d.width, kCols);
  ASSERT_EQ(d.size(), static_cast<int64_t>(kLabels.size()));
  ASSERT_EQ(d.pixels.size(), kLabels.size() * kRows * kCols);
  for (size_t i = 0; i < kLabels.size(); ++i) {
    EXPECT_EQ(d.labels[i], kLabels[i]);
    for (int k = 0; k < kRows * kCols; ++k) {
      ASSERT_EQ(d.image(static_cast<int64_t>(i))[k], pixel(i, k));
    }
  }
}

TEST(IdxReader, ReadsPlainFiles) {
  TempDir dir;
  ImageDataset d =
      read_idx(dir.write("img", idx_images(5)),
               dir.write("lbl", idx_labels(kLabels)), digits(), "plain");
  expect_dataset(d, "plain");
  EXPECT_EQ(d.class_names, digits());
}

TEST(IdxReader, GzipIsDetectedByMagicNotByName) {
  TempDir dir;
  // A gzip'd file without .gz, and a plain file named .gz.
  const std::string images = write_gzip(dir.file("images.idx"), idx_images(5));
  const std::string labels = dir.write("labels.idx.gz", idx_labels(kLabels));
  expect_dataset(read_idx(images, labels, digits(), "mixed"), "mixed");
}

TEST(IdxReader, BadMagicIsShownInHex) {
  TempDir dir;
  const std::string labels = dir.write("lbl", idx_labels(kLabels));
  const std::string swapped = dir.write("swapped", idx_images(5, 0x03080000));
  EXPECT_THROW_WITH(
      read_idx(swapped, labels, digits(), "x"), DataError,
      swapped + ": bad IDX magic 0x03080000, expected 0x00000803");
  const std::string images = dir.write("img", idx_images(5));
  EXPECT_THROW_WITH(read_idx(images, images, digits(), "x"), DataError,
                    images + ": bad IDX magic 0x00000803, expected 0x00000801");
}

TEST(IdxReader, TruncatedDataNamesExpectedAndActualBytes) {
  TempDir dir;
  const std::string labels = dir.write("lbl", idx_labels(kLabels));
  const std::string full = idx_images(5);  // 16 + 5 * 12 = 76 bytes
  const std::string images = dir.write("img", full.substr(0, 70));
  EXPECT_THROW_WITH(
      read_idx(images, labels, digits(), "x"), DataError,
      images + ": truncated IDX data: expected 76 bytes, found 70");
  dir.write("img", full.substr(0, 10));
  EXPECT_THROW_WITH(
      read_idx(images, labels, digits(), "x"), DataError,
      images + ": truncated IDX header: expected 16 bytes, found 10");
  dir.write("img", full + "xy");
  EXPECT_THROW_WITH(read_idx(images, labels, digits(), "x"), DataError,
                    images +
                        ": trailing bytes after IDX data: expected 76 bytes, "
                        "found 78");
  const std::string gz_images =
      write_gzip(dir.file("img.gz"), full.substr(0, 70));
  EXPECT_THROW_WITH(read_idx(gz_images, labels, digits(), "x"), DataError,
                    gz_images +
                        ": truncated IDX data: expected 76 bytes, found 70 "
                        "(after gunzip)");
  const std::string short_labels =
      dir.write("short", idx_labels(kLabels).substr(0, 11));
  const std::string good = dir.write("good", full);
  EXPECT_THROW_WITH(
      read_idx(good, short_labels, digits(), "x"), DataError,
      short_labels + ": truncated IDX data: expected 13 bytes, found 11");
}

TEST(IdxReader, CorruptGzipIsRefused) {
  TempDir dir;
  const std::string labels = dir.write("lbl", idx_labels(kLabels));
  const std::string images = write_gzip(dir.file("img"), idx_images(5));
  std::string gz = read_file(images);
  ASSERT_GT(gz.size(), 30u);

  // Cut short: the stream ends in the middle.
  dir.write("img", gz.substr(0, gz.size() / 2));
  EXPECT_THROW_WITH(read_idx(images, labels, digits(), "x"), DataError,
                    images + ": corrupt gzip stream");
  // Damaged deflate data or checksum.
  std::string damaged = gz;
  for (size_t i = 12; i < damaged.size() - 8; i += 3) damaged[i] ^= 0x5a;
  dir.write("img", damaged);
  EXPECT_THROW_WITH(read_idx(images, labels, digits(), "x"), DataError,
                    images + ": corrupt gzip stream");
  damaged = gz;
  damaged[damaged.size() - 6] ^= 0x01;  // inside the CRC-32
  dir.write("img", damaged);
  EXPECT_THROW_WITH(read_idx(images, labels, digits(), "x"), DataError,
                    images + ": corrupt gzip stream");
}

TEST(IdxReader, CountMismatchNamesBothFiles) {
  TempDir dir;
  const std::string images = dir.write("img", idx_images(5));
  const std::string labels = dir.write("lbl", idx_labels({1, 2, 3, 4}));
  EXPECT_THROW_WITH(
      read_idx(images, labels, digits(), "x"), DataError,
      images + " holds 5 images but " + labels + " holds 4 labels");
}

TEST(IdxReader, LabelOutOfRangeNamesIndexAndValue) {
  TempDir dir;
  const std::string images = dir.write("img", idx_images(5));
  const std::string labels = dir.write("lbl", idx_labels({0, 1, 2, 10, 4}));
  EXPECT_THROW_WITH(read_idx(images, labels, digits(), "x"), DataError,
                    labels +
                        ": label 3 (byte offset 11) is 10, out of range "
                        "[0, 10)");
  // Fewer class names make a smaller range.
  dir.write("lbl", idx_labels(kLabels));
  EXPECT_THROW_WITH(read_idx(images, labels, {"a", "b", "c", "d"}, "x"),
                    DataError,
                    labels +
                        ": label 2 (byte offset 10) is 4, out of range "
                        "[0, 4)");
}

TEST(IdxReader, MissingFileIsNamed) {
  TempDir dir;
  const std::string labels = dir.write("lbl", idx_labels(kLabels));
  EXPECT_THROW_WITH(read_idx(dir.file("nope"), labels, digits(), "x"),
                    DataError, dir.file("nope") + ": IDX file not found");
}

TEST(IdxReader, MnistLikeFindsPlainAndGzippedFiles) {
  TempDir dir;
  write_gzip(dir.file("train-images-idx3-ubyte.gz"), idx_images(5));
  dir.write("train-labels-idx1-ubyte", idx_labels(kLabels));
  ImageDataset fashion = read_mnist_like(dir.path(), true, true);
  expect_dataset(fashion, "fashion_mnist/train");
  ASSERT_EQ(fashion.num_classes(), 10);
  EXPECT_EQ(fashion.class_names.front(), "T-shirt/top");
  EXPECT_EQ(fashion.class_names.back(), "Ankle boot");

  dir.write("t10k-images-idx3-ubyte", idx_images(5));
  write_gzip(dir.file("t10k-labels-idx1-ubyte.gz"), idx_labels(kLabels));
  ImageDataset mnist = read_mnist_like(dir.path(), false, false);
  expect_dataset(mnist, "mnist/test");
  EXPECT_EQ(mnist.class_names, digits());
}

TEST(IdxReader, MnistLikeListsWhatItLookedFor) {
  TempDir dir;
  dir.write("train-images-idx3-ubyte", idx_images(5));
  const std::string base = dir.file("train-labels-idx1-ubyte");
  EXPECT_THROW_WITH(read_mnist_like(dir.path(), true, false), DataError,
                    dir.path() + ": MNIST train labels not found; looked for " +
                        base + " and " + base + ".gz");
  EXPECT_THROW_WITH(
      read_mnist_like(dir.file("absent"), true, true), DataError,
      dir.file("absent") + ": Fashion-MNIST dataset directory not found");
}

}  // namespace
}  // namespace adascale::datasets
