#pragma once
/// The whole config of a run: parsed once from YAML (with `include:` and
/// `--set` overrides) into typed, validated structs.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/augment_config.h"
#include "core/dataset_config.h"
#include "core/distributed_config.h"
#include "core/loader_config.h"
#include "core/model_spec.h"
#include "core/train_config.h"

namespace adascale::core {

/// Top level of every config file.
struct RunConfig {
  std::string name;               ///< run name; default from the command
  std::string runs_dir = "runs";  ///< parent of run directories
  std::string threads = "auto";   ///< "auto" (hardware threads) or a count
  std::string device = "auto";    ///< auto | cpu | cuda
  int64_t seed = 0;               ///< global seed (weights, shuffling, augment)
  std::string log_level = "info";
  DatasetConfig dataset;
  AugmentConfig augment;
  LoaderConfig loader;
  /// The network (`model: {include: ../models/x.yaml}`); empty unless a
  /// command needs one.
  ModelSpec model;
  TrainConfig train;
  /// Data-parallel training under torchrun (ignored otherwise).
  DistributedConfig distributed;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("name", name);
    v("runs_dir", runs_dir);
    v("threads", threads, Check<std::string>(check_threads));
    v("device", device, check::one_of({"auto", "cpu", "cuda"}));
    v("seed", seed);
    v("log_level", log_level,
      check::one_of({"debug", "info", "warn", "error", "off"}));
    v("dataset", dataset);
    v("augment", augment);
    v("loader", loader);
    v("model", model);
    v("train", train);
    v("distributed", distributed);
  }

  /// "auto" or a positive integer.
  static std::string check_threads(const std::string& value);
};

/// Loads `path` (none: all defaults), applies `overrides` ("a.b=value") in
/// order and reads the result. Throws ConfigError naming file, line, key.
RunConfig load_run_config(const std::optional<std::string>& path,
                          const std::vector<std::string>& overrides);

/// The resolved config (every field, defaults included) as YAML.
std::string to_yaml(const RunConfig& config);

}  // namespace adascale::core
