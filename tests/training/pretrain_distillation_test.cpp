// Stage 0 (train.pretrain) and distillation: the trunk and every exit train
// together before Algorithm 1's stages, the stages learn from the frozen
// stage-0 trunk, a run interrupted in either phase resumes exactly, and the
// recipes that cannot work are refused by the run config.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/run_config.h"
#include "tests/test_util.h"
#include "tests/training/training_fixture.h"
#include "training/checkpoint.h"
#include "training/distillation.h"

namespace adascale::training {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

const std::vector<std::string> kPretrain = {
    "train.pretrain.epochs=2", "train.pretrain.exit_weights=[1.0, 0.5]",
    "train.stage_epochs=[1, 1]"};

std::vector<std::string> with(std::vector<std::string> a,
                              const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(DistillationLoss, IsZeroForEqualLogitsAndMatchesTheDefinition) {
  torch::manual_seed(0);
  auto s = torch::randn({6, 5});
  auto t = torch::randn({6, 5});
  EXPECT_NEAR(distillation_loss(s, s, 3.0).item<double>(), 0.0, 1e-6);
  // T²·Σ p_t log(p_t / p_s) over the batch mean, written out.
  const double T = 2.0;
  auto pt = torch::softmax(t / T, 1);
  auto ps = torch::softmax(s / T, 1);
  double want =
      (pt * (pt.log() - ps.log())).sum(1).mean().item<double>() * T * T;
  EXPECT_NEAR(distillation_loss(s, t, T).item<double>(), want, 1e-5);
  EXPECT_GT(distillation_loss(s, t, T).item<double>(), 0.0);
  // The teacher gets no gradient; the student does.
  auto sg = s.clone().requires_grad_(true);
  auto tg = t.clone().requires_grad_(true);
  distillation_loss(sg, tg, T).backward();
  EXPECT_TRUE(sg.grad().defined());
  EXPECT_FALSE(tg.grad().defined());
  EXPECT_THROW(distillation_loss(s, torch::randn({6, 4}), T), InternalError);
}

TEST(Pretrain, TrainsTheTrunkWithEveryExitBeforeTheStages) {
  TempDir dir;
  TrainRun run(make_config(dir, kPretrain), dir.file("run"));
  TrainingReport r = run.train();
  ASSERT_EQ(r.stages.size(), 3u);
  EXPECT_EQ(r.stages[0].stage, -1);
  EXPECT_EQ(r.stages[0].epochs, 2);
  EXPECT_EQ(r.stages[0].heads,
            (std::vector<std::string>{"e1:basic", "e2:basic.basic"}));
  for (double t : r.stages[0].top1) EXPECT_GT(t, 0.5) << "chance is 0.25";
  EXPECT_EQ(r.stages[1].stage, 0);
  EXPECT_EQ(r.stages[2].stage, 1);
  for (const auto& a : r.test) EXPECT_GT(a.top1, 0.6);
  EXPECT_TRUE(fs::exists(dir.file("run/checkpoints/stage0.pt")));
  EXPECT_TRUE(fs::exists(dir.file("run/checkpoints/stage2.pt")));

  // Stage 0 trained stage 2's backbone before stage 2 ran, and left its
  // other candidates as they were built: stage 2 trains them later.
  auto net0 = operators::ElasticNet(run.config.model);
  CheckpointReader(dir.file("run/checkpoints/stage0.pt"),
                   run.options.fingerprint)
      .restore_model(*net0);
  TrainRun built(run.config, "");  // same seeds: the initial weights
  EXPECT_FALSE(identical(state_of(*net0->candidates[1][0]),
                         state_of(*built.net->candidates[1][0])));
  EXPECT_TRUE(identical(state_of(*net0->candidates[1][1]),
                        state_of(*built.net->candidates[1][1])));
  EXPECT_TRUE(identical(state_of(*net0->candidates[0][1]),
                        state_of(*built.net->candidates[0][1])));

  // The metrics log has stage 0's rows (stage column 0) for both exits.
  std::string csv = core::read_file(dir.file("run/metrics.csv"));
  EXPECT_NE(csv.find("train,0,1,e1:basic,1"), std::string::npos) << csv;
  EXPECT_NE(csv.find("stage,0,2,e2:basic.basic,2"), std::string::npos);
}

// An exit weighted 0 in stage 0 does not learn there: its head stays
// near chance while the weighted exit learns.
TEST(Pretrain, ExitWeightsSteerStageZero) {
  TempDir dir;
  TrainRun run(
      make_config(dir,
                  with(kPretrain, {"train.pretrain.exit_weights=[0.0, 1.0]"})),
      "");
  TrainingReport r = run.train();
  ASSERT_EQ(r.stages[0].top1.size(), 2u);
  EXPECT_LT(r.stages[0].top1[0], 0.5) << "chance is 0.25";
  EXPECT_GT(r.stages[0].top1[1], 0.6);
}

TEST(Distillation, ChangesTheStagesAndNeedsStageZero) {
  TempDir dir;
  TrainRun plain(make_config(dir, kPretrain), "");
  plain.train();
  TrainRun kd(
      make_config(dir, with(kPretrain, {"train.distillation.weight=0.5",
                                        "train.distillation.temperature=2"})),
      "");
  TrainingReport r = kd.train();
  ASSERT_NE(kd.trainee->teacher(), nullptr);
  EXPECT_FALSE(
      identical(state_of(*plain.net->exits[0]), state_of(*kd.net->exits[0])));
  for (const auto& a : r.test) EXPECT_GT(a.top1, 0.6);
  // The teacher is the trunk as stage 0 left it, frozen.
  for (const auto& p : kd.trainee->teacher()->parameters()) {
    EXPECT_FALSE(p.requires_grad());
  }

  // Each refused recipe names the key at fault.
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"train.distillation.weight=0.5"}, "train.distillation.weight"},
      {{"train.pretrain.epochs=1", "train.pretrain.exit_weights=[1.0]"},
       "train.pretrain.exit_weights"}};
  for (const auto& [sets, key] : bad) {
    try {
      make_config(dir, sets);
      ADD_FAILURE() << key << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

// keep_trunk: after stage 0 the trunk's candidates and heads never move;
// the other candidates learn under the trunk's heads.
TEST(KeepTrunk, StagesTrainOnlyTheOtherCandidates) {
  TempDir dir;
  TrainRun run(
      make_config(dir, with(kPretrain, {"train.keep_trunk=true",
                                        "train.distillation.weight=0.5",
                                        "train.stage_epochs=[3, 3]"})),
      dir.file("run"));
  TrainingReport r = run.train();
  auto net0 = operators::ElasticNet(run.config.model);
  CheckpointReader(dir.file("run/checkpoints/stage0.pt"),
                   run.options.fingerprint)
      .restore_model(*net0);
  for (int s = 0; s < 2; ++s) {
    EXPECT_TRUE(identical(state_of(*net0->candidates[size_t(s)][0]),
                          state_of(*run.net->candidates[size_t(s)][0])))
        << "backbone of stage " << s + 1;
    EXPECT_TRUE(identical(state_of(*net0->exits[size_t(s)]),
                          state_of(*run.net->exits[size_t(s)])))
        << "exit " << s + 1;
    EXPECT_FALSE(identical(state_of(*net0->candidates[size_t(s)][1]),
                           state_of(*run.net->candidates[size_t(s)][1])))
        << "candidate 2 of stage " << s + 1;
  }
  EXPECT_TRUE(identical(state_of(*net0->stem), state_of(*run.net->stem)));
  // The trunk's exits score what stage 0 left them at.
  EXPECT_EQ(r.validation[1].top1, r.stages[0].top1[1]);
  // The stand-in candidates learn under the kept head.
  EXPECT_GT(r.stages[1].top1[1], 0.5) << "e1:dws; chance is 0.25";

  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"train.keep_trunk=true"},
           with(kPretrain, {"train.keep_trunk=true", "train.mode=finetune"}),
           with(kPretrain,
                {"train.keep_trunk=true", "train.trunk_rule=best_accuracy"}),
           with(kPretrain, {"train.keep_trunk=true",
                            "model.stages[0].candidates=[{type: basic}]"})}) {
    EXPECT_THROW(make_config(dir, bad), ConfigError) << bad.back();
  }
}

