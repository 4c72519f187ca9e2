#include "training/multi_stage_trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include <unistd.h>

#include "core/atomic_file.h"
#include "core/config/schema.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/logging.h"
#include "core/memory_usage.h"
#include "core/timing.h"
#include "training/checkpoint.h"
#include "training/distillation.h"
#include "training/distributed.h"
#include "training/evaluation.h"
#include "training/lr_schedule.h"
#include "training/metrics_log.h"
#include "training/progress.h"
#include "training/sync_batch_norm.h"
#include "training/training_optimizer.h"

namespace adascale::training {
namespace {

namespace fs = std::filesystem;

// Loader epochs of different stages must differ so that every stage sees
// its own shuffles; the number depends only on (stage, epoch). Stage 0
// (pretraining, index -1) takes the block after the last stage's.
constexpr int64_t kEpochsPerStageId = 100000;

int argmax(const std::vector<double>& v) {
  return int(std::max_element(v.begin(), v.end()) - v.begin());
}

std::string percent(double fraction) {
  return fmt::format("{:.2f}%", 100.0 * fraction);
}

/// What one training epoch runs: the heads, how a batch becomes their
/// logits and how the logits become one loss.
struct EpochPlan {
  int stage = 0;  ///< -1 = stage 0
  int epochs = 0;
  double peak_lr = 0.0;
  int64_t loader_epoch_base = 0;
  std::string title;
  std::function<std::vector<torch::Tensor>(const torch::Tensor&)> forward;
  /// Total loss from (logits, labels, images); per-head losses for meters.
  std::function<torch::Tensor(const std::vector<torch::Tensor>&,
                              const torch::Tensor&, const torch::Tensor&,
                              std::vector<double>&)>
      loss;
};

/// One run of Algorithm 1 (with the optional stage 0): owns the position,
/// the clocks and the metrics log, and checkpoints that position.
class Run {
 public:
  Run(Trainee& trainee, datasets::DataPipeline& data,
      const TrainerOptions& options, std::string last_checkpoint)
      : trainee_(trainee),
        data_(data),
        options_(options),
        comm_(options.distributed),
        cfg_(options.train),
        // Rank 0 alone writes the run directory.
        persist_(!options.run_dir.empty() &&
                 (comm_ == nullptr || comm_->rank() == 0)),
        last_checkpoint_(std::move(last_checkpoint)),
        stages_(trainee.num_stages()),
        criterion_(
            torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
                cfg_.label_smoothing)) {}

  TrainingReport run(bool resume) {
    start(resume);
    if (!state_.pretrained && !pretrain()) return interrupted_report();
    for (; state_.stage < stages_ && !state_.finished; ++state_.stage) {
      if (!train_stage(state_.stage)) return interrupted_report();
    }
    return finish();
  }

 private:
  // ---- set-up -----------------------------------------------------------

  void start(bool resume) {
    auto& log = log::logger();
    state_.pretrained = cfg_.pretrain.epochs == 0;
    std::string from = resume && persist_ ? resume_point() : "";
    if (comm_) {
      shard_data();
      from = shared_file(from);
    }
    // The model trains where the loaders deliver the batches (the run's
    // `device`, datasets::make_pipeline), before any weights are read,
    // so the checkpoint's tensors are read straight onto it.
    device_ = data_.train->device();
    trainee_.module().to(device_);
    if (!from.empty()) {
      reader_.emplace(from, options_.fingerprint, device_);
      drop_shared_copy(from);
      state_ = reader_->state();
      reader_->restore_model(trainee_.module());
      reader_->restore_rng();
      log.info("resuming from {}: {}, epoch {}, step {}", from,
               state_.pretrained ? fmt::format("stage {}", state_.stage + 1)
                                 : std::string("stage 0 (trunk pretraining)"),
               state_.epoch + 1, state_.step);
      report_.stages = state_.stages;
      if (state_.pretrained && distilling() && state_.stage < stages_) {
        restore_teacher();
      }
    }
    if (options_.channels_last) {
      torch::NoGradGuard no_grad;
      for (auto& p : trainee_.module().parameters()) {
        if (p.dim() == 4) {
          p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
        }
      }
    }
    if (persist_) {
      fs::create_directories(fs::path(options_.run_dir) / "checkpoints");
      metrics_ = std::make_unique<MetricsLog>(
          options_.run_dir, reader_ ? state_.metrics_rows : 0);
    }
    has_validation_ = options_.evaluate && data_.validation->num_samples() > 0;
    if (!has_validation_ && options_.evaluate) {
      log.warn(
          "the validation split is empty: target accuracies and the trunk "
          "rule use training accuracy (set dataset.validation_fraction)");
    }
    datasets::DataLoader& train = *data_.train;
    steps_per_epoch_ =
        cfg_.max_steps > 0
            ? std::min<int64_t>(cfg_.max_steps, train.batches_per_epoch())
            : train.batches_per_epoch();
    if (steps_per_epoch_ <= 0) {
      throw ConfigError(
          "training split yields no batch (loader.batch_size larger than the "
          "split with drop_last?)");
    }
    if (reader_) convert_position(from);
    if (comm_) {
      // Every rank starts from rank 0's weights (after a resume too), as
      // DistributedDataParallel's constructor does.
      comm_->broadcast_module(trainee_.module(), "broadcast of the weights");
    }
    progress_mode_ = resolve_progress_mode(cfg_.progress);
    wall_before_ = state_.wall_seconds;
    stage_before_ = state_.stage_seconds;
  }

