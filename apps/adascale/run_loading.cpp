#include "apps/adascale/run_loading.h"

#include <filesystem>

#include "core/compute_device.h"
#include "core/error.h"
#include "operators/zoo/zoo_factory.h"
#include "training/checkpoint.h"

namespace adascale::app {

namespace fs = std::filesystem;

core::ModelSpec model_of(const core::RunConfig& config,
                         const std::string& source) {
  core::ModelSpec spec = config.model;
  if (spec.elastic() && spec.stages.empty()) {
    throw ConfigError(source +
                      ": model: no stages; include a model file, e.g. "
                      "model: {include: ../models/adascale_cifar.yaml}");
  }
  core::finalize_model_spec(spec, source + ": model");
  return spec;
}

LoadedRun load_run(const std::string& dir,
                   const std::vector<std::string>& sets) {
  const std::string config_path = (fs::path(dir) / "config.yaml").string();
  if (!fs::exists(config_path)) {
    throw IoError(dir + ": not a run directory (no config.yaml)");
  }
  CommonOptions common;
  common.config = config_path;
  common.sets = sets;
  LoadedRun run;
  run.dir = dir;
  run.config = load_config(common);
  run.spec = model_of(run.config, config_path);
  const std::string checkpoint =
      (fs::path(dir) / "checkpoints" / "last.pt").string();
  if (!fs::exists(checkpoint)) {
    throw IoError(checkpoint + ": no checkpoint; train the run first");
  }
  // The model goes to the run's device before its weights are read onto
  // it, as in training.
  const c10::Device device = core::compute_device(run.config.device);
  training::CheckpointReader reader(checkpoint, core::model_spec_yaml(run.spec),
                                    device);
  std::shared_ptr<torch::nn::Module> model;
  if (run.spec.elastic()) {
    run.net = operators::ElasticNet(run.spec);
    model = run.net.ptr();
  } else {
    run.model = operators::zoo::make_zoo_model(run.spec);
    model = run.model.ptr();
  }
  model->to(device);
  reader.restore_model(*model);
  model->eval();
  run.trunk = reader.state().trunk;
  run.finished = reader.state().finished;
  if (run.trunk.empty()) {
    throw DataError(checkpoint + ": no stage finished yet; nothing to use");
  }
  return run;
}

}  // namespace adascale::app
