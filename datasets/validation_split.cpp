#include "datasets/validation_split.h"

#include <algorithm>
#include <cmath>

#include "core/random.h"

namespace adascale::datasets {

void split_train_validation(DatasetSplits& splits, double fraction,
                            uint64_t seed, int64_t train_limit) {
  const ImageDataset& train = splits.train;
  int num_classes = std::max(train.num_classes(), 1);
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < train.size(); ++i) {
    by_class[static_cast<size_t>(train.labels[static_cast<size_t>(i)])]
        .push_back(i);
  }
  splits.train_indices.clear();
  splits.validation_indices.clear();
  // Round-robin over classes keeps a train_limit subset class-balanced.
  std::vector<std::vector<int64_t>> kept(static_cast<size_t>(num_classes));
  for (int k = 0; k < num_classes; ++k) {
    auto& members = by_class[static_cast<size_t>(k)];
    core::SplitMix64 rng(
        core::mix_seed({seed, 0x5B117ull, static_cast<uint64_t>(k)}));
    core::shuffle(members.data(), static_cast<int64_t>(members.size()), rng);
    auto n_val = static_cast<size_t>(std::llround(fraction * members.size()));
    splits.validation_indices.insert(splits.validation_indices.end(),
                                     members.begin(), members.begin() + n_val);
    kept[static_cast<size_t>(k)].assign(members.begin() + n_val, members.end());
  }
  size_t total = 0;
  for (const auto& k : kept) total += k.size();
  size_t limit = train_limit > 0 ? std::min<size_t>(train_limit, total) : total;
  for (size_t pos = 0; splits.train_indices.size() < limit; ++pos) {
    for (const auto& k : kept) {
      if (pos < k.size() && splits.train_indices.size() < limit) {
        splits.train_indices.push_back(k[pos]);
      }
    }
  }
  std::sort(splits.train_indices.begin(), splits.train_indices.end());
  std::sort(splits.validation_indices.begin(), splits.validation_indices.end());
}

}  // namespace adascale::datasets
