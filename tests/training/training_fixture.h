#pragma once
// A tiny two-stage elastic net on generated 8×8 images of 4 classes, and a
// run of the multi-stage trainer over it: seconds per run.

#include <memory>
#include <string>
#include <vector>

#include "core/execution.h"
#include "core/interrupt.h"
#include "core/run_config.h"
#include "datasets/dataset_factory.h"
#include "operators/elastic_net.h"
#include "tests/test_util.h"
#include "training/multi_stage_trainer.h"
#include "training/trainee.h"

namespace adascale::training {

// Two stages on 8×8 images of 4 learnable classes: seconds per run.
inline const char* kConfig = R"(
threads: 1
seed: 3
log_level: warn
dataset:
  format: synthetic
  validation_fraction: 0.2
  synthetic: {classes: 4, channels: 3, image_size: 8, train_per_class: 60,
              test_per_class: 20, noise: 0.3, seed: 5}
augment: {crop_padding: 0, horizontal_flip: false}
loader: {batch_size: 16, prefetch: 0}
model:
  name: tiny
  architecture: elastic
  resolution: 8
  classes: 4
  dropout: 0.1
  stem: {channels: 8}
  stages:
    - {out_channels: 16, stride: 2, depth: 1, candidates: [{type: basic}, {type: dws}]}
    - {out_channels: 24, stride: 2, depth: 1, candidates: [{type: basic}, {type: fire}, {type: dws}]}
train:
  mode: freeze
  epochs: 3
  progress: off
  optimizer: {type: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005}
  schedule: {type: cosine}
)";

/// Copies of a module's parameters and buffers, in registration order.
inline std::vector<torch::Tensor> state_of(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out.push_back(p.value().clone());
  for (const auto& b : m.named_buffers()) out.push_back(b.value().clone());
  return out;
}

/// Bit-for-bit equality of two state_of() results.
inline bool identical(const std::vector<torch::Tensor>& a,
                      const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

inline core::RunConfig make_config(const adascale::testing::TempDir& dir,
                                   const std::vector<std::string>& sets = {}) {
  std::string path = dir.write("run.yaml", kConfig);
  core::RunConfig c = core::load_run_config(path, sets);
  core::finalize_model_spec(c.model, path);
  return c;
}

struct TrainRun {
  core::RunConfig config;
  std::unique_ptr<datasets::DataPipeline> data;
  operators::ElasticNet net{nullptr};
  std::unique_ptr<Trainee> trainee;
  TrainerOptions options;

  TrainRun(const core::RunConfig& c, const std::string& run_dir,
           uint64_t init_seed = 11)
      : config(c) {
    core::setup_execution("1", "cpu", init_seed);
    data = datasets::make_pipeline(config);
    net = operators::ElasticNet(config.model);
    trainee = make_elastic_trainee(net, config.train);
    options.train = config.train;
    options.run_dir = run_dir;
    options.fingerprint = core::model_spec_yaml(config.model);
    torch::manual_seed(uint64_t(config.seed));
  }
  TrainingReport train(bool resume = false) {
    MultiStageTrainer trainer(*trainee, *data, options);
    return trainer.run(resume);
  }
  /// Trains as Ctrl-C at `step` of `epoch` (any epoch when < 0) of `stage`
  /// would stop it (stage -1 is pre-training), then clears the request.
  TrainingReport train_until(int stop_stage, int stop_epoch, int stop_step) {
    options.on_step = [=](int stage, int epoch, int step) {
      if (stage == stop_stage && (stop_epoch < 0 || epoch == stop_epoch) &&
          step == stop_step) {
        core::request_interrupt();
      }
    };
    TrainingReport report = train();
    core::clear_interrupt();
    options.on_step = nullptr;
    return report;
  }
};

}  // namespace adascale::training
