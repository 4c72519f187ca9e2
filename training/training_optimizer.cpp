#include "training/training_optimizer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/config/schema.h"
#include "core/error.h"

namespace adascale::training {
namespace {

constexpr const char* kTypeKey = "adascale/type";
constexpr const char* kLrKey = "adascale/lr";
constexpr const char* kGroupsKey = "adascale/groups";
constexpr const char* kTorchKey = "torch";

std::string shapes_key(size_t group) {
  return fmt::format("adascale/group/{}/shapes", group);
}

std::unique_ptr<torch::optim::OptimizerOptions> options_for(
    const core::OptimizerConfig& c, double lr) {
  switch (c.type) {
    case core::OptimizerType::kSgd:
      return std::make_unique<torch::optim::SGDOptions>(
          torch::optim::SGDOptions(lr)
              .momentum(c.momentum)
              .nesterov(c.nesterov)
              .weight_decay(c.weight_decay));
    case core::OptimizerType::kAdamW:
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(lr)
              .betas(std::make_tuple(c.beta1, c.beta2))
              .eps(c.eps)
              .weight_decay(c.weight_decay));
  }
  throw InternalError("optimizer: unknown type");
}

void check_config(const core::OptimizerConfig& c) {
  if (c.type == core::OptimizerType::kSgd && c.nesterov && !(c.momentum > 0)) {
    throw ConfigError(fmt::format(
        "train.optimizer.nesterov: needs momentum > 0, got momentum {}",
        c.momentum));
  }
  if (c.type == core::OptimizerType::kAdamW && !(c.beta1 < 1 && c.beta2 < 1)) {
    throw ConfigError(fmt::format(
        "train.optimizer.beta1/beta2: must be < 1 for adamw, got {} and {}",
        c.beta1, c.beta2));
  }
}

// Shapes of a group's parameters, flattened as [ndim, sizes..., ndim, ...].
std::vector<int64_t> flat_shapes(const std::vector<torch::Tensor>& params) {
  std::vector<int64_t> out;
  for (const auto& p : params) {
    out.push_back(p.dim());
    for (int64_t s : p.sizes()) out.push_back(s);
  }
  return out;
}

std::vector<std::vector<int64_t>> unflatten(const std::vector<int64_t>& flat) {
  std::vector<std::vector<int64_t>> shapes;
  size_t i = 0;
  while (i < flat.size()) {
    int64_t ndim = flat[i++];
    if (ndim < 0 || i + size_t(ndim) > flat.size()) {
      throw DataError("optimizer state: malformed parameter shapes");
    }
    shapes.emplace_back(flat.begin() + long(i), flat.begin() + long(i + ndim));
    i += size_t(ndim);
  }
  return shapes;
}

std::string first_line(const c10::Error& e) {
  std::string what = e.what_without_backtrace();
  return what.substr(0, what.find('\n'));
}

c10::IValue read_value(torch::serialize::InputArchive& archive,
                       const std::string& key) {
  c10::IValue value;
  if (!archive.try_read(key, value)) {
    throw DataError("optimizer state: missing '" + key +
                    "' (not written by TrainingOptimizer::save?)");
  }
  return value;
}

}  // namespace

TrainingOptimizer::TrainingOptimizer(const core::OptimizerConfig& config,
                                     std::vector<ParamGroup> groups)
    : type_(config.type), lr_(config.lr) {
  check_config(config);
  std::vector<torch::optim::OptimizerParamGroup> torch_groups;
  for (ParamGroup& g : groups) {
    if (g.params.empty()) continue;
    if (!(g.lr_scale >= 0)) {
      throw ConfigError(fmt::format(
          "optimizer: learning-rate scale must be >= 0, got {}", g.lr_scale));
    }
    scales_.push_back(g.lr_scale);
    torch_groups.emplace_back(std::move(g.params),
                              options_for(config, config.lr * g.lr_scale));
  }
  if (torch_groups.empty()) {
    throw ConfigError("optimizer: no parameters to train");
  }
  try {
    if (type_ == core::OptimizerType::kSgd) {
      auto defaults = options_for(config, config.lr);
      optimizer_ = std::make_unique<torch::optim::SGD>(
          std::move(torch_groups),
          static_cast<torch::optim::SGDOptions&>(*defaults));
    } else {
      auto defaults = options_for(config, config.lr);
      optimizer_ = std::make_unique<torch::optim::AdamW>(
          std::move(torch_groups),
          static_cast<torch::optim::AdamWOptions&>(*defaults));
    }
  } catch (const c10::Error& e) {
    // Config values are checked above; what is left (a parameter in two
    // groups) is a caller's bug.
    throw InternalError("optimizer: " + first_line(e));
  }
}

void TrainingOptimizer::set_lr(double lr) {
  lr_ = lr;
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i].options().set_lr(lr * scales_[i]);
  }
}

void TrainingOptimizer::zero_grad() {
  optimizer_->zero_grad();
}

void TrainingOptimizer::step() {
  optimizer_->step();
}

void TrainingOptimizer::save(torch::serialize::OutputArchive& archive) const {
  const auto& groups = optimizer_->param_groups();
  // Spelt as in configs, so archives do not depend on the enum's values.
  archive.write(kTypeKey, c10::IValue(config::spelling(type_)));
  archive.write(kLrKey, c10::IValue(lr_));
  archive.write(kGroupsKey, c10::IValue(int64_t(groups.size())));
  for (size_t i = 0; i < groups.size(); ++i) {
    archive.write(shapes_key(i), c10::IValue(flat_shapes(groups[i].params())));
  }
  torch::serialize::OutputArchive state(archive.compilation_unit());
  optimizer_->save(state);
  archive.write(kTorchKey, state);
}

void TrainingOptimizer::load(torch::serialize::InputArchive& archive) {
  try {
    const std::string type = read_value(archive, kTypeKey).toStringRef();
    if (type != config::spelling(type_)) {
      throw ConfigError("optimizer state: written by " + type +
                        ", this optimizer is " + config::spelling(type_));
    }
    const double lr = read_value(archive, kLrKey).toDouble();
    const int64_t saved_groups = read_value(archive, kGroupsKey).toInt();
    const auto& groups = optimizer_->param_groups();
    if (saved_groups != int64_t(groups.size())) {
      throw ConfigError(fmt::format(
          "optimizer state: {} parameter groups in the checkpoint, {} here",
          saved_groups, groups.size()));
    }
    for (size_t g = 0; g < groups.size(); ++g) {
      auto saved = unflatten(read_value(archive, shapes_key(g)).toIntVector());
      const auto& params = groups[g].params();
      if (saved.size() != params.size()) {
        throw ConfigError(fmt::format(
            "optimizer state: parameter group {} has {} parameters in the "
            "checkpoint, {} here",
            g + 1, saved.size(), params.size()));
      }
      for (size_t p = 0; p < params.size(); ++p) {
        if (params[p].sizes().vec() != saved[p]) {
          throw ConfigError(fmt::format(
              "optimizer state: parameter group {}, parameter {}: shape [{}] "
              "in the checkpoint, [{}] here",
              g + 1, p + 1, fmt::join(saved[p], ", "),
              fmt::join(params[p].sizes().vec(), ", ")));
        }
      }
    }
    torch::serialize::InputArchive state;
    if (!archive.try_read(kTorchKey, state)) {
      throw DataError("optimizer state: missing '" + std::string(kTorchKey) +
                      "'");
    }
    optimizer_->load(state);
    set_lr(lr);
  } catch (const c10::Error& e) {
    throw DataError("optimizer state: malformed: " + first_line(e));
  }
}

}  // namespace adascale::training
