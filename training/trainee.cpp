#include "training/trainee.h"

#include "core/error.h"

namespace adascale::training {
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
        finetune_(config.mode == "finetune"),
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
    for (auto& c : net_->candidates[size_t(stage)]) c->train();
    net_->exits[size_t(stage)]->train();
    if (!finetune_) return;
    net_->stem->train();
    for (int s = 0; s < stage; ++s) {
      net_->candidates[size_t(s)][size_t(trunk[size_t(s)])]->train();
    }
  }

  std::vector<torch::Tensor> forward_heads(int stage,
                                           const std::vector<int>& trunk,
                                           const torch::Tensor& x,
                                           bool training) override {
    torch::Tensor prefix;
    if (training && finetune_) {
      prefix = net_->forward_prefix(x, trunk, stage);
    } else {
      torch::NoGradGuard no_grad;
      prefix = net_->forward_prefix(x, trunk, stage);
    }
    return net_->forward_candidates(prefix, stage, all_candidates(net_, stage));
  }

  std::vector<ParamGroup> parameters(
      int stage, const std::vector<int>& trunk) const override {
    ParamGroup own;
    for (const auto& c : net_->candidates[size_t(stage)]) {
      append(own.params, c->parameters());
    }
    append(own.params, net_->exits[size_t(stage)]->parameters());
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

 private:
  static std::vector<int> prefix_choices(const std::vector<int>& trunk,
                                         int stages) {
    if (int(trunk.size()) < stages) {
      throw InternalError("trunk shorter than the stages asked for");
    }
    return {trunk.begin(), trunk.begin() + stages};
  }

  operators::ElasticNet net_;
  bool finetune_;
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
  std::vector<torch::Tensor> forward_heads(int, const std::vector<int>&,
                                           const torch::Tensor& x,
                                           bool) override {
    return {model_.forward<torch::Tensor>(x)};
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
