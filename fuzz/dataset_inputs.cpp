// The dataset readers under fuzz: CIFAR, IDX, Tiny ImageNet and image
// folders. A dataset they return must be consistent; one that is not is
// reported as an InternalError, i.e. a finding.

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "core/error.h"
#include "datasets/cifar_reader.h"
#include "datasets/idx_reader.h"
#include "datasets/image_folder_reader.h"
#include "datasets/tiny_imagenet_reader.h"
#include "fuzz/fuzz_input.h"

namespace adascale::fuzz {

namespace {

using datasets::ImageDataset;

// Records per CIFAR file in fuzz inputs: small, so seeds stay small.
constexpr int64_t kCifarRecords = 2;
// Images of one Tiny ImageNet input at most; more parts are ignored.
constexpr size_t kMaxImages = 8;

void check_consistent(const ImageDataset& data) {
  const bool ok =
      data.size() > 0 && data.channels > 0 && data.height > 0 &&
      data.width > 0 && !data.class_names.empty() &&
      data.pixels.size() == size_t(data.size() * data.image_bytes()) &&
      std::all_of(data.labels.begin(), data.labels.end(), [&](auto label) {
        return label >= 0 && size_t(label) < data.class_names.size();
      });
  if (!ok)
    throw InternalError(data.name +
                        ": reader returned an inconsistent dataset");
}

std::string numbered_names(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += "class" + std::to_string(i) + "\n";
  return text;
}

const std::string& part(const std::vector<std::string>& parts, size_t i) {
  static const std::string empty;
  return i < parts.size() ? parts[i] : empty;
}

bool is_plain_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-';
         });
}

}  // namespace

// Byte 0 (mod 3): 0 CIFAR-10 test_batch.bin, 1 CIFAR-100 test.bin with
// coarse labels, 2 with fine labels. Part 0 is the record file (kCifarRecords
// records expected), part 1 the class-name file; without part 1 a valid one.
void run_cifar_input(std::string_view data) {
  if (data.empty()) return;
  const int mode = static_cast<unsigned char>(data[0]) % 3;
  const std::vector<std::string> parts = split_parts(data.substr(1));
  ScratchDir dir;
  datasets::CifarLayout layout;
  layout.cifar10_records_per_file = kCifarRecords;
  layout.cifar100_test_records = kCifarRecords;
  const std::string root = dir.path().string();
  ImageDataset out;
  if (mode == 0) {
    dir.write("test_batch.bin", parts[0]);
    dir.write("batches.meta.txt",
              parts.size() > 1 ? parts[1] : numbered_names(10));
    out = datasets::read_cifar10(root, /*train=*/false, layout);
  } else {
    const bool coarse = mode == 1;
    dir.write("test.bin", parts[0]);
    dir.write(coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
              parts.size() > 1 ? parts[1] : numbered_names(coarse ? 20 : 100));
    out = datasets::read_cifar100(root, /*train=*/false, coarse, layout);
  }
  check_consistent(out);
}

// Part 0 the image file, part 1 the label file (either gzip'd or not); ten
// classes.
void run_idx_input(std::string_view data) {
  const std::vector<std::string> parts = split_parts(data);
  ScratchDir dir;
  const std::string images = dir.write("images-idx3-ubyte", parts[0]);
  const std::string labels = dir.write("labels-idx1-ubyte", part(parts, 1));
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back(std::to_string(i));
  check_consistent(
      datasets::read_idx(images, labels, std::move(names), "fuzz/idx"));
}

// Byte 0 odd: the train split, even: the val split. Parts: wnids.txt,
// words.txt (absent when the part is missing), val/val_annotations.txt,
// then up to kMaxImages JPEGs. Val images are val/images/img_<k>.JPEG; train
// image k goes to train/<wnid>/images/img_<k>.JPEG of the (k mod n)-th plain
// wnid, so that annotations and class directories can name them.
void run_tiny_imagenet_input(std::string_view data) {
  if (data.empty()) return;
  const bool train = (static_cast<unsigned char>(data[0]) & 1) != 0;
  const std::vector<std::string> parts = split_parts(data.substr(1));
  ScratchDir dir;
  dir.write("wnids.txt", parts[0]);
  if (parts.size() > 1) dir.write("words.txt", parts[1]);
  const size_t images =
      std::min(parts.size() > 3 ? parts.size() - 3 : 0, kMaxImages);
  if (train) {
    std::vector<std::string> wnids;
    size_t start = 0;
    const std::string& text = parts[0];
    while (start <= text.size() && wnids.size() < kMaxImages) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' ||
                               line.back() == '\t')) {
        line.pop_back();
      }
      if (is_plain_name(line)) wnids.push_back(line);
      start = end + 1;
    }
    for (size_t k = 0; k < images && !wnids.empty(); ++k) {
      dir.write("train/" + wnids[k % wnids.size()] + "/images/img_" +
                    std::to_string(k) + ".JPEG",
                parts[3 + k]);
    }
  } else {
    dir.write("val/val_annotations.txt", part(parts, 2));
    for (size_t k = 0; k < images; ++k) {
      dir.write("val/images/img_" + std::to_string(k) + ".JPEG", parts[3 + k]);
    }
  }
  check_consistent(datasets::read_tiny_imagenet(dir.path().string(), train));
}

// Byte 0: bit 0 fit (crop or stretch), bit 1 decode when read (held in
// memory) or by the loader (cache_mb 0), bit 2 the second split is val/ or
// test/, bit 3 names the images .png or .jpg. Parts: up to kMaxImages image
// files; image k goes to train/c<k mod 2>/img_<k> and to the second split's
// folder of the same class, so both splits hold the same classes when the
// input has two images or more. Images are brought to 8×8.
void run_image_folder_input(std::string_view data) {
  if (data.empty()) return;
  const auto mode = static_cast<unsigned char>(data[0]);
  const std::vector<std::string> parts = split_parts(data.substr(1));
  const std::string second = (mode & 4) != 0 ? "test/" : "val/";
  const std::string extension = (mode & 8) != 0 ? ".jpg" : ".png";
  ScratchDir dir;
  for (size_t k = 0; k < std::min(parts.size(), kMaxImages); ++k) {
    const std::string file =
        "c" + std::to_string(k % 2) + "/img_" + std::to_string(k) + extension;
    dir.write("train/" + file, parts[k]);
    dir.write(second + file, parts[k]);
  }
  core::ImageFolderConfig options;
  options.image_size = 8;
  options.fit = (mode & 1) != 0 ? "stretch" : "crop";
  options.cache_mb = (mode & 2) != 0 ? 0 : 16;
  const datasets::ImageFolderSplits splits =
      datasets::read_image_folder(dir.path().string(), options);
  for (const ImageDataset* split : {&splits.train, &splits.test}) {
    if (split->in_memory()) {
      check_consistent(*split);
      continue;
    }
    // Decoded by the loader's workers: every image, as they would.
    std::vector<uint8_t> scratch(size_t(split->image_bytes()));
    for (int64_t i = 0; i < split->size(); ++i) {
      split->read_image(i, scratch.data());
    }
  }
}

}  // namespace adascale::fuzz
