#pragma once
/// Reopening a finished (or partly finished) training run: its resolved
/// config, its model with the weights of checkpoints/last.pt, and its trunk.

#include <memory>
#include <string>
#include <vector>

#include "apps/adascale/command.h"
#include "core/model_spec.h"
#include "core/run_config.h"
#include "training/trainee.h"

namespace adascale::app {

/// A trained run, loaded.
struct LoadedRun {
  std::string dir;
  core::RunConfig config;
  core::ModelSpec spec;
  operators::ElasticNet net{nullptr};  ///< set for elastic runs
  torch::nn::AnyModule model;          ///< set for zoo runs
  std::vector<int> trunk;              ///< choices of the trained stages
  bool finished = false;
};

/// The finalised model of a run config; an elastic spec without stages is a
/// ConfigError naming `source`.
core::ModelSpec model_of(const core::RunConfig& config,
                         const std::string& source);

/// Loads `dir`/config.yaml (with `sets` applied: threads, log level,
/// device) and `dir`/checkpoints/last.pt, with the model on the config's
/// device. Throws IoError / DataError naming the file.
LoadedRun load_run(const std::string& dir,
                   const std::vector<std::string>& sets);

}  // namespace adascale::app
