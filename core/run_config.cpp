#include "core/run_config.h"

#include <charconv>

#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"

namespace adascale::core {

std::string RunConfig::check_threads(const std::string& value) {
  if (value == "auto") return "";
  int n = 0;
  auto [end, ec] =
      std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec == std::errc() && end == value.data() + value.size() && n > 0 &&
      n <= 4096) {
    return "";
  }
  return "expected 'auto' or a thread count in [1, 4096]";
}

namespace {

void validate(const RunConfig& c, const config::Node& tree) {
  auto where = [&](const char* section) {
    const config::Node* n = tree.find(section);
    return (n ? n->where.str() : std::string("config")) + ": ";
  };
  const DatasetConfig& d = c.dataset;
  if (d.format != "synthetic" && d.root.empty()) {
    throw ConfigError(where("dataset") + "dataset.root: required for format '" +
                      d.format + "'");
  }
  if (d.mean.size() != d.std.size()) {
    throw ConfigError(where("dataset") +
                      "dataset.mean and dataset.std: expected the same "
                      "number of channels, got " +
                      std::to_string(d.mean.size()) + " and " +
                      std::to_string(d.std.size()));
  }
  if (d.label_kind != "fine" && d.format != "cifar100") {
    throw ConfigError(where("dataset") +
                      "dataset.label_kind: only cifar100 has coarse labels");
  }
  const TrainConfig& t = c.train;
  if (t.pretrain.epochs > 0 && !c.model.elastic()) {
    throw ConfigError(where("train") +
                      "train.pretrain.epochs: stage 0 trains an elastic "
                      "net's trunk; model '" +
                      c.model.architecture + "' has one stage");
  }
  if (t.distillation.weight > 0 && !c.model.elastic()) {
    throw ConfigError(where("train") +
                      "train.distillation.weight: distillation into exits "
                      "needs an elastic net; model '" +
                      c.model.architecture + "' has one exit");
  }
  if (t.distillation.weight > 0 && t.pretrain.epochs == 0) {
    throw ConfigError(where("train") +
                      "train.distillation.weight: the teacher is the trunk "
                      "that stage 0 trains; set train.pretrain.epochs > 0");
  }
  if (t.keep_trunk && (t.pretrain.epochs == 0 || t.mode != TrainMode::kFreeze ||
                       t.trunk_rule != TrunkRule::kBackbone)) {
    throw ConfigError(where("train") +
                      "train.keep_trunk: keeps the trunk stage 0 trained, so "
                      "it needs train.pretrain.epochs > 0, train.mode: freeze "
                      "and train.trunk_rule: backbone");
  }
  if (t.feature_matching > 0 && !t.keep_trunk) {
    throw ConfigError(where("train") +
                      "train.feature_matching: stand-ins match the kept "
                      "backbone block's output, so it needs "
                      "train.keep_trunk: true");
  }
  for (size_t i = 0; t.keep_trunk && i < c.model.stages.size(); ++i) {
    if (c.model.stages[i].candidates.size() < 2) {
      throw ConfigError(where("train") + "train.keep_trunk: stage " +
                        std::to_string(i + 1) +
                        " has only its backbone, so it would train nothing");
    }
  }
  if (c.model.elastic() && !t.pretrain.exit_weights.empty() &&
      t.pretrain.exit_weights.size() != c.model.stages.size()) {
    throw ConfigError(where("train") + "train.pretrain.exit_weights: " +
                      std::to_string(t.pretrain.exit_weights.size()) +
                      " weights for a net with " +
                      std::to_string(c.model.stages.size()) + " exits");
  }
}

}  // namespace

RunConfig load_run_config(const std::optional<std::string>& path,
                          const std::vector<std::string>& overrides) {
  config::Node tree;
  tree.kind = config::Node::Kind::kMap;
  if (path) tree = config::load_file(*path);
  for (const auto& o : overrides) config::apply_override(tree, o);
  auto cfg = config::Reader::read_struct<RunConfig>(tree);
  // Own images are brought to the model's input side unless told otherwise;
  // resolved here so that the run's config.yaml records the side it used.
  ImageFolderConfig& folder = cfg.dataset.image_folder;
  if (cfg.dataset.format == "image_folder" && folder.image_size == 0) {
    folder.image_size = cfg.model.resolution;
  }
  validate(cfg, tree);
  return cfg;
}

std::string to_yaml(const RunConfig& config) {
  return config::to_yaml(config::Writer::write_struct(config));
}

}  // namespace adascale::core
