#pragma once
/// Data-parallel training (`distributed:` section of a run config). It only
/// matters when the process was launched by torchrun (RANK, WORLD_SIZE, ...
/// in the environment); a plain launch ignores it. See docs/distributed.md.

#include <string>

#include "core/config/checks.h"

namespace adascale::core {

/// `distributed:`.
struct DistributedConfig {
  /// auto | gloo | nccl. auto = NCCL for CUDA training where this LibTorch
  /// has it, Gloo otherwise.
  std::string backend = "auto";
  /// A collective (or the rendezvous) that does not complete within this
  /// time ends the run on every rank still alive, naming the rank at fault.
  /// It must exceed the longest stretch one rank works alone (rank 0 writes
  /// checkpoints while the others wait at the next collective).
  double timeout_seconds = 300.0;
  /// Normalise BatchNorm in training mode with the statistics of the whole
  /// global batch (all ranks), as torch.nn.SyncBatchNorm does; false = each
  /// rank its own batch, running statistics taken from rank 0 (as DDP's
  /// broadcast_buffers).
  bool sync_bn = false;
  /// Gradient all-reduce bucket size in MiB (DDP's bucket_cap_mb).
  double bucket_mb = 25.0;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("backend", backend, check::one_of({"auto", "gloo", "nccl"}));
    v("timeout_seconds", timeout_seconds, check::in_range(1.0, 86400.0),
      "a collective stuck this long ends the run");
    v("sync_bn", sync_bn, "BatchNorm statistics over the global batch");
    v("bucket_mb", bucket_mb, check::in_range(0.001, 4096.0),
      "gradient all-reduce bucket size (MiB)");
  }
};

}  // namespace adascale::core
