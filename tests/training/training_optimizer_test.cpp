#include "training/training_optimizer.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/config/schema.h"
#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::training {
namespace {

core::OptimizerConfig sgd(double momentum, bool nesterov = false,
                          double weight_decay = 0.0) {
  core::OptimizerConfig c;
  c.type = core::OptimizerType::kSgd;
  c.lr = 0.1;
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = weight_decay;
  return c;
}

torch::Tensor scalar_param(double value) {
  return torch::full({1}, value, torch::kFloat64).requires_grad_(true);
}

// One step on loss = Σ w² (gradient 2w).
void quadratic_step(TrainingOptimizer& opt,
                    const std::vector<torch::Tensor>& params) {
  opt.zero_grad();
  torch::Tensor loss = torch::zeros({}, torch::kFloat64);
  for (const auto& p : params) loss = loss + (p * p).sum();
  loss.backward();
  opt.step();
}

double value(const torch::Tensor& t) {
  return t.item<double>();
}

TEST(TrainingOptimizer, SgdMomentumMatchesHandComputedSteps) {
  auto w = scalar_param(1.0);
  TrainingOptimizer opt(sgd(0.9), {{{w}, 1.0}});
  // g = 2w; buf = 0.9 buf + g (buf = g on the first step); w -= 0.1 buf.
  quadratic_step(opt, {w});  // g 2, buf 2, w 0.8
  EXPECT_NEAR(value(w), 0.8, 1e-12);
  quadratic_step(opt, {w});  // g 1.6, buf 3.4, w 0.46
  EXPECT_NEAR(value(w), 0.46, 1e-12);
  quadratic_step(opt, {w});  // g 0.92, buf 3.98, w 0.062
  EXPECT_NEAR(value(w), 0.062, 1e-12);
}

TEST(TrainingOptimizer, NesterovDiffersFromPlainMomentum) {
  auto w = scalar_param(1.0);
  TrainingOptimizer opt(sgd(0.9, /*nesterov=*/true), {{{w}, 1.0}});
  // The step is g + 0.9 buf instead of buf.
  quadratic_step(opt, {w});  // g 2, buf 2, d 3.8, w 0.62
  EXPECT_NEAR(value(w), 0.62, 1e-12);
  quadratic_step(opt, {w});  // g 1.24, buf 3.04, d 3.976, w 0.2224
  EXPECT_NEAR(value(w), 0.2224, 1e-12);
}

TEST(TrainingOptimizer, SgdWeightDecayAddsToTheGradient) {
  auto w = scalar_param(1.0);
  TrainingOptimizer opt(sgd(0.0, false, 0.01), {{{w}, 1.0}});
  quadratic_step(opt, {w});  // g = 2w + 0.01 w = 2.01, w 0.799
  EXPECT_NEAR(value(w), 0.799, 1e-12);
}

TEST(TrainingOptimizer, GroupScalesMultiplyTheRate) {
  auto a = scalar_param(1.0);
  auto b = scalar_param(1.0);
  TrainingOptimizer opt(sgd(0.0), {{{a}, 1.0}, {{}, 3.0}, {{b}, 0.1}});
  auto& groups = opt.torch_optimizer().param_groups();
  ASSERT_EQ(groups.size(), 2u);  // the empty group is skipped
  EXPECT_DOUBLE_EQ(opt.lr(), 0.1);
  EXPECT_DOUBLE_EQ(groups[0].options().get_lr(), 0.1);
  EXPECT_DOUBLE_EQ(groups[1].options().get_lr(), 0.1 * 0.1);
  quadratic_step(opt, {a, b});
  EXPECT_NEAR(value(a), 1 - 0.1 * 2, 1e-12);
  EXPECT_NEAR(value(b), 1 - 0.01 * 2, 1e-12);

  opt.set_lr(0.5);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.5);
  EXPECT_DOUBLE_EQ(groups[0].options().get_lr(), 0.5);
  EXPECT_DOUBLE_EQ(groups[1].options().get_lr(), 0.05);
}

TEST(TrainingOptimizer, RejectsBadConfigs) {
  auto w = scalar_param(1.0);
  EXPECT_THROW_WITH(TrainingOptimizer(sgd(0.9), {{{}, 1.0}}), ConfigError,
                    "no parameters to train");
  EXPECT_THROW_WITH(TrainingOptimizer(sgd(0.9), {}), ConfigError,
                    "no parameters to train");
  EXPECT_THROW_WITH(TrainingOptimizer(sgd(0.0, true), {{{w}, 1.0}}),
                    ConfigError, "nesterov: needs momentum > 0");
  // An unknown type is the config reader's error (RunConfig tests).
  auto bad = sgd(0.9);
  bad.type = core::OptimizerType::kAdamW;
  bad.beta2 = 1.0;
  EXPECT_THROW_WITH(TrainingOptimizer(bad, {{{w}, 1.0}}), ConfigError,
                    "must be < 1 for adamw");
}

TEST(TrainingOptimizer, AdamWDecreasesALoss) {
  torch::manual_seed(3);
  auto w = torch::randn({10}, torch::kFloat64).requires_grad_(true);
  auto target = torch::randn({10}, torch::kFloat64);
  core::OptimizerConfig c;
  c.type = core::OptimizerType::kAdamW;
  c.lr = 0.05;
  c.weight_decay = 1e-2;
  TrainingOptimizer opt(c, {{{w}, 1.0}});
  auto loss = [&] { return (w - target).pow(2).sum(); };
  const double first = loss().item<double>();
  for (int i = 0; i < 100; ++i) {
    opt.zero_grad();
    loss().backward();
    opt.step();
  }
  EXPECT_LT(loss().item<double>(), 0.05 * first);
}

