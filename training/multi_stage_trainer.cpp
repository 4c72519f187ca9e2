#include "training/multi_stage_trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/logging.h"
#include "core/memory_usage.h"
#include "core/timing.h"
#include "training/checkpoint.h"
#include "training/evaluation.h"
#include "training/lr_schedule.h"
#include "training/metrics_log.h"
#include "training/progress.h"
#include "training/training_optimizer.h"

namespace adascale::training {
namespace {

namespace fs = std::filesystem;

// Loader epochs of different stages must differ so that every stage sees
// its own shuffles; the number depends only on (stage, epoch).
constexpr int64_t kEpochsPerStageId = 100000;

int argmax(const std::vector<double>& v) {
  return int(std::max_element(v.begin(), v.end()) - v.begin());
}

std::string percent(double fraction) {
  return fmt::format("{:.2f}%", 100.0 * fraction);
}

}  // namespace

MultiStageTrainer::MultiStageTrainer(Trainee& trainee,
                                     datasets::DataPipeline& data,
                                     TrainerOptions options)
    : trainee_(trainee), data_(data), options_(std::move(options)) {}

std::string MultiStageTrainer::last_checkpoint() const {
  return (fs::path(options_.run_dir) / "checkpoints" / "last.pt").string();
}

TrainingReport MultiStageTrainer::run(bool resume) {
  const core::TrainConfig& cfg = options_.train;
  const bool persist = !options_.run_dir.empty();
  auto& log = log::logger();
  TrainingReport report;

  TrainingState state;
  std::optional<CheckpointReader> reader;
  if (resume && persist && fs::exists(last_checkpoint())) {
    reader.emplace(last_checkpoint(), options_.fingerprint);
    state = reader->state();
    reader->restore_model(trainee_.module());
    reader->restore_rng();
    log.info("resuming from {}: stage {}, epoch {}, step {}", last_checkpoint(),
             state.stage + 1, state.epoch + 1, state.step);
    report.stages = state.stages;
  } else if (resume) {
    log.info("no checkpoint to resume from; starting a fresh run");
  }
  if (options_.channels_last) {
    torch::NoGradGuard no_grad;
    for (auto& p : trainee_.module().parameters()) {
      if (p.dim() == 4) {
        p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
      }
    }
  }
  std::unique_ptr<MetricsLog> metrics;
  if (persist) {
    fs::create_directories(fs::path(options_.run_dir) / "checkpoints");
    metrics = std::make_unique<MetricsLog>(options_.run_dir,
                                           reader ? state.metrics_rows : 0);
  }

  datasets::DataLoader& train = *data_.train;
  datasets::DataLoader& validation = *data_.validation;
  const bool has_validation = options_.evaluate && validation.num_samples() > 0;
  if (!has_validation && options_.evaluate) {
    log.warn(
        "the validation split is empty: target accuracies and the trunk rule "
        "use training accuracy (set dataset.validation_fraction)");
  }
  const int64_t steps_per_epoch =
      cfg.max_steps > 0
          ? std::min<int64_t>(cfg.max_steps, train.batches_per_epoch())
          : train.batches_per_epoch();
  if (steps_per_epoch <= 0) {
    throw ConfigError(
        "training split yields no batch (loader.batch_size larger than the "
        "split with drop_last?)");
  }
  const ProgressMode progress_mode = resolve_progress_mode(cfg.progress);
  const int stages = trainee_.num_stages();
  core::Stopwatch wall;
  const double wall_before = state.wall_seconds;
  auto wall_now = [&] { return wall_before + wall.seconds(); };
  // The stage in progress, across resumes: time and peak memory so far.
  core::Stopwatch stage_clock;
  double stage_before = state.stage_seconds;
  auto stage_now = [&] { return stage_before + stage_clock.seconds(); };
  auto stage_peak = [&] {
    return std::max(state.stage_peak_rss_bytes, core::peak_resident_bytes());
  };
  // The run's peak: the highest of every stage's, the one in progress too.
  auto run_peak = [&] {
    int64_t peak = stage_peak();
    for (const auto& s : report.stages) {
      peak = std::max(peak, s.peak_rss_bytes);
    }
    return peak;
  };

  auto row = [&](const std::string& kind, int stage, int epoch,
                 const std::string& variant, int exit, const Accuracy& a,
                 double lr, double seconds, double images_per_second) {
    if (!metrics) return;
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
    metrics->append(r);
  };
  // `in_stage`: written mid-stage, so the stage's time and peak so far
  // travel with it; at a stage's end they are in state.stages instead.
  auto checkpoint = [&](const TrainingOptimizer* optimizer, bool in_stage) {
    if (!persist) return;
    state.metrics_rows = metrics->rows();
    state.wall_seconds = wall_now();
    if (in_stage) {
      state.stage_seconds = stage_now();
      state.stage_peak_rss_bytes = stage_peak();
    }
    save_checkpoint(last_checkpoint(), trainee_.module(), optimizer, state,
                    options_.fingerprint);
  };

  auto criterion_options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
          cfg.label_smoothing);

