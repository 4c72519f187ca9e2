#include "training/trainee.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>
#include <optional>

#include "core/error.h"

namespace adascale::training {

namespace {
[[noreturn]] void no_trunk(const char* what) {
  throw InternalError(std::string(what) +
                      ": this trainee has no multi-exit trunk");
}
}  // namespace

std::vector<int> Trainee::backbone_path() const {
  no_trunk("backbone_path");
}
void Trainee::set_pretrain_mode(bool) {
  no_trunk("set_pretrain_mode");
}
std::vector<ParamGroup> Trainee::pretrain_parameters() const {
  no_trunk("pretrain_parameters");
}
void Trainee::snapshot_teacher() {
  no_trunk("snapshot_teacher");
}
torch::nn::Module* Trainee::teacher() {
  return nullptr;
}
torch::Tensor Trainee::teacher_logits(const torch::Tensor&) {
  no_trunk("teacher_logits");
}

namespace {

std::vector<int> all_candidates(const operators::ElasticNet& net, int stage) {
  std::vector<int> c(net->spec().stages[size_t(stage)].candidates.size());
  for (size_t i = 0; i < c.size(); ++i) c[i] = int(i);
  return c;
}

void append(std::vector<torch::Tensor>& out,
            const std::vector<torch::Tensor>& more) {
  out.insert(out.end(), more.begin(), more.end());
}

class ElasticTrainee : public Trainee {
 public:
  ElasticTrainee(operators::ElasticNet net, const core::TrainConfig& config)
      : net_(std::move(net)),
        finetune_(config.mode == core::TrainMode::kFinetune),
        keep_trunk_(config.keep_trunk),
        prefix_scale_(config.prefix_lr_scale) {}

  int num_stages() const override { return net_->num_stages(); }

  std::vector<std::string> heads(int stage,
                                 const std::vector<int>& trunk) const override {
    std::vector<std::string> names;
    for (int c : all_candidates(net_, stage)) {
      core::Variant v{stage, prefix_choices(trunk, stage)};
      v.choices.push_back(c);
      names.push_back(net_->variants().to_string(v));
    }
    return names;
  }

  void set_mode(int stage, const std::vector<int>& trunk,
                bool training) override {
    net_->eval();
    if (!training) return;
    auto& cands = net_->candidates[size_t(stage)];
    for (size_t c = 0; c < cands.size(); ++c) {
      if (!keeps(stage, int(c))) cands[c]->train();
    }
    if (!keep_trunk_) net_->exits[size_t(stage)]->train();
    if (!finetune_) return;
    net_->stem->train();
    for (int s = 0; s < stage; ++s) {
      net_->candidates[size_t(s)][size_t(trunk[size_t(s)])]->train();
    }
  }

  HeadOutputs forward_stage_heads(int stage, const std::vector<int>& trunk,
                                  const torch::Tensor& x,
                                  bool training) override {
    torch::Tensor prefix;
    if (training && finetune_) {
      prefix = net_->forward_prefix(x, trunk, stage);
    } else {
      torch::NoGradGuard no_grad;
      prefix = net_->forward_prefix(x, trunk, stage);
    }
    HeadOutputs out;
    for (int c : all_candidates(net_, stage)) {
      // The kept backbone only reports; no backward runs through it.
      std::optional<torch::NoGradGuard> no_grad;
      if (keeps(stage, c)) no_grad.emplace();
      out.features.push_back(net_->forward_stage(prefix, stage, c));
      out.logits.push_back(net_->forward_exit(out.features.back(), stage));
    }
    return out;
  }

  std::vector<ParamGroup> parameters(
      int stage, const std::vector<int>& trunk) const override {
    ParamGroup own;
    const auto& cands = net_->candidates[size_t(stage)];
    for (size_t c = 0; c < cands.size(); ++c) {
      if (!keeps(stage, int(c))) append(own.params, cands[c]->parameters());
    }
    if (!keep_trunk_) {
      append(own.params, net_->exits[size_t(stage)]->parameters());
    }
    std::vector<ParamGroup> groups{own};
    if (finetune_ && stage > 0) {
      groups.push_back({prefix_parameters(stage, trunk), prefix_scale_});
    }
    return groups;
  }

  std::vector<torch::Tensor> forward_exits(const std::vector<int>& trunk,
                                           const torch::Tensor& x,
                                           int exits) override {
    std::vector<torch::Tensor> out;
    auto h = net_->forward_stem(x);
    for (int s = 0; s < exits; ++s) {
      h = net_->forward_stage(h, s, trunk[size_t(s)]);
      out.push_back(net_->forward_exit(h, s));
    }
    return out;
  }

  std::string exit_name(const std::vector<int>& trunk,
                        int exit) const override {
    core::Variant v{exit, prefix_choices(trunk, exit + 1)};
    return net_->variants().to_string(v);
  }

