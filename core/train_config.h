#pragma once
/// How to train (DESIGN §3.3): optimiser, learning-rate schedule and the
/// multi-stage recipe. Pure data; `train:` section of a run config.

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "core/config/checks.h"

namespace adascale::core {

// The training choices are enums with their config spellings
// (core/config/schema.h): a misspelt value is a config error naming the
// key, and code switches over them, so no choice falls through to a
// default branch.

/// `train.optimizer.type`.
enum class OptimizerType { kSgd, kAdamW };
constexpr std::array<std::pair<OptimizerType, const char*>, 2> spellings(
    OptimizerType) {
  return {{{OptimizerType::kSgd, "sgd"}, {OptimizerType::kAdamW, "adamw"}}};
}

/// `train.schedule.type`.
enum class ScheduleType { kConstant, kMultistep, kCosine, kOneCycle };
constexpr std::array<std::pair<ScheduleType, const char*>, 4> spellings(
    ScheduleType) {
  return {{{ScheduleType::kConstant, "constant"},
           {ScheduleType::kMultistep, "multistep"},
           {ScheduleType::kCosine, "cosine"},
           {ScheduleType::kOneCycle, "onecycle"}}};
}

/// `train.mode`: what the stages before the one training do.
enum class TrainMode { kFreeze, kFinetune };
constexpr std::array<std::pair<TrainMode, const char*>, 2> spellings(
    TrainMode) {
  return {{{TrainMode::kFreeze, "freeze"}, {TrainMode::kFinetune, "finetune"}}};
}

/// `train.trunk_rule`: which candidate later stages train on.
enum class TrunkRule { kBackbone, kBestAccuracy, kBestAccuracyPerMac };
constexpr std::array<std::pair<TrunkRule, const char*>, 3> spellings(
    TrunkRule) {
  return {{{TrunkRule::kBackbone, "backbone"},
           {TrunkRule::kBestAccuracy, "best_accuracy"},
           {TrunkRule::kBestAccuracyPerMac, "best_accuracy_per_mac"}}};
}

/// `train.optimizer:`.
struct OptimizerConfig {
  OptimizerType type = OptimizerType::kSgd;
  double lr = 0.1;
  double momentum = 0.9;  ///< sgd
  bool nesterov = false;  ///< sgd
  double weight_decay = 5e-4;
  double beta1 = 0.9;  ///< adamw
  double beta2 = 0.999;
  double eps = 1e-8;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("type", type, "sgd | adamw");
    v("lr", lr, check::in_range(0.0, 100.0), "peak learning rate");
    v("momentum", momentum, check::in_range(0.0, 1.0));
    v("nesterov", nesterov);
    v("weight_decay", weight_decay, check::in_range(0.0, 1.0));
    v("beta1", beta1, check::in_range(0.0, 1.0));
    v("beta2", beta2, check::in_range(0.0, 1.0));
    v("eps", eps, check::in_range(0.0, 1.0));
  }
};

/// `train.schedule:`: the learning rate over one stage's epochs, evaluated
/// per step (fractional epochs), so every schedule is smooth in steps.
struct ScheduleConfig {
  ScheduleType type = ScheduleType::kMultistep;
  /// multistep: epochs at which the rate is multiplied by `gamma`.
  std::vector<double> milestones = {40, 80, 100, 120};
  double gamma = 0.1;
  /// Linear warm-up from `warmup_start` × lr over these epochs (not
  /// onecycle, which has its own ramp).
  double warmup_epochs = 0;
  double warmup_start = 0.1;
  /// cosine: the rate at the end, as a fraction of lr.
  double final_fraction = 0.0;
  /// onecycle: share of the stage spent rising from lr / div_factor to lr;
  /// it then anneals (cosine) to lr / (div_factor × final_div_factor).
  double peak_at = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("type", type, "constant | multistep | cosine | onecycle");
    v("milestones", milestones, check::each(check::at_least(0.0)),
      "epochs (multistep)");
    v("gamma", gamma, check::in_range(0.0, 1.0));
    v("warmup_epochs", warmup_epochs, check::at_least(0.0));
    v("warmup_start", warmup_start, check::in_range(0.0, 1.0));
    v("final_fraction", final_fraction, check::in_range(0.0, 1.0));
    v("peak_at", peak_at, check::in_range(0.0, 1.0));
    v("div_factor", div_factor, check::at_least(1.0));
    v("final_div_factor", final_div_factor, check::at_least(1.0));
  }
};

/// `train.pretrain:` an extension of Algorithm 1 (stage 0): before the
/// stage-by-stage passes, the backbone trunk trains end to end with every
/// exit at once (SDN / MSDNet-style weighted exit losses), so the trunk is
/// as accurate as a plain network and the shallow exits learn from the
/// start. The stages then train every candidate on that trunk.
struct PretrainConfig {
  /// Epochs of stage 0; 0 = off (Algorithm 1 as the paper has it).
  int epochs = 0;
  /// Weight of each exit's loss (exit 1 first); empty = 1 for every exit.
  std::vector<double> exit_weights;
  /// Peak learning rate of stage 0; 0 = train.optimizer.lr.
  double lr = 0.0;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("epochs", epochs, check::in_range(0, 100000), "0 = no stage 0");
    v("exit_weights", exit_weights, check::each(check::in_range(0.0, 100.0)),
      "loss weight per exit");
    v("lr", lr, check::in_range(0.0, 100.0), "0 = optimizer.lr");
  }
};

