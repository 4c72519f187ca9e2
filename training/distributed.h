#pragma once
/// Data-parallel training on PyTorch's own distributed engine (c10d): the
/// launch torchrun describes in the environment, and the process group the
/// trainer talks through (Gloo on the CPU, NCCL where the LibTorch build
/// has it). Collectives that fail or time out become one DistributedError
/// that names the rank at fault. See docs/distributed.md.

#include <ATen/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/distributed_config.h"
#include "core/error.h"
#include "training/accuracy_meter.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace adascale::training {

/// A collective failed or timed out, or another rank failed; the message
/// names the rank at fault.
class DistributedError : public Error {
 public:
  using Error::Error;
};

/// Where this process stands in a torchrun launch.
struct LaunchInfo {
  int rank = 0;        ///< RANK
  int world_size = 1;  ///< WORLD_SIZE
  int local_rank = 0;  ///< LOCAL_RANK (0 when unset)
  /// LOCAL_WORLD_SIZE: ranks on this machine (1 when unset).
  int local_world_size = 1;
  std::string master_addr;  ///< MASTER_ADDR: host of the rendezvous store
  int master_port = 0;      ///< MASTER_PORT
  /// TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent hosts the store
  /// (its static rendezvous), so every rank is a client of it, under the
  /// prefix /worker/attempt_<TORCHELASTIC_RESTART_COUNT> (as Python's
  /// env:// rendezvous does).
  bool agent_store = false;
  int restart_count = 0;
};

/// Reads the launch from the environment (`getenv` is injectable for
/// tests). nullopt when neither RANK nor WORLD_SIZE is set (a plain
/// launch); a partial or malformed set is a ConfigError naming the
/// variable.
std::optional<LaunchInfo> launch_from_environment(
    const std::function<const char*(const char*)>& getenv = nullptr);

/// Communication totals since the last reset_stats().
struct CommStats {
  int64_t gradient_reductions = 0;  ///< average_gradients() calls
  int64_t gradient_bytes = 0;       ///< bytes all-reduced by them
  double gradient_seconds = 0.0;    ///< time in them (copies included)
  int64_t other_collectives = 0;    ///< everything else
  int64_t other_bytes = 0;
  double other_seconds = 0.0;
};

/// This process's membership of the data-parallel group. Every collective
/// must be called by every rank in the same order (the trainer's control
/// flow is the same on every rank); one thread calls them.
class Communicator {
 public:
  /// Joins the group of `launch` (rendezvous through the TCP store at
  /// MASTER_ADDR:MASTER_PORT); blocks until every rank joined or
  /// `config.timeout_seconds` passed. `cuda`: the tensors to reduce live on
  /// a GPU (backend auto then picks NCCL where this LibTorch has it).
  /// Throws ConfigError for a backend this build lacks, DistributedError
  /// when the rendezvous fails.
  static std::unique_ptr<Communicator> connect(
      const LaunchInfo& launch, const core::DistributedConfig& config,
      bool cuda = false);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const;
  int world_size() const;
  /// "gloo" or "nccl".
  const std::string& backend() const;
  const core::DistributedConfig& config() const;

  /// Overwrites `tensors` on every rank with rank 0's (in place; one
  /// collective per dtype). `what` names the operation in errors.
  void broadcast(const std::vector<at::Tensor>& tensors,
                 const std::string& what);
  /// Element-wise sums across ranks, in place (one collective per dtype).
  void all_reduce_sum(const std::vector<at::Tensor>& tensors,
                      const std::string& what);
  /// Replaces the gradient of every parameter in `params` with its mean
  /// over the ranks: flattened into buckets of config().bucket_mb, each
  /// all-reduced (DDP's bucketed reduction, after backward). A parameter
  /// without a gradient contributes zeros and keeps none.
  void average_gradients(const std::vector<at::Tensor>& params);
  /// True on every rank when `local` is true on any rank.
  bool any(bool local, const std::string& what);
  /// Rank 0's `bytes` on every rank (the others' argument is ignored).
  std::string broadcast_bytes(const std::string& bytes,
                              const std::string& what);
  /// Every rank reports whether its part of `what` succeeded. When another
  /// rank failed this throws a DistributedError naming it (the failed
  /// rank reports its own error itself); otherwise it returns.
  void agree(bool ok, const std::string& what);

  /// Overwrites parameters and buffers of `module` with rank 0's.
  void broadcast_module(torch::nn::Module& module, const std::string& what);
  /// Sums every meter's counts over the ranks (the global meter).
  std::vector<AccuracyMeter> all_reduce(const std::vector<AccuracyMeter>& m,
                                        const std::string& what);
  /// Accuracies of every rank's shard combined into the whole split's.
  std::vector<Accuracy> all_reduce(const std::vector<Accuracy>& a,
                                   const std::string& what);

  const CommStats& stats() const;
  void reset_stats();

 private:
  struct Impl;
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace adascale::training
