#pragma once
/// Synchronised BatchNorm for data-parallel training (torch.nn.SyncBatchNorm
/// in C++): while a SyncBatchNormScope lives, every BatchNorm forward in
/// training mode normalises with the mean and variance of the whole global
/// batch (every rank's samples), updates the running statistics from them,
/// and its backward reduces the statistics' gradients across the ranks. Two
/// ranks with half a batch each then compute what one process computes on
/// the whole batch.
///
/// The C++ frontend's modules call their BatchNorm members directly, so
/// there is no module to swap as Python's convert_sync_batchnorm does;
/// instead the scope registers a kernel for `aten::batch_norm` at the
/// Autograd dispatch keys (CPU and CUDA). Evaluation (training = false)
/// goes to LibTorch's own implementation unchanged. Note: instance norm is
/// computed through the same operator in training mode and would be
/// synchronised too; no AdaScale model uses it.

#include <memory>

namespace adascale::training {

class Communicator;

/// Synchronises BatchNorm through `comm` until destroyed. One scope at a
/// time per process (a second one is an InternalError).
class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(Communicator& comm);
  ~SyncBatchNormScope();
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  struct Registration;
  std::unique_ptr<Registration> registration_;
};

}  // namespace adascale::training
