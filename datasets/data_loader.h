#pragma once
/// Batches for training and evaluation: per-epoch seeded shuffling,
/// samples transformed in parallel with TBB, batches prepared ahead on a
/// background thread, each a ready float tensor (NCHW, or channels-last)
/// on the device the run computes on.

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/loader_config.h"
#include "datasets/image_dataset.h"
#include "datasets/image_transform.h"

namespace adascale::datasets {

/// One batch.
struct Batch {
  at::Tensor images;  ///< float32 N×C×H×W (memory NHWC when channels_last)
  at::Tensor labels;  ///< int64 N
  int64_t epoch = 0;
  int64_t index = 0;  ///< batch number within the epoch
};

/// Iterates a subset of a dataset (given by `indices`) in batches.
/// Not copyable; one consumer thread.
class DataLoader {
 public:
  DataLoader(const ImageDataset& data, std::vector<int64_t> indices,
             ImageTransform transform, core::LoaderConfig options,
             uint64_t seed);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Samples of the whole subset (every shard together).
  int64_t num_samples() const { return static_cast<int64_t>(indices_.size()); }
  /// Images per batch (per rank when sharded).
  int64_t batch_size() const { return options_.batch_size; }
  /// Batches per epoch (of this loader's shard).
  int64_t batches_per_epoch() const;

  /// Makes this loader yield shard `rank` of `count` of every epoch, for
  /// data-parallel training: shard r holds positions r, r + count,
  /// r + 2·count, ... of the epoch's order (PyTorch's DistributedSampler).
  /// `even`: every shard has the same length, so every rank takes the same
  /// number of steps: with drop_last the order is cut to a multiple of
  /// `count` (at most count − 1 samples of an epoch unused), otherwise it
  /// is padded with its own first samples (at most count − 1 seen twice).
  /// Not `even` (evaluation): the shards split the order exactly, their
  /// lengths differing by at most one. A sample's augmentation depends on
  /// its position in the whole epoch, so the union of the shards' batches
  /// k is batch k of one loader with count × the batch size. Call before
  /// start_epoch(); (0, 1) is the whole subset.
  void set_shard(int64_t rank, int64_t count, bool even);
  /// Samples this loader's shard yields per epoch (before drop_last).
  int64_t shard_samples() const;

  /// Begins `epoch` at batch `first_batch` (to resume mid-epoch); the order
  /// and augmentation depend only on (seed, epoch), so a resumed epoch
  /// yields the same batches as an uninterrupted one.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);

  /// The next batch of the current epoch, or nullopt at its end, on
  /// device(). Rethrows an error raised while preparing a batch.
  std::optional<Batch> next();

  /// Where next() delivers batches (the CPU unless set). For a CUDA device
  /// the batches are prepared in page-locked memory, so the copy to the
  /// GPU is asynchronous and overlaps the step that runs on it.
  void set_device(c10::Device device);
  c10::Device device() const { return device_; }

  /// The sample order of `epoch` (dataset indices) of this loader's shard,
  /// as start_epoch uses it.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  Batch make_batch(int64_t epoch, int64_t batch,
                   const std::vector<int64_t>& order) const;
  Batch on_device(Batch batch) const;
  void stop_producer();

  const ImageDataset& data_;
  std::vector<int64_t> indices_;
  ImageTransform transform_;
  core::LoaderConfig options_;
  uint64_t seed_;
  int64_t shard_rank_ = 0;
  int64_t shard_count_ = 1;
  bool shard_even_ = true;
  c10::Device device_{c10::kCPU};

  // Current epoch.
  bool started_ = false;
  int64_t epoch_ = 0;
  int64_t next_batch_ = 0;
  std::vector<int64_t> order_;

  // Background preparation (prefetch > 0).
  std::thread producer_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;
  bool stop_ = false;
  bool producer_done_ = true;
  std::exception_ptr error_;
};

}  // namespace adascale::datasets
