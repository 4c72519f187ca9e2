#pragma once
/// Readers for the official binary releases of CIFAR-10 and CIFAR-100
/// (Krizhevsky, "Learning Multiple Layers of Features from Tiny Images",
/// 2009; https://www.cs.toronto.edu/~kriz/cifar.html).

#include <cstdint>
#include <string>

#include "datasets/image_dataset.h"

namespace adascale::datasets {

/// Number of records each CIFAR file must hold. The defaults are the official
/// counts; tests write tiny files and pass small counts. A file holding any
/// other number of records is refused, so a partial download never becomes a
/// silently smaller dataset.
struct CifarLayout {
  /// Records in each CIFAR-10 file (data_batch_1..5.bin, test_batch.bin).
  int64_t cifar10_records_per_file = 10000;
  /// Records in CIFAR-100's train.bin.
  int64_t cifar100_train_records = 50000;
  /// Records in CIFAR-100's test.bin.
  int64_t cifar100_test_records = 10000;
};

/// Bytes of one CIFAR image: 3 planes (R, G, B) of 32×32.
inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;

/// Reads CIFAR-10 from `root`, which holds `data_batch_1.bin` ..
/// `data_batch_5.bin` (train), `test_batch.bin` (test) and
/// `batches.meta.txt` (the 10 class names, one per line). Each record is one
/// label byte (0-9) and 3072 pixel bytes (R, G, B planes of 32×32). The
/// result is named "cifar10/train" or "cifar10/test", 3×32×32, 10 classes.
/// Throws DataError naming the file (and the record and byte offset where
/// applicable) for a missing file, a truncated file, a wrong record count,
/// a label out of range or a wrong number of class names.
ImageDataset read_cifar10(const std::string& root, bool train,
                          const CifarLayout& layout = CifarLayout());

/// Reads CIFAR-100 from `root`, which holds `train.bin`, `test.bin`,
/// `fine_label_names.txt` (100 names) and `coarse_label_names.txt` (20
/// names). Each record is a coarse label byte (0-19), a fine label byte
/// (0-99) and 3072 pixel bytes. Labels are the coarse ones when `coarse`,
/// the fine ones otherwise; both are validated either way. The result is
/// named "cifar100/train" or "cifar100/test". Throws DataError as
/// read_cifar10 does.
ImageDataset read_cifar100(const std::string& root, bool train, bool coarse,
                           const CifarLayout& layout = CifarLayout());

}  // namespace adascale::datasets
