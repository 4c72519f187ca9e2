#include "datasets/data_loader.h"

#include <tbb/parallel_for.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/random.h"

namespace adascale::datasets {
namespace {
// Separates the shuffle stream from the per-sample augmentation streams.
constexpr uint64_t kShuffleStream = 0x5F3759DF5F3759DFull;
}  // namespace

DataLoader::DataLoader(const ImageDataset& data, std::vector<int64_t> indices,
                       ImageTransform transform, core::LoaderConfig options,
                       uint64_t seed)
    : data_(data),
      indices_(std::move(indices)),
      transform_(std::move(transform)),
      options_(options),
      seed_(seed) {
  if (options_.batch_size <= 0) {
    throw ConfigError("loader.batch_size: must be > 0, got " +
                      std::to_string(options_.batch_size));
  }
  for (int64_t i : indices_) {
    if (i < 0 || i >= data_.size()) {
      throw InternalError("data loader: index " + std::to_string(i) +
                          " outside " + data_.name + " (" +
                          std::to_string(data_.size()) + " images)");
    }
  }
  if (transform_.channels() != data_.channels) {
    throw InternalError("data loader: transform built for another shape");
  }
}

DataLoader::~DataLoader() {
  stop_producer();
}

int64_t DataLoader::batches_per_epoch() const {
  int64_t n = shard_samples(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::set_shard(int64_t rank, int64_t count, bool even) {
  if (count < 1 || rank < 0 || rank >= count) {
    throw InternalError("data loader: shard " + std::to_string(rank) + " of " +
                        std::to_string(count));
  }
  stop_producer();
  started_ = false;
  shard_rank_ = rank;
  shard_count_ = count;
  shard_even_ = even;
}

int64_t DataLoader::shard_samples() const {
  const int64_t n = num_samples(), k = shard_count_;
  if (shard_even_) return options_.drop_last ? n / k : (n + k - 1) / k;
  return (n - shard_rank_ + k - 1) / k;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order = indices_;
  if (options_.shuffle) {
    core::SplitMix64 rng(
        core::mix_seed({seed_, kShuffleStream, static_cast<uint64_t>(epoch)}));
    core::shuffle(order.data(), static_cast<int64_t>(order.size()), rng);
  }
  if (shard_count_ == 1) return order;
  // Position p of the shard is position rank + count·p of the epoch; past
  // the end (padding) it wraps to the epoch's start.
  std::vector<int64_t> shard(static_cast<size_t>(shard_samples()));
  for (size_t p = 0; p < shard.size(); ++p) {
    const int64_t global = shard_rank_ + shard_count_ * int64_t(p);
    shard[p] = order[static_cast<size_t>(global % int64_t(order.size()))];
  }
  return shard;
}

Batch DataLoader::make_batch(int64_t epoch, int64_t batch,
                             const std::vector<int64_t>& order) const {
  const int64_t begin = batch * options_.batch_size;
  const int64_t end = std::min<int64_t>(begin + options_.batch_size,
                                        static_cast<int64_t>(order.size()));
  const int64_t n = end - begin;
  const int64_t c = transform_.channels(), h = transform_.out_height(),
                w = transform_.out_width();
  auto memory = options_.channels_last ? at::MemoryFormat::ChannelsLast
                                       : at::MemoryFormat::Contiguous;
  Batch out;
  out.epoch = epoch;
  out.index = batch;
  // Page-locked for a CUDA device: on_device()'s copy is then asynchronous.
  const bool pinned = device_.is_cuda();
  out.images = torch::empty({n, c, h, w}, torch::TensorOptions()
                                              .dtype(torch::kFloat32)
                                              .memory_format(memory)
                                              .pinned_memory(pinned));
  out.labels = torch::empty(
      {n}, torch::TensorOptions().dtype(torch::kInt64).pinned_memory(pinned));
  float* images = out.images.data_ptr<float>();
  int64_t* labels = out.labels.data_ptr<int64_t>();
  auto strides = out.images.strides();
  tbb::parallel_for(int64_t{0}, n, [&](int64_t i) {
    const int64_t sample = order[static_cast<size_t>(begin + i)];
    FloatImageView view{images + i * strides[0], strides[1], strides[2],
                        strides[3]};
    // Seeded by the position in the whole epoch, not in the shard, so a
    // sample is augmented alike however many ranks share the epoch.
    const int64_t position = shard_rank_ + shard_count_ * (begin + i);
    uint64_t seed = core::mix_seed(
        {seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(position)});
    // A dataset that is not in memory is decoded here, by the workers.
    thread_local std::vector<uint8_t> scratch;
    if (!data_.in_memory()) {
      scratch.resize(static_cast<size_t>(data_.image_bytes()));
    }
    transform_.apply(data_.read_image(sample, scratch.data()), view, seed);
    labels[i] = data_.labels[static_cast<size_t>(sample)];
  });
  return out;
}

void DataLoader::stop_producer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (producer_.joinable()) producer_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  ready_.clear();
  stop_ = false;
  producer_done_ = true;
  error_ = nullptr;
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop_producer();
  const int64_t total = batches_per_epoch();
  if (first_batch < 0 || first_batch > total) {
    throw InternalError("data loader: batch " + std::to_string(first_batch) +
                        " outside epoch of " + std::to_string(total));
  }
  epoch_ = epoch;
  next_batch_ = first_batch;
  started_ = true;
  order_ = epoch_order(epoch);
  if (options_.prefetch == 0) return;

  producer_done_ = false;
  producer_ = std::thread([this, epoch, first_batch, total] {
    try {
      for (int64_t b = first_batch; b < total; ++b) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          cv_.wait(lock, [&] {
            return stop_ || static_cast<int>(ready_.size()) < options_.prefetch;
          });
          if (stop_) return;
        }
        Batch batch = make_batch(epoch, b, order_);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          ready_.push_back(std::move(batch));
        }
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      producer_done_ = true;
    }
    cv_.notify_all();
  });
}

std::optional<Batch> DataLoader::next() {
  if (!started_) {
    throw InternalError("data loader: next() called before start_epoch()");
  }
  if (next_batch_ >= batches_per_epoch()) return std::nullopt;
  if (options_.prefetch == 0) {
    return on_device(make_batch(epoch_, next_batch_++, order_));
  }
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !ready_.empty() || producer_done_; });
  if (ready_.empty()) {
    if (error_) std::rethrow_exception(error_);
    throw InternalError("data loader: producer ended early");
  }
  Batch batch = std::move(ready_.front());
  ready_.pop_front();
  ++next_batch_;
  lock.unlock();
  cv_.notify_all();
  return on_device(std::move(batch));
}

void DataLoader::set_device(c10::Device device) {
  if (started_) {
    throw InternalError("data loader: set_device() after start_epoch()");
  }
  device_ = device;
}

Batch DataLoader::on_device(Batch batch) const {
  if (device_.is_cpu()) return batch;
  batch.images = batch.images.to(device_, /*non_blocking=*/true);
  batch.labels = batch.labels.to(device_, /*non_blocking=*/true);
  return batch;
}

}  // namespace adascale::datasets
