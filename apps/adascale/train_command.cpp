// `adascale train`: the multi-stage algorithm for the elastic net, or plain
// training for a zoo model, from a run config; resumable, Ctrl-C safe.

#include <fmt/format.h>
#include <torch/cuda.h>

#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "apps/adascale/command.h"
#include "apps/adascale/run_loading.h"
#include "core/atomic_file.h"
#include "core/compute_device.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/interrupt.h"
#include "core/logging.h"
#include "core/path_lock.h"
#include "core/run_directory.h"
#include "datasets/dataset_factory.h"
#include "operators/elastic_net.h"
#include "operators/zoo/zoo_factory.h"
#include "search/candidate_costs.h"
#include "training/distributed.h"
#include "training/multi_stage_trainer.h"

namespace adascale::app {
namespace {

namespace fs = std::filesystem;

struct TrainOptions {
  CommonOptions common;
  std::string run;  ///< --run DIR; "" = <runs_dir>/<name>
  bool resume = false;
};

/// Data and model must agree before a single step runs.
void check_compatible(const core::ModelSpec& model,
                      const core::RunConfig& config,
                      const datasets::DataPipeline& data) {
  const auto& train = data.splits.train;
  const int side =
      config.augment.resize > 0 ? config.augment.resize : train.height;
  std::string problem;
  if (train.channels != model.in_channels) {
    problem = fmt::format(
        "dataset images have {} channels, model.in_channels "
        "is {}",
        train.channels, model.in_channels);
  } else if (train.num_classes() != model.classes) {
    problem = fmt::format("dataset has {} classes, model.classes is {}",
                          train.num_classes(), model.classes);
  } else if (side != model.resolution || train.width != train.height) {
    problem = fmt::format(
        "dataset images are {}x{} (after augment.resize), "
        "model.resolution is {}",
        side, config.augment.resize > 0 ? side : train.width, model.resolution);
  }
  if (!problem.empty()) {
    throw ConfigError("dataset " + config.dataset.format +
                      " does not fit model " + model.name + ": " + problem);
  }
}

nlohmann::json accuracies(const std::vector<std::string>& names,
                          const std::vector<training::Accuracy>& acc) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < acc.size(); ++i) {
    out.push_back({{"exit", i + 1},
                   {"variant", names[i]},
                   {"loss", acc[i].loss},
                   {"top1", acc[i].top1},
                   {"top5", acc[i].top5},
                   {"samples", acc[i].samples}});
  }
  return out;
}

/// Joins the data-parallel group torchrun launched this process into. With
/// `threads: auto` the machine's hardware threads are split between its
/// ranks (LOCAL_WORLD_SIZE), so the ranks do not oversubscribe the cores.
std::unique_ptr<training::Communicator> join_group(
    const training::LaunchInfo& launch, const core::RunConfig& config) {
  if (launch.rank != 0 && config.log_level == "info") {
    // One voice: rank 0 logs progress, the others only what goes wrong.
    log::set_level(log::Level::kWarn);
  }
  if (config.threads == "auto" && launch.local_world_size > 1) {
    const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
    core::setup_execution(
        std::to_string(std::max(1, hardware / launch.local_world_size)),
        config.device, uint64_t(config.seed));
  }
  // Gradients are reduced where the model trains (the run's device).
  return training::Communicator::connect(
      launch, config.distributed,
      /*cuda=*/core::compute_device(config.device).is_cuda());
}

