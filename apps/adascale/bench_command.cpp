// `adascale bench train --model NAME`: training images/s of a zoo model or
// of the elastic net (every candidate of one stage, the configured mode) on
// generated batches: the compute alone, no data loading.

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "apps/adascale/run_loading.h"
#include "core/compute_device.h"
#include "core/config/schema.h"
#include "core/error.h"
#include "core/model_spec.h"
#include "core/timing.h"
#include "operators/elastic_net.h"
#include "operators/zoo/zoo_factory.h"
#include "training/trainee.h"
#include "training/training_optimizer.h"

namespace adascale::app {
namespace {

struct BenchTrainOptions {
  CommonOptions common;
  std::string model = "elastic";
  int batch = 128;
  int steps = 20;
  int warmup = 2;
  int stage = 0;  // 1-based; 0 = the last
};

void run_bench_train(const BenchTrainOptions& opt) {
  core::RunConfig config = load_config(opt.common);
  core::ModelSpec spec;
  if (opt.model == "elastic") {
    spec = config.model.stages.empty()
               ? core::load_model_spec("configs/models/adascale_cifar.yaml")
               : model_of(config, opt.common.config.value_or("--set"));
  } else {
    spec = config.model;
    spec.name = opt.model;
    spec.architecture = opt.model;
    spec.stages.clear();
    core::finalize_model_spec(spec, "--model " + opt.model);
  }
  std::unique_ptr<training::Trainee> trainee;
  if (spec.elastic()) {
    trainee = training::make_elastic_trainee(operators::ElasticNet(spec),
                                             config.train);
  } else {
    trainee = training::make_model_trainee(operators::zoo::make_zoo_model(spec),
                                           spec.name);
  }
  // Steps run on the config's device, as training does.
  const c10::Device device = core::compute_device(config.device);
  trainee->module().to(device);
  const int stages = trainee->num_stages();
  if (opt.stage < 0 || opt.stage > stages) {
    throw UsageError(fmt::format("--stage {}: the model has {} stage(s)",
                                 opt.stage, stages));
  }
  const int stage = (opt.stage == 0 ? stages : opt.stage) - 1;
  std::vector<int> trunk;
  for (int s = 0; s < stage; ++s) trunk.push_back(trainee->backbone(s));
  training::TrainingOptimizer optimizer(config.train.optimizer,
                                        trainee->parameters(stage, trunk));
  optimizer.set_lr(config.train.optimizer.lr);
  trainee->set_mode(stage, trunk, /*training=*/true);
  auto x = torch::randn(
               {opt.batch, spec.in_channels, spec.resolution, spec.resolution})
               .to(device);
  auto y = torch::randint(spec.classes, {opt.batch}, torch::kLong).to(device);
  std::vector<double> ms;
  for (int i = 0; i < opt.warmup + opt.steps; ++i) {
    core::Stopwatch clock;
    auto logits = trainee->forward_heads(stage, trunk, x, true);
    torch::Tensor loss;
    for (const auto& l : logits) {
      auto h = torch::nn::functional::cross_entropy(l, y);
      loss = loss.defined() ? loss + h : h;
    }
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    core::synchronize(device);
    if (i >= opt.warmup) ms.push_back(clock.milliseconds());
  }
  core::LatencyStats stats = core::summarize(ms);
  const double rate = opt.batch / (stats.median_ms / 1e3);
  auto heads = trainee->heads(stage, trunk);
  if (opt.common.json) {
    nlohmann::json out = {
        {"model", spec.name},
        {"stage", stage + 1},
        {"mode", spec.elastic() ? config::spelling(config.train.mode) : "-"},
        {"heads", heads},
        {"batch", opt.batch},
        {"steps", opt.steps},
        {"step_ms_median", stats.median_ms},
        {"step_ms_p90", stats.p90_ms},
        {"images_per_second", rate}};
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print(
      "{} stage {}/{} ({} heads{}), batch {}: {:.1f} ms/step median "
      "(p90 {:.1f}), {:.1f} images/s\n",
      spec.name, stage + 1, stages, heads.size(),
      spec.elastic() ? ", " + config::spelling(config.train.mode) : "",
      opt.batch, stats.median_ms, stats.p90_ms, rate);
}

}  // namespace

void register_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Micro-benchmarks");
  bench->require_subcommand(1);
  auto options = std::make_shared<BenchTrainOptions>();
  CLI::App* cmd = bench->add_subcommand(
      "train", "Training images/s of a zoo model or the elastic net");
  add_common_options(cmd, options->common, true);
  cmd->add_option("--model", options->model,
                  "elastic (the config's model, else the default net) or a "
                  "zoo architecture");
  cmd->add_option("--batch", options->batch, "batch size")
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--steps", options->steps, "timed steps")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--stage", options->stage,
                  "elastic: stage to train (1-based; default the last)");
  cmd->callback([options] { run_bench_train(*options); });
}

}  // namespace adascale::app