  int backbone(int stage) const override {
    const auto& s = net_->spec().stages[size_t(stage)];
    for (size_t c = 0; c < s.candidates.size(); ++c) {
      if (s.candidates[c].name == s.backbone) return int(c);
    }
    throw InternalError("stage backbone missing from its candidates");
  }

  torch::nn::Module& module() override { return *net_; }

  std::vector<torch::Tensor> prefix_parameters(
      int stage, const std::vector<int>& trunk) const override {
    std::vector<torch::Tensor> p = net_->stem->parameters();
    for (int s = 0; s < stage; ++s) {
      append(
          p,
          net_->candidates[size_t(s)][size_t(trunk[size_t(s)])]->parameters());
    }
    return p;
  }

  std::vector<int> backbone_path() const override {
    std::vector<int> path;
    for (int s = 0; s < num_stages(); ++s) path.push_back(backbone(s));
    return path;
  }

  void set_pretrain_mode(bool training) override {
    net_->eval();
    if (!training) return;
    net_->stem->train();
    const std::vector<int> path = backbone_path();
    for (int s = 0; s < num_stages(); ++s) {
      net_->candidates[size_t(s)][size_t(path[size_t(s)])]->train();
      net_->exits[size_t(s)]->train();
    }
  }

  std::vector<ParamGroup> pretrain_parameters() const override {
    ParamGroup all{prefix_parameters(num_stages(), backbone_path()), 1.0};
    for (const auto& e : net_->exits) append(all.params, e->parameters());
    return {all};
  }

  void snapshot_teacher() override {
    // clone() builds the copy's modules, drawing initial weights from the
    // default generator: keep its state, so a run that snapshots here and
    // one resumed past this point draw the same numbers afterwards.
    auto generator = at::detail::getDefaultCPUGenerator();
    at::Tensor rng;
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      rng = generator.get_state();
    }
    teacher_ =
        std::dynamic_pointer_cast<operators::ElasticNetImpl>(net_->clone());
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(rng);
    }
    if (!teacher_) throw InternalError("elastic net clone has another type");
    for (auto& p : teacher_->parameters()) p.set_requires_grad(false);
    teacher_->eval();
  }

  torch::nn::Module* teacher() override { return teacher_.get(); }

  torch::Tensor teacher_logits(const torch::Tensor& x) override {
    if (!teacher_) throw InternalError("teacher_logits before snapshot");
    torch::NoGradGuard no_grad;
    const core::Variant deepest{num_stages() - 1, backbone_path()};
    return teacher_->forward(x, deepest);
  }

 private:
  static std::vector<int> prefix_choices(const std::vector<int>& trunk,
                                         int stages) {
    if (int(trunk.size()) < stages) {
      throw InternalError("trunk shorter than the stages asked for");
    }
    return {trunk.begin(), trunk.begin() + stages};
  }

  /// Whether candidate `c` of `stage` keeps its stage-0 weights.
  bool keeps(int stage, int c) const {
    return keep_trunk_ && c == backbone(stage);
  }

  operators::ElasticNet net_;
  std::shared_ptr<operators::ElasticNetImpl> teacher_;
  bool finetune_;
  bool keep_trunk_;
  double prefix_scale_;
};

class ModelTrainee : public Trainee {
 public:
  ModelTrainee(torch::nn::AnyModule model, std::string name)
      : model_(std::move(model)), name_(std::move(name)) {}

  int num_stages() const override { return 1; }
  std::vector<std::string> heads(int, const std::vector<int>&) const override {
    return {name_};
  }
  void set_mode(int, const std::vector<int>&, bool training) override {
    model_.ptr()->train(training);
  }
  HeadOutputs forward_stage_heads(int, const std::vector<int>&,
                                  const torch::Tensor& x, bool) override {
    return {{model_.forward<torch::Tensor>(x)}, {}};
  }
  std::vector<ParamGroup> parameters(int,
                                     const std::vector<int>&) const override {
    return {ParamGroup{model_.ptr()->parameters(), 1.0}};
  }
  std::vector<torch::Tensor> forward_exits(const std::vector<int>&,
                                           const torch::Tensor& x,
                                           int) override {
    return {model_.forward<torch::Tensor>(x)};
  }
  std::string exit_name(const std::vector<int>&, int) const override {
    return name_;
  }
  int backbone(int) const override { return 0; }
  torch::nn::Module& module() override { return *model_.ptr(); }
  std::vector<torch::Tensor> prefix_parameters(
      int, const std::vector<int>&) const override {
    return {};
  }

 private:
  torch::nn::AnyModule model_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Trainee> make_elastic_trainee(operators::ElasticNet net,
                                              const core::TrainConfig& config) {
  return std::make_unique<ElasticTrainee>(std::move(net), config);
}

std::unique_ptr<Trainee> make_model_trainee(torch::nn::AnyModule model,
                                            std::string name) {
  return std::make_unique<ModelTrainee>(std::move(model), std::move(name));
}

}  // namespace adascale::training