void run_train(const TrainOptions& opt) {
  CommonOptions common = opt.common;
  if (!common.config && opt.resume && !opt.run.empty()) {
    common.config = (fs::path(opt.run) / "config.yaml").string();
  }
  if (!common.config) {
    throw UsageError(
        "train: --config FILE is required (or --resume --run RUN_DIR to "
        "continue a run)");
  }
  core::RunConfig config = load_config(common);
  const std::optional<training::LaunchInfo> launch =
      training::launch_from_environment();
  std::unique_ptr<training::Communicator> comm;
  if (launch && launch->world_size > 1) comm = join_group(*launch, config);
  // Rank 0 alone writes the run directory, its log, metrics, checkpoints.
  const bool root = !comm || comm->rank() == 0;
  const core::ModelSpec spec = model_of(config, *common.config);
  std::string name = config.name.empty() ? spec.name : config.name;
  std::string dir =
      opt.run.empty() ? (fs::path(config.runs_dir) / name).string() : opt.run;

  std::optional<core::PathLock> lock;
  std::unique_ptr<datasets::DataPipeline> data;
  std::optional<core::RunDirectory> run;
  training::TrainerOptions options;
  std::unique_ptr<training::Trainee> trainee;
  std::vector<std::vector<int64_t>> costs;
  auto set_up = [&] {
    if (comm && comm->broadcast_bytes(core::to_yaml(config), "config check") !=
                    core::to_yaml(config)) {
      throw ConfigError(fmt::format(
          "distributed: rank {}'s resolved config differs from rank 0's; "
          "launch every rank with the same --config and --set values",
          comm->rank()));
    }
    // Before anything in the run is read or written: a second trainer on a
    // live run would replace its metrics and race the "already holds a run"
    // check.
    if (root) lock.emplace(core::PathLock::acquire(dir, "train"));
    data = datasets::make_pipeline(config);
    if (comm && data->train->device().is_cuda()) {
      // One GPU per rank of a node, as torchrun's LOCAL_RANK assigns them.
      const c10::Device gpu(c10::kCUDA,
                            c10::DeviceIndex(launch->local_rank %
                                             int(torch::cuda::device_count())));
      for (auto* loader :
           {data->train.get(), data->validation.get(), data->test.get()})
        loader->set_device(gpu);
    }
    check_compatible(spec, config, *data);
    if (root) run.emplace(core::RunDirectory::open(dir, config, opt.resume));
    options.train = config.train;
    options.run_dir = root ? run->path() : std::string();
    options.fingerprint = core::model_spec_yaml(spec);
    options.channels_last = config.loader.channels_last;
    options.distributed = comm.get();
    if (spec.elastic()) {
      operators::ElasticNet net(spec);
      if (config.train.trunk_rule == core::TrunkRule::kBestAccuracyPerMac) {
        costs = search::candidate_macs(net);
        options.cost = [&costs](int s, int c) {
          return double(costs[size_t(s)][size_t(c)]);
        };
      }
      trainee = training::make_elastic_trainee(net, config.train);
    } else {
      trainee = training::make_model_trainee(
          operators::zoo::make_zoo_model(spec), spec.name);
    }
  };
  if (!comm) {
    set_up();
  } else {
    // A rank whose set-up fails (a bad dataset path, a run directory that
    // exists) says why; the others learn which rank it was, instead of
    // waiting for it at the first collective.
    try {
      set_up();
    } catch (const training::DistributedError&) {
      throw;
    } catch (...) {
      comm->agree(false, "set-up");
      throw;
    }
    comm->agree(true, "set-up");
  }
  core::install_interrupt_handler();
  training::MultiStageTrainer trainer(*trainee, *data, options);
  training::TrainingReport report = trainer.run(opt.resume);
  if (!root) {
    if (report.interrupted) throw Interrupted("training interrupted by signal");
    return;
  }

  nlohmann::json out;
  out["run"] = run->path();
  out["model"] = spec.name;
  out["interrupted"] = report.interrupted;
  out["trunk"] = report.exit_names;
  out["wall_seconds"] = report.wall_seconds;
  out["peak_rss_bytes"] = report.peak_rss_bytes;
  out["validation"] = accuracies(report.exit_names, report.validation);
  out["test"] = accuracies(report.exit_names, report.test);
  for (const auto& s : report.stages) {
    out["stages"].push_back({{"stage", s.stage + 1},
                             {"epochs", s.epochs},
                             {"reached_target", s.reached_target},
                             {"heads", s.heads},
                             {"top1", s.top1},
                             {"trunk", s.heads[size_t(s.trunk_choice)]},
                             {"seconds", s.seconds},
                             {"images_per_second", s.images_per_second},
                             {"peak_rss_bytes", s.peak_rss_bytes}});
  }
  // A finished run records its summary; scripts use it to skip training.
  if (!report.interrupted) {
    core::write_file_atomic((fs::path(run->path()) / "summary.json").string(),
                            out.dump(2) + "\n");
  }
  if (common.json) {
    fmt::print("{}\n", out.dump());
  } else if (report.interrupted) {
    fmt::print("interrupted; continue with: adascale train --run {} --resume\n",
               run->path());
  } else {
    fmt::print("run {}: {:.0f} s, peak memory {:.0f} MiB\n", run->path(),
               report.wall_seconds, report.peak_rss_bytes / 1048576.0);
    for (size_t e = 0; e < report.test.size(); ++e) {
      fmt::print("exit {}  {:<40} test top-1 {:6.2f}%  top-5 {:6.2f}%\n", e + 1,
                 report.exit_names[e], 100 * report.test[e].top1,
                 100 * report.test[e].top5);
    }
  }
  if (report.interrupted) throw Interrupted("training interrupted by signal");
}

}  // namespace

void register_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train the elastic net stage by stage (Algorithm 1) or a zoo model");
  add_common_options(cmd, options->common, true);
  cmd->add_option("--run", options->run,
                  "run directory (default: <runs_dir>/<name>)");
  cli::add_renamed_option(cmd, "--out", "--run {} (the run directory)", "DIR");
  cmd->add_flag("--resume", options->resume,
                "continue the run in --run from its last checkpoint");
  cmd->callback([options] { run_train(*options); });
}

}  // namespace adascale::app