  // The last stage's end-of-stage pass is the final validation: the same
  // exits of the same weights.
  std::optional<std::vector<Accuracy>> final_validation;
  for (; state.stage < stages && !state.finished; ++state.stage) {
    const int stage = state.stage;
    // Each stage's metrics rows then carry its own peak memory (the
    // paper's per-stage training memory), not the process's so far.
    core::reset_peak_resident();
    const std::vector<int> trunk = state.trunk;
    const std::vector<std::string> heads = trainee_.heads(stage, trunk);
    const int epochs = cfg.epochs_of(size_t(stage));
    const double target = cfg.target_of(size_t(stage));
    TrainingOptimizer optimizer(cfg.optimizer,
                                trainee_.parameters(stage, trunk));
    if (reader && reader->has_optimizer()) {
      reader->restore_optimizer(optimizer);
    }
    reader.reset();  // later stages start from fresh optimisers
    if (state.validation_top1.size() != heads.size()) {
      state.validation_top1.assign(heads.size(), 0.0);
    }
    StageReport stage_report;
    stage_report.stage = stage;
    stage_report.heads = heads;
    stage_report.epochs = state.epoch;  // done before a resume
    stage_clock.restart();
    // The mode only says how the prefix trains: stage 1 has none.
    log.info("stage {}/{}: training {} ({}up to {} epochs{})", stage + 1,
             stages, fmt::join(heads, ", "),
             stage > 0 ? cfg.mode + " mode, " : std::string(), epochs,
             target > 0 ? ", target " + percent(target) : "");
    // A resumed stage may already have met its target before the restart.
    bool reached = target > 0 && state.epoch > 0 &&
                   *std::max_element(state.validation_top1.begin(),
                                     state.validation_top1.end()) >= target;
    for (; state.epoch < epochs && !reached; ++state.epoch) {
      const int epoch = state.epoch;
      if (state.meters.size() != heads.size() || state.step == 0) {
        state.meters.assign(heads.size(), AccuracyMeter());
      }
      trainee_.set_mode(stage, trunk, /*training=*/true);
      train.start_epoch(stage * kEpochsPerStageId + epoch, state.step);
      Progress progress(progress_mode,
                        fmt::format("stage {}/{} epoch {}/{}", stage + 1,
                                    stages, epoch + 1, epochs),
                        steps_per_epoch, cfg.log_every);
      core::Stopwatch epoch_clock;
      int64_t images = 0;
      double lr = 0.0;
      while (state.step < steps_per_epoch) {
        auto batch = train.next();
        if (!batch) break;
        lr = scheduled_lr(cfg.schedule, cfg.optimizer.lr,
                          epoch + double(state.step) / steps_per_epoch, epochs);
        optimizer.set_lr(lr);
        auto logits = trainee_.forward_heads(stage, trunk, batch->images, true);
        torch::Tensor loss;
        std::vector<double> losses;
        for (const auto& l : logits) {
          auto head_loss = torch::nn::functional::cross_entropy(
              l, batch->labels, criterion_options);
          losses.push_back(head_loss.item<double>());
          loss = loss.defined() ? loss + head_loss : head_loss;
        }
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        for (size_t h = 0; h < logits.size(); ++h) {
          state.meters[h].add(logits[h], batch->labels, losses[h]);
        }
        ++state.step;
        images += batch->labels.size(0);
        const Accuracy first = state.meters[0].result();
        progress.update(state.step, images, first.loss, first.top1);
        if (options_.on_step) options_.on_step(stage, epoch, state.step);
        if (core::interrupt_requested()) {
          progress.finish();
          checkpoint(&optimizer, /*in_stage=*/true);
          log.warn("interrupted at stage {} epoch {} step {}; checkpoint {}",
                   stage + 1, epoch + 1, state.step,
                   persist ? last_checkpoint() : "(none: no run directory)");
          report.interrupted = true;
          report.trunk = state.trunk;
          report.wall_seconds = wall_now();
          report.peak_rss_bytes = run_peak();
          return report;
        }
      }
      progress.finish();
      const double seconds = epoch_clock.seconds();
      const double rate = seconds > 0 ? double(images) / seconds : 0.0;
      stage_report.images_per_second = rate;
      std::vector<double> train_top1;
      for (size_t h = 0; h < heads.size(); ++h) {
        Accuracy a = state.meters[h].result();
        train_top1.push_back(a.top1);
        row("train", stage, epoch, heads[h], stage, a, lr, seconds, rate);
      }
      const bool last = epoch + 1 == epochs;
      if (has_validation &&
          ((epoch + 1) % cfg.eval_every == 0 || last || target > 0)) {
        auto acc = evaluate_heads(trainee_, stage, trunk, validation,
                                  cfg.label_smoothing);
        for (size_t h = 0; h < heads.size(); ++h) {
          state.validation_top1[h] = acc[h].top1;
          row("validation", stage, epoch, heads[h], stage, acc[h], lr, seconds,
              rate);
        }
      } else if (!has_validation) {
        state.validation_top1 = train_top1;
      }
      const int best = argmax(state.validation_top1);
      log.info("stage {} epoch {}/{}: {:.0f} img/s, {}; best {} {} ({})",
               stage + 1, epoch + 1, epochs, rate,
               fmt::format("train top-1 {}", percent(train_top1[0])),
               heads[size_t(best)],
               percent(state.validation_top1[size_t(best)]),
               has_validation ? "validation" : "train");
      reached = target > 0 && state.validation_top1[size_t(best)] >= target;
      state.step = 0;
      state.meters.clear();
      // The checkpoint names the next epoch; ++epoch happens after it.
      ++state.epoch;
      checkpoint(&optimizer, /*in_stage=*/true);
      --state.epoch;
      stage_report.epochs += 1;
    }
    if (target > 0 && !reached) {
      log.warn("stage {}: target {} not reached within {} epochs (best {})",
               stage + 1, percent(target), epochs,
               percent(*std::max_element(state.validation_top1.begin(),
                                         state.validation_top1.end())));
    }

    // Fix this stage's trunk choice.
    int choice = trainee_.backbone(stage);
    if (cfg.trunk_rule == "best_accuracy") {
      choice = argmax(state.validation_top1);
    } else if (cfg.trunk_rule == "best_accuracy_per_mac") {
      if (!options_.cost) {
        throw ConfigError(
            "train.trunk_rule: best_accuracy_per_mac needs candidate costs");
      }
      std::vector<double> score;
      for (size_t h = 0; h < heads.size(); ++h) {
        score.push_back(state.validation_top1[h] /
                        std::max(1.0, options_.cost(stage, int(h))));
      }
      choice = argmax(score);
    }
    stage_report.reached_target = reached;
    stage_report.top1 = state.validation_top1;
    stage_report.trunk_choice = choice;
    stage_report.seconds = stage_now();
    stage_report.peak_rss_bytes = stage_peak();
    report.stages.push_back(stage_report);
    state.trunk.push_back(choice);
    log.info("stage {}: trunk continues with {}", stage + 1,
             heads[size_t(choice)]);

    // Every exit so far, so one sees whether fine-tuning moved earlier ones.
    if (has_validation) {
      auto acc = evaluate_exits(trainee_, state.trunk, stage + 1, validation);
      if (stage + 1 == stages) final_validation = acc;
      std::vector<std::string> parts;
      for (int e = 0; e <= stage; ++e) {
        row("stage", stage, state.epoch - 1, trainee_.exit_name(state.trunk, e),
            e, acc[size_t(e)], 0.0, stage_report.seconds, 0.0);
        parts.push_back(
            fmt::format("exit {} {}", e + 1, percent(acc[size_t(e)].top1)));
      }
      log.info("after stage {}: validation {}", stage + 1,
               fmt::join(parts, ", "));
    }
    state.epoch = 0;
    state.step = 0;
    state.validation_top1.clear();
    state.stages = report.stages;
    state.stage_seconds = 0;
    state.stage_peak_rss_bytes = 0;
    stage_before = 0;
    if (stage + 1 == stages) state.finished = true;
    ++state.stage;
    checkpoint(nullptr, /*in_stage=*/false);
    --state.stage;
    if (persist) {
      fs::copy_file(last_checkpoint(),
                    fs::path(options_.run_dir) / "checkpoints" /
                        fmt::format("stage{}.pt", stage + 1),
                    fs::copy_options::overwrite_existing);
    }
  }

  report.trunk = state.trunk;
  const int exits = int(state.trunk.size());
  for (int e = 0; e < exits; ++e) {
    report.exit_names.push_back(trainee_.exit_name(state.trunk, e));
  }
  if (final_validation) {
    report.validation = *final_validation;
  } else if (has_validation) {
    report.validation =
        evaluate_exits(trainee_, state.trunk, exits, validation);
  }
  if (options_.evaluate && data_.test->num_samples() > 0) {
    report.test = evaluate_exits(trainee_, state.trunk, exits, *data_.test);
    std::vector<std::string> parts;
    for (int e = 0; e < exits; ++e) {
      row("test", exits - 1, 0, report.exit_names[size_t(e)], e,
          report.test[size_t(e)], 0.0, 0.0, 0.0);
      parts.push_back(fmt::format("{} {}", report.exit_names[size_t(e)],
                                  percent(report.test[size_t(e)].top1)));
    }
    log.info("test top-1: {}", fmt::join(parts, ", "));
  }
  report.wall_seconds = wall_now();
  report.peak_rss_bytes = run_peak();
  return report;
}

}  // namespace adascale::training
