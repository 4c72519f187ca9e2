// Hostile data files: every reader bounds what it reads by what the format
// declares, checked under an address-space limit (never by timing), and
// refuses paths outside the dataset root.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/dataset_config.h"
#include "core/error.h"
#include "datasets/cifar_reader.h"
#include "datasets/idx_reader.h"
#include "datasets/synthetic_dataset.h"
#include "datasets/tiny_imagenet_reader.h"
#include "tests/memory_limit.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

using adascale::testing::kBadAlloc;
using adascale::testing::run_with_address_limit;
using adascale::testing::TempDir;
namespace fs = std::filesystem;

constexpr size_t kHeadroom = size_t(256) << 20;

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

// Runs `body` under the address-space limit; passes when it throws an
// adascale::Error whose message holds `needle`.
void expect_bounded_refusal(const std::function<void()>& body,
                            const std::string& needle) {
  const auto run = run_with_address_limit(kHeadroom, [&] {
    try {
      body();
    } catch (const Error& e) {
      if (std::string(e.what()).find(needle) != std::string::npos) return 0;
      throw;
    }
    return 6;  // accepted
  });
  EXPECT_EQ(run.status, 0) << (run.status == kBadAlloc
                                   ? "ran out of its address-space limit: "
                                   : "status " + std::to_string(run.status) +
                                         ": ")
                           << run.message;
}

// A gzip file of `head` followed by `zeros` zero bytes, written in pieces.
std::string write_gzip_with_zeros(const std::string& path,
                                  const std::string& head, size_t zeros) {
  gzFile file = gzopen(path.c_str(), "wb1");
  EXPECT_NE(file, nullptr);
  EXPECT_EQ(gzwrite(file, head.data(), unsigned(head.size())),
            int(head.size()));
  const std::string block(1 << 20, '\0');
  for (size_t left = zeros; left > 0;) {
    const size_t n = std::min(left, block.size());
    EXPECT_EQ(gzwrite(file, block.data(), unsigned(n)), int(n));
    left -= n;
  }
  EXPECT_EQ(gzclose(file), Z_OK);
  return path;
}

TEST(HostileIdx, GzipInflatesNoMoreThanItsHeaderDeclares) {
  TempDir dir;
  // Two 2x2 images, then 768 MiB of zeros that the header does not declare.
  const std::string head =
      be32(0x803) + be32(2) + be32(2) + be32(2) + std::string(8, '\x07');
  const std::string images =
      write_gzip_with_zeros(dir.file("images.gz"), head, size_t(768) << 20);
  const std::string labels =
      dir.write("labels", be32(0x801) + be32(2) + std::string("\x01\x00", 2));
  ASSERT_LT(fs::file_size(images), size_t(8) << 20);
  expect_bounded_refusal(
      [&] {
        read_idx(images, labels, {"a", "b"}, "x");
      },
      images +
          ": trailing bytes after IDX data: expected 24 bytes (after "
          "gunzip)");
}

TEST(HostileIdx, HeaderDeclaringMoreThanTheFileCanHoldIsRefusedUnread) {
  TempDir dir;
  const std::string labels =
      dir.write("labels", be32(0x801) + be32(2) + std::string("\x01\x00", 2));
  // 60000 images of 4096x4096 declared by a 16-byte plain file.
  const std::string plain =
      dir.write("plain", be32(0x803) + be32(60000) + be32(4096) + be32(4096));
  expect_bounded_refusal(
      [&] {
        read_idx(plain, labels, {"a", "b"}, "x");
      },
      plain + ": IDX header declares more than 2 GiB");
  // 4000 images of 512x512 (1 GiB), gzip'd into a few hundred bytes.
  const std::string gz = write_gzip_with_zeros(
      dir.file("gz"), be32(0x803) + be32(4000) + be32(512) + be32(512), 4096);
  expect_bounded_refusal(
      [&] {
        read_idx(gz, labels, {"a", "b"}, "x");
      },
      "-byte gzip file can hold");
}

TEST(HostileCifar, OversizedBatchIsRefusedBeforeBeingRead) {
  TempDir dir;
  dir.write("batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n");
  // A sparse 4.3 GB data_batch_1.bin: no disk used, but a reader that
  // loads it whole needs 4.3 GB of memory.
  const std::string batch = dir.file("data_batch_1.bin");
  const int fd = ::open(batch.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t(3073) * 1400000), 0);
  ::close(fd);
  expect_bounded_refusal([&] { read_cifar10(dir.path(), true); },
                         batch + ": expected 10000 records, found 1400000");
}