  bool distilling() const { return cfg_.distillation.weight > 0; }

  /// The checkpoint a resume continues from: last.pt, else the newest
  /// intact stage checkpoint; "" for a run that never wrote one. A run
  /// that has trained (metrics rows) but kept no usable checkpoint is
  /// refused rather than started over over its results.
  std::string resume_point() const {
    // A damaged last.pt (checksum, format) is passed over like a missing
    // one: the newest intact stage checkpoint is the previous good state.
    std::string last_problem = "missing";
    if (fs::exists(last_checkpoint_)) {
      try {
        CheckpointReader(last_checkpoint_, options_.fingerprint);
        return last_checkpoint_;
      } catch (const CheckpointMismatchError&) {
        throw;  // intact but foreign: no older checkpoint would be better
      } catch (const DataError& e) {
        log::logger().warn("{}", e.what());
        last_problem = "unusable (see above)";
      }
    }
    const fs::path dir = fs::path(options_.run_dir) / "checkpoints";
    for (int k = stages_; k >= 0; --k) {
      const std::string path = (dir / fmt::format("stage{}.pt", k)).string();
      if (!fs::exists(path)) continue;
      try {
        CheckpointReader(path, options_.fingerprint);
      } catch (const DataError& e) {
        log::logger().warn("{}", e.what());
        continue;
      }
      log::logger().warn(
          "{}: {}; resuming from {}, the newest intact stage checkpoint",
          last_checkpoint_, last_problem, path);
      return path;
    }
    if (last_problem != "missing") {
      throw DataError(
          last_checkpoint_ +
          ": unusable and no intact stage checkpoint beside it; "
          "not starting over on top of it: train into another --run");
    }
    const fs::path csv = fs::path(options_.run_dir) / "metrics.csv";
    const std::string text =
        fs::exists(csv) ? core::read_file(csv.string()) : std::string();
    if (std::count(text.begin(), text.end(), '\n') > 1) {  // header + rows
      throw DataError(last_checkpoint_ +
                      ": missing and no intact stage checkpoint beside it; "
                      "this run has trained (metrics.csv has rows), so it is "
                      "not started over: train into another --run");
    }
    log::logger().info("no checkpoint to resume from; starting a fresh run");
    return "";
  }

  std::string stage0_checkpoint() const {
    return (fs::path(options_.run_dir) / "checkpoints" / "stage0.pt").string();
  }

  // The teacher is the trunk as stage 0 left it: stage0.pt holds it.
  void restore_teacher() {
    trainee_.snapshot_teacher();
    if (persist_ && !fs::exists(stage0_checkpoint())) {
      throw DataError(stage0_checkpoint() +
                      ": missing; distillation needs the trunk stage 0 "
                      "trained as its teacher");
    }
    std::string path = persist_ ? stage0_checkpoint() : "";
    if (comm_) path = shared_file(path);
    CheckpointReader reader(path, options_.fingerprint, device_);
    drop_shared_copy(path);
    reader.restore_model(*trainee_.teacher());
  }

  // ---- data parallelism (training/distributed.h) ----------------------------

  int world() const { return comm_ ? comm_->world_size() : 1; }

  /// Each rank its shard of every split: training shards of one length
  /// (every rank takes the same steps), evaluation shards exact (their
  /// figures are reduced).
  void shard_data() {
    const int rank = comm_->rank(), ranks = comm_->world_size();
    data_.train->set_shard(rank, ranks, /*even=*/true);
    data_.validation->set_shard(rank, ranks, /*even=*/false);
    data_.test->set_shard(rank, ranks, /*even=*/false);
  }