// A small model-like parameter set: two groups, scheduled rate per step.
struct Run {
  std::vector<torch::Tensor> params;
  std::unique_ptr<TrainingOptimizer> opt;

  Run(const core::OptimizerConfig& c, std::vector<torch::Tensor> initial) {
    for (auto& p : initial) {
      params.push_back(p.detach().clone().requires_grad_(true));
    }
    opt = std::make_unique<TrainingOptimizer>(
        c, std::vector<ParamGroup>{{{params[0], params[1]}, 1.0},
                                   {{params[2]}, 0.3}});
  }
  void steps(int from, int to) {
    for (int s = from; s < to; ++s) {
      opt->set_lr(0.1 / (1 + s));
      opt->zero_grad();
      auto loss = (params[0].matmul(params[1]) - 1).pow(2).mean() +
                  params[2].pow(4).mean();
      loss.backward();
      opt->step();
    }
  }
};

void expect_resume_is_exact(const core::OptimizerConfig& c) {
  torch::manual_seed(7);
  std::vector<torch::Tensor> initial = {
      torch::randn({3, 4}), torch::randn({4, 2}), torch::randn({5})};
  Run straight(c, initial);
  straight.steps(0, 10);

  Run first(c, initial);
  first.steps(0, 4);
  std::stringstream buffer;
  {
    torch::serialize::OutputArchive archive;
    first.opt->save(archive);
    archive.save_to(buffer);
  }
  std::vector<torch::Tensor> at_checkpoint;
  for (auto& p : first.params) at_checkpoint.push_back(p.detach().clone());

  Run resumed(c, at_checkpoint);
  torch::serialize::InputArchive archive;
  archive.load_from(buffer);
  resumed.opt->load(archive);
  EXPECT_DOUBLE_EQ(resumed.opt->lr(), 0.1 / 4);
  resumed.steps(4, 10);

  for (size_t i = 0; i < initial.size(); ++i) {
    ASSERT_TRUE(torch::isfinite(straight.params[i]).all().item<bool>());
    EXPECT_TRUE(torch::equal(straight.params[i], resumed.params[i]))
        << config::spelling(c.type) << " parameter " << i;
  }
  // Without the state (fresh momentum) the run would differ.
  Run restarted(c, at_checkpoint);
  restarted.steps(4, 10);
  EXPECT_FALSE(torch::equal(straight.params[0], restarted.params[0]));
}

TEST(TrainingOptimizer, SgdResumeFromSavedStateIsBitIdentical) {
  expect_resume_is_exact(sgd(0.9, true, 5e-4));
}

TEST(TrainingOptimizer, AdamWResumeFromSavedStateIsBitIdentical) {
  core::OptimizerConfig c;
  c.type = core::OptimizerType::kAdamW;
  expect_resume_is_exact(c);
}

TEST(TrainingOptimizer, LoadRejectsAMismatchedLayout) {
  auto w = scalar_param(1.0);
  TrainingOptimizer saved_opt(sgd(0.9), {{{w}, 1.0}});
  quadratic_step(saved_opt, {w});
  torch::serialize::OutputArchive out;
  saved_opt.save(out);
  std::stringstream buffer;
  out.save_to(buffer);
  auto load_into = [&](TrainingOptimizer& opt) {
    buffer.clear();
    buffer.seekg(0);
    torch::serialize::InputArchive in;
    in.load_from(buffer);
    opt.load(in);
  };

  auto wide = torch::zeros({2, 3}, torch::kFloat64).requires_grad_(true);
  TrainingOptimizer other_shape(sgd(0.9), {{{wide}, 1.0}});
  EXPECT_THROW_WITH(load_into(other_shape), ConfigError,
                    "parameter group 1, parameter 1: shape [1] in the "
                    "checkpoint, [2, 3] here");

  TrainingOptimizer more_params(sgd(0.9), {{{scalar_param(0), w}, 1.0}});
  EXPECT_THROW_WITH(load_into(more_params), ConfigError,
                    "1 parameters in the checkpoint, 2 here");

  TrainingOptimizer more_groups(sgd(0.9),
                                {{{scalar_param(0)}, 1.0}, {{w}, 0.1}});
  EXPECT_THROW_WITH(load_into(more_groups), ConfigError,
                    "1 parameter groups in the checkpoint, 2 here");

  core::OptimizerConfig adamw;
  adamw.type = core::OptimizerType::kAdamW;
  TrainingOptimizer other_type(adamw, {{{scalar_param(0)}, 1.0}});
  EXPECT_THROW_WITH(load_into(other_type), ConfigError,
                    "written by sgd, this optimizer is adamw");

  TrainingOptimizer from_empty(sgd(0.9), {{{scalar_param(0)}, 1.0}});
  torch::serialize::OutputArchive empty;
  std::stringstream empty_buffer;
  empty.write("something", torch::ones({1}));
  empty.save_to(empty_buffer);
  torch::serialize::InputArchive in;
  in.load_from(empty_buffer);
  EXPECT_THROW_WITH(from_empty.load(in), DataError, "missing 'adascale/type'");
}

}  // namespace
}  // namespace adascale::training
