#pragma once
/// The validation split: a seeded, class-stratified share of the official
/// training set. Tables and model selection use it, never the test set.

#include <cstdint>
#include <vector>

#include "datasets/image_dataset.h"

namespace adascale::datasets {

/// Fills `splits.train_indices` and `splits.validation_indices` from
/// `splits.train`: per class, round(fraction × count) samples chosen by a
/// seeded shuffle go to validation. `train_limit` > 0 then keeps that many
/// training indices (a seeded, class-balanced subset). Both lists sorted.
void split_train_validation(DatasetSplits& splits, double fraction,
                            uint64_t seed, int64_t train_limit = 0);

}  // namespace adascale::datasets