// Mean squared distance between stage 1's stand-in (candidate 2) and its
// kept backbone on a fixed batch, in eval mode.
double stand_in_distance(operators::ElasticNet& net) {
  torch::NoGradGuard no_grad;
  net->eval();
  torch::manual_seed(123);
  const auto h = net->forward_stem(torch::randn({32, 3, 8, 8}));
  return torch::mse_loss(net->forward_stage(h, 0, 1),
                         net->forward_stage(h, 0, 0))
      .item<double>();
}

// feature_matching pulls a stand-in's stage output towards the kept
// backbone's; the trunk itself still never moves.
TEST(KeepTrunk, FeatureMatchingPullsStandInsTowardsTheBackbone) {
  TempDir dir;
  const auto base =
      with(kPretrain, {"train.keep_trunk=true", "train.stage_epochs=[3, 1]"});
  TrainRun plain(make_config(dir, base), "");
  plain.train();
  TrainRun matched(make_config(dir, with(base, {"train.feature_matching=5.0"})),
                   "");
  TrainingReport r = matched.train();
  EXPECT_LT(stand_in_distance(matched.net), 0.5 * stand_in_distance(plain.net));
  EXPECT_TRUE(identical(state_of(*plain.net->candidates[0][0]),
                        state_of(*matched.net->candidates[0][0])));
  EXPECT_TRUE(identical(state_of(*plain.net->exits[0]),
                        state_of(*matched.net->exits[0])));
  EXPECT_GT(r.stages[1].top1[1], 0.5) << "e1:dws still learns; chance 0.25";
  EXPECT_THROW_WITH(
      make_config(dir, with(kPretrain, {"train.feature_matching=1.0"})),
      ConfigError, "train.feature_matching");
}

