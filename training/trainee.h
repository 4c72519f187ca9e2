#pragma once
/// What the trainer needs from a network, so one training loop serves the
/// elastic net (a stage at a time, every candidate of the stage at once) and
/// a zoo model (one stage, one head).

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/model_spec.h"
#include "core/train_config.h"
#include "operators/elastic_net.h"
#include "training/training_optimizer.h"

namespace adascale::training {

/// One batch through the heads of a stage.
struct HeadOutputs {
  /// Each head's logits.
  std::vector<torch::Tensor> logits;
  /// Each head's stage output (the features its exit reads), for a trainee
  /// whose heads share a stage (the elastic net); empty otherwise.
  std::vector<torch::Tensor> features;
};

/// A network trained stage by stage. `trunk` holds the chosen candidate of
/// every earlier stage.
class Trainee {
 public:
  virtual ~Trainee() = default;

  virtual int num_stages() const = 0;
  /// Heads trained together at `stage` (variant ids, model name for zoo).
  virtual std::vector<std::string> heads(
      int stage, const std::vector<int>& trunk) const = 0;
  /// Puts the modules in the modes `stage` trains with (`training`) or all
  /// in eval mode (`!training`).
  virtual void set_mode(int stage, const std::vector<int>& trunk,
                        bool training) = 0;
  /// Logits of every head of `stage` for a batch. While training in freeze
  /// mode the prefix runs without gradients.
  std::vector<torch::Tensor> forward_heads(int stage,
                                           const std::vector<int>& trunk,
                                           const torch::Tensor& x,
                                           bool training) {
    return forward_stage_heads(stage, trunk, x, training).logits;
  }
  /// forward_heads() with every head's stage output beside its logits.
  virtual HeadOutputs forward_stage_heads(int stage,
                                          const std::vector<int>& trunk,
                                          const torch::Tensor& x,
                                          bool training) = 0;
  /// Parameters `stage` trains, with their learning-rate scales.
  virtual std::vector<ParamGroup> parameters(
      int stage, const std::vector<int>& trunk) const = 0;
  /// Logits of every exit up to `exits` (1-based count) along the trunk.
  virtual std::vector<torch::Tensor> forward_exits(
      const std::vector<int>& trunk, const torch::Tensor& x, int exits) = 0;
  /// The variant id of the trunk's exit `exit` (0-based).
  virtual std::string exit_name(const std::vector<int>& trunk,
                                int exit) const = 0;
  /// Index of the spec's backbone candidate at `stage` (0 for zoo).
  virtual int backbone(int stage) const = 0;
  virtual torch::nn::Module& module() = 0;
  /// Parameters of the prefix a stage trains on (stem and trunk stages
  /// before it): what freeze mode must leave untouched.
  virtual std::vector<torch::Tensor> prefix_parameters(
      int stage, const std::vector<int>& trunk) const = 0;

  // Stage 0 (train.pretrain) and distillation. A trainee without a trunk of
  // several exits (a zoo model) has neither: these throw InternalError,
  // and the run config refuses such a recipe before training starts.

  /// The backbone candidate of every stage: the path stage 0 trains.
  virtual std::vector<int> backbone_path() const;
  /// Stage 0 mode: stem, backbone candidates and every exit train
  /// (`training`), or all in eval mode.
  virtual void set_pretrain_mode(bool training);
  /// Parameters stage 0 trains.
  virtual std::vector<ParamGroup> pretrain_parameters() const;
  /// Keeps a frozen copy of the current weights as the distillation
  /// teacher (eval mode, no gradients).
  virtual void snapshot_teacher();
  /// The teacher's module (to restore its weights on resume); null before
  /// snapshot_teacher().
  virtual torch::nn::Module* teacher();
  /// The teacher's logits for a batch: its backbone path's deepest exit,
  /// without gradients.
  virtual torch::Tensor teacher_logits(const torch::Tensor& x);
};

/// The elastic net under Algorithm 1: stage k trains all its candidates and
/// exit k on the trunk prefix; `mode` freeze|finetune.
std::unique_ptr<Trainee> make_elastic_trainee(operators::ElasticNet net,
                                              const core::TrainConfig& config);

/// A zoo model (any module mapping images to logits): one stage, one head.
std::unique_ptr<Trainee> make_model_trainee(torch::nn::AnyModule model,
                                            std::string name);

}  // namespace adascale::training
