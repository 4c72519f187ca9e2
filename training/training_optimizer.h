#pragma once
/// The optimiser of a training stage (DESIGN §3.3): SGD (momentum, Nesterov,
/// weight decay) or AdamW from `train.optimizer`, over parameter groups that
/// each scale the scheduled learning rate (finetune mode trains the prefix at
/// lr × prefix_lr_scale). Its state saves to and loads from an archive, so a
/// resumed run continues with the same momentum buffers and rate.

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/train_config.h"

namespace adascale::training {

/// Parameters trained at the scheduled rate × `lr_scale`.
struct ParamGroup {
  std::vector<torch::Tensor> params;
  double lr_scale = 1.0;
};

/// torch::optim::SGD or AdamW with one torch parameter group per non-empty
/// ParamGroup, driven by an externally scheduled learning rate.
class TrainingOptimizer {
 public:
  /// Empty groups are skipped. Throws ConfigError when no group has a
  /// parameter, for an unknown type, Nesterov without momentum, or AdamW
  /// betas of 1.
  TrainingOptimizer(const core::OptimizerConfig& config,
                    std::vector<ParamGroup> groups);

  /// Sets every group's rate to `lr` × its scale.
  void set_lr(double lr);
  /// The last rate set (unscaled); `config.lr` until set_lr is called.
  double lr() const { return lr_; }
  void zero_grad();
  void step();
  torch::optim::Optimizer& torch_optimizer() { return *optimizer_; }
  core::OptimizerType type() const { return type_; }

  /// Writes the optimiser state (momentum buffers, Adam moments and step
  /// counts), the rate and the parameter layout into `archive`; give it an
  /// archive of its own (e.g. a sub-archive "optimizer").
  void save(torch::serialize::OutputArchive& archive) const;
  /// Restores what save() wrote into an optimiser over parameters of the
  /// same shapes, and the rate. Throws ConfigError naming the group and
  /// parameter when the layout or type differs, DataError when the archive
  /// is malformed.
  void load(torch::serialize::InputArchive& archive);

 private:
  core::OptimizerType type_;
  std::vector<double> scales_;  ///< per torch parameter group
  double lr_ = 0.0;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
};

}  // namespace adascale::training
