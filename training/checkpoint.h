#pragma once
/// Training checkpoints (DESIGN §3.6): weights, optimiser state, the random
/// generator and where the multi-stage algorithm stands, in one file written
/// atomically. Resuming from one continues exactly: same data order, same
/// RNG, same optimiser state, so the run ends with the same weights.

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "training/accuracy_meter.h"
#include "training/stage_report.h"

namespace adascale::training {

class TrainingOptimizer;

/// Where a run stands. Stages and epochs are 0-based here.
struct TrainingState {
  int stage = 0;  ///< stage in progress (== stages when finished)
  int epoch = 0;  ///< epoch of that stage in progress
  int step = 0;   ///< batches of that epoch already done
  /// Chosen trunk candidate of every finished stage.
  std::vector<int> trunk;
  /// Running meters of the epoch in progress, one per trained head.
  std::vector<AccuracyMeter> meters;
  /// Latest validation top-1 of each head of the stage in progress.
  std::vector<double> validation_top1;
  int64_t metrics_rows = 0;   ///< rows in the metrics log at this point
  double wall_seconds = 0.0;  ///< training time so far, across resumes
  bool finished = false;
  /// Stage 0 (train.pretrain) is done or not part of the recipe.
  bool pretrained = true;
  /// Ranks of the data-parallel run that wrote it (1: one process); `step`
  /// counts steps of that many ranks.
  int world_size = 1;
  /// Every finished stage (absent from checkpoints written before they
  /// carried it: a run resumed from one reports only later stages).
  std::vector<StageReport> stages;
  double stage_seconds = 0.0;  ///< time so far in the stage in progress
  /// Peak resident memory so far in the stage in progress.
  int64_t stage_peak_rss_bytes = 0;
};

/// A readable, intact checkpoint that does not belong to this run: written
/// for another model spec or by another checkpoint format version. Unlike
/// a damaged file, it is no reason to fall back to an older checkpoint.
class CheckpointMismatchError : public DataError {
 public:
  using DataError::DataError;
};

/// Writes `path` atomically (temp file, fsync, rename): the previous file
/// stays intact until the new one is complete. The file is sealed
/// (core/file_checksum.h): a SHA-256 of the archive heads it, so a byte
/// damaged later is found. `fingerprint` identifies the model (its
/// resolved spec); `optimizer` may be null. Throws IoError.
void save_checkpoint(const std::string& path, torch::nn::Module& model,
                     const TrainingOptimizer* optimizer,
                     const TrainingState& state,
                     const std::string& fingerprint);

/// Reads a checkpoint and checks its checksum, format, version and
/// fingerprint before anything is restored. Every failure is a DataError
/// naming the file, including a checkpoint from before checksums (a bare
/// archive), which cannot be verified and so is never handed to LibTorch.
/// Weights and optimizer state are read onto `device`, wherever they were
/// written, so a checkpoint moves between CPU and GPU machines.
class CheckpointReader {
 public:
  CheckpointReader(const std::string& path, const std::string& fingerprint,
                   c10::Device device = c10::kCPU);

  const TrainingState& state() const { return state_; }
  bool has_optimizer() const { return has_optimizer_; }
  /// Loads weights and buffers into `model` (same architecture).
  void restore_model(torch::nn::Module& model);
  void restore_optimizer(TrainingOptimizer& optimizer);
  /// Restores LibTorch's default CPU generator (dropout and friends).
  void restore_rng();

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void read_stages();
  /// The value stored under `key`; throws c10::Error when it is missing.
  c10::IValue value(const char* key);

  std::string path_;
  torch::serialize::InputArchive archive_;
  TrainingState state_;
  bool has_optimizer_ = false;
};

}  // namespace adascale::training
