#pragma once
/// Accuracy of a trainee's heads or trunk exits over a whole loader, in eval
/// mode without gradients.

#include <cstdint>
#include <vector>

#include "datasets/data_loader.h"
#include "training/accuracy_meter.h"
#include "training/trainee.h"

namespace adascale::training {

/// Every head of `stage` (as trained together) over `loader`'s epoch 0.
std::vector<Accuracy> evaluate_heads(Trainee& trainee, int stage,
                                     const std::vector<int>& trunk,
                                     datasets::DataLoader& loader,
                                     double label_smoothing = 0.0);

/// Trunk exits 1..`exits` over `loader`'s epoch 0 (its first
/// `max_images` images; 0 = all).
std::vector<Accuracy> evaluate_exits(Trainee& trainee,
                                     const std::vector<int>& trunk, int exits,
                                     datasets::DataLoader& loader,
                                     int64_t max_images = 0);

}  // namespace adascale::training