// Passes on only a ConfigError as an adascale::Error.
void config_error_only(const std::function<void()>& body) {
  try {
    body();
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw std::runtime_error(std::string("not a ConfigError: ") + e.what());
  }
}

// Refused before anything is allocated: under the address-space limit a
// generator that sized its buffers first ends in std::bad_alloc instead of
// taking the machine's memory.
TEST(HostileSynthetic, OverflowingSizesAreRefusedNamingTheKey) {
  core::SyntheticConfig c;
  c.train_per_class = 2000000000;
  expect_bounded_refusal(
      [&] { config_error_only([&] { make_synthetic(c, true); }); },
      "dataset.synthetic.train_per_class = 2000000000");
  core::SyntheticConfig wide;
  wide.classes = 100000;
  wide.image_size = 1024;
  wide.train_per_class = 1;
  wide.test_per_class = 1;
  expect_bounded_refusal(
      [&] { config_error_only([&] { make_synthetic(wide, false); }); },
      "dataset.synthetic");
  // The default still builds.
  EXPECT_EQ(make_synthetic(core::SyntheticConfig(), false).size(), 200);
}

// Tiny ImageNet: one class, one image in train/ and val/.
void write_tiny(const TempDir& dir, const std::string& wnid = "n001") {
  dir.write("wnids.txt", wnid + "\n");
  cv::Mat image(8, 8, CV_8UC3, cv::Scalar(10, 20, 30));
  std::vector<unsigned char> jpeg;
  ASSERT_TRUE(cv::imencode(".JPEG", image, jpeg));
  dir.write("train/n001/images/n001_0.JPEG",
            std::string(jpeg.begin(), jpeg.end()));
}

TEST(HostileTinyImageNet, WnidsCannotLeaveTheRoot) {
  TempDir dir;
  write_tiny(dir);
  dir.write("wnids.txt", "../../x/train/n001\n");
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    dir.file("wnids.txt") +
                        ":1: wnid '../../x/train/n001' is not a plain name");
  dir.write("wnids.txt", "n001/../n001\n");
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    "is not a plain name");
}

TEST(HostileTinyImageNet, DirectoryOrPngNamedLikeAnImageIsRefused) {
  TempDir dir;
  write_tiny(dir);
  fs::create_directories(dir.file("train/n001/images/n001_1.JPEG"));
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    dir.file("train/n001/images/n001_1.JPEG") +
                        ": named like an image but not a regular file");
  fs::remove(dir.file("train/n001/images/n001_1.JPEG"));
  cv::Mat image(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  std::vector<unsigned char> png;
  ASSERT_TRUE(cv::imencode(".png", image, png));
  const std::string fake = dir.write("train/n001/images/n001_0.JPEG",
                                     std::string(png.begin(), png.end()));
  EXPECT_THROW_WITH(read_tiny_imagenet(dir.path(), true), DataError,
                    fake + ": cannot decode image: not a JPEG file (PNG data)");
}

TEST(HostileTinyImageNet, HugeDeclaredImageIsRefusedBeforeDecoding) {
  TempDir dir;
  write_tiny(dir);
  const std::string path = dir.file("train/n001/images/n001_0.JPEG");
  std::string bytes = core::read_file(path);
  // Rewrite the frame header (SOF0: FF C0, length, precision, height,
  // width) to claim 30000x30000: 2.7 GB once decoded.
  const size_t sof = bytes.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  bytes[sof + 5] = char(30000 >> 8);
  bytes[sof + 6] = char(30000 & 0xff);
  bytes[sof + 7] = char(30000 >> 8);
  bytes[sof + 8] = char(30000 & 0xff);
  dir.write("train/n001/images/n001_0.JPEG", bytes);
  ASSERT_LT(bytes.size(), 4096u);
  expect_bounded_refusal([&] { read_tiny_imagenet(dir.path(), true); },
                         path +
                             ": cannot decode image: JPEG header declares "
                             "30000x30000 pixels");
}

}  // namespace
}  // namespace adascale::datasets
