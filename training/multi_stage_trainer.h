#pragma once
/// Multi-stage training (paper Algorithm 1, DESIGN §3.3). For stage k = 1..N
/// every candidate of stage k trains with exit k on the trunk prefix, all in
/// one pass per batch on the shared prefix output, until the best candidate
/// reaches the stage's target validation accuracy or the epoch budget; then
/// the trunk choice of stage k is fixed by the configured rule. A zoo model
/// is the one-stage, one-head case.
///
/// Checkpoints after every epoch, at the end of every stage and on Ctrl-C,
/// so `run(resume=true)` continues exactly where a run stopped.

#include <functional>
#include <string>
#include <vector>

#include "core/train_config.h"
#include "datasets/dataset_factory.h"
#include "training/accuracy_meter.h"
#include "training/stage_report.h"
#include "training/trainee.h"

namespace adascale::training {

class Communicator;

struct TrainerOptions {
  core::TrainConfig train;
  /// Run directory for checkpoints/ and metrics; empty = neither (tests).
  std::string run_dir;
  /// Identifies the model in checkpoints (its resolved spec).
  std::string fingerprint;
  /// Cost of candidate c at stage s (MACs), for trunk_rule
  /// best_accuracy_per_mac.
  std::function<double(int stage, int candidate)> cost;
  /// Called after every optimiser step with 0-based stage and epoch and the
  /// steps done in that epoch (progress hooks; tests raise an interrupt).
  std::function<void(int stage, int epoch, int step)> on_step;
  /// False: no validation, stage or test passes (throughput benchmarks).
  bool evaluate = true;
  /// Keep the 4-D weights in NHWC memory (set with loader.channels_last):
  /// with NHWC batches the convolutions then run NHWC end to end instead of
  /// converting the weights, and their gradients, at every call.
  bool channels_last = false;
  /// The data-parallel group (not owned); null = one process. With it the
  /// run follows DistributedDataParallel: each rank trains on its shard of
  /// every epoch, gradients are averaged after backward, validation is
  /// reduced over the ranks, and only rank 0 writes checkpoints and
  /// metrics (docs/distributed.md).
  Communicator* distributed = nullptr;
};

struct TrainingReport {
  std::vector<StageReport> stages;  ///< every finished stage, across resumes
  std::vector<int> trunk;
  std::vector<std::string> exit_names;  ///< trunk variant per exit
  std::vector<Accuracy> validation;     ///< trunk exits, end of training
  std::vector<Accuracy> test;
  double wall_seconds = 0.0;   ///< across resumes
  int64_t peak_rss_bytes = 0;  ///< the highest stage peak, across resumes
  bool interrupted = false;    ///< stopped by Ctrl-C after a checkpoint
};

class MultiStageTrainer {
 public:
  MultiStageTrainer(Trainee& trainee, datasets::DataPipeline& data,
                    TrainerOptions options);

  /// Trains (or, with `resume`, continues from checkpoints/last.pt when it
  /// exists). Throws DataError for an unusable checkpoint.
  TrainingReport run(bool resume);

  /// checkpoints/last.pt of the run directory.
  std::string last_checkpoint() const;

 private:
  Trainee& trainee_;
  datasets::DataPipeline& data_;
  TrainerOptions options_;
};

}  // namespace adascale::training