/// `train.distillation:` knowledge distillation into the shallow exits
/// ("Be Your Own Teacher"): an exit's loss becomes
/// (1 − weight)·CE(labels) + weight·T²·KL(teacher_T ‖ exit_T), softened by
/// temperature T. In stage 0 the teacher is the deepest exit of the same
/// batch (detached); in stages 1..N it is the trunk as stage 0 left it
/// (a frozen copy), so it needs `pretrain.epochs` > 0.
struct DistillationConfig {
  /// 0 = off.
  double weight = 0.0;
  double temperature = 3.0;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("weight", weight, check::in_range(0.0, 1.0), "0 = off");
    v("temperature", temperature, check::in_range(0.05, 100.0));
  }
};

/// `train:`.
struct TrainConfig {
  /// freeze: stages before k run without gradients, BN in eval mode.
  /// finetune: they train too, at lr × prefix_lr_scale.
  TrainMode mode = TrainMode::kFreeze;
  double prefix_lr_scale = 0.1;
  /// Epoch budget of every stage; `stage_epochs` overrides it per stage.
  int epochs = 30;
  std::vector<int> stage_epochs;
  /// Validation top-1 (0..1) at which stage k stops early; 0 or absent = run
  /// the whole budget.
  std::vector<double> target_accuracy;
  /// Which candidate later stages train on: backbone (the spec's),
  /// best_accuracy or best_accuracy_per_mac (validation top-1 per MMAC).
  TrunkRule trunk_rule = TrunkRule::kBackbone;
  double label_smoothing = 0.0;
  /// Validate every n epochs (and always at a stage's last epoch).
  int eval_every = 1;
  /// Steps per epoch cap (0 = the whole epoch): quick runs and tests.
  int max_steps = 0;
  /// Progress: auto (bar on a terminal, lines otherwise) | bar | lines | off.
  std::string progress = "auto";
  /// Plain progress line every n steps (lines mode).
  int log_every = 50;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  PretrainConfig pretrain;
  DistillationConfig distillation;
  /// After stage 0: stages 1..N leave the trunk (backbone candidates and
  /// exit heads) as stage 0 trained it and train only the other
  /// candidates, under the trunk's own exit head, so every trunk exit keeps
  /// its stage-0 accuracy and every candidate learns to stand in for the
  /// backbone block (as LegoDNN retrains descendant blocks). Needs
  /// pretrain.epochs > 0, mode freeze and trunk_rule backbone.
  bool keep_trunk = false;
  /// With keep_trunk: weight of a feature-matching loss (FitNets' hints)
  /// that pulls every stand-in candidate's stage output towards the kept
  /// backbone block's on the same batch (mean squared error). It gives
  /// stand-ins a dense signal beside their exit's loss, and makes their
  /// output one that the trunk's later stages can read, so mixed variants
  /// compose. 0 = off.
  double feature_matching = 0.0;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("mode", mode, "freeze | finetune");
    v("prefix_lr_scale", prefix_lr_scale, check::in_range(0.0, 10.0));
    v("epochs", epochs, check::in_range(0, 100000), "per stage");
    v("stage_epochs", stage_epochs, check::each(check::in_range(0, 100000)));
    v("target_accuracy", target_accuracy,
      check::each(check::in_range(0.0, 1.0)), "validation top-1 per exit");
    v("trunk_rule", trunk_rule,
      "backbone | best_accuracy | best_accuracy_per_mac");
    v("label_smoothing", label_smoothing, check::in_range(0.0, 1.0));
    v("eval_every", eval_every, check::in_range(1, 100000));
    v("max_steps", max_steps, check::at_least(0));
    v("progress", progress, check::one_of({"auto", "bar", "lines", "off"}));
    v("log_every", log_every, check::in_range(1, 1000000));
    v("optimizer", optimizer);
    v("schedule", schedule);
    v("pretrain", pretrain);
    v("distillation", distillation);
    v("keep_trunk", keep_trunk, "stages train only non-backbone candidates");
    v("feature_matching", feature_matching, check::in_range(0.0, 1000.0),
      "stand-ins: MSE weight to the backbone block's output; 0 = off");
  }

  /// Epoch budget of stage `stage` (0-based).
  int epochs_of(size_t stage) const {
    return stage < stage_epochs.size() ? stage_epochs[stage] : epochs;
  }
  /// Target of exit `stage` (0-based); 0 = none.
  double target_of(size_t stage) const {
    return stage < target_accuracy.size() ? target_accuracy[stage] : 0.0;
  }
};

}  // namespace adascale::core