// Interrupted in stage 0 and again in stage 2, a distilled run resumes to
// the very weights of an uninterrupted one (the teacher comes back from
// stage0.pt).
TEST(Pretrain, ResumeInEitherPhaseIsExact) {
  TempDir dir;
  auto config =
      make_config(dir, with(kPretrain, {"train.distillation.weight=0.5"}));
  TrainRun straight(config, dir.file("straight"));
  TrainingReport whole = straight.train();

  for (int stop_stage : {-1, 1}) {
    const std::string run_dir =
        dir.file("resumed" + std::to_string(stop_stage));
    TrainRun first(config, run_dir);
    TrainingReport stopped =
        first.train_until(stop_stage, /*epoch=*/stop_stage < 0 ? 1 : 0, 4);
    ASSERT_TRUE(stopped.interrupted) << stop_stage;
    TrainRun second(config, run_dir, /*init_seed=*/99);
    TrainingReport done = second.train(/*resume=*/true);
    EXPECT_FALSE(done.interrupted);
    EXPECT_TRUE(identical(state_of(*straight.net), state_of(*second.net)))
        << "stopped in stage " << stop_stage + 1;
    ASSERT_EQ(done.stages.size(), whole.stages.size());
    for (size_t i = 0; i < whole.stages.size(); ++i) {
      EXPECT_EQ(done.stages[i].stage, whole.stages[i].stage);
      EXPECT_EQ(done.stages[i].top1, whole.stages[i].top1);
    }
  }

  // Without stage0.pt a distilled run past stage 0 cannot rebuild its
  // teacher: refused by name rather than silently taught by nothing.
  const std::string run_dir = dir.file("noteacher");
  TrainRun first(config, run_dir);
  first.train_until(/*stage=*/1, /*any epoch*/ -1, /*step=*/2);
  fs::remove(run_dir + "/checkpoints/stage0.pt");
  TrainRun second(config, run_dir);
  try {
    second.train(/*resume=*/true);
    ADD_FAILURE() << "resumed without its teacher";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("stage0.pt"), std::string::npos);
  }
}

}  // namespace
}  // namespace adascale::training