  /// Rank 0's file `path` on every rank, so that no rank needs rank 0's
  /// filesystem: rank 0 gets `path` back, the others a private copy ("" if
  /// rank 0 passed "").
  std::string shared_file(const std::string& path) {
    const bool root = comm_->rank() == 0;
    // A leading byte tells "no file" from an empty one.
    const std::string bytes = comm_->broadcast_bytes(
        root && !path.empty() ? "F" + core::read_file(path) : std::string(),
        "sending the checkpoint to every rank");
    if (root || bytes.empty()) return root ? path : "";
    const fs::path copy =
        fs::temp_directory_path() /
        fmt::format("adascale-rank{}-{}.pt", comm_->rank(), ::getpid());
    core::write_file_atomic(copy.string(), bytes.substr(1));
    return copy.string();
  }

  /// Removes a copy shared_file() made (read in full by now).
  void drop_shared_copy(const std::string& path) const {
    if (comm_ && comm_->rank() != 0 && !path.empty()) {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  }

  /// A checkpoint of another world size: `step` counts steps of its ranks.
  /// At an epoch boundary nothing changes; mid-epoch the position converts
  /// when the global samples done fill whole steps of this world size
  /// (shards interleave, so the same samples are then done), else the
  /// resume is refused. Every rank reads the same state, so all agree.
  void convert_position(const std::string& from) {
    const int saved = state_.world_size, now = world();
    // The running meters are global sums: rank 0 carries them on.
    if (comm_ && comm_->rank() != 0) {
      for (auto& m : state_.meters) m.reset();
    }
    if (saved == now) return;
    if (state_.step == 0) {
      log::logger().warn(
          "{}: written by {} rank(s), resumed with {}: the global batch "
          "becomes {} images",
          from, saved, now, int64_t(now) * data_.train->batch_size());
      return;
    }
    const int64_t done = int64_t(state_.step) * saved;
    if (done % now != 0 || done / now > steps_per_epoch_) {
      throw ConfigError(fmt::format(
          "{}: stopped mid-epoch after {} steps of {} rank(s), which is no "
          "whole number of steps of {} ranks; resume with WORLD_SIZE={} or "
          "from an epoch-end checkpoint",
          from, state_.step, saved, now, saved));
    }
    log::logger().warn(
        "{}: {} steps of {} rank(s) are {} steps of {}; the global batch "
        "becomes {} images",
        from, state_.step, saved, done / now, now,
        int64_t(now) * data_.train->batch_size());
    state_.step = int(done / now);
  }

  /// Parameters the optimiser steps: what the gradient average covers.
  static std::vector<torch::Tensor> trained_parameters(
      TrainingOptimizer& optimizer) {
    std::vector<torch::Tensor> out;
    for (auto& group : optimizer.torch_optimizer().param_groups()) {
      for (auto& p : group.params()) out.push_back(p);
    }
    return out;
  }

  /// Ctrl-C on any rank stops every rank after the same step.
  bool interrupt_agreed() const {
    const bool local = core::interrupt_requested();
    return comm_ ? comm_->any(local, "interrupt check") : local;
  }

  /// At an epoch's end (or interruption): the running meters become the
  /// global batch's, and, unless BatchNorm is synchronised, every rank
  /// takes rank 0's running statistics (DDP's broadcast_buffers), so
  /// validation and checkpoints see the same model everywhere.
  void share_epoch_results() {
    if (!comm_) return;
    state_.meters = comm_->all_reduce(state_.meters, "reduction of meters");
    if (!comm_->config().sync_bn) {
      comm_->broadcast(trainee_.module().buffers(),
                       "broadcast of BatchNorm statistics");
    }
  }

  /// Accuracies over the whole split: each rank evaluates its shard.
  std::vector<Accuracy> reduced(std::vector<Accuracy> local) {
    return comm_ ? comm_->all_reduce(local, "reduction of evaluation") : local;
  }
  std::vector<Accuracy> shared_exits(const std::vector<int>& trunk, int exits,
                                     datasets::DataLoader& loader) {
    return reduced(evaluate_exits(trainee_, trunk, exits, loader));
  }
  std::vector<Accuracy> shared_heads(int stage, const std::vector<int>& trunk,
                                     datasets::DataLoader& loader,
                                     double label_smoothing) {
    return reduced(
        evaluate_heads(trainee_, stage, trunk, loader, label_smoothing));
  }

  // ---- clocks, rows, checkpoints ------------------------------------------

  double wall_now() const { return wall_before_ + wall_.seconds(); }
  double stage_now() const { return stage_before_ + stage_clock_.seconds(); }
  int64_t stage_peak() const {
    return std::max(state_.stage_peak_rss_bytes, core::peak_resident_bytes());
  }
  // The run's peak: the highest of every stage's, the one in progress too.
  int64_t run_peak() const {
    int64_t peak = stage_peak();
    for (const auto& s : report_.stages) {
      peak = std::max(peak, s.peak_rss_bytes);
    }
    return peak;
  }

  void row(const std::string& kind, int stage, int epoch,
           const std::string& variant, int exit, const Accuracy& a, double lr,
           double seconds, double images_per_second) {
    if (!metrics_) return;
    MetricsRow r;
    r.kind = kind;
    r.stage = stage + 1;
    r.epoch = epoch + 1;
    r.variant = variant;
    r.exit = exit + 1;
    r.loss = a.loss;
    r.top1 = a.top1;
    r.top5 = a.top5;
    r.lr = lr;
    r.epoch_seconds = seconds;
    r.images_per_second = images_per_second;
    r.peak_rss_bytes = core::peak_resident_bytes();
    r.wall_seconds = wall_now();
    metrics_->append(r);
  }

  /// Saves `position` (where a resumed run continues) with the rest of the
  /// state. `in_stage`: written mid-stage, so the stage's time and peak so
  /// far travel with it; at a stage's end they are in state.stages instead.
  void checkpoint(const TrainingState& position,
                  const TrainingOptimizer* optimizer, bool in_stage) {
    if (!persist_) return;
    TrainingState s = position;
    s.world_size = world();
    s.metrics_rows = metrics_->rows();
    s.wall_seconds = wall_now();
    if (in_stage) {
      s.stage_seconds = stage_now();
      s.stage_peak_rss_bytes = stage_peak();
    }
    save_checkpoint(last_checkpoint_, trainee_.module(), optimizer, s,
                    options_.fingerprint);
  }

  TrainingReport interrupted_report() {
    report_.interrupted = true;
    report_.trunk = state_.trunk;
    report_.wall_seconds = wall_now();
    report_.peak_rss_bytes = run_peak();
    return report_;
  }

  /// Copies last.pt (just written at a stage's end) to stage<k>.pt.
  void keep_stage_checkpoint(int stage_number) {
    if (!persist_) return;
    fs::copy_file(last_checkpoint_,
                  fs::path(options_.run_dir) / "checkpoints" /
                      fmt::format("stage{}.pt", stage_number),
                  fs::copy_options::overwrite_existing);
  }

  // ---- one epoch ------------------------------------------------------------

  /// Trains one epoch of `plan` from state_.step on. False if interrupted
  /// (after a checkpoint).
  bool train_epoch(const EpochPlan& plan, const std::vector<std::string>& heads,
                   TrainingOptimizer& optimizer, double& lr, int64_t& images,
                   double& seconds) {
    const int epoch = state_.epoch;
    if (state_.meters.size() != heads.size() || state_.step == 0) {
      state_.meters.assign(heads.size(), AccuracyMeter());
    }
    datasets::DataLoader& train = *data_.train;
    train.start_epoch(plan.loader_epoch_base + epoch, state_.step);
    Progress progress(
        progress_mode_,
        fmt::format("{} epoch {}/{}", plan.title, epoch + 1, plan.epochs),
        steps_per_epoch_, cfg_.log_every);
    core::Stopwatch epoch_clock;
    images = 0;
    std::vector<double> losses;
    const std::vector<torch::Tensor> trained =
        comm_ ? trained_parameters(optimizer) : std::vector<torch::Tensor>();
    while (state_.step < steps_per_epoch_) {
      auto batch = train.next();
      if (!batch) break;
      lr = scheduled_lr(cfg_.schedule, plan.peak_lr,
                        epoch + double(state_.step) / steps_per_epoch_,
                        plan.epochs);
      optimizer.set_lr(lr);
      auto logits = plan.forward(batch->images);
      losses.clear();
      torch::Tensor loss =
          plan.loss(logits, batch->labels, batch->images, losses);
      optimizer.zero_grad();
      loss.backward();
      if (comm_) comm_->average_gradients(trained);
      optimizer.step();
      for (size_t h = 0; h < logits.size(); ++h) {
        state_.meters[h].add(logits[h], batch->labels, losses[h]);
      }
      ++state_.step;
      images += batch->labels.size(0) * world();  // the global batch
      const Accuracy first = state_.meters[0].result();
      progress.update(state_.step, images, first.loss, first.top1);
      if (options_.on_step) options_.on_step(plan.stage, epoch, state_.step);
      if (interrupt_agreed()) {
        progress.finish();
        share_epoch_results();
        checkpoint(state_, &optimizer, /*in_stage=*/true);
        log::logger().warn(
            "interrupted at stage {} epoch {} step {}; checkpoint {}",
            plan.stage + 1, epoch + 1, state_.step,
            persist_ ? last_checkpoint_ : "(none: no run directory)");
        return false;
      }
    }
    progress.finish();
    share_epoch_results();
    seconds = epoch_clock.seconds();
    return true;
  }

  /// After an epoch: the position moves to the next epoch's first step.
  void checkpoint_epoch_end(const TrainingOptimizer& optimizer) {
    state_.step = 0;
    state_.meters.clear();
    TrainingState next = state_;
    next.epoch += 1;
    checkpoint(next, &optimizer, /*in_stage=*/true);
  }

  TrainingOptimizer make_optimizer(std::vector<ParamGroup> params) {
    TrainingOptimizer optimizer(cfg_.optimizer, std::move(params));
    if (reader_ && reader_->has_optimizer()) {
      reader_->restore_optimizer(optimizer);
    }
    reader_.reset();  // later stages start from fresh optimisers
    return optimizer;
  }

  /// Cross-entropy, blended with distillation from `teacher` when defined.
  torch::Tensor head_loss(const torch::Tensor& logits,
                          const torch::Tensor& labels,
                          const torch::Tensor& teacher) {
    auto ce = torch::nn::functional::cross_entropy(logits, labels, criterion_);
    if (!teacher.defined()) return ce;
    const double w = cfg_.distillation.weight;
    return (1.0 - w) * ce +
           w * distillation_loss(logits, teacher,
                                 cfg_.distillation.temperature);
  }

  // ---- stage 0: the trunk with every exit --------------------------------

  bool pretrain() {
    auto& log = log::logger();
    const std::vector<int> path = trainee_.backbone_path();
    std::vector<std::string> heads;
    for (int e = 0; e < stages_; ++e) {
      heads.push_back(trainee_.exit_name(path, e));
    }
    std::vector<double> weights = cfg_.pretrain.exit_weights;
    if (weights.empty()) weights.assign(size_t(stages_), 1.0);
    EpochPlan plan;
    plan.stage = -1;
    plan.epochs = cfg_.pretrain.epochs;
    plan.peak_lr = cfg_.pretrain.lr > 0 ? cfg_.pretrain.lr : cfg_.optimizer.lr;
    plan.loader_epoch_base = int64_t(stages_) * kEpochsPerStageId;
    plan.title = fmt::format("stage 0/{}", stages_);
    plan.forward = [&](const torch::Tensor& x) {
      return trainee_.forward_exits(path, x, stages_);
    };
    // Self-distillation: the deepest exit of the same batch teaches the
    // others; it learns from the labels alone.
    plan.loss = [&](const std::vector<torch::Tensor>& logits,
                    const torch::Tensor& labels, const torch::Tensor&,
                    std::vector<double>& losses) {
      torch::Tensor teacher;
      if (distilling()) teacher = logits.back().detach();
      torch::Tensor total;
      for (size_t e = 0; e < logits.size(); ++e) {
        auto l = head_loss(logits[e], labels,
                           e + 1 < logits.size() ? teacher : torch::Tensor());
        losses.push_back(l.item<double>());
        auto weighted = weights[e] * l;
        total = total.defined() ? total + weighted : weighted;
      }
      return total;
    };

    TrainingOptimizer optimizer =
        make_optimizer(trainee_.pretrain_parameters());
    if (state_.validation_top1.size() != heads.size()) {
      state_.validation_top1.assign(heads.size(), 0.0);
    }
    StageReport stage_report;
    stage_report.stage = -1;
    stage_report.heads = heads;
    stage_report.epochs = state_.epoch;
    stage_clock_.restart();
    log.info(
        "stage 0/{}: pretraining the trunk with its {} exits ({} epochs{})",
        stages_, stages_, plan.epochs,
        distilling() ? fmt::format(", self-distillation weight {}",
                                   cfg_.distillation.weight)
                     : std::string());
    core::reset_peak_resident();
    std::optional<std::vector<Accuracy>> last_validation;
    for (; state_.epoch < plan.epochs; ++state_.epoch) {
      trainee_.set_pretrain_mode(true);
      double lr = 0, seconds = 0;
      int64_t images = 0;
      if (!train_epoch(plan, heads, optimizer, lr, images, seconds)) {
        return false;
      }
      const double rate = seconds > 0 ? double(images) / seconds : 0.0;
      stage_report.images_per_second = rate;
      const int epoch = state_.epoch;
      for (size_t h = 0; h < heads.size(); ++h) {
        row("train", -1, epoch, heads[h], int(h), state_.meters[h].result(), lr,
            seconds, rate);
      }
      const bool last = epoch + 1 == plan.epochs;
      if (has_validation_ && ((epoch + 1) % cfg_.eval_every == 0 || last)) {
        auto acc = shared_exits(path, stages_, *data_.validation);
        for (size_t h = 0; h < heads.size(); ++h) {
          state_.validation_top1[h] = acc[h].top1;
          row("validation", -1, epoch, heads[h], int(h), acc[h], lr, seconds,
              rate);
        }
        last_validation = acc;
      }
      std::vector<std::string> parts;
      for (size_t h = 0; h < heads.size(); ++h) {
        parts.push_back(fmt::format("exit {} {}", h + 1,
                                    percent(state_.validation_top1[h])));
      }
      log.info("stage 0 epoch {}/{}: {:.0f} img/s, validation {}", epoch + 1,
               plan.epochs, rate, fmt::join(parts, ", "));
      checkpoint_epoch_end(optimizer);
      stage_report.epochs += 1;
    }
    stage_report.top1 = state_.validation_top1;
    stage_report.trunk_choice = stages_ - 1;  // the deepest exit
    stage_report.seconds = stage_now();
    stage_report.peak_rss_bytes = stage_peak();
    report_.stages.push_back(stage_report);
    if (has_validation_) {
      // Killed between the last epoch's checkpoint and this one: measure.
      if (!last_validation) {
        last_validation = shared_exits(path, stages_, *data_.validation);
      }
      for (int e = 0; e < stages_; ++e) {
        row("stage", -1, state_.epoch - 1, heads[size_t(e)], e,
            (*last_validation)[size_t(e)], 0.0, stage_report.seconds, 0.0);
      }
    }
    if (distilling()) trainee_.snapshot_teacher();
    state_.pretrained = true;
    reset_position();
    checkpoint(state_, nullptr, /*in_stage=*/false);
    keep_stage_checkpoint(0);
    return true;
  }

  // ---- stage k of Algorithm 1 ---------------------------------------------

  bool train_stage(int stage) {
    auto& log = log::logger();
    // Each stage's metrics rows then carry its own peak memory (the
    // paper's per-stage training memory), not the process's so far.
    core::reset_peak_resident();
    const std::vector<int> trunk = state_.trunk;
    const std::vector<std::string> heads = trainee_.heads(stage, trunk);
    const double target = cfg_.target_of(size_t(stage));
    EpochPlan plan;
    plan.stage = stage;
    plan.epochs = cfg_.epochs_of(size_t(stage));
    plan.peak_lr = cfg_.optimizer.lr;
    plan.loader_epoch_base = stage * kEpochsPerStageId;
    plan.title = fmt::format("stage {}/{}", stage + 1, stages_);
    // The step's stage outputs, kept from forward to loss for feature
    // matching (the plan's forward returns only the logits).
    std::vector<torch::Tensor> features;
    const double matching = cfg_.feature_matching;
    const size_t backbone = size_t(trainee_.backbone(stage));
    plan.forward = [&](const torch::Tensor& x) {
      HeadOutputs out = trainee_.forward_stage_heads(stage, trunk, x, true);
      features =
          matching > 0 ? std::move(out.features) : std::vector<torch::Tensor>();
      return out.logits;
    };
    plan.loss = [&](const std::vector<torch::Tensor>& logits,
                    const torch::Tensor& labels, const torch::Tensor& images,
                    std::vector<double>& losses) {
      torch::Tensor teacher;
      if (distilling()) teacher = trainee_.teacher_logits(images);
      torch::Tensor total;
      for (size_t h = 0; h < logits.size(); ++h) {
        auto l = head_loss(logits[h], labels, teacher);
        if (!features.empty() && h != backbone) {
          l = l + matching *
                      torch::mse_loss(features[h], features[backbone].detach());
        }
        losses.push_back(l.item<double>());
        total = total.defined() ? total + l : l;
      }
      features.clear();
      return total;
    };

    TrainingOptimizer optimizer =
        make_optimizer(trainee_.parameters(stage, trunk));
    if (state_.validation_top1.size() != heads.size()) {
      state_.validation_top1.assign(heads.size(), 0.0);
    }
    StageReport stage_report;
    stage_report.stage = stage;
    stage_report.heads = heads;
    stage_report.epochs = state_.epoch;  // done before a resume
    stage_clock_.restart();
    // The mode only says how the prefix trains: stage 1 has none.
    log.info(
        "stage {}/{}: training {} ({}up to {} epochs{}{}{})", stage + 1,
        stages_, fmt::join(heads, ", "),
        stage > 0 ? config::spelling(cfg_.mode) + " mode, " : std::string(),
        plan.epochs, target > 0 ? ", target " + percent(target) : "",
        distilling() ? ", distilled from the stage-0 trunk" : "",
        matching > 0 ? fmt::format(", feature matching weight {}", matching)
                     : std::string());
    // A resumed stage may already have met its target before the restart.
    bool reached = target > 0 && state_.epoch > 0 &&
                   *std::max_element(state_.validation_top1.begin(),
                                     state_.validation_top1.end()) >= target;
    for (; state_.epoch < plan.epochs && !reached; ++state_.epoch) {
      trainee_.set_mode(stage, trunk, /*training=*/true);
      double lr = 0, seconds = 0;
      int64_t images = 0;
      if (!train_epoch(plan, heads, optimizer, lr, images, seconds)) {
        return false;
      }
      const int epoch = state_.epoch;
      const double rate = seconds > 0 ? double(images) / seconds : 0.0;
      stage_report.images_per_second = rate;
      std::vector<double> train_top1;
      for (size_t h = 0; h < heads.size(); ++h) {
        Accuracy a = state_.meters[h].result();
        train_top1.push_back(a.top1);
        row("train", stage, epoch, heads[h], stage, a, lr, seconds, rate);
      }
      const bool last = epoch + 1 == plan.epochs;
      if (has_validation_ &&
          ((epoch + 1) % cfg_.eval_every == 0 || last || target > 0)) {
        auto acc =
            shared_heads(stage, trunk, *data_.validation, cfg_.label_smoothing);
        for (size_t h = 0; h < heads.size(); ++h) {
          state_.validation_top1[h] = acc[h].top1;
          row("validation", stage, epoch, heads[h], stage, acc[h], lr, seconds,
              rate);
        }
      } else if (!has_validation_) {
        state_.validation_top1 = train_top1;
      }
      const int best = argmax(state_.validation_top1);
      log.info("stage {} epoch {}/{}: {:.0f} img/s, {}; best {} {} ({})",
               stage + 1, epoch + 1, plan.epochs, rate,
               fmt::format("train top-1 {}", percent(train_top1[0])),
               heads[size_t(best)],
               percent(state_.validation_top1[size_t(best)]),
               has_validation_ ? "validation" : "train");
      reached = target > 0 && state_.validation_top1[size_t(best)] >= target;
      checkpoint_epoch_end(optimizer);
      stage_report.epochs += 1;
    }
    if (target > 0 && !reached) {
      log.warn("stage {}: target {} not reached within {} epochs (best {})",
               stage + 1, percent(target), plan.epochs,
               percent(*std::max_element(state_.validation_top1.begin(),
                                         state_.validation_top1.end())));
    }

    const int choice = choose_trunk(stage, heads);
    stage_report.reached_target = reached;
    stage_report.top1 = state_.validation_top1;
    stage_report.trunk_choice = choice;
    stage_report.seconds = stage_now();
    stage_report.peak_rss_bytes = stage_peak();
    report_.stages.push_back(stage_report);
    state_.trunk.push_back(choice);
    log.info("stage {}: trunk continues with {}", stage + 1,
             heads[size_t(choice)]);

    // Every exit so far, so one sees whether fine-tuning moved earlier ones.
    if (has_validation_) {
      auto acc = shared_exits(state_.trunk, stage + 1, *data_.validation);
      if (stage + 1 == stages_) final_validation_ = acc;
      std::vector<std::string> parts;
      for (int e = 0; e <= stage; ++e) {
        row("stage", stage, state_.epoch - 1,
            trainee_.exit_name(state_.trunk, e), e, acc[size_t(e)], 0.0,
            stage_report.seconds, 0.0);
        parts.push_back(
            fmt::format("exit {} {}", e + 1, percent(acc[size_t(e)].top1)));
      }
      log.info("after stage {}: validation {}", stage + 1,
               fmt::join(parts, ", "));
    }
    reset_position();
    if (stage + 1 == stages_) state_.finished = true;
    TrainingState next = state_;
    next.stage += 1;
    checkpoint(next, nullptr, /*in_stage=*/false);
    keep_stage_checkpoint(stage + 1);
    return true;
  }

  /// A finished stage leaves no epoch in progress.
  void reset_position() {
    state_.epoch = 0;
    state_.step = 0;
    state_.validation_top1.clear();
    state_.stages = report_.stages;
    state_.stage_seconds = 0;
    state_.stage_peak_rss_bytes = 0;
    stage_before_ = 0;
  }

  int choose_trunk(int stage, const std::vector<std::string>& heads) const {
    switch (cfg_.trunk_rule) {
      case core::TrunkRule::kBackbone:
        return trainee_.backbone(stage);
      case core::TrunkRule::kBestAccuracy:
        return argmax(state_.validation_top1);
      case core::TrunkRule::kBestAccuracyPerMac: {
        if (!options_.cost) {
          throw ConfigError(
              "train.trunk_rule: best_accuracy_per_mac needs candidate costs");
        }
        std::vector<double> score;
        for (size_t h = 0; h < heads.size(); ++h) {
          score.push_back(state_.validation_top1[h] /
                          std::max(1.0, options_.cost(stage, int(h))));
        }
        return argmax(score);
      }
    }
    throw InternalError("train.trunk_rule: unknown rule");
  }

  // ---- the end ------------------------------------------------------------

  TrainingReport finish() {
    report_.trunk = state_.trunk;
    const int exits = int(state_.trunk.size());
    for (int e = 0; e < exits; ++e) {
      report_.exit_names.push_back(trainee_.exit_name(state_.trunk, e));
    }
    // The last stage's end-of-stage pass is the final validation: the same
    // exits of the same weights.
    if (final_validation_) {
      report_.validation = *final_validation_;
    } else if (has_validation_) {
      report_.validation = shared_exits(state_.trunk, exits, *data_.validation);
    }
    if (options_.evaluate && data_.test->num_samples() > 0) {
      report_.test = shared_exits(state_.trunk, exits, *data_.test);
      std::vector<std::string> parts;
      for (int e = 0; e < exits; ++e) {
        row("test", exits - 1, 0, report_.exit_names[size_t(e)], e,
            report_.test[size_t(e)], 0.0, 0.0, 0.0);
        parts.push_back(fmt::format("{} {}", report_.exit_names[size_t(e)],
                                    percent(report_.test[size_t(e)].top1)));
      }
      log::logger().info("test top-1: {}", fmt::join(parts, ", "));
    }
    report_.wall_seconds = wall_now();
    report_.peak_rss_bytes = run_peak();
    return report_;
  }

  Trainee& trainee_;
  datasets::DataPipeline& data_;
  const TrainerOptions& options_;
  Communicator* const comm_;
  const core::TrainConfig& cfg_;
  const bool persist_;
  const std::string last_checkpoint_;
  const int stages_;
  const torch::nn::functional::CrossEntropyFuncOptions criterion_;

  TrainingState state_;
  TrainingReport report_;
  std::optional<CheckpointReader> reader_;
  c10::Device device_{c10::kCPU};  ///< where the model and batches live
  std::unique_ptr<MetricsLog> metrics_;
  std::optional<std::vector<Accuracy>> final_validation_;
  bool has_validation_ = false;
  int64_t steps_per_epoch_ = 0;
  ProgressMode progress_mode_{};
  core::Stopwatch wall_;
  core::Stopwatch stage_clock_;
  double wall_before_ = 0.0;
  double stage_before_ = 0.0;
};

}  // namespace

MultiStageTrainer::MultiStageTrainer(Trainee& trainee,
                                     datasets::DataPipeline& data,
                                     TrainerOptions options)
    : trainee_(trainee), data_(data), options_(std::move(options)) {}

std::string MultiStageTrainer::last_checkpoint() const {
  return (fs::path(options_.run_dir) / "checkpoints" / "last.pt").string();
}

TrainingReport MultiStageTrainer::run(bool resume) {
  // Synchronised BatchNorm holds for the whole run (every stage's forward).
  std::optional<SyncBatchNormScope> sync_bn;
  if (options_.distributed && options_.distributed->config().sync_bn) {
    sync_bn.emplace(*options_.distributed);
  }
  return Run(trainee_, data_, options_, last_checkpoint()).run(resume);
}

}  // namespace adascale::training
