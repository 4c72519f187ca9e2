#pragma once
/// Running loss, top-1 and top-5 of one classifier head over an epoch.

#include <ATen/Tensor.h>

#include <cstdint>

namespace adascale::training {

/// Averages over the samples seen.
struct Accuracy {
  double loss = 0.0;
  double top1 = 0.0;  ///< fraction 0..1
  double top5 = 0.0;  ///< fraction 0..1 (top-k with k = min(5, classes))
  int64_t samples = 0;
};

/// Accumulates a head's batches; plain sums, so it checkpoints exactly.
class AccuracyMeter {
 public:
  /// `loss` is the batch's mean loss (as criterion returns it).
  void add(const at::Tensor& logits, const at::Tensor& labels, double loss);
  Accuracy result() const;
  void reset() { *this = AccuracyMeter(); }

  double loss_sum = 0.0;
  int64_t top1_correct = 0;
  int64_t top5_correct = 0;
  int64_t samples = 0;
};

}  // namespace adascale::training
